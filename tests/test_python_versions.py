"""Python 3.11, 3.12 and 3.13 (docs/python-versions.md): Theano optimises the notebook's
model into the same graph on each, and each version's environment that exists here works.

The environments are not built here (make test must stay fast): `make venv PYTHON=python3.12`
builds .venv-3.12, and `make test PYTHON=python3.12` runs the whole suite there. A version
whose environment is absent is skipped, with the command that builds it.
"""
import json
import subprocess
import sys

import numpy
import pytest

import graph_signature

from lstm_text.paths import REPO  # the one place that knows the repository
THIS_PYTHON = "%d.%d" % sys.version_info[:2]
VENVS = {"3.11": ".venv", "3.12": ".venv-3.12", "3.13": ".venv-3.13"}
NUMPY = {"3.11": "1.23.5", "3.12": "1.26.4", "3.13": "1.26.4"}
# Recorded on Python 3.11 (numpy 1.23.5): `.venv/bin/python tests/graph_signature.py notebook`.
GOLDEN = REPO / "tests" / "golden" / "update_model_ops.json"


def test_the_notebook_model_is_optimised_as_on_python_3_11():
    """Same ops, same fusions, same folded constants: on numpy >= 1.24 an unpatched Theano
    (np.complex in get_scalar_constant_value) silently lost constant folding here."""
    recorded = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert graph_signature.notebook_update_model() == recorded


def _inputs(python):
    """What the Makefile builds an environment from (its stamp's prerequisites)."""
    lock = "constraints.txt" if python == "3.11" else "constraints-%s.txt" % python
    return ["requirements.txt", lock, "tools/install_theano.py", "tools/install_fuel.py",
            "pyproject.toml", "tools/patched_sdist.py"]


@pytest.fixture(scope="module")
def tiny_here():
    return graph_signature.tiny()


@pytest.mark.parametrize("python", sorted(VENVS))
def test_each_versions_environment_compiles_the_same_tiny_model(python, tiny_here):
    venv = REPO / VENVS[python]
    stamp = venv / ".lstm-text-installed"
    if not stamp.exists():
        pytest.skip("no Python %s environment (%s) here; `make venv PYTHON=python%s` builds it"
                    % (python, VENVS[python], python))
    newer = [name for name in _inputs(python) if (REPO / name).stat().st_mtime > stamp.stat().st_mtime]
    if newer:  # as make sees it: the environment predates what it is built from
        pytest.skip("the Python %s environment (%s) is older than %s; `make venv PYTHON=python%s` "
                    "updates it" % (python, VENVS[python], ", ".join(newer), python))
    done = subprocess.run([str(venv / "bin" / "python"), str(REPO / "tests" / "graph_signature.py"),
                           "tiny"], capture_output=True, text=True, timeout=900, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    theirs = json.loads(done.stdout)
    assert (theirs["python"], theirs["numpy"]) == (python, NUMPY[python])
    assert theirs["ops"] == tiny_here["ops"]
    numpy.testing.assert_allclose(theirs["costs"], tiny_here["costs"], rtol=1e-5)
