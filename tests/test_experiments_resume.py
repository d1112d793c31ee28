"""Checkpoints of the experiments notebook resume exactly, and refuse a model of another shape.

The code under test is the notebook's own: its cells tagged `experiment`, loaded by
notebooks/experiments.py. A run of 2N minibatches straight through must end with bitwise
the same float32 parameters, optimizer state, random-generator states and position as a run of
N minibatches, saved, rebuilt from nothing, loaded and trained N more. The run uses Adam (moments
and a step counter to restore) and length-bucketed minibatches shuffled by a seeded generator,
saved in the middle of the second epoch, so the generator state and the position inside an
epoch really matter. Tiny corpus, tiny LSTM: well under a minute once Theano's cache is warm.
"""
import numpy
import pytest

from lstm_text import environment  # noqa: F401  (Theano and Fuel flags first)

N = 24              # minibatches before the save; 2N in all
BATCH_SIZE = 10     # 189 tiny sentences: 19 minibatches an epoch, so the save is mid-epoch 2
CONFIG = dict(n_h=5, optimizer="adam", max_grad_norm=5.0, sd=0.1, orthogonal_u=True,
              forget_bias=1.0, bucketed=True)


@pytest.fixture(scope="module")
def experiments():
    from lstm_text import experiments
    return experiments


@pytest.fixture(scope="module")
def corpus():
    from lstm_text import corpus as corpora
    return corpora.load_corpus("tiny")


def _snapshot(run):
    """Everything a resumed run must reproduce: parameters and optimizer state (as bytes), the
    states of both random generators, and the position (training times aside)."""
    values = {v.name: v.get_value() for v in run.model.params + run.model.state}
    rngs = [(state[0], state[1].tobytes()) + tuple(state[2:]) for state in
            (run.data_rng.get_state(), run.epoch_rng_state, run.sample_rng.get_state())]
    position = {k: v for k, v in run.position.items() if k not in ("seconds", "cpu_seconds")}
    return {name: (v.dtype, v.shape, v.tobytes()) for name, v in values.items()}, rngs, position


def test_resume_gives_bitwise_identical_parameters(experiments, corpus, tmp_path):
    # The straight run: 2N minibatches in one go. It writes a checkpoint after N on the way;
    # saving only reads the run (checked here), so the run goes on exactly as without it.
    straight = experiments.Run("run", CONFIG, corpus, batch_size=BATCH_SIZE)
    experiments.train(straight, max_minibatches=N)
    straight.sample_rng.randint(100, size=7)   # as if it had generated some text
    path = tmp_path / "half.npz"
    before = _snapshot(straight)
    experiments.save_run(str(path), straight)
    assert _snapshot(straight) == before
    assert [p.name for p in tmp_path.iterdir()] == ["half.npz"]   # one file, no leftovers
    assert straight.position["epoch"] == 1 and 0 < straight.position["batch"] < 19
    experiments.train(straight, max_minibatches=2 * N)

    # The resumed run: built from nothing, loaded, N more minibatches.
    resumed = experiments.Run("run", CONFIG, corpus, batch_size=BATCH_SIZE)
    assert _snapshot(resumed)[0] != before[0]
    experiments.load_run(str(path), resumed)
    assert _snapshot(resumed)[0] == before[0]
    experiments.train(resumed, max_minibatches=2 * N)

    expected, got = _snapshot(straight), _snapshot(resumed)
    assert "adam.t" in got[0] and "adam.m.U_f" in got[0] and "adam.v.W_i" in got[0]
    assert float(resumed.model.state[0].get_value()) == 2 * N        # Adam's step counter
    assert got[0].keys() == expected[0].keys()
    for name in expected[0]:
        assert got[0][name][0] == numpy.float32, name
        assert got[0][name] == expected[0][name], "%s differs after resuming" % name
    assert got[1] == expected[1], "random generator states differ"
    assert got[2] == expected[2] and got[2]["iteration"] == 2 * N and got[2]["epoch"] == 2
    assert resumed.history["grad_norm"] == straight.history["grad_norm"]
    # The run really trained: the parameters moved away from where they were at N.
    assert got[0]["U_i"] != before[0]["U_i"]


def test_checkpoint_of_another_shape_is_refused_clearly(experiments, corpus, tmp_path):
    small = experiments.Run("small", dict(CONFIG, n_h=4), corpus, batch_size=BATCH_SIZE)
    path = tmp_path / "small.npz"
    experiments.save_run(str(path), small)
    other = experiments.Run("other", CONFIG, corpus, batch_size=BATCH_SIZE)
    before = [p.get_value().copy() for p in other.model.params]
    with pytest.raises(experiments.CheckpointError) as error:
        experiments.load_run(str(path), other)
    message = str(error.value)
    assert str(path) in message
    assert "U_i has shape (4, 4), the model needs (5, 5)" in message
    assert "adam.m.W_i has shape" in message          # optimizer state is checked as well
    for param, value in zip(other.model.params, before):   # and nothing was changed
        numpy.testing.assert_array_equal(param.get_value(), value)


def test_checkpoint_of_another_optimizer_is_refused(experiments, corpus, tmp_path):
    sgd = experiments.Run("sgd", dict(CONFIG, optimizer="sgd"), corpus, batch_size=BATCH_SIZE)
    path = tmp_path / "sgd.npz"
    experiments.save_run(str(path), sgd)
    adam = experiments.Run("adam", CONFIG, corpus, batch_size=BATCH_SIZE)
    with pytest.raises(experiments.CheckpointError, match="adam.t is missing"):
        experiments.load_run(str(path), adam)


def test_bucketed_minibatches_hold_every_sentence_once_with_less_padding(experiments, corpus):
    dataset = experiments.text_dataset(corpus.train_file, corpus)
    plain = list(experiments.plain_stream(dataset, BATCH_SIZE).get_epoch_iterator())
    rng = numpy.random.RandomState(0)
    bucketed = list(experiments.bucketed_stream(dataset, BATCH_SIZE, pool_batches=5,
                                                rng=rng).get_epoch_iterator())

    def sentences(batches):
        return sorted(tuple(x[row, :int(mask[row].sum())]) for x, mask in batches
                      for row in range(x.shape[0]))

    assert sentences(bucketed) == sentences(plain)
    assert [x.shape[0] for x, _ in bucketed] == [x.shape[0] for x, _ in plain]
    padding = [1 - sum(m.sum() for _, m in b) / sum(m.size for _, m in b)
               for b in (plain, bucketed)]
    assert padding[1] < padding[0] / 2
    # Shuffled: the minibatches of a pool are not in order of length.
    longest = [int(mask.sum(axis=1).max()) for _, mask in bucketed[:5]]
    assert longest != sorted(longest)
