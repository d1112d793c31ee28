"""lstm_text.study: the log, resume, keep-best, the two trainers' batches and first cost, errors.

Tiny corpus, tiny LSTM, budgets in minibatches (the real study's budget is wall time, which no
test can repeat exactly). The expected numbers come from elsewhere: the learning-rate schedule
from its formula written out here, the kept model's score from the notebook's own model code
(the experiments notebook's Model, its scan graph) loaded with best.npz, the first cost of the
one-C-Op trainer from PyTorch's nn.LSTM.
"""
import json
import math

import numpy
import pytest

from lstm_text import environment  # noqa: F401  (Theano and Fuel flags first)

CONFIG = dict(trainer="fast", n_h=8, optimizer="adam", learning_rate=0.01, warmup=5,
              final_fraction=0.1, max_grad_norm=5.0, sd=0.1, orthogonal_u=True, forget_bias=1.0,
              bucketed=True, batch_size=10, seed=12345, corpus="tiny")


@pytest.fixture(scope="module")
def study():
    from lstm_text import study
    return study


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The tiny corpus with its validation file also as the test split: the kept model's test
    score must then equal its best validation score."""
    from lstm_text import corpus as corpora
    tiny = corpora.load_corpus("tiny")
    return corpora.load_corpus("files", work_dir=tmp_path_factory.mktemp("work"),
                               train=tiny.train_file, valid=tiny.valid_file,
                               test=tiny.valid_file)


def _run(study, corpus, out, until=None, every=6, **changes):
    config = dict(CONFIG, **changes)
    return study.Study(out, config, minibatches=24, valid_every_minibatches=every,
                       corpus=corpus).train(until=until)


def _log(out):
    # json.loads refuses NaN only with a hook: the log must be strict JSON.
    def refuse(name):
        raise AssertionError("log.json holds %s" % name)
    return json.loads((out / "log.json").read_text(), parse_constant=refuse)


def test_the_log_is_written_at_every_point_and_is_valid(study, corpus, tmp_path):
    _run(study, corpus, tmp_path / "run")
    log = _log(tmp_path / "run")
    points = log["points"]
    assert [p["minibatch"] for p in points] == [0, 6, 12, 18, 24]
    assert log["finished"] and log["minibatches"] == 24 and log["diverged"] is None
    for key in ("wall_seconds", "cpu_seconds", "characters"):
        values = [p[key] for p in points]
        assert values == sorted(values) and values[-1] > values[0], key
    # 189 sentences of 5-400 characters: 24 minibatches of 10 hold thousands of characters.
    assert 10000 < points[-1]["characters"] < 24 * 10 * 400
    # The learning rate of each point's last minibatch: warm-up then cosine, written out here.
    for p in points[1:]:
        step, progress = p["minibatch"] - 1, (p["minibatch"] - 1) / 24
        expected = 0.01 * min(1, (step + 1) / 5) * (0.1 + 0.9 * 0.5 * (1 + math.cos(
            math.pi * progress)))
        assert p["learning_rate"] == pytest.approx(expected, rel=1e-12)
    assert all(p["grad_norm_median"] > 0 for p in points[1:])
    valid = [p["valid_bpc"] for p in points]
    assert valid[-1] < valid[0] - 0.5          # it learned (5.3 bpc untrained)
    assert log["best"]["valid_bpc"] == min(valid)
    assert log["machine"]["cpu"] and "blas" in log["machine"]

    # Publishing copies the finished log and kept model, and draws the curve; an unfinished
    # run is refused.
    study.publish([tmp_path / "run"], tmp_path / "docs")
    assert sorted(p.name for p in (tmp_path / "docs").iterdir()) == [
        "curves.png", "fast-best.npz", "fast-log.json"]
    assert json.loads((tmp_path / "docs" / "fast-log.json").read_text()) == log
    _run(study, corpus, tmp_path / "unfinished", until=6)
    with pytest.raises(study.StudyError, match="has not finished its budget"):
        study.publish([tmp_path / "unfinished"], tmp_path / "docs")


def test_the_kept_model_is_the_best_and_the_notebook_model_reproduces_it(study, corpus,
                                                                          tmp_path):
    # SGD at a learning rate high enough to overshoot: the last point is not the best one.
    overshoot = dict(optimizer="sgd", learning_rate=3.0, max_grad_norm=1.0, warmup=1,
                     final_fraction=1.0)
    _run(study, corpus, tmp_path / "run", every=3, **overshoot)
    log = _log(tmp_path / "run")
    valid = [p["valid_bpc"] for p in log["points"]]
    best = min(range(len(valid)), key=lambda i: valid[i])
    assert best not in (0, len(valid) - 1), "the best point should be inside: %s" % valid
    assert valid[-1] > valid[best] + 0.05
    assert log["best"]["minibatch"] == log["points"][best]["minibatch"]

    # best.npz in the notebook's format, scored by the notebook's own graph (the experiments'
    # Model, built on LstmLayer), not by the study's.
    from lstm_text import experiments
    from lstm_text.checkpoints import set_shared_values
    from lstm_text.notebook_model import validate
    values, meta = study.load_best(str(tmp_path / "run" / "best.npz"))
    model = experiments.Model(len(corpus.dictionary), dict(CONFIG, **overshoot),
                              batch_size=CONFIG["batch_size"])
    params = model.softmax.params + model.lstm.params
    set_shared_values(params, dict(zip(study.NOTEBOOK_NAMES, values)))
    stream = experiments.bucketed_stream(experiments.text_dataset(corpus.valid_file, corpus),
                                         CONFIG["batch_size"], 1000)
    bpc = validate(model.evaluate_model, stream, CONFIG["batch_size"])[1]
    assert bpc == pytest.approx(valid[best], abs=1e-5)
    assert meta["valid_bpc"] == valid[best]
    # The test split is the validation file here, so the kept model's test score is its best.
    assert log["test_bpc"] == pytest.approx(valid[best], abs=1e-5)
    # And the notebook's speak() runs on it.
    from lstm_text.notebook_model import speak
    text = speak(model.single_step, prefix="she ", n_steps=20, dictionary=corpus.dictionary,
                 n_h=CONFIG["n_h"], rng=numpy.random.RandomState(0))
    assert text.startswith("she ") and len(text) == 24


def test_a_stopped_run_resumes_on_the_same_curve(study, corpus, tmp_path):
    straight = _run(study, corpus, tmp_path / "straight")
    # Stopped at minibatch 15, between the checkpoints of 12 and 18, as a kill would: the
    # resumed run starts again from 12 and must give the same curve and the same weights.
    _run(study, corpus, tmp_path / "stopped", until=15)
    assert _log(tmp_path / "stopped")["points"][-1]["minibatch"] == 12
    resumed = study.Study(tmp_path / "stopped", CONFIG, minibatches=24,
                          valid_every_minibatches=6, corpus=corpus)
    assert resumed.run.position["iteration"] == 12
    resumed.train()

    def curve(out):
        return [(p["minibatch"], p["characters"], p["learning_rate"], p["train_bpc"],
                 p["valid_bpc"]) for p in _log(out)["points"]]
    assert curve(tmp_path / "stopped") == curve(tmp_path / "straight")
    for mine, theirs in zip(resumed.model.values(), straight.model.values()):
        assert mine.tobytes() == theirs.tobytes()
    assert _log(tmp_path / "stopped")["test_bpc"] == _log(tmp_path / "straight")["test_bpc"]


def test_resuming_with_another_setting_is_refused(study, corpus, tmp_path):
    _run(study, corpus, tmp_path / "run", until=6)
    with pytest.raises(study.CheckpointError, match="resume.npz was saved by a run configured"):
        study.Study(tmp_path / "run", dict(CONFIG, learning_rate=0.02), minibatches=24,
                    valid_every_minibatches=6, corpus=corpus)
    with pytest.raises(study.StudyError, match="started with the budget"):
        study.Study(tmp_path / "run", CONFIG, minibatches=48, valid_every_minibatches=6,
                    corpus=corpus)


@pytest.mark.parametrize("argv, message", [
    (["--final-fraction", "2"], "--final-fraction must be from 0 to 1"),
    (["--max-grad-norm", "-1"], "--max-grad-norm must be >= 0"),
    (["--trainer", "torch", "--optimizer", "rmsprop"], "supports --optimizer sgd or adam"),
])
def test_a_bad_setting_is_one_clear_line(study, tmp_path, argv, message):
    if "torch" in argv:
        pytest.importorskip("torch")
    with pytest.raises(SystemExit) as stop:
        study.main(argv + ["--out", str(tmp_path / "out"), "--corpus", "tiny"])
    assert str(stop.value).startswith("lstm_text.study: ") and message in str(stop.value)
    assert "\n" not in str(stop.value)
    assert not (tmp_path / "out").exists()       # refused before anything was written


def test_an_output_folder_that_cannot_be_written_is_refused_first(study, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("mine")
    with pytest.raises(SystemExit) as stop:
        study.main(["--out", str(blocker / "sub"), "--corpus", "tiny"])
    assert "--out %s" % (blocker / "sub") in str(stop.value)
    assert blocker.read_text() == "mine"


def test_both_trainers_see_the_same_batches(study, corpus, tmp_path):
    pytest.importorskip("torch")
    seen = {}
    for trainer in ("fast", "torch"):
        run = study.Study(tmp_path / trainer, dict(CONFIG, trainer=trainer), minibatches=24,
                          valid_every_minibatches=12, corpus=corpus)
        seen[trainer], update = [], run.model.update_model

        def recording(x, mask, seen=seen[trainer], update=update):
            seen.append((x.tobytes(), mask.tobytes()))
            return update(x, mask)
        run.model.update_model = recording
        run.train()
    assert len(seen["fast"]) == 24 and seen["fast"] == seen["torch"]   # over an epoch (19)
    # 19 minibatches an epoch (one sorted pool), shuffled anew in the second epoch.
    assert len(set(seen["fast"])) == 19 and seen["fast"][19:] != seen["fast"][:5]


def test_from_the_same_weights_both_trainers_give_the_same_cost(study, corpus):
    torch = pytest.importorskip("torch")
    import theano
    from lstm_text import experiments
    config = dict(CONFIG, n_h=6)
    dataset = experiments.text_dataset(corpus.train_file, corpus)
    batches = list(experiments.plain_stream(dataset, config["batch_size"]).get_epoch_iterator())
    with theano.change_flags(floatX="float64"):
        fast = study.FastModel(len(corpus.dictionary), config)
        mine = study.TorchModel(len(corpus.dictionary), dict(config, trainer="torch"))
        assert mine.net.dtype == torch.float64
        for x, mask in batches[:3]:
            x, mask = x.T, mask.T.astype("float64")
            expected = float(fast.evaluate_model(x, mask))
            assert mine.evaluate_model(x, mask) == pytest.approx(expected, rel=1e-6)
        # One clipped Adam step each, then the costs again: the same recipe, the same result.
        for model in (fast, mine):
            model.set_learning_rate(0.01)
        x, mask = batches[0][0].T, batches[0][1].T.astype("float64")
        costs = [fast.update_model(x, mask), mine.update_model(x, mask)]
        assert costs[1][0] == pytest.approx(float(costs[0][0]), rel=1e-6)
        assert costs[1][1] == pytest.approx(float(costs[0][1]), rel=1e-6)   # gradient norms
        x, mask = batches[1][0].T, batches[1][1].T.astype("float64")
        assert mine.evaluate_model(x, mask) == pytest.approx(
            float(fast.evaluate_model(x, mask)), rel=1e-5)


def test_study_speed_times_both_trainers_and_reports_their_ratio():
    """benchmarks/study_speed.py's main path, on 2 minibatches of a tiny model."""
    pytest.importorskip("torch")
    import re
    import subprocess
    import sys
    from lstm_text.paths import REPO
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "study_speed.py"), "--minibatches", "2",
         "--n-h", "8"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "n_h 8, 2 minibatches of 64 sentences" in out and "BLAS: " in out
    rates = {name: float(rate) for name, rate in
             re.findall(r"^(fast|torch) +training +(\d+) characters/s", out, re.M)}
    assert set(rates) == {"fast", "torch"} and min(rates.values()) > 0
    ratio = float(re.search(r"fast / torch, training speed: ([\d.]+)", out).group(1))
    assert ratio == pytest.approx(rates["fast"] / rates["torch"], abs=0.01)
