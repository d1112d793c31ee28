"""The committed notebooks carry the outputs of a real top-to-bottom run, and are tidy.

nbval re-runs the notebook and compares outputs; these checks are about the committed file
itself: that its outputs come from one clean run in order, with no errors, a plot, and
text that improved with training.
"""
import json
import re

import pytest

from lstm_text.paths import REPO  # the one place that knows the repository
NOTEBOOK = REPO / "notebooks" / "lstm_text.ipynb"
EXPERIMENTS = REPO / "notebooks" / "lstm_text_experiments.ipynb"
INSIDE = REPO / "notebooks" / "lstm_text_inside.ipynb"


@pytest.fixture(scope="module")
def notebook():
    return json.loads(NOTEBOOK.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def experiments():
    return json.loads(EXPERIMENTS.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def inside():
    return json.loads(INSIDE.read_text(encoding="utf-8"))


def _code_cells(notebook):
    return [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]


def _stdout(cell):
    return "".join("".join(o.get("text", "")) for o in cell["outputs"]
                   if o.get("output_type") == "stream" and o.get("name") == "stdout")


@pytest.mark.parametrize("which", ["notebook", "experiments", "inside"])
def test_run_top_to_bottom_in_order_without_errors(request, which):
    notebook = request.getfixturevalue(which)
    counts = [cell["execution_count"] for cell in _code_cells(notebook)]
    assert counts == list(range(1, len(counts) + 1)), counts
    errors = [o for cell in _code_cells(notebook) for o in cell["outputs"]
              if o.get("output_type") == "error"]
    assert not errors


def test_python3_kernel(notebook):
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"


def test_has_a_learning_curve_plot(notebook):
    images = [o for cell in _code_cells(notebook) for o in cell["outputs"]
              if "image/png" in o.get("data", {})]
    assert images


def test_committed_run_trained_and_the_text_improved(notebook):
    training = [cell for cell in _code_cells(notebook)
                if "update_model(x_.T, mask_.T)" in "".join(cell["source"])]
    assert len(training) == 1
    output = _stdout(training[0])
    bpc = [float(v) for v in re.findall(r"validation (\d+\.\d+) bpc", output)]
    assert len(bpc) >= 10, "the committed run is too short to show learning"
    assert bpc[-1] < bpc[0] - 1.0
    samples = re.findall(r'LSTM: "the meaning of life is (.*?)"\n', output, flags=re.S)
    # a sample at every report; the last validation point, at the end of training, has none
    assert len(samples) in (len(bpc), len(bpc) - 1)

    def wordiness(text):
        # Share of space-separated tokens that are common English words: a crude, independent
        # measure of whether generated text looks more like English.
        common = {"the", "of", "and", "to", "a", "in", "was", "her", "i", "it", "he", "she",
                  "that", "not", "be", "his", "had", "as", "for", "with", "you", "but", "is",
                  "my", "have", "on", "at", "by", "all", "so", "which", "very", "no", "they"}
        tokens = re.findall(r"[a-z]+", text)
        return sum(token in common for token in tokens) / max(len(tokens), 1)

    assert wordiness(samples[-1]) > wordiness(samples[0])


def test_model_cells_are_tagged_and_importable():
    from lstm_text import notebook_model
    for name in ("gauss_weight", "index_dot", "LstmLayer", "LogisticRegression",
                 "sequence_categorical_crossentropy", "speak", "sample_character", "validate"):
        assert hasattr(notebook_model, name), name
    # The module runs the notebook's cells: its functions' code comes from the notebook.
    assert notebook_model.LstmLayer._step.__code__.co_filename.startswith("lstm_text.ipynb[model")
    assert len(notebook_model.tagged_sources("graph")) == 3   # the original's cells 5, 6 and 7


def test_experiments_committed_run_compared_every_configuration(experiments):
    """The committed experiments outputs are one full run: every planned configuration has a
    row in the results table, and the learning curves are plotted."""
    plan = re.findall(r"^\s+\('((?:sgd|nesterov|rmsprop|adam|best)[a-z0-9.-]*)', ", "".join(
        "".join(cell["source"]) for cell in _code_cells(experiments)), flags=re.M)
    output = "".join(_stdout(cell) for cell in _code_cells(experiments))
    rows = dict(re.findall(r"^\| ([a-z0-9.-]+) \| [^|]+ \| ([^|]+) \|", output, flags=re.M))
    assert len(plan) >= 10 and set(plan) <= set(rows), sorted(set(plan) - set(rows))
    assert images_in(experiments)


def images_in(notebook):
    return [o for cell in _code_cells(notebook) for o in cell["outputs"]
            if "image/png" in o.get("data", {})]


@pytest.mark.parametrize("which", ["notebook", "experiments", "inside"])
def test_committed_outputs_carry_no_machine_paths(request, which):
    """Paths are printed relative to the repository: no folder of the machine that ran it."""
    notebook = request.getfixturevalue(which)
    text = json.dumps([cell.get("outputs", []) for cell in notebook["cells"]])
    for folder in (str(REPO), "/home/", "/root/", "/tmp/", "/Users/"):
        assert folder not in text, folder


def test_no_test_runner_comments_in_the_code_a_reader_sees(notebook, experiments, inside):
    """nbval's markers are cell tags, not comments in the code."""
    for book in (notebook, experiments, inside):
        for cell in _code_cells(book):
            assert "NBVAL" not in "".join(cell["source"])
