"""The subprocesses' side of the benchmark: time, memory and build time of each implementation.

main runs each measurement in a fresh subprocess (its own thread count, compile cache or
BLAS); these functions run there and write their JSON for main to collect.
"""
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy

from lstm_text.speed.numpy_lstm import NumpyLstm
from lstm_text.speed.benchmark.implementations import expand_impls, import_theano, make_impl
from lstm_text.speed.benchmark.workloads import (BATCH, GEN_CHARS, LARGE_GEMM, N_IN, STEPS,
                                                 make_batches)


def _reset_peak_rss():
    """Reset the kernel's peak-RSS counter (VmHWM) of this process, where Linux allows it."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _peak_rss_mb():
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def _stats(values):
    values = sorted(values)
    q = numpy.percentile(values, [25, 50, 75])
    return {"median": float(q[1]), "min": float(values[0]), "max": float(values[-1]),
            "q1": float(q[0]), "q3": float(q[2]), "n": len(values)}


def time_generation(single_step, n_h, n_chars=GEN_CHARS, reps=3):
    """Characters per second of the notebook's sampling loop around single_step."""
    from lstm_text import notebook_model
    dtype = numpy.float32
    rates = []
    for rep in range(reps + 1):
        rng = numpy.random.RandomState(rep)
        h = numpy.zeros((n_h,), dtype)
        c = numpy.zeros((n_h,), dtype)
        char = 0
        start = time.perf_counter()
        for _ in range(n_chars):
            prediction, h, c = single_step(char, h.flatten(), c.flatten())
            char = notebook_model.sample_character(prediction, rng)
            char = min(char, N_IN - 1)
        elapsed = time.perf_counter() - start
        if rep:                                   # the first run is the warm-up
            rates.append(n_chars / elapsed)
    return rates


def _rss_mb():
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2.0 ** 20
    except (OSError, ValueError):
        return None


def large_gemm_gflops(n=LARGE_GEMM, reps=3):
    """{BLAS: single-precision GFLOP/s of an n x n x n product, best of reps}: NumPy's BLAS,
    and Theano's linked one when Theano is imported (a compiled Dot22 on shared matrices)."""
    rng = numpy.random.RandomState(0)
    a, b = rng.rand(n, n).astype("float32"), rng.rand(n, n).astype("float32")
    out = numpy.empty((n, n), dtype="float32")
    runs = {"numpy": lambda: numpy.dot(a, b, out=out)}
    if "theano" in sys.modules:
        theano = sys.modules["theano"]
        from lstm_text.speed import fast_graph
        product = fast_graph.function([], theano.shared(a).dot(theano.shared(b)))
        runs["theano"] = product.fn
    result = {}
    for name, run in runs.items():
        run()                                     # warm-up
        best = float("inf")
        for _ in range(reps):
            start = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - start)
        result[name] = 2.0 * n ** 3 / best / 1e9
    return result


def worker(args):
    """One subprocess, one thread count: build every implementation for a size, then time
    their steps in turn (a b c d e a b c ...), so that all rows of a size see the same
    background load; then the next size."""
    threads = args.threads
    names = expand_impls(args.impl)
    out = {"impls": names, "threads": threads, "sizes": {}, "skipped": {},
           "load_before": os.getloadavg()}
    if "c" in names:
        try:
            import torch
            torch.set_num_threads(threads)
        except ImportError as error:
            out["skipped"]["c"] = "torch is not installed (%s)" % error
            names.remove("c")
    if set(names) & {"a", "b", "e_theano", "f"}:
        import_theano()                     # imports are not counted as an implementation's
        from lstm_text.speed import fast_graph  # noqa: F401     # memory below
        from lstm_text import notebook_model  # noqa: F401
    batches = make_batches()
    real = [float(mask.sum()) for _, mask in batches]
    for n_h in args.sizes:
        impls, rows = {}, {}
        for name in names:                  # build, one warm-up step, memory it added
            before = _rss_mb()
            _reset_peak_rss()
            start = time.perf_counter()
            impls[name] = make_impl(name, n_h, threads)
            build = time.perf_counter() - start
            cost = float(impls[name].update(*batches[0]))
            peak = _peak_rss_mb()
            rows[name] = {"build_s": build, "first_cost": cost, "costs": [cost],
                          "rss_added_mb": peak - before if peak and before else None,
                          "times": [], "cpu_times": [], "real": []}
        for rep in range(args.reps):        # the timed steps, interleaved
            x, mask = batches[(rep + 1) % len(batches)]
            for name in names:
                cpu_start, start = time.process_time(), time.perf_counter()
                cost = float(impls[name].update(x, mask))
                rows[name]["times"].append(time.perf_counter() - start)
                rows[name]["cpu_times"].append(time.process_time() - cpu_start)
                rows[name]["costs"].append(cost)
                rows[name]["real"].append(real[(rep + 1) % len(batches)])
        for name in names:
            row = rows[name]
            times, cpu_times = row.pop("times"), row.pop("cpu_times")
            real_chars = row.pop("real")
            row.update({
                "step_s": _stats(times),
                "step_cpu_s": _stats(cpu_times),
                "real_chars_per_s": _stats([r / t for r, t in zip(real_chars, times)]),
                "computed_chars_per_s": _stats([STEPS * BATCH / t for t in times]),
                "computed_chars_per_cpu_s": _stats([STEPS * BATCH / t for t in cpu_times]),
                "load": os.getloadavg(),
            })
            if hasattr(impls[name], "single_step") and not args.no_generation:
                row["generation_chars_per_s"] = _stats(
                    time_generation(impls[name].single_step, n_h))
            out["sizes"].setdefault(str(n_h), {})[name] = row
        del impls
    out["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    if threads == 1:                        # the single-core limit, for the GFLOP/s table
        out["large_gemm_gflops"] = large_gemm_gflops()
    from lstm_text import blas_library
    out["blas_libraries"] = blas_library.report()   # versions, kernels, threads
    out["load_after"] = os.getloadavg()
    if "theano" in sys.modules:
        from lstm_text import environment
        out["theano_blas"] = environment.SETTINGS["blas.ldflags"]
    write_result(args.result_file, out)


def compile_worker(args):
    """One subprocess: build (a), (b) or (f) for n_h 50 and report the seconds it took."""
    start = time.perf_counter()
    theano = import_theano()
    imported = time.perf_counter() - start
    start = time.perf_counter()
    make_impl(args.impl, 50, 1)
    write_result(args.result_file, {
        "impl": args.impl, "import_s": imported, "build_s": time.perf_counter() - start,
        "compiledir": theano.config.compiledir,
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0})


def gradient_check():
    """(d) against (b) once, on a small float64 case: cost and gradients to 1e-10."""
    theano = import_theano()
    from lstm_text.speed import fast_graph
    n_in, n_h, batch = 7, 5, 4
    rng = numpy.random.RandomState(3)
    weights = [rng.randn(*shape) * 0.5 for shape in
               [(n_h, n_in), (n_in,), (n_in, 4 * n_h), (n_h, 4 * n_h), (4 * n_h,)]]
    x = rng.randint(0, n_in, size=(6, batch)).astype("int64")
    mask = (numpy.arange(6)[:, None] < numpy.array([6, 4, 2, 1])[None]).astype("float64")
    with theano.change_flags(floatX="float64"):
        graph = fast_graph.build_fast_graph(n_in, n_h, batch_size=batch, functions=())
        f = fast_graph.function([graph.x, graph.mask], [graph.cost] + graph.grads)
    for param, value in zip(graph.params, weights):
        param.set_value(value)
    expected = f(x, mask)
    cost, grads = NumpyLstm(weights, 0.1, batch).cost_and_grads(x, mask)
    worst = max(float(numpy.max(numpy.abs(got - want)) / max(numpy.max(numpy.abs(want)), 1e-300))
                for got, want in zip([cost] + grads, expected))
    return worst


def write_result(path, data):
    """The JSON a subprocess hands back to the orchestrating one (main.run_subprocesses)."""
    Path(path).write_text(json.dumps(data, indent=1))
