"""The maintainers' tools still run: each is run here as a user would run it, briefly."""
import json
import subprocess
import sys

from lstm_text.paths import REPO  # the one place that knows the repository


def test_measure_sgd_divergence_runs_and_records_each_minibatch(tmp_path):
    out = tmp_path / "sgd.json"
    result = subprocess.run(
        [sys.executable, str(REPO / "tools" / "measure_sgd_divergence.py"), "--corpus", "tiny",
         "--epochs", "4", "--max-minibatches", "6", "--report-every", "3", "--out", str(out)],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    record = json.loads(out.read_text())
    assert [step[0] for step in record["steps"]] == [1, 2, 3, 4, 5, 6]
    assert all(step[1] > 0 and step[2] > 0 for step in record["steps"])   # cost, gradient norm
    assert [point[0] for point in record["valid"]] == [3, 6, 6]   # and the final one
    # (the tiny corpus has two minibatches of 100 an epoch: 6 minibatches span 3 epochs)
    assert "no divergence in 6 minibatches" in result.stdout
