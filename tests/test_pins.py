"""The pins agree: requirements.txt, each Python version's lock, environment.yml and the
installed set."""
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker

from repo_tools import load_tool
from lstm_text.paths import REPO  # the one place that knows the repository
# One lock (a `make freeze`) per supported Python version.
LOCKS = {"3.11": "constraints.txt", "3.12": "constraints-3.12.txt",
         "3.13": "constraints-3.13.txt"}
THIS_PYTHON = "%d.%d" % sys.version_info[:2]


def _pins(lines, python=THIS_PYTHON):
    """{normalised name: version} from 'name==version[; marker]' lines, comments ignored;
    a line whose environment marker is false for Python `python` is left out."""
    pins = {}
    for line in lines:
        line = line.split("#", 1)[0].strip().lstrip("- ").strip()
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)\s*(?:;(.*))?", line)
        if match:
            marker = match.group(3)
            if marker and not Marker(marker).evaluate({"python_version": python,
                                                       "python_full_version": python + ".0"}):
                continue
            name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
            assert name not in pins, "%s is pinned twice for Python %s" % (name, python)
            pins[name] = match.group(2)
    return pins


def _read(name):
    return (REPO / name).read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize("python", sorted(LOCKS))
def test_environment_yml_has_exactly_the_pip_pins(python):
    yml = _read("environment.yml")
    assert "  - python=3.11" in yml
    assert _pins(yml, python) == _pins(_read("requirements.txt"), python)
    assert "python tools/install_theano.py" in "\n".join(yml)
    assert "python tools/install_fuel.py" in "\n".join(yml)


@pytest.mark.parametrize("python", sorted(LOCKS))
def test_requirements_agree_with_the_constraints_lock(python):
    requirements, lock = _pins(_read("requirements.txt"), python), _pins(_read(LOCKS[python]))
    for name, version in requirements.items():
        assert lock.get(name) == version, name
    assert lock.get("theano") == "1.0.5"
    header = [line for line in _read(LOCKS[python]) if line.startswith("#")]
    assert header and "Python %s" % python in header[0] and LOCKS[python] in header[0]


def test_the_makefile_and_the_locks_name_the_same_versions():
    makefile = "\n".join(_read("Makefile"))
    supported = re.search(r"^SUPPORTED := (.*)$", makefile, re.M).group(1).split()
    assert sorted(supported) == sorted(LOCKS)
    assert THIS_PYTHON in LOCKS


def test_installed_packages_match_the_lock():
    lock = _pins(_read(LOCKS[THIS_PYTHON]))
    wrong = {}
    for name, version in lock.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            wrong[name] = (version, installed)
    assert not wrong, "installed packages differ from constraints.txt: %s" % wrong


def test_fuel_is_the_patched_build():
    """Fuel came from tools/install_fuel.py: its version, its marker and every patched line."""
    from lstm_text import environment  # noqa: F401  (Fuel imports Theano: the project's flags first)
    import fuel
    install_fuel = load_tool("install_fuel")
    assert fuel.__version__ == install_fuel.FUEL_VERSION
    from fuel import _lstm_text_patch
    assert _lstm_text_patch.PATCHED
    fuel_root = Path(fuel.__file__).parent.parent
    for relative, old, new in install_fuel.PATCH:
        if relative.startswith("fuel/"):
            assert new in (fuel_root / relative).read_text(encoding="utf-8"), relative


_load_tool = load_tool


def test_theano_is_the_patched_build():
    """Theano came from tools/install_theano.py: the locked version, its marker and every
    patched text; and it is installed by that script only, not from requirements.txt."""
    install_theano = _load_tool("install_theano")
    for lock in LOCKS.values():
        assert _pins(_read(lock))["theano"] == install_theano.THEANO_VERSION
    assert "theano" not in _pins(_read("requirements.txt"))
    # Read from the installed files: importing Theano here, before lstm_text.environment (or after
    # test_fuel_is_the_patched_build's `import fuel`), would import it without our flags.
    theano = metadata.distribution("Theano")
    assert theano.version == install_theano.THEANO_VERSION
    marker = Path(theano.locate_file(install_theano.MARKER))
    assert "PATCHED = True" in marker.read_text(encoding="utf-8")
    for relative, old, new in install_theano.PATCH:
        if not relative.startswith("theano/"):
            continue  # setup.py's versioneer.py is not installed
        text = Path(theano.locate_file(relative)).read_text(encoding="utf-8")
        assert new in text and old not in text, relative
    makefile = _read("Makefile")
    assert any(line.startswith("\t$(PY) tools/install_theano.py") for line in makefile)
    assert any(line.startswith("$(STAMP):") and "tools/install_theano.py" in line
               for line in makefile), "the venv is not rebuilt when the Theano patch changes"


def test_every_pin_has_a_reason_that_names_it():
    """Each direct pin in requirements.txt sits under a comment that names its package: the
    comment lines directly above the pin's group (pins with no blank line between them)."""
    unexplained, block, in_pins = [], [], False
    for line in _read("requirements.txt"):
        if line.startswith("#"):
            if in_pins:                          # a new comment: a new group
                block, in_pins = [], False
            block.append(line.lower())
        elif "==" in line:
            in_pins = True
            package = re.split(r"[=<>;\s]", line, maxsplit=1)[0].lower()
            if package not in " ".join(block).replace("_", "-"):
                unexplained.append(package)
        else:                                    # a blank line ends the group
            block, in_pins = [], False
    assert not unexplained, "pins without a comment naming them: %s" % unexplained
