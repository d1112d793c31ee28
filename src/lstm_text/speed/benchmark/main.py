"""The command line, and the orchestrating process: a subprocess per measurement, the report.

Each subprocess is benchmarks/bench.py again, with an internal flag (--worker,
--compile-worker, --gradient-check) that runs its side in measure.
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy

from lstm_text.speed.benchmark.implementations import LABELS
from lstm_text.speed.benchmark.measure import compile_worker, gradient_check, worker, write_result
from lstm_text.speed.benchmark.report import markdown_report, save
from lstm_text.speed.benchmark.workloads import (BATCH, LEARNING_RATE, N_IN, REPO, SEED,
                                                 STEPS, make_batches)

DESCRIPTION = ("How fast the character LSTM learns per second of CPU: six implementations "
               "side by side.")
ENTRY_POINT = REPO / "benchmarks" / "bench.py"
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
OMP_WAIT_POLICY = os.environ.get("OMP_WAIT_POLICY", "PASSIVE")
"""For every subprocess, unless set already. With the default (spinning) policy, PyTorch's
OpenMP threads collapse when other jobs share the cores: 2 threads on this 2-core machine
with ~1 core busy ran at 2.4k characters/s instead of 164k (n_h 50). PASSIVE makes waiting
threads sleep; it is what a shared machine needs, and it is the only OpenMP runtime here
(Theano's OpenBLAS and NumPy's use pthreads)."""


# -- the orchestrating process -----------------------------------------------------------------

def machine_info():
    info = {"python": sys.version.split()[0], "platform": platform.platform(),
            "cores": os.cpu_count(), "numpy": numpy.__version__}
    from lstm_text import blas_library
    cpu = blas_library.cpu()
    info["cpu"], info["cpu_vendor"], info["cpu_flags"] = (cpu["model"], cpu["vendor"],
                                                          sorted(cpu["flags"]))
    info["kernel_for_flags"] = blas_library.kernel_for(cpu["flags"], cpu["vendor"])
    info["clock_ghz"] = nominal_clock_ghz(info.get("cpu", ""))
    info["peak_flops_per_cycle"] = flops_per_cycle(cpu["flags"])
    config = numpy.__config__
    blas = getattr(config, "blas_opt_info", None) or getattr(config, "blas_ilp64_opt_info", {})
    info["numpy_blas"] = " ".join(sorted(set(blas.get("libraries", [])))) or "?"
    try:
        import importlib.metadata as metadata
        info["torch"] = metadata.version("torch")
    except Exception:  # noqa: BLE001
        info["torch"] = None
    return info


def nominal_clock_ghz(model):
    """The clock in the processor's name ('... @ 2.80GHz'), else cpuinfo's current MHz."""
    import re
    found = re.search(r"@\s*([0-9.]+)\s*GHz", model)
    if found:
        return float(found.group(1))
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("cpu MHz"):
                    return float(line.split(":", 1)[1]) / 1000.0
    except (OSError, ValueError):
        pass
    return None


def flops_per_cycle(flags):
    """Single-precision FLOPs per cycle per core the vector flags allow, with two FMA units
    (an upper bound: some cores have one): AVX-512 64, AVX2 + FMA 32, AVX 16, else SSE 8."""
    if "avx512f" in flags:
        return 64
    if {"avx2", "fma"} <= set(flags):
        return 32
    return 16 if "avx" in flags else 8


def run_subprocess(mode_args, threads, env_extra, timeout, label):
    """Run the entry point in a subprocess with the thread variables set; returns its JSON."""
    return run_subprocesses([(mode_args, threads, env_extra, timeout, label)])[0]


def run_subprocesses(jobs):
    """Run several such subprocesses at the same time; returns their JSON, in order.

    Their output goes to temporary files (Theano can print a lot while compiling); the
    tail of it is kept in the result when a subprocess fails.
    """
    running = []
    for mode_args, threads, env_extra, timeout, label in jobs:
        env = dict(os.environ)
        for var in THREAD_VARS:
            env[var] = str(threads)
        env["OMP_WAIT_POLICY"] = OMP_WAIT_POLICY
        env.update(env_extra)
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
            result_file = handle.name
        log = tempfile.TemporaryFile(mode="w+")
        cmd = [sys.executable, str(ENTRY_POINT)] + mode_args + [
            "--threads", str(threads), "--result-file", result_file]
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
        running.append((proc, result_file, log, timeout, label, time.perf_counter()))
    ended = {}
    while len(ended) < len(running):                # note when each one ends
        for k, (proc, _, _, timeout, _, start) in enumerate(running):
            if k in ended:
                continue
            if proc.poll() is None and time.perf_counter() - start > timeout:
                proc.kill()
                proc.wait()
            if proc.poll() is not None:
                ended[k] = time.perf_counter()
        time.sleep(0.05)
    results = []
    for k, (proc, result_file, log, timeout, label, start) in enumerate(running):
        elapsed = ended[k] - start
        log.seek(0)
        tail = log.read()[-2000:]
        log.close()
        try:
            if elapsed > timeout:
                print("  %-46sTIMEOUT after %d s" % (label, timeout))
                results.append({"error": "timeout after %d s: %s" % (timeout, tail)})
            elif proc.returncode != 0:
                print("  %-46sFAILED (%.0f s)" % (label, elapsed))
                results.append({"error": "exit %d: %s" % (proc.returncode, tail)})
            else:
                data = json.loads(Path(result_file).read_text())
                print("  %-46s%.0f s" % (label, elapsed))
                data["wall_s"] = elapsed
                results.append(data)
        finally:
            Path(result_file).unlink(missing_ok=True)
    return results


MKL_DIRS = [Path(sys.prefix) / "lib", Path("/tmp/lstm-text-mkl/lib")]
"""Where to look for libmkl_rt.so (an unpacked `pip download mkl` wheel; see benchmarks/README.md)."""


def find_mkl():
    """Linker flags for an MKL runtime (libmkl_rt.so in MKL_DIRS), or None.

    Theano adds -Wl,-rpath for each -L directory itself. pip's mkl wheel only ships
    versioned names (libmkl_rt.so.3): `-lmkl_rt` needs a libmkl_rt.so link next to it.
    """
    for libdir in MKL_DIRS:
        if (libdir / "libmkl_rt.so").exists():
            return "-L%s -lmkl_rt" % libdir
    return None


def orchestrate(args):
    started = datetime.datetime.now()
    results = {"started": started.isoformat(timespec="seconds"), "quick": args.quick,
               "machine": machine_info(), "load_before": os.getloadavg(),
               "config": {"n_in": N_IN, "batch": BATCH, "steps": STEPS,
                          "learning_rate": LEARNING_RATE, "sizes": args.sizes,
                          "threads": args.threads, "reps": args.reps, "seed": SEED,
                          "blas_sizes": args.blas_sizes, "omp_wait_policy": OMP_WAIT_POLICY}}
    run_start = time.perf_counter()
    batches = make_batches()
    results["config"]["real_chars_per_batch"] = [float(m.sum()) for _, m in batches]
    print("lstm-text benchmark: %s, %s cores, load %s" % (
        results["machine"].get("cpu", "?"), results["machine"]["cores"],
        " ".join("%.2f" % v for v in results["load_before"])))
    print("batch %d x %d steps, n_in %d, sizes %s, threads %s, %d timed steps each"
          % (BATCH, STEPS, N_IN, args.sizes, args.threads, args.reps))

    if args.check:                     # tests/test_fast_graph.py checks this too
        check = run_subprocess(["--gradient-check"], 1, {}, 600,
                               "check: (d) NumPy against (b), float64")
        results["gradient_check"] = check
        if "worst_relative_error" in check:
            print("    worst relative difference %.1e" % check["worst_relative_error"])

    if not args.quick and not args.no_compile:
        print("compile time, n_h 50: fresh compile caches, (a) and (b) at the same time "
              "(one core each), then (f) alone; then each again with its cache filled:")
        results["compile"] = {}
        caches = {impl: tempfile.mkdtemp(prefix="lstm-text-cold-") for impl in ("a", "b", "f")}
        try:
            envs = {impl: {"LSTM_TEXT_COMPILEDIR": caches[impl]} for impl in caches}
            colds = {}
            for group in (("a", "b"), ("f",)):
                colds.update(zip(group, run_subprocesses(
                    [(["--compile-worker", "--impl", impl], 1, envs[impl], 1200,
                      "%s cold" % LABELS[impl]) for impl in group])))
            for impl in caches:
                warm = run_subprocess(["--compile-worker", "--impl", impl], 1, envs[impl],
                                      900, "%s warm" % LABELS[impl])
                results["compile"][impl] = {"cold": colds[impl], "warm": warm}
        finally:
            for cache in caches.values():
                shutil.rmtree(cache, ignore_errors=True)

    print("training steps (all implementations in one subprocess per thread count, "
          "their steps interleaved):")
    results["runs"] = {}
    common = ["--sizes", ",".join(map(str, args.sizes)), "--reps", str(args.reps)]
    if args.no_generation:
        common.append("--no-generation")
    for threads in args.threads:
        label = "%s, %d thread%s" % (" ".join(args.impls), threads, "s" if threads > 1 else "")
        data = run_subprocess(["--worker", "--impl", ",".join(args.impls)] + common, threads,
                              {}, 3600, label)
        for name, reason in data.get("skipped", {}).items():
            print("    %s skipped: %s" % (LABELS.get(name, name), reason))
        results["runs"][str(threads)] = data

    if not args.quick and not args.no_blas:
        print("BLAS for Theano, 1 thread (rows b, e theano and f, n_h %s):" % args.blas_sizes)
        results["blas"] = {}
        from lstm_text import blas_library
        choices = [("scipy-openblas (PyPI, the default)", "scipy-openblas")]
        if blas_library.system_openblas():
            choices.append(("system OpenBLAS (-lopenblas)", "system"))
        choices.append(("none (NumPy C-API)", "none"))
        mkl = find_mkl()
        if mkl:
            choices.append(("mkl (pip mkl, -lmkl_rt)", mkl))
        else:
            results["blas_note"] = ("MKL: no libmkl_rt.so found (see benchmarks/README.md to "
                                    "include it)")
        blas_common = ["--sizes", args.blas_sizes, "--reps", str(args.reps), "--no-generation"]
        for name, flags in choices:
            env = {"LSTM_TEXT_BLAS": flags}
            if "mkl" in flags:
                env["MKL_THREADING_LAYER"] = "SEQUENTIAL"   # 1 thread; no libiomp5 needed
            results["blas"][name] = run_subprocess(["--worker", "--impl", "b,e,f"] + blas_common,
                                                   1, env, 1800, "b e, BLAS " + name)

    results["load_after"] = os.getloadavg()
    results["finished"] = datetime.datetime.now().isoformat(timespec="seconds")
    results["duration_s"] = time.perf_counter() - run_start
    table = markdown_report(results)
    save(results, table, args)
    print()
    print(table)


def main(argv=None):
    """benchmarks/bench.py [options] (see --help); the subprocesses' internal flags too."""
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: n_h 50, 1 thread, 2 timed steps, no compile/BLAS runs")
    parser.add_argument("--sizes", default=None, help="comma-separated n_h (default 50,128,512)")
    parser.add_argument("--threads", default=None,
                        help="comma-separated thread counts (default 1,2)")
    parser.add_argument("--reps", type=int, default=None, help="timed steps (default 5)")
    parser.add_argument("--impls", default="a,b,c,d,e,f", help="subset of a,b,c,d,e,f")
    parser.add_argument("--no-blas", action="store_true", help="skip the BLAS comparison")
    parser.add_argument("--no-compile", action="store_true",
                        help="skip the cold/warm compile-time measurement")
    parser.add_argument("--blas-sizes", default="50,512",
                        help="n_h for the BLAS comparison (default 50,512)")
    parser.add_argument("--check", action="store_true",
                        help="also check (d) against (b) in float64 (the tests do)")
    parser.add_argument("--no-generation", action="store_true")
    parser.add_argument("--out", default=None,
                        help="folder for the results (default benchmarks/results/)")
    # internal: the subprocesses
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--compile-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--gradient-check", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--impl", help=argparse.SUPPRESS)
    parser.add_argument("--result-file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker or args.compile_worker or args.gradient_check:
        args.threads = int(args.threads or 1)
        args.sizes = [int(v) for v in (args.sizes or "50").split(",")]
        args.reps = args.reps or 5
        if args.worker:
            worker(args)
        elif args.compile_worker:
            compile_worker(args)
        else:
            write_result(args.result_file, {"worst_relative_error": gradient_check()})
        return
    args.sizes = [int(v) for v in (args.sizes or ("50" if args.quick else "50,128,512"))
                  .split(",")]
    args.threads = [int(v) for v in (args.threads or ("1" if args.quick else "1,2")).split(",")]
    args.reps = args.reps or (2 if args.quick else 5)
    args.impls = [v for v in args.impls.split(",") if v]
    orchestrate(args)
