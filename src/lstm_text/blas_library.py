"""Which BLAS Theano links, and which kernel every OpenBLAS in the process runs.

Matrix products are most of the model's time, so the BLAS sets the speed. Two choices are
made here, before numpy and Theano load (lstm_text.environment calls this module):

1. The library Theano's compiled code links (LSTM_TEXT_BLAS):
   - auto (default): scipy-openblas, else system, else none;
   - scipy-openblas: a current OpenBLAS from PyPI (the scipy-openblas32 package, pinned in
     requirements.txt), so no root and no system package are needed. Its symbols carry a
     `scipy_` prefix (scipy_sgemm_) while Theano's C code calls sgemm_: blas.ldflags
     force-includes scipy_openblas_names.h, which renames them;
   - system: Debian's libopenblas-dev (-lopenblas);
   - none: Theano's NumPy C-API fallback, which calls NumPy's own OpenBLAS;
   - anything else: explicit linker flags, used as given.
2. The kernel. OpenBLAS picks its kernel from the processor when it loads, and a build older
   than the processor falls back to a generic one (Prescott): about 5 times slower on an
   AVX-512 Xeon. So each OpenBLAS is first asked, in a child process, which kernel it would
   pick; where that is below what the CPU's flags allow, it is loaded with
   OPENBLAS_CORETYPE set to the kernel the flags call for, and the variable is restored
   afterwards, so every library decides for itself. A user's OPENBLAS_CORETYPE is left alone.
"""
import contextlib
import ctypes
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

CHOICES = ("auto", "scipy-openblas", "system", "none")
NAMES_HEADER = Path(__file__).resolve().parent / "scipy_openblas_names.h"
# Kernels by the widest vector instructions they use; any other name (Prescott, Core2,
# Nehalem, Atom, Barcelona, ...) is SSE-only, level 0.
KERNEL_LEVELS = {"sandybridge": 1, "bulldozer": 1, "piledriver": 1, "steamroller": 1,
                 "excavator": 1, "haswell": 2, "zen": 2, "skylakex": 3, "cooperlake": 3,
                 "sapphirerapids": 3}
AVX512 = frozenset({"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"})
# The entry points of the OpenBLAS builds met here: plain (Debian), numpy's 64-bit-integer
# build (suffix 64_) and scipy-openblas (prefix scipy_).
_PREFIXES = ("openblas_", "scipy_openblas_")
_SUFFIXES = ("", "64_")

LOADED = {}
"""{what: record} for each OpenBLAS loaded through this module ('numpy', 'theano'): the
kernel it detected by itself and the OPENBLAS_CORETYPE it was loaded with, if any."""
_HANDLES = []   # keeps the libraries loaded here loaded


class BlasProblem(RuntimeError):
    """A BLAS choice that cannot work here; the message names the setting and the fix."""


# -- the processor ------------------------------------------------------------------------------

def cpu(cpuinfo="/proc/cpuinfo"):
    """{'model', 'vendor', 'flags'} of the first processor listed (empty flags off Linux)."""
    info = {"model": "?", "vendor": "?", "flags": frozenset()}
    try:
        with open(cpuinfo) as handle:
            for line in handle:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name":
                    info["model"] = value.strip()
                elif key == "vendor_id":
                    info["vendor"] = value.strip()
                elif key == "flags":
                    info["flags"] = frozenset(value.split())
                elif not key and info["flags"]:
                    break   # the end of the first processor's block
    except OSError:
        pass
    return info


def kernel_for(flags, vendor):
    """The OpenBLAS kernel (an OPENBLAS_CORETYPE value) that the CPU's flags call for, or None.

    Only names that OpenBLAS 0.3.20 (numpy 1.23.5's) already knows, so forcing one works
    with every build used here.
    """
    if AVX512 <= flags:
        return "Cooperlake" if "avx512_bf16" in flags else "SkylakeX"
    if {"avx2", "fma"} <= flags:
        return "Zen" if vendor == "AuthenticAMD" else "Haswell"
    if "avx" in flags:
        return "Sandybridge"
    return None


def kernel_level(name):
    """How wide the vectors of an OpenBLAS kernel are: 0 (SSE) to 3 (AVX-512)."""
    return KERNEL_LEVELS.get((name or "").strip().lower(), 0)


# -- OpenBLAS libraries -------------------------------------------------------------------------

def _entry(library, name, restype):
    for prefix in _PREFIXES:
        for suffix in _SUFFIXES:
            function = getattr(library, prefix + name + suffix, None)
            if function is not None:
                function.restype = restype
                return function
    return None


def describe(path):
    """{'path', 'config', 'kernel', 'threads'} of a loaded OpenBLAS (its own config calls)."""
    library = ctypes.CDLL(path)   # already loaded: this only returns its handle
    config = _entry(library, "get_config", ctypes.c_char_p)
    corename = _entry(library, "get_corename", ctypes.c_char_p)
    threads = _entry(library, "get_num_threads", ctypes.c_int)
    return {"path": path,
            "config": config().decode() if config else "?",
            "kernel": corename().decode() if corename else "?",
            "threads": threads() if threads else None}


def loaded_openblas():
    """describe() of every OpenBLAS mapped into this process (Linux; elsewhere none)."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split(None, 5)[-1].strip() for line in maps
                     if "openblas" in line.rsplit("/", 1)[-1]}
    except OSError:
        return []
    return [describe(path) for path in sorted(paths) if os.path.isabs(path) and ".so" in path]


def _without_coretype():
    return {key: value for key, value in os.environ.items() if key != "OPENBLAS_CORETYPE"}


def probe(target):
    """The kernels OpenBLAS detects by itself when `target` loads: 'numpy' or a library path.

    Asked in a child process (a library picks its kernel once, when it loads); returns the
    describe() records of the OpenBLAS copies that the target brought in (maybe none).
    """
    result = subprocess.run([sys.executable, "-m", "lstm_text.blas_library", "--probe", target],
                            capture_output=True, text=True, timeout=120, env=_without_coretype())
    if result.returncode != 0:
        return []
    return json.loads(result.stdout.strip().splitlines()[-1])


def wanted_kernel(target):
    """The OPENBLAS_CORETYPE to load `target` with, and the kernel it detects by itself.

    (None, detected) when OpenBLAS detects a kernel as wide as the CPU allows, when the user
    set OPENBLAS_CORETYPE, or when the flags call for nothing (not x86, say).
    """
    if os.environ.get("OPENBLAS_CORETYPE"):
        return None, None
    info = cpu()
    best = kernel_for(info["flags"], info["vendor"])
    if best is None:
        return None, None
    detected = [record["kernel"] for record in probe(target)]
    if detected and min(kernel_level(name) for name in detected) < kernel_level(best):
        return best, ", ".join(detected)
    return None, ", ".join(detected) or None


@contextlib.contextmanager
def coretype(name):
    """OPENBLAS_CORETYPE=name inside the block (nothing if name is None), restored after."""
    if name is None:
        yield
        return
    os.environ["OPENBLAS_CORETYPE"] = name
    try:
        yield
    finally:
        del os.environ["OPENBLAS_CORETYPE"]


def load_numpy():
    """Import numpy so that its OpenBLAS (if it has one) runs the kernel the CPU calls for.

    Call before anything imports numpy; afterwards it only records that it was too late.
    """
    if "numpy" in LOADED:
        return
    if "numpy" in sys.modules:
        LOADED["numpy"] = {"forced": None, "detected": None, "late": True}
        return
    forced, detected = wanted_kernel("numpy")
    with coretype(forced):
        import numpy  # noqa: F401
    LOADED["numpy"] = {"forced": forced, "detected": detected, "late": False}


def load_library(path, what="theano"):
    """Load the OpenBLAS at `path` now, with the kernel the CPU calls for; keep it loaded.

    Theano's compiled modules that link it later get this copy: the dynamic loader does not
    load one library twice. It is loaded locally (RTLD_LOCAL), so its symbols do not take the
    place of another library's own BLAS (scipy's wheel bundles one with the same names).
    """
    forced, detected = wanted_kernel(path)
    with coretype(forced):
        _HANDLES.append(ctypes.CDLL(path))
    LOADED[what] = {"forced": forced, "detected": detected, "late": False, "path": path}


# -- Theano's library -----------------------------------------------------------------------------

def scipy_openblas():
    """(lib_dir, link name, library path) of the installed scipy-openblas32, or None."""
    spec = importlib.util.find_spec("scipy_openblas32")
    if spec is None or not spec.submodule_search_locations:
        return None
    lib_dir = Path(list(spec.submodule_search_locations)[0]) / "lib"
    libraries = sorted(lib_dir.glob("libscipy_openblas*.so"))
    if not libraries:
        return None
    return str(lib_dir), libraries[0].name[3:-3], str(libraries[0])


def system_openblas(compiler="g++"):
    """Path of the libopenblas.so the compiler links with -lopenblas, or None."""
    try:
        found = subprocess.run([compiler, "-print-file-name=libopenblas.so"],
                               capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return found if os.path.isabs(found) and os.path.exists(found) else None


def _scipy_openblas_flags(required):
    found = scipy_openblas()
    if found is None:
        if required:
            raise BlasProblem("LSTM_TEXT_BLAS=scipy-openblas, but the scipy-openblas32 package "
                              "is not installed here: run `make venv` (requirements.txt pins "
                              "it), or pick LSTM_TEXT_BLAS=system or none.")
        return None
    lib_dir, name, path = found
    if any(char.isspace() for char in lib_dir + str(NAMES_HEADER)):
        # Theano splits blas.ldflags on white space: such a path cannot be passed.
        if required:
            raise BlasProblem("LSTM_TEXT_BLAS=scipy-openblas cannot be used from a folder whose "
                              "path contains a space (%s): Theano splits blas.ldflags on "
                              "white space. Move the repository, or set LSTM_TEXT_BLAS=none."
                              % lib_dir)
        return None
    return "-L%s -l%s -include%s" % (lib_dir, name, NAMES_HEADER), path


def choose(choice=None):
    """(blas.ldflags, path of the library to preload or None, the choice made).

    `choice` defaults to LSTM_TEXT_BLAS (auto). A named choice that cannot work here raises
    BlasProblem; auto takes the first of scipy-openblas, system, none that works.
    """
    choice = (os.environ.get("LSTM_TEXT_BLAS", "auto") if choice is None else choice).strip()
    if choice == "none":
        return "", None, "none"
    if choice in ("auto", "scipy-openblas"):
        flags = _scipy_openblas_flags(required=choice == "scipy-openblas")
        if flags is not None:
            return flags[0], flags[1], "scipy-openblas"
    if choice in ("auto", "system"):
        path = system_openblas()
        if path is not None:
            return "-lopenblas", path, "system"
        if choice == "system":
            raise BlasProblem("LSTM_TEXT_BLAS=system, but the C compiler finds no libopenblas.so "
                              "(Debian: `apt-get install libopenblas-dev`); the default, "
                              "LSTM_TEXT_BLAS=auto, needs no system package.")
    if choice == "auto":
        return "", None, "none"
    if not choice.startswith("-"):
        raise BlasProblem("LSTM_TEXT_BLAS=%r is not one of %s, nor linker flags such as "
                          "-lopenblas." % (choice, ", ".join(CHOICES)))
    return choice, None, "flags"


# -- what runs ------------------------------------------------------------------------------------

def _origin(record):
    if record is None:
        return ""
    if record.get("late"):
        return " (numpy was imported before lstm_text.environment: kernel as it detected)"
    if record.get("forced"):
        return " (OPENBLAS_CORETYPE set from the CPU's flags; it detected %s)" % record["detected"]
    if os.environ.get("OPENBLAS_CORETYPE"):
        return " (OPENBLAS_CORETYPE=%s from the environment)" % os.environ["OPENBLAS_CORETYPE"]
    return " (detected)"


def _line(library, record):
    words = library["config"].split()
    version = " ".join(words[:2]) if words[:1] == ["OpenBLAS"] else library["config"]
    threads = library["threads"]
    return "%s, kernel %s, %s thread%s%s" % (version, library["kernel"],
                                             "?" if threads is None else threads,
                                             "" if threads == 1 else "s", _origin(record))


def report():
    """{'cpu', 'blas', 'numpy blas'}: the processor, and what each BLAS runs, one line each."""
    info = cpu()
    vector = [flag for flag in ("avx512f", "avx2", "avx") if flag in info["flags"]][:1]
    libraries = loaded_openblas()
    theano_path = LOADED.get("theano", {}).get("path")
    theano_real = os.path.realpath(theano_path) if theano_path else None
    theano_lib = [lib for lib in libraries if os.path.realpath(lib["path"]) == theano_real]
    numpy_dir = importlib.util.find_spec("numpy").submodule_search_locations[0]
    numpy_libs = [lib for lib in libraries
                  if Path(lib["path"]).parent.name == "numpy.libs"
                  or lib["path"].startswith(numpy_dir)]
    out = {"cpu": "%s (%s)" % (info["model"], vector[0] if vector else "no AVX")}
    if theano_lib:
        out["blas"] = _line(theano_lib[0], LOADED.get("theano"))
    elif theano_path is None:
        out["blas"] = ("NumPy's (Theano's C-API fallback)" if not _theano_ldflags() else
                       "linked by explicit LSTM_TEXT_BLAS flags (version and kernel not read)")
    if numpy_libs:
        out["numpy blas"] = _line(numpy_libs[0], LOADED.get("numpy"))
    else:
        out["numpy blas"] = "no bundled OpenBLAS (numpy built against the system's BLAS, or none)"
    return out


def _theano_ldflags():
    theano = sys.modules.get("theano")
    return theano.config.blas.ldflags if theano is not None else ""


def _probe_main(target):
    if target == "numpy":
        import numpy  # noqa: F401
    else:
        ctypes.CDLL(target)
    print(json.dumps(loaded_openblas()))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--probe":
        _probe_main(sys.argv[2])
    else:
        sys.exit("usage: python -m lstm_text.blas_library --probe numpy|/path/to/libopenblas.so")
