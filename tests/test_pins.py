"""The pins agree: requirements.txt, constraints.txt, environment.yml and the installed set."""
import re
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _pins(lines):
    """{normalised name: version} from 'name==version' lines, comments ignored."""
    pins = {}
    for line in lines:
        line = line.split("#", 1)[0].strip().lstrip("- ").strip()
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if match:
            pins[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    return pins


def _read(name):
    return (REPO / name).read_text(encoding="utf-8").splitlines()


def test_environment_yml_has_exactly_the_pip_pins():
    yml = _read("environment.yml")
    assert "  - python=3.11" in yml
    assert _pins(yml) == _pins(_read("requirements.txt"))
    assert "python tools/install_theano.py" in "\n".join(yml)
    assert "python tools/install_fuel.py" in "\n".join(yml)


def test_requirements_agree_with_the_constraints_lock():
    requirements, lock = _pins(_read("requirements.txt")), _pins(_read("constraints.txt"))
    for name, version in requirements.items():
        assert lock.get(name) == version, name


def test_installed_packages_match_the_lock():
    lock = _pins(_read("constraints.txt"))
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
    import importlib.util
    import fuel
    spec = importlib.util.spec_from_file_location("install_fuel", REPO / "tools/install_fuel.py")
    install_fuel = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(install_fuel)
    assert fuel.__version__ == install_fuel.FUEL_VERSION
    from fuel import _lstm_text_patch
    assert _lstm_text_patch.PATCHED
    fuel_root = Path(fuel.__file__).parent.parent
    for relative, old, new in install_fuel.PATCH:
        if relative.startswith("fuel/"):
            assert new in (fuel_root / relative).read_text(encoding="utf-8"), relative


def _load_tool(name):
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, REPO / "tools" / (name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_theano_is_the_patched_build():
    """Theano came from tools/install_theano.py: the locked version, its marker and every
    patched text; and it is installed by that script only, not from requirements.txt."""
    install_theano = _load_tool("install_theano")
    assert _pins(_read("constraints.txt"))["theano"] == install_theano.THEANO_VERSION
    assert "theano" not in _pins(_read("requirements.txt"))
    # Read from the installed files: importing Theano here, before lstm_text_env (or after
    # test_fuel_is_the_patched_build's `import fuel`), would import it without our flags.
    theano = metadata.distribution("Theano")
    assert theano.version == install_theano.THEANO_VERSION
    marker = Path(theano.locate_file(install_theano.MARKER))
    assert "PATCHED = True" in marker.read_text(encoding="utf-8")
    for relative, old, new in install_theano.PATCH:
        text = Path(theano.locate_file(relative)).read_text(encoding="utf-8")
        assert new in text and old not in text, relative
    makefile = _read("Makefile")
    assert "\t$(PY) tools/install_theano.py" in makefile
    assert any(line.startswith("$(STAMP):") and "tools/install_theano.py" in line
               for line in makefile), "the venv is not rebuilt when the Theano patch changes"


def test_every_pin_has_a_reason_nearby():
    """Each direct pin in requirements.txt sits under a comment saying why (or in a group)."""
    lines = _read("requirements.txt")
    for index, line in enumerate(lines):
        if "==" in line and not line.startswith("#"):
            above = lines[max(0, index - 12):index]
            assert any(l.startswith("#") for l in above), line
