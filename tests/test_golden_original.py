"""The notebook's model against the original code run on its own stack (the golden numbers).

tests/golden/original_stack.json was written by `make golden`: the original notebook's code
cells (tools/original_stack/lstm_text_original.py, transcribed from the 2015 notebook) run on
Python 2.7, Theano 1.0.5, Fuel 0.2.0 and numpy 1.16, on the small data set beside it (3,000
training and 300 validation sentences of the bundled corpus, a 110-character protocol-0
dictionary.pkl, so that the original's hard-coded 111 inputs and outputs hold). Here the
notebook's own cells (lstm_text.notebook_model: the cells tagged model, data and graph) run with the
original's settings on the same files, and must give the same numbers: the cost of each of the
first 60 SGD steps, the validation score after them and the parameters' norms to 1e-9 in
float64; the first 10 costs to 1e-5 in float32; and the same sampled text.
"""
import json
import types

import numpy
import pytest

from lstm_text import notebook_model  # the notebook's tagged cells (installed package)
import lstm_text_data
import theano

from lstm_text.paths import REPO  # the one place that knows the repository
GOLDEN = REPO / "tests" / "golden"
FIXTURE = json.loads((GOLDEN / "original_stack.json").read_text(encoding="utf-8"))
SETTINGS = FIXTURE["settings"]


def golden_corpus():
    """The golden files, read as the original read them (str.lower, one byte a character)."""
    dictionary = lstm_text_data.load_dictionary(GOLDEN / "dictionary.pkl")
    return types.SimpleNamespace(train_file=str(GOLDEN / "traindata.txt"),
                                 valid_file=str(GOLDEN / "valdata.txt"),
                                 dictionary=dictionary, preprocess=str.lower, encoding="ascii")


def norms(params):
    return {p.name: float(numpy.linalg.norm(p.get_value())) for p in params}


def run_notebook_model(float_x):
    """The original's protocol on the notebook's model: what the fixture records."""
    corpus = golden_corpus()
    with theano.change_flags(floatX=float_x):
        g = notebook_model.build_graph(len(corpus.dictionary), SETTINGS["n_h"],
                                   batch_size=SETTINGS["batch_size"],
                                   learning_rate=SETTINGS["learning_rate"],
                                   seed=SETTINGS["rng_seed"], max_grad_norm=0)
        streams = notebook_model.build_streams(corpus, SETTINGS["batch_size"])
        result = {"norms_before": norms(g.params)}
        x_first, mask_first = next(streams.train_stream.get_epoch_iterator())
        result["initial_cost"] = float(g.evaluate_model(x_first.T, mask_first.T))
        result["valid_ce_before"] = notebook_model.validate(g.evaluate_model, streams.val_stream,
                                                        SETTINGS["batch_size"])[0]
        costs = []
        while len(costs) < SETTINGS["steps"]:      # the original's loop: epoch after epoch
            for x_, mask_ in streams.train_stream.get_epoch_iterator():
                costs.append(float(g.update_model(x_.T, mask_.T)))
                if len(costs) == SETTINGS["steps"]:
                    break
        result["costs"] = costs
        result["valid_ce"] = notebook_model.validate(g.evaluate_model, streams.val_stream,
                                                 SETTINGS["batch_size"])[0]
        result["norms_after"] = norms(g.params)
        sample = FIXTURE[float_x]["sample"]
        numpy.random.seed(sample["numpy_seed"])    # the original's speak uses numpy.random
        result["sample"] = notebook_model.speak(g.single_step, prefix=sample["prefix"],
                                            n_steps=sample["n_steps"],
                                            dictionary=corpus.dictionary, n_h=SETTINGS["n_h"])
    return result


@pytest.fixture(scope="module")
def float64_run():
    return run_notebook_model("float64")


@pytest.fixture(scope="module")
def float32_run():
    return run_notebook_model("float32")


def test_the_golden_data_is_what_the_fixture_was_made_from():
    import hashlib
    for name, digest in FIXTURE["data_sha256"].items():
        assert hashlib.sha256((GOLDEN / name).read_bytes()).hexdigest() == digest, name
    dictionary = golden_corpus().dictionary
    assert len(dictionary) == SETTINGS["n_in"] == 111 and dictionary["~"] == 110


def test_float64_costs_of_60_sgd_steps_match_the_original(float64_run):
    golden = FIXTURE["float64"]
    assert len(float64_run["costs"]) == len(golden["costs"]) == 60
    assert float64_run["initial_cost"] == pytest.approx(golden["initial_cost"], rel=1e-9)
    numpy.testing.assert_allclose(float64_run["costs"], golden["costs"], rtol=1e-9, atol=0)


def test_float64_validation_and_norms_match_the_original(float64_run):
    golden = FIXTURE["float64"]
    assert float64_run["valid_ce_before"] == pytest.approx(golden["valid_ce_before"], rel=1e-9)
    assert float64_run["valid_ce"] == pytest.approx(golden["valid_ce"], rel=1e-9)
    for when in ("before", "after"):
        ours, theirs = float64_run["norms_" + when], golden["param_norms"][when]
        assert set(ours) == set(theirs)
        for name in theirs:
            assert ours[name] == pytest.approx(theirs[name], rel=1e-9), (when, name)
    # training changed every parameter (a fixture of an untrained model would prove nothing)
    changed = [name for name in ours
               if golden["param_norms"]["before"][name] != golden["param_norms"]["after"][name]]
    assert sorted(changed) == sorted(ours)


def test_float64_sample_is_the_originals_text(float64_run):
    golden = FIXTURE["float64"]["sample"]
    assert float64_run["sample"] == golden["text"]
    assert len(golden["text"]) == len(golden["prefix"]) + golden["n_steps"]


def test_float32_first_costs_match_the_original(float32_run):
    golden = FIXTURE["float32"]
    numpy.testing.assert_allclose(float32_run["costs"][:10], golden["costs"][:10], rtol=1e-5,
                                  atol=0)
    assert float32_run["initial_cost"] == pytest.approx(golden["initial_cost"], rel=1e-5)
