"""Configure Theano and Fuel for lstm-text, then check that the environment is the right one.

Python 3.11 (numpy 1.23), 3.12 and 3.13 (numpy 1.26) are supported.

Import this module before `theano` or `fuel` (the notebooks do it in their first cell).
It exists because the 2015 libraries need settings on today's Python that a user's home
files (~/.theanorc, ~/.fuelrc) must not change:

- floatX float32 for both Theano and Fuel, so Fuel's padding mask matches the graph.
  (If Theano fails to import, Fuel silently falls back to float64.)
- blas.ldflags: Theano 1.0.5 cannot import on numpy 1.23 unless it is set. By default it
  links a current OpenBLAS from PyPI (scipy-openblas32), else Debian's libopenblas-dev,
  else it is empty and Theano uses its NumPy C-API fallback; and every OpenBLAS loads with
  the kernel the processor calls for. lstm_text.blas_library makes both choices.
- A project-local compile cache (.cache/theano) instead of ~/.theano.
- Scan runs its pure-Python inner loop: Theano's pre-generated Cython scan_perform.c does
  not compile on Python 3.11 (it includes longintrepr.h). Theano catches ImportError when
  loading it and falls back to Python, but a failed *compile* is not an ImportError and
  would crash every scan. We make the import fail cleanly instead (see _disable_cython_scan).

Environment variables (all optional):
  LSTM_TEXT_BLAS          auto (default), scipy-openblas, system, none, or explicit linker
                          flags such as -lopenblas (see lstm_text.blas_library)
  LSTM_TEXT_COMPILEDIR    Theano's base_compiledir (default: <repo>/.cache/theano)
  THEANO_FLAGS            appended after ours, so it can override them (e.g. profile=True)

The notebooks' LSTM_<NAME> parameters are read by lstm_text.parameters.
"""
import logging
import os
import sys
from pathlib import Path

from lstm_text import blas_library, paths

REPO_ROOT = paths.REPO
FLOATX = "float32"
# Python 3.11, 3.12 and 3.13. numpy 1.23 on 3.11, as the project was revived; 1.26 (the last
# 1.x, which tools/install_theano.py and install_fuel.py patch Theano and Fuel for) on 3.12+.
SUPPORTED_PYTHONS = ((3, 11), (3, 12), (3, 13))
NUMPY_SERIES = {(3, 11): "1.23.", (3, 12): "1.26.", (3, 13): "1.26."}
EXPECTED = {"numpy": NUMPY_SERIES.get(sys.version_info[:2], "1.23."),
            "theano": "1.0.5", "fuel": "0.2.0"}
SCAN_EXT = "theano.scan_module.scan_perform_ext"


class EnvironmentProblem(RuntimeError):
    """The Python environment cannot run the notebook; the message says how to fix it."""


def theano_flags(blas_ldflags):
    """The THEANO_FLAGS string we run with; a user's THEANO_FLAGS come last and win."""
    compiledir = os.environ.get("LSTM_TEXT_COMPILEDIR", str(REPO_ROOT / ".cache" / "theano"))
    ours = ["floatX=" + FLOATX, "blas.ldflags=" + blas_ldflags,
            "base_compiledir=" + compiledir, "device=cpu"]
    user = os.environ.get("THEANO_FLAGS", "")
    return ",".join(ours + ([user] if user else []))


def _disable_cython_scan():
    """Make `from . import scan_perform_ext` raise ImportError, so scan uses its Python loop.

    A None entry in sys.modules is Python's documented way to make an import fail.
    """
    sys.modules.setdefault(SCAN_EXT, None)


def _quiet_blas_fallback_warning():
    """Drop Theano's one warning that it uses its NumPy C-API BLAS, logged at import.

    In Jupyter it shows as an unexplained pink block in the first cell; summary() reports
    the same fact as blas.ldflags "(none: NumPy C-API fallback)". Other warnings still show.
    """
    logging.getLogger("theano.tensor.blas").addFilter(
        lambda record: "NumPy C-API based implementation" not in record.getMessage())


def _check_version(name, module):
    version = getattr(module, "__version__", "?")
    if not version.startswith(EXPECTED[name]):
        raise EnvironmentProblem(
            "lstm-text needs %s %s*, but %s is installed (%s). Use the project's virtual "
            "environment: run `make test` or `make lab` from the repository root, which "
            "create it from requirements.txt." % (name, EXPECTED[name], version,
                                                   getattr(module, "__file__", "?")))


def configure():
    """Set the flags, import Theano and Fuel, and check versions. Returns a summary dict."""
    if sys.version_info[:2] not in SUPPORTED_PYTHONS:
        raise EnvironmentProblem("lstm-text needs Python 3.11, 3.12 or 3.13, this is %d.%d (%s)."
                                 % (sys.version_info[0], sys.version_info[1], sys.executable))
    blas_library.load_numpy()   # with the kernel the processor calls for (see there)
    import numpy
    _check_version("numpy", numpy)
    imported_first = "theano" in sys.modules
    if not imported_first:
        try:
            blas, library, _ = blas_library.choose()
        except blas_library.BlasProblem as error:
            raise EnvironmentProblem(str(error)) from None
        if library is not None:
            blas_library.load_library(library)
        os.environ["THEANO_FLAGS"] = theano_flags(blas)
        # Ignore the user's ~/.theanorc and ~/.fuelrc: the project sets what it needs.
        os.environ["THEANORC"] = os.devnull
        os.environ["FUEL_CONFIG"] = os.devnull
    _disable_cython_scan()
    _quiet_blas_fallback_warning()
    try:
        import theano
    except Exception as error:  # Theano raises a bare Exception for several set-up problems
        raise EnvironmentProblem("Theano failed to import with THEANO_FLAGS=%r: %s"
                                 % (os.environ.get("THEANO_FLAGS"), error)) from error
    _check_version("theano", theano)
    try:
        from theano import _lstm_text_patch  # noqa: F401  (written by tools/install_theano.py)
    except ImportError as error:
        raise EnvironmentProblem(
            "Theano 1.0.5 patched by lstm-text is missing (%s): unpatched, its matrix products "
            "crash on empty matrices when linked to a BLAS. Run `make test` or "
            "`python tools/install_theano.py` inside the environment." % error) from error
    if imported_first and theano.config.floatX != FLOATX:
        raise EnvironmentProblem(
            "Theano was imported before lstm_text.environment, with floatX=%s instead of %s. "
            "Restart the kernel and run `from lstm_text import environment` before "
            "`import theano`."
            % (theano.config.floatX, FLOATX))
    # Fuel reads its floatX once, at import: make it Theano's before that happens.
    os.environ["FUEL_FLOATX"] = theano.config.floatX
    try:
        import fuel
        from fuel import _lstm_text_patch  # noqa: F401  (written by tools/install_fuel.py)
    except ImportError as error:
        raise EnvironmentProblem(
            "Fuel 0.2.0 patched by lstm-text is missing (%s). Run `make test` or "
            "`python tools/install_fuel.py` inside the environment." % error) from error
    _check_version("fuel", fuel)
    if fuel.config.floatX != theano.config.floatX:
        raise EnvironmentProblem(
            "Fuel's floatX is %s but Theano's is %s; import lstm_text.environment before fuel."
            % (fuel.config.floatX, theano.config.floatX))
    return summary()


def summary():
    """What is in use: versions, floatX, BLAS flags and which scan loop runs."""
    import numpy
    import theano
    import fuel
    blas = blas_library.report()
    return {
        "python": sys.version.split()[0],
        "numpy": numpy.__version__,
        "theano": theano.__version__,
        "fuel": fuel.__version__,
        "floatX": theano.config.floatX,
        "cpu": blas["cpu"],
        "blas.ldflags": _shorter_paths(theano.config.blas.ldflags) or "(none: NumPy C-API fallback)",
        "blas": blas.get("blas", "?"),
        "numpy blas": blas["numpy blas"],
        "scan": "python loop" if sys.modules.get(SCAN_EXT, None) is None else "cython",
        "compiledir": paths.shown(theano.config.compiledir),
    }


def _shorter_paths(flags):
    """blas.ldflags with the repository's path left out of it, as printed by the notebooks."""
    return flags.replace(str(REPO_ROOT) + os.sep, "")


SETTINGS = configure()
