"""The benchmark figures quoted in docs/speed.md are the ones a real run of bench.py saved.

No timing here (speed is benchmarks/bench.py's job). These checks keep the committed
results honest: each table is what bench.py renders from its own JSON (with
lstm_text.speed.benchmark.report), latest.md is the newest full run, and the ratios docs/speed.md
quotes (one table per processor) are recomputed from that JSON.
"""
import json
import re

import pytest

from lstm_text.paths import REPO  # the one place that knows the repository
RESULTS = REPO / "benchmarks" / "results"
FULL_RUNS = sorted(p for p in RESULTS.glob("bench-*.json") if not p.stem.endswith("-quick"))


@pytest.fixture(scope="module")
def bench():
    from lstm_text.speed.benchmark import report
    return report


def test_a_full_run_is_committed():
    assert FULL_RUNS, "no benchmarks/results/bench-*.json from a full run"
    for path in FULL_RUNS:
        assert path.with_suffix(".md").exists() and path.with_suffix(".png").exists(), path


@pytest.mark.parametrize("path", FULL_RUNS, ids=lambda p: p.stem)
def test_each_table_is_rendered_from_its_json(bench, path):
    results = json.loads(path.read_text())
    assert not results["quick"]
    assert bench.markdown_report(results) == path.with_suffix(".md").read_text()


def test_latest_is_the_newest_full_run():
    newest = max(FULL_RUNS, key=lambda p: json.loads(p.read_text())["started"])
    assert (RESULTS / "latest.md").read_text() == newest.with_suffix(".md").read_text()
    assert (RESULTS / "latest.png").read_bytes() == newest.with_suffix(".png").read_bytes()


def _median_rate(run, impl, n_h):
    """Recompute a median from the per-size record (not the report's rounded figure)."""
    return run["sizes"][str(n_h)][impl]["computed_chars_per_s"]["median"]


def _speed_tables():
    """[(results file stem, {row label: ratios})]: one table per processor measured, each
    quoting the results file named last before it."""
    section = (REPO / "docs" / "speed.md").read_text(encoding="utf-8")
    tables, source, rows = [], None, None
    for line in section.splitlines():
        named = re.findall(r"benchmarks/results/(bench-[0-9-]+)\.json", line)
        if named:
            source = named[-1]
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and re.fullmatch(r"[0-9.]+", cells[1]):
            if rows is None:
                rows = {}
                tables.append((source, rows))
            rows[cells[0]] = [float(c) for c in cells[1:]]
        elif not line.startswith("|"):
            rows = None
    return tables


def test_quoted_ratios_come_from_the_committed_runs():
    tables = _speed_tables()
    assert tables, "docs/speed.md has no ratio table"
    for source, rows in tables:
        assert source, "each speed table must follow the name of the results file it quotes"
        results = json.loads((RESULTS / (source + ".json")).read_text())
        runs = results["runs"]
        expected = {
            "one C Op / PyTorch `nn.LSTM`, 1 thread": (runs["1"], "f", "c"),
            "one C Op / PyTorch `nn.LSTM`, 2 threads": (runs["2"], "f", "c"),
            "one C Op / BLAS ceiling (same GEMMs alone), 1 thread": (runs["1"], "f", "e_theano"),
            "fast Theano graph / PyTorch `nn.LSTM`, 1 thread": (runs["1"], "b", "c"),
            "fast Theano graph / the notebook's graph, 1 thread": (runs["1"], "b", "a"),
        }
        assert set(rows) == set(expected), source
        for label, (run, top, bottom) in expected.items():
            ratios = [round(_median_rate(run, top, n) / _median_rate(run, bottom, n), 2)
                      for n in (50, 128, 512)]
            assert rows[label] == ratios, (source, label)


def test_the_committed_runs_used_todays_workload():
    """The batches a committed run measured are the ones workloads.make_batches makes now
    (sentence lengths of the bundled corpus, its seed): a change to the workload needs a new
    run. And every row computed the padding too (real characters < computed)."""
    from lstm_text.speed.benchmark.workloads import make_batches
    for path in FULL_RUNS:
        results = json.loads(path.read_text())
        config = results["config"]
        batches = make_batches(seed=config["seed"], n_in=config["n_in"], batch=config["batch"],
                               steps=config["steps"])
        assert config["real_chars_per_batch"] == [float(mask.sum()) for _, mask in batches]
        for run in results["runs"].values():
            for per_impl in run["sizes"].values():
                for impl, record in per_impl.items():
                    if "real_chars_per_s" in record:
                        assert (record["real_chars_per_s"]["median"]
                                < record["computed_chars_per_s"]["median"]), (path.stem, impl)


def test_gemm_flops_are_the_ceilings_products():
    """The GFLOP/s table's FLOP count: 1,168,200,000 at n_h 50 worked out by hand, and for
    every size 2 m k n summed over the products the ceiling (row e) actually computes."""
    from lstm_text.speed.benchmark.implementations import CeilingNumpy
    from lstm_text.speed.benchmark.workloads import STEPS, gemm_flops
    # n_h 50, batch 100, 150 steps, 60 characters: 2 x 150 x 2 x 100 x 50 x 200 (the per-step
    # pair) + 2 x 50 x 15000 x 200 (dU) + 3 x 2 x 14900 x 50 x 60 (the output layer).
    assert gemm_flops(50) == 600_000_000 + 300_000_000 + 268_200_000
    for n_h in (50, 128, 512):
        c = CeilingNumpy(n_h)
        products = [(c.h, c.u)] * STEPS + [(c.dz, c.u.T)] * STEPS + [
            (c.H.T, c.dZ), (c.H2, c.w_out), (c.H2.T, c.dE), (c.dE, c.w_out.T)]
        assert all(a.shape[1] == b.shape[0] for a, b in products)
        flops = sum(2 * a.shape[0] * a.shape[1] * b.shape[1] for a, b in products)
        assert gemm_flops(n_h) == flops, n_h
