"""lstm_text.blas_library: which BLAS Theano links, and the kernel each OpenBLAS runs.

Checked against independent facts: CPU flag sets written out by hand, the Fortran names that
Theano's own C header declares, the symbols that the scipy-openblas32 library exports, and
what an OpenBLAS says of itself once loaded (its get_corename call), in child processes so
that each library loads fresh. The numbers computed under each BLAS are the golden, reference
and equality tests' business: .ci/run runs them under every choice.
"""
import ctypes
import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lstm_text import blas_library

ICE_LAKE = ("fpu sse sse2 ssse3 sse4_1 sse4_2 avx f16c fma avx2 avx512f avx512dq avx512cd "
            "avx512bw avx512vl avx512_vnni")
ZEN3 = "fpu sse sse2 ssse3 sse4_1 sse4_2 avx f16c fma avx2 sha_ni"
X86 = platform.machine() in ("x86_64", "AMD64")


def test_cpu_reads_the_first_processor(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Xeon A\n"
                       "flags\t\t: fpu avx2 fma\n\nprocessor\t: 1\nvendor_id\t: Other\n"
                       "model name\t: B\nflags\t\t: fpu\n")
    info = blas_library.cpu(str(cpuinfo))
    assert info == {"model": "Xeon A", "vendor": "GenuineIntel",
                    "flags": frozenset({"fpu", "avx2", "fma"})}
    assert blas_library.cpu(str(tmp_path / "missing"))["flags"] == frozenset()


@pytest.mark.parametrize("flags, vendor, kernel", [
    (ICE_LAKE, "GenuineIntel", "SkylakeX"),
    (ICE_LAKE + " avx512_bf16 amx_tile", "GenuineIntel", "Cooperlake"),
    (ICE_LAKE, "AuthenticAMD", "SkylakeX"),              # Zen 4: AVX-512 kernels
    (ICE_LAKE.replace(" avx512bw", ""), "GenuineIntel", "Haswell"),   # partial AVX-512
    (ZEN3, "AuthenticAMD", "Zen"),
    (ZEN3, "GenuineIntel", "Haswell"),
    ("fpu sse sse2 avx", "GenuineIntel", "Sandybridge"),
    ("fpu sse sse2 sse4_2", "GenuineIntel", None),
    ("", "?", None),                                     # not Linux, or not x86
])
def test_kernel_for_the_cpu_flags(flags, vendor, kernel):
    assert blas_library.kernel_for(frozenset(flags.split()), vendor) == kernel


def test_kernel_levels_order_generic_below_vector_kernels():
    level = blas_library.kernel_level
    assert level("Prescott") == level("Core2") == level("") == level(None) == 0
    assert level("Sandybridge") < level("Haswell") == level("ZEN") < level("SkylakeX")
    assert level("SkylakeX") == level("cooperlake") == level("SapphireRapids")


def _fake(monkeypatch, detected, flags=ICE_LAKE, vendor="GenuineIntel"):
    monkeypatch.setattr(blas_library, "cpu", lambda: {"model": "test", "vendor": vendor,
                                                      "flags": frozenset(flags.split())})
    monkeypatch.setattr(blas_library, "probe", lambda target: [
        {"path": "/x/libopenblas.so", "config": "OpenBLAS 0.3.20", "kernel": name,
         "threads": 1} for name in detected])


def test_wanted_kernel_only_where_detection_falls_short(monkeypatch):
    monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)
    _fake(monkeypatch, ["Prescott"])
    assert blas_library.wanted_kernel("numpy") == ("SkylakeX", "Prescott")
    _fake(monkeypatch, ["Haswell"])                  # AVX2 kernel on an AVX-512 CPU
    assert blas_library.wanted_kernel("numpy") == ("SkylakeX", "Haswell")
    _fake(monkeypatch, ["SapphireRapids"])           # knows the CPU better than we do
    assert blas_library.wanted_kernel("numpy") == (None, "SapphireRapids")
    _fake(monkeypatch, [])                           # numpy without a bundled OpenBLAS
    assert blas_library.wanted_kernel("numpy") == (None, None)
    _fake(monkeypatch, ["Prescott"], flags="fpu sse2")   # nothing better to ask for
    assert blas_library.wanted_kernel("numpy") == (None, None)
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")   # the user's choice stands
    _fake(monkeypatch, ["Prescott"])
    assert blas_library.wanted_kernel("numpy") == (None, None)


# A child process in which OpenBLAS "detects" Prescott (the probe is replaced) on a CPU that
# has AVX2 and FMA: load_numpy and load_library must load the libraries with the Haswell kernel
# (what the flags call for; every x86 machine that runs these tests has it), and leave
# OPENBLAS_CORETYPE as it was. The kernel is what each library reports of itself afterwards.
FORCED = r"""
import json, os, sys
from lstm_text import blas_library as b
b.cpu = lambda: {"model": "test", "vendor": "GenuineIntel", "flags": frozenset({"avx2", "fma"})}
b.probe = lambda target: [{"path": "?", "config": "?", "kernel": "Prescott", "threads": 1}]
b.load_numpy()
import numpy
found = b.scipy_openblas()
if found:
    b.load_library(found[2])
print(json.dumps({"env": os.environ.get("OPENBLAS_CORETYPE"), "loaded": b.LOADED,
                  "libraries": b.loaded_openblas(), "report": b.report()}))
"""


def _host_flags():
    return blas_library.cpu()["flags"]


@pytest.mark.skipif(not (X86 and {"avx2", "fma"} <= _host_flags()), reason="needs x86 with AVX2")
def test_a_library_that_detects_a_generic_kernel_is_loaded_with_the_right_one():
    env = {key: value for key, value in os.environ.items() if key != "OPENBLAS_CORETYPE"}
    result = subprocess.run([sys.executable, "-c", FORCED], capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["env"] is None                          # restored after each load
    assert out["loaded"]["numpy"]["forced"] == "Haswell"
    assert out["loaded"]["numpy"]["detected"] == "Prescott"
    kernels = {lib["path"]: lib["kernel"] for lib in out["libraries"]}
    if blas_library.scipy_openblas():
        assert kernels[out["loaded"]["theano"]["path"]] == "Haswell"
        assert "kernel Haswell" in out["report"]["blas"]
    numpy_libs = [path for path in kernels if "/numpy.libs/" in path]
    if not numpy_libs:
        pytest.skip("this numpy has no bundled OpenBLAS (built from source)")
    assert [kernels[path] for path in numpy_libs] == ["Haswell"]
    assert "set from the CPU's flags; it detected Prescott" in out["report"]["numpy blas"]


def test_probe_reports_what_a_library_detects_by_itself():
    found = blas_library.scipy_openblas()
    if found is None:
        pytest.skip("scipy-openblas32 is not installed")
    records = blas_library.probe(found[2])
    assert [Path(r["path"]).name for r in records] == [Path(found[2]).name]
    assert records[0]["config"].startswith("OpenBLAS 0.3.")
    assert records[0]["kernel"] in records[0]["config"]   # the config string names the kernel


def _theano_fortran_names():
    """Every Fortran BLAS routine declared in Theano's C header (from its source file)."""
    import importlib.util
    spec = importlib.util.find_spec("theano")
    source = (Path(spec.origin).parent / "tensor" / "blas_headers.py").read_text()
    header = source[source.index("def blas_header_text"):]
    return set(re.findall(r"\bvoid\s+([a-z][a-z0-9]*_)\s*\(", header)) | set(
        re.findall(r"\b(?:float|double)\s+([a-z][a-z0-9]*_)\s*\(", header))


def test_the_names_header_renames_every_routine_theano_declares():
    defines = dict(re.findall(r"^#define (\w+) (\w+)$", blas_library.NAMES_HEADER.read_text(),
                              re.M))
    declared = _theano_fortran_names() - {"xerbla_"}   # a callback the caller may define
    assert {"sgemm_", "dgemm_", "sgemv_", "sger_", "sdot_"} <= declared
    assert declared <= set(defines), sorted(declared - set(defines))
    assert all(target == "scipy_" + name for name, target in defines.items())
    found = blas_library.scipy_openblas()
    if found is None:
        pytest.skip("scipy-openblas32 is not installed")
    library = ctypes.CDLL(found[2])
    missing = [target for target in defines.values() if not hasattr(library, target)]
    assert not missing


def test_choose(monkeypatch, tmp_path):
    assert blas_library.choose("none") == ("", None, "none")
    assert blas_library.choose("-lmkl_rt -lpthread") == ("-lmkl_rt -lpthread", None, "flags")
    with pytest.raises(blas_library.BlasProblem, match="'openblass' is not one of"):
        blas_library.choose("openblass")
    found = blas_library.scipy_openblas()
    if found is not None:
        flags, path, name = blas_library.choose("auto")
        assert name == "scipy-openblas" and path == found[2]
        assert flags.split() == ["-L" + found[0], "-lscipy_openblas",
                                 "-include" + str(blas_library.NAMES_HEADER)]
    # A path with a space cannot go through blas.ldflags: auto passes over it, a demand fails.
    spaced = tmp_path / "my venv" / "lib"
    monkeypatch.setattr(blas_library, "scipy_openblas",
                        lambda: (str(spaced), "scipy_openblas", str(spaced / "libscipy_openblas.so")))
    assert blas_library.choose("auto")[2] in ("system", "none")
    with pytest.raises(blas_library.BlasProblem, match="contains a space"):
        blas_library.choose("scipy-openblas")
    monkeypatch.setattr(blas_library, "scipy_openblas", lambda: None)
    with pytest.raises(blas_library.BlasProblem, match="scipy-openblas32 package is not installed"):
        blas_library.choose("scipy-openblas")
    monkeypatch.setattr(blas_library, "system_openblas", lambda: None)
    assert blas_library.choose("auto") == ("", None, "none")
    with pytest.raises(blas_library.BlasProblem, match="libopenblas-dev"):
        blas_library.choose("system")

