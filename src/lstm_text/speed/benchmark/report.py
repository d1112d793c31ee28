"""The report: markdown tables and ratios, the plot, and the files in benchmarks/results/.

Rendered from the results JSON alone, so that tests/test_benchmark_results.py can check
that each committed table is what its JSON gives (no Theano is imported here).
"""
import datetime
import json
from pathlib import Path

from lstm_text.files import atomic_write_bytes
from lstm_text.speed.benchmark.implementations import LABELS
from lstm_text.speed.benchmark.workloads import LARGE_GEMM, REPO, gemm_flops

RESULTS = REPO / "benchmarks" / "results"


def _row(results, impl, threads, n_h):
    run = results.get("runs", {}).get(str(threads), {})
    return run.get("sizes", {}).get(str(n_h), {}).get(impl)


def _fmt_rate(stats):
    if not stats:
        return "-"
    return "%s (%s-%s)" % (_k(stats["median"]), _k(stats["min"]), _k(stats["max"]))


def _k(value):
    if value >= 1e6:
        return "%.2fM" % (value / 1e6)
    if value >= 1e4:
        return "%.0fk" % (value / 1e3)
    if value >= 1e3:
        return "%.1fk" % (value / 1e3)
    return "%.0f" % value


def _has_impl(results, impl):
    """Whether any run of these results has a row for impl (older runs have no (f))."""
    runs = list(results.get("runs", {}).values()) + list(results.get("blas", {}).values())
    return any(impl in per_size for run in runs for per_size in run.get("sizes", {}).values())


def _training_rows(results):
    return ["a", "b", "c", "d", "e_numpy", "e_theano"] + (
        ["f"] if _has_impl(results, "f") else [])


def markdown_report(results):
    cfg, machine = results["config"], results["machine"]
    lines = ["# lstm-text benchmark, %s%s" % (results["started"],
                                              " (quick)" if results["quick"] else ""), ""]
    lines.append("Machine: %s, %s cores; Python %s, NumPy %s (BLAS: %s), torch %s. "
                 "Load average (1/5/15 min) before %s, after %s; run took %s." % (
                     machine.get("cpu", "?"), machine["cores"], machine["python"],
                     machine["numpy"], machine.get("numpy_blas", "?"), machine.get("torch"),
                     " ".join("%.2f" % v for v in results["load_before"]),
                     " ".join("%.2f" % v for v in results["load_after"]),
                     "%.1f min" % (results["duration_s"] / 60) if "duration_s" in results
                     else "?"))
    theano_blas = next((run.get("theano_blas") for run in results.get("runs", {}).values()
                        if run.get("theano_blas")), "?")
    lines.append("Theano BLAS: %s; OMP_WAIT_POLICY=%s. Batch %d x %d steps, n_in %d, SGD; "
                 "real characters per batch (mask sum) %s of %d computed. %d timed steps "
                 "after one warm-up; median (min-max)." % (
                     theano_blas, cfg.get("omp_wait_policy", "?"), cfg["batch"], cfg["steps"],
                     cfg["n_in"],
                                        "/".join("%.0f" % v for v in cfg["real_chars_per_batch"]),
                                        cfg["batch"] * cfg["steps"], cfg["reps"]))
    lines += _machine_lines(results)
    lines.append("")
    for threads in cfg["threads"]:
        lines.append("## Training, %d thread%s: characters per second, real (computed)"
                     % (threads, "s" if threads > 1 else ""))
        lines.append("")
        header = "| implementation | " + " | ".join("n_h %d" % n for n in cfg["sizes"]) + " |"
        lines += [header, "|---" * (len(cfg["sizes"]) + 1) + "|"]
        for impl in _training_rows(results):
            cells = []
            for n_h in cfg["sizes"]:
                row = _row(results, impl, threads, n_h)
                if row is None:
                    run = results.get("runs", {}).get(str(threads), {})
                    cells.append("skipped" if impl in run.get("skipped", {}) else
                                 ("error" if "error" in run else "-"))
                    continue
                cells.append("%s (%s)" % (_fmt_rate(row["real_chars_per_s"]),
                                          _k(row["computed_chars_per_s"]["median"])))
            lines.append("| %s | %s |" % (LABELS[impl], " | ".join(cells)))
        lines.append("")
        lines.append("Ratios of medians (computed characters per second; the CPU-time row "
                     "uses each process's CPU seconds, less sensitive to other jobs):")
        lines.append("")
        lines.append("| ratio | " + " | ".join("n_h %d" % n for n in cfg["sizes"]) + " |")
        lines.append("|---" * (len(cfg["sizes"]) + 1) + "|")
        op_ratios = [
            ("(f) / (c) PyTorch", "f", "c", "computed_chars_per_s"),
            ("(f) / (c) PyTorch, by CPU time", "f", "c", "computed_chars_per_cpu_s"),
            ("(f) / (b) fast", "f", "b", "computed_chars_per_s"),
            ("(f) / (e) ceiling, Theano BLAS", "f", "e_theano", "computed_chars_per_s"),
            ("(f) / (e) ceiling, NumPy BLAS", "f", "e_numpy", "computed_chars_per_s"),
        ] if _has_impl(results, "f") else []
        for label, num, den, key in [
                ("(b) / (c) PyTorch", "b", "c", "computed_chars_per_s"),
                ("(b) / (c) PyTorch, by CPU time", "b", "c", "computed_chars_per_cpu_s"),
                ("(b) / (a) faithful", "b", "a", "computed_chars_per_s"),
                ("(b) / (e) ceiling, Theano BLAS", "b", "e_theano", "computed_chars_per_s"),
                ("(b) / (e) ceiling, NumPy BLAS", "b", "e_numpy", "computed_chars_per_s"),
                ("(c) PyTorch / (e) ceiling, NumPy BLAS", "c", "e_numpy",
                 "computed_chars_per_s"),
                ("(d) NumPy / (c) PyTorch", "d", "c", "computed_chars_per_s")] + op_ratios:
            cells = []
            for n_h in cfg["sizes"]:
                a_row, b_row = _row(results, num, threads, n_h), _row(results, den, threads, n_h)
                if a_row and b_row and key in a_row and key in b_row:
                    cells.append("%.2f" % (a_row[key]["median"] / b_row[key]["median"]))
                else:
                    cells.append("-")
            lines.append("| %s | %s |" % (label, " | ".join(cells)))
        lines.append("")

    lines += _limit_lines(results)
    lines.append("## Generation (single_step sampling, 1 thread): characters per second")
    lines.append("")
    lines.append("| implementation | " + " | ".join("n_h %d" % n for n in cfg["sizes"]) + " |")
    lines.append("|---" * (len(cfg["sizes"]) + 1) + "|")
    for impl in ["a", "b"] + (["f"] if _has_impl(results, "f") else []):
        cells = []
        for n_h in cfg["sizes"]:
            row = _row(results, impl, cfg["threads"][0], n_h)
            cells.append(_fmt_rate(row.get("generation_chars_per_s")) if row else "-")
        lines.append("| %s | %s |" % (LABELS[impl], " | ".join(cells)))
    lines.append("")

    lines.append("## Build and memory")
    lines.append("")
    if results.get("compile"):
        together = ("of the cold builds, (a) and (b) ran" if "f" in results["compile"]
                    else "the two cold builds ran")
        lines.append("Build time of update_model, evaluate_model and single_step (n_h 50); "
                     "%s at the same time, one core each:" % together)
        lines.append("")
        lines.append("| graph, n_h 50 | cold compile cache (s) | warm (s) | peak RSS cold (MB) |")
        lines.append("|---|---|---|---|")
        for impl, data in results["compile"].items():
            cold, warm = data["cold"], data["warm"]
            lines.append("| %s | %s | %s | %s |" % (
                LABELS[impl], "%.1f" % cold["build_s"] if "build_s" in cold else "error",
                "%.1f" % warm["build_s"] if "build_s" in warm else "error",
                "%.0f" % cold["maxrss_mb"] if "maxrss_mb" in cold else "-"))
        lines.append("")
    lines.append("Memory each implementation added to its process while it was built and "
                 "ran its first step (RSS peak minus RSS before, MB), and build time (s):")
    lines.append("")
    lines.append("| implementation | threads | " + " | ".join(
        "n_h %d MB / build s" % n for n in cfg["sizes"]) + " |")
    lines.append("|---" * (len(cfg["sizes"]) + 2) + "|")
    for threads in cfg["threads"]:
        for impl in _training_rows(results):
            cells = []
            for n_h in cfg["sizes"]:
                row = _row(results, impl, threads, n_h)
                if not row:
                    cells.append("-")
                    continue
                added = row.get("rss_added_mb")
                cells.append("%s / %.1f" % ("%.0f" % added if added is not None else "?",
                                            row["build_s"]))
            lines.append("| %s | %d | %s |" % (LABELS[impl], threads, " | ".join(cells)))
    lines.append("")
    lines.append("Subprocesses (peak memory is ru_maxrss):")
    lines.append("")
    lines.append("| subprocess | wall (s) | load (1 min) before, after | peak memory (MB) |")
    lines.append("|---|---|---|---|")
    procs = [("training, %s thread%s" % (t, "s" if t != "1" else ""), run)
             for t, run in results.get("runs", {}).items()]
    procs += [("BLAS %s" % name, run) for name, run in results.get("blas", {}).items()]
    for label, run in procs:
        loads = ("%.2f, %.2f" % (run["load_before"][0], run["load_after"][0])
                 if "load_after" in run else "-")
        lines.append("| %s | %s | %s | %s |" % (
            label, "%.0f" % run["wall_s"] if "wall_s" in run else "-", loads,
            "%.0f" % run["maxrss_mb"] if "maxrss_mb" in run else run.get("error", "-")[:80]))
    lines.append("")

    if results.get("blas"):
        blas_sizes = [int(v) for v in str(cfg.get("blas_sizes", "50,512")).split(",")]
        lines.append("## BLAS linked into Theano, 1 thread: computed characters per second")
        lines.append("")
        lines.append("Each BLAS in its own subprocess (Theano links it at import); the NumPy "
                     "ceiling does not use Theano's BLAS and shows how busy the machine was.")
        lines.append("")
        lines.append("| BLAS | row | " + " | ".join("n_h %d" % n for n in blas_sizes) + " |")
        lines.append("|---" * (len(blas_sizes) + 2) + "|")
        for name, run in results["blas"].items():
            for impl in ("b", "e_theano", "e_numpy") + (("f",) if _has_impl(results, "f")
                                                        else ()):
                cells = []
                for n_h in blas_sizes:
                    row = run.get("sizes", {}).get(str(n_h), {}).get(impl)
                    cells.append(_fmt_rate(row["computed_chars_per_s"]) if row else
                                 ("error" if "error" in run else "-"))
                lines.append("| %s | %s | %s |" % (name, LABELS[impl], " | ".join(cells)))
        described = [(name, run["blas_libraries"]) for name, run in results["blas"].items()
                     if run.get("blas_libraries")]
        if described:
            lines += ["", "What each ran (the libraries' own version and kernel calls):", ""]
            lines += ["- %s: Theano's BLAS %s; NumPy's %s" % (name, libs.get("blas", "?"),
                                                             libs.get("numpy blas", "?"))
                      for name, libs in described]
        if results.get("blas_note"):
            lines += ["", results["blas_note"]]
        lines.append("")

    check = results.get("gradient_check", {})
    if "worst_relative_error" in check:
        lines.append("Check: (d) NumPy against (b) fast Theano in float64, worst relative "
                     "difference of cost and gradients %.1e." % check["worst_relative_error"])
    costs = []
    for impl in ["a", "b", "c", "d"] + (["f"] if _has_impl(results, "f") else []):
        row = _row(results, impl, cfg["threads"][0], cfg["sizes"][0])
        if row:
            costs.append("%s %.4f" % (impl, row["first_cost"]))
    if costs:
        lines.append("First-step cost, same weights and batch (n_h %d): %s." % (
            cfg["sizes"][0], ", ".join(costs)))
    return "\n".join(lines) + "\n"


VECTOR_FLAGS = ("avx512f", "avx512_bf16", "amx_tile", "avx2", "fma", "avx")


def _machine_lines(results):
    """The processor's vector flags and clock, and each BLAS's version and kernel (newer runs)."""
    machine = results["machine"]
    if "cpu_flags" not in machine:
        return []
    flags = [flag for flag in VECTOR_FLAGS if flag in machine["cpu_flags"]]
    lines = ["Processor: %s, vector flags %s (all flags in the JSON), nominal clock %s GHz; "
             "the OpenBLAS kernel its flags call for: %s." % (
                 machine.get("cpu_vendor", "?"), " ".join(flags) or "none",
                 machine.get("clock_ghz") or "?", machine.get("kernel_for_flags") or "none")]
    run = results.get("runs", {}).get(str(results["config"]["threads"][0]), {})
    libs = run.get("blas_libraries")
    if libs:
        lines.append("Theano's BLAS: %s. NumPy's BLAS: %s." % (libs.get("blas", "?"),
                                                            libs.get("numpy blas", "?")))
    return lines


def _limit_lines(results):
    """The physical limit: single-core peak GFLOP/s against what each implementation reaches."""
    cfg, machine = results["config"], results["machine"]
    run = results.get("runs", {}).get("1", {})
    large = run.get("large_gemm_gflops")
    if not large:
        return []
    sizes = cfg["sizes"]
    lines = ["## The physical limit, 1 thread: GFLOP/s (single precision)", "",
             "The model's useful work is its GEMMs (%s FLOPs per step at n_h %d); each "
             "implementation's row divides them by its median step time, so anything it does "
             "besides the GEMMs counts against it. In brackets: the share of the large GEMM "
             "through the same BLAS (NumPy's for (c) PyTorch's own, (d) and (e) NumPy)."
             % ("{:,}".format(gemm_flops(sizes[0], cfg["n_in"], cfg["batch"], cfg["steps"])),
                sizes[0]), ""]
    lines.append("| | " + " | ".join("n_h %d" % n for n in sizes) + " |")
    lines.append("|---" * (len(sizes) + 1) + "|")
    clock, per_cycle = machine.get("clock_ghz"), machine.get("peak_flops_per_cycle")
    if clock and per_cycle:
        lines.append("| single-core peak: %.2f GHz x %d FLOPs/cycle (two FMA units) | %s |" % (
            clock, per_cycle, " | ".join(["%.0f" % (clock * per_cycle)] * len(sizes))))
    names = {"theano": "Theano's BLAS", "numpy": "NumPy's BLAS"}
    for blas in ("theano", "numpy"):
        if blas in large:
            lines.append("| large GEMM (%d x %d x %d), %s | %s |" % (
                LARGE_GEMM, LARGE_GEMM, LARGE_GEMM, names[blas],
                " | ".join(["%.1f" % large[blas]] * len(sizes))))
    for impl in _training_rows(results):
        cells = []
        for n_h in sizes:
            row = _row(results, impl, 1, n_h)
            if not row:
                cells.append("-")
                continue
            gflops = gemm_flops(n_h, cfg["n_in"], cfg["batch"], cfg["steps"]) \
                / row["step_s"]["median"] / 1e9
            reference = large.get("theano" if impl in ("a", "b", "e_theano", "f") else "numpy")
            cells.append("%.1f (%.0f%%)" % (gflops, 100 * gflops / reference) if reference
                         else "%.1f" % gflops)
        lines.append("| %s | %s |" % (LABELS[impl], " | ".join(cells)))
    lines.append("")
    return lines


def save(results, table, args):
    """Write bench-<date>.{json,md,png} into args.out (default benchmarks/results/), each whole
    or not at all; a full run also replaces latest.md and latest.png there."""
    folder = Path(getattr(args, "out", None) or RESULTS)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y-%m-%d-%H%M")
    stem = "bench-%s%s" % (stamp, "-quick" if args.quick else "")
    atomic_write_bytes(folder / (stem + ".json"), json.dumps(results, indent=1).encode())
    atomic_write_bytes(folder / (stem + ".md"), table.encode())
    png = folder / (stem + ".png")
    try:
        plot(results, png)
    except Exception as error:  # noqa: BLE001  (a missing matplotlib must not lose the data)
        print("plot failed: %s" % error)
        png = None
    if not args.quick:
        atomic_write_bytes(folder / "latest.md", table.encode())
        if png:
            atomic_write_bytes(folder / "latest.png", png.read_bytes())
    print("results: %s.{json,md%s}" % (folder / stem, ",png" if png else ""))


def plot(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    cfg = results["config"]
    impls = _training_rows(results)
    fig, axes = plt.subplots(1, len(cfg["threads"]), figsize=(6 * len(cfg["threads"]), 4.5),
                             squeeze=False)
    width = 0.8 / len(impls)
    for ax, threads in zip(axes[0], cfg["threads"]):
        for k, impl in enumerate(impls):
            medians, lows, highs, xs = [], [], [], []
            for j, n_h in enumerate(cfg["sizes"]):
                row = _row(results, impl, threads, n_h)
                if row:
                    s = row["computed_chars_per_s"]
                    xs.append(j + (k - len(impls) / 2 + 0.5) * width)
                    medians.append(s["median"])
                    lows.append(s["median"] - s["min"])
                    highs.append(s["max"] - s["median"])
            if xs:
                ax.bar(xs, medians, width, yerr=[lows, highs], label=LABELS[impl], capsize=2)
        ax.set_yscale("log")
        ax.set_xticks(range(len(cfg["sizes"])))
        ax.set_xticklabels(["n_h %d" % n for n in cfg["sizes"]])
        ax.set_ylabel("computed characters / s (log)")
        ax.set_title("training, %d thread%s" % (threads, "s" if threads > 1 else ""))
        ax.grid(axis="y", which="both", alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle("lstm-text, batch %d x %d steps, %s" % (cfg["batch"], cfg["steps"],
                                                        results["started"]))
    fig.tight_layout()
    from lstm_text.plots import save_figure  # the notebooks' PNG writer: whole file or none
    save_figure(fig, path, dpi=100)
    plt.close(fig)
