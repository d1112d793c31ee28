"""The notebook's model against a plain NumPy reference (tests/reference_lstm.py).

The model is the one defined in notebooks/lstm_text.ipynb (cells tagged `model` and `graph`),
imported through lstm_text.notebook_model. Checked here, on tiny sizes and random weights:

- the cost of the compiled graph (float64) equals the reference's to 1e-10;
- Theano's gradients equal central finite differences of the reference cost, and one call
  of update_model is exactly one SGD step;
- the mask: padding (extra sentences or time steps) changes neither cost nor gradients, the
  state is carried over masked steps, and a batch costs the sum of its sentences;
- single_step is one step of the scan and returns a probability vector;
- speak and sample_character: seeding, greedy and tempered sampling, odd prefixes;
- Fuel's pipeline on the tiny corpus, and `validate` against the reference.

Theano compiles are slow, so the float64 graph is built once per module (and a float32 one,
the notebook's own setting, for the few checks that concern float32).
"""
import math
from fractions import Fraction
from pathlib import Path

import numpy
import pytest
import scipy.stats

from lstm_text import notebook_model  # the notebook's model cells (before theano: flags)
import lstm_text_data
from lstm_text import corpus as corpora
import theano
from fuel.datasets import TextFile
from fuel.schemes import ConstantScheme
from fuel.streams import DataStream
from fuel.transformers import Batch, Padding

import reference_lstm as ref

from lstm_text.paths import REPO  # the one place that knows the repository
TINY_TRAIN = REPO / "data" / "tiny_train.txt"
TINY_VALID = REPO / "data" / "tiny_valid.txt"

N_H = 5
BATCH_SIZE = 5           # tiny_valid.txt has 24 sentences: the last batch has 4
LEARNING_RATE = 0.1
MAX_LEN = 14


# ---------------------------------------------------------------- fixtures and helpers

@pytest.fixture(scope="module")
def dictionary():
    return lstm_text_data.build_dictionary(TINY_TRAIN.read_text(encoding="utf-8").split("\n"))


class Model:
    """A graph from notebook_model.build_graph, plus (optionally) one more compiled function,
    `probe`, for the cost, the gradients, the LSTM's states and the softmax outputs."""

    def __init__(self, dictionary, float_x, with_probe=True):
        self.dictionary = dictionary
        self.n_in = len(dictionary)
        self.float_x = float_x
        with theano.change_flags(floatX=float_x):
            self.g = notebook_model.build_graph(self.n_in, N_H, batch_size=BATCH_SIZE,
                                            learning_rate=LEARNING_RATE, seed=12345)
            self.names = [p.name for p in self.g.params]
            if not with_probe:
                return
            h = self.g.recurrent_layer.output
            # The scan's second output is the memory cell; like h, keep its last n_steps rows.
            scan_node = h.owner.inputs[0].owner
            n_steps = self.g.x.shape[0]
            h_full = scan_node.outputs[0][-n_steps:]
            c_full = scan_node.outputs[1][-n_steps:]
            outputs = ([self.g.cost] + list(self.g.grads) +
                       [h, h_full, c_full, self.g.logreg_layer.p_y_given_x])
            self._probe = theano.function([self.g.x, self.g.mask], outputs)

    def probe(self, x, mask):
        """cost, grads (dict by parameter name), h, c, p (softmax of h[:-1])."""
        out = self._probe(x, numpy.asarray(mask, dtype=self.float_x))
        n = len(self.names)
        h_layer, h, c, p = out[n + 1:]
        numpy.testing.assert_array_equal(h_layer, h)  # the scan output we read is the layer's
        return dict(cost=float(out[0]), grads=dict(zip(self.names, out[1:n + 1])),
                    h=h, c=c, p=p)

    def set_params(self, params):
        for p in self.g.params:
            p.set_value(numpy.asarray(params[p.name], dtype=self.float_x))

    def get_params(self):
        return {p.name: p.get_value() for p in self.g.params}

    def randomize(self, seed, scale=0.5):
        """Random values for every parameter, large enough that every term matters."""
        params = ref.random_params(numpy.random.RandomState(seed), self.n_in, N_H,
                                   scale=scale)
        self.set_params(params)
        return self.get_params()   # as stored: float32 in a float32 graph

    def speak(self, rng, **kwargs):
        return notebook_model.speak(self.g.single_step, rng=rng, dictionary=self.dictionary,
                                n_h=N_H, **kwargs)


@pytest.fixture(scope="module")
def model(dictionary):
    """The float64 graph: the reference comparisons need its precision."""
    return Model(dictionary, "float64")


@pytest.fixture(scope="module")
def model32(dictionary):
    """The notebook's own float32 graph (no probe: one compile less)."""
    return Model(dictionary, "float32", with_probe=False)


def random_batch(rng, n_in, lengths, pad="zero"):
    """x (time, batch) int64 and mask float64, time = max(lengths). pad: 'zero' as Fuel does,
    or 'random' ids under the zero mask, to show that padding ids are ignored."""
    lengths = list(lengths)
    n_steps = max(lengths)
    if pad == "zero":
        x = numpy.zeros((n_steps, len(lengths)), dtype="int64")
    else:
        x = rng.randint(0, n_in, size=(n_steps, len(lengths))).astype("int64")
    mask = numpy.zeros((n_steps, len(lengths)))
    for b, n in enumerate(lengths):
        x[:n, b] = rng.randint(0, n_in, size=n)
        mask[:n, b] = 1.0
    return x, mask


def random_lengths(rng, n=BATCH_SIZE):
    lengths = rng.randint(1, MAX_LEN + 1, size=n)
    lengths[rng.randint(n)] = MAX_LEN
    return lengths


def fuel_stream(path, dictionary, batch_size):
    """The notebook's pipeline: TextFile -> default_stream -> Batch -> Padding."""
    dataset = TextFile(files=[str(path)], dictionary=dictionary, unk_token="~",
                       level="character", preprocess=str.lower, bos_token=None,
                       eos_token=None, encoding="utf-8")
    stream = DataStream.default_stream(dataset)
    stream = Batch(stream, iteration_scheme=ConstantScheme(batch_size))
    return Padding(stream)


def read_sentences(path):
    """The file's lines as Fuel should read them: lowercased, then stripped."""
    text = Path(path).read_bytes().decode("utf-8")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.lower().strip() for line in lines]


def encode(sentence, dictionary):
    return [dictionary.get(char, dictionary["~"]) for char in sentence]


def replay(single_step, dictionary, text, prefix_length, float_x):
    """Feed `text` through single_step; return (predictions before each generated character,
    the generated ids)."""
    h = numpy.zeros(N_H, dtype=float_x)
    c = numpy.zeros(N_H, dtype=float_x)
    predictions, chosen = [], []
    prediction = None
    for position, char in enumerate(text):
        index = dictionary.get(char, dictionary["~"])
        if position >= prefix_length:
            predictions.append(prediction.ravel())
            chosen.append(index)
        prediction, h, c = single_step(index, h.ravel(), c.ravel())
    return numpy.array(predictions), numpy.array(chosen)


# ---------------------------------------------------------------- the graph and the cost

def test_float64_graph_is_float64(model):
    assert {p.dtype for p in model.g.params} == {"float64"}
    assert model.g.cost.dtype == "float64"
    assert model.g.mask.dtype == "float64"
    assert model.g.recurrent_layer.output.dtype == "float64"
    assert {g.dtype for g in model.g.grads} == {"float64"}
    assert model.names == list(ref.PARAM_NAMES)
    params = model.randomize(0)
    assert {v.dtype for v in params.values()} == {numpy.dtype("float64")}
    x, mask = random_batch(numpy.random.RandomState(0), model.n_in, [4, 2, 3])
    assert model.g.evaluate_model(x, mask).dtype == numpy.float64
    out = model.probe(x, mask)
    assert out["h"].dtype == out["c"].dtype == out["p"].dtype == numpy.float64


def test_initial_model_predicts_uniformly(model):
    """With the softmax W and b at zero (as build_graph starts), every character has
    probability 1/n_out: the cost is ln(n_out) per predicted character."""
    rng = numpy.random.RandomState(1)
    initial = ref.random_params(rng, model.n_in, N_H)
    initial["W"][:] = 0.0
    initial["b"][:] = 0.0
    model.set_params(initial)
    x, mask = random_batch(rng, model.n_in, [6, 3, 1, 5])
    expected = math.log(model.n_in) * mask[1:].sum() / BATCH_SIZE
    assert model.g.evaluate_model(x, mask) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cost_matches_reference(model, seed):
    rng = numpy.random.RandomState(seed)
    params = model.randomize(100 + seed)
    n_sentences = BATCH_SIZE if seed < 2 else 3   # a short last batch too
    x, mask = random_batch(rng, model.n_in, random_lengths(rng, n_sentences))
    expected = ref.cost(params, x, mask, BATCH_SIZE)
    got = model.g.evaluate_model(x, mask)
    assert got == pytest.approx(expected, rel=1e-10, abs=0)
    # the hidden states and probabilities too
    out = model.probe(x, mask)
    h, c = ref.lstm_forward(params, x, mask)
    numpy.testing.assert_allclose(out["h"], h, rtol=1e-10, atol=1e-13)
    numpy.testing.assert_allclose(out["c"], c, rtol=1e-10, atol=1e-13)
    numpy.testing.assert_allclose(out["p"], ref.output_probabilities(params, h[:-1]),
                                  rtol=1e-10, atol=1e-15)
    assert out["cost"] == pytest.approx(expected, rel=1e-10, abs=0)
    # not a vacuous comparison: the predictions are far from uniform
    assert numpy.ptp(numpy.log(out["p"]), axis=2).min() > 1.0


# ---------------------------------------------------------------- gradients and SGD

def finite_difference(f, value, entry, eps):
    """df/dvalue[entry] by the five-point central stencil (error O(eps^4)), value restored."""
    original = value[entry]
    samples = []
    for k in (-2, -1, 1, 2):
        value[entry] = original + k * eps
        samples.append(f())
    value[entry] = original
    return (samples[0] - 8 * samples[1] + 8 * samples[2] - samples[3]) / (12 * eps)


def test_gradients_match_finite_differences(model):
    """T.grad against finite differences of the NumPy reference cost, 5 entries a parameter.

    A cost of ~30 nats has rounding errors ~1e-14, so a two-point difference with eps 1e-6
    is only good to ~1e-8; the five-point stencil with eps 1e-4 is good to ~1e-11.
    """
    rng = numpy.random.RandomState(3)
    params = model.randomize(103)
    x, mask = random_batch(rng, model.n_in, random_lengths(rng))
    grads = model.probe(x, mask)["grads"]
    used = numpy.unique(x[mask > 0])        # rows of W_* that the batch can reach
    eps = 1e-4
    shifted = {k: v.copy() for k, v in params.items()}
    for name in ref.PARAM_NAMES:
        value = params[name]
        if name.startswith("W_"):
            rows = rng.choice(used, size=5)
            cols = rng.randint(0, value.shape[1], size=5)
            entries = list(zip(rows, cols))
        else:
            entries = [numpy.unravel_index(k, value.shape)
                       for k in rng.choice(value.size, size=5, replace=False)]
        numeric, symbolic = [], []
        for entry in entries:
            numeric.append(finite_difference(lambda: ref.cost(shifted, x, mask, BATCH_SIZE),
                                             shifted[name], entry, eps))
            symbolic.append(grads[name][entry])
        numpy.testing.assert_allclose(symbolic, numeric, rtol=1e-6, atol=1e-9,
                                      err_msg="gradient of %s" % name)
        assert numpy.max(numpy.abs(numeric)) > 1e-4, name   # not a vacuous comparison


def test_update_model_is_one_sgd_step(model):
    """Each parameter becomes exactly p - learning_rate * g, g the gradient before the step
    (exactly: either rounded after each operation or once, as a fused multiply-add)."""
    rng = numpy.random.RandomState(4)
    before = model.randomize(104)
    x, mask = random_batch(rng, model.n_in, random_lengths(rng))
    out = model.probe(x, mask)
    returned = model.g.update_model(x, mask)
    assert float(returned) == out["cost"]           # the cost before the step
    after = model.get_params()
    for name in model.names:
        p, g = before[name], out["grads"][name]
        rounded_twice = p - LEARNING_RATE * g
        # The compiled C code may fuse the multiply-add (FMA): p - lr*g rounded once.
        rounded_once = numpy.array([float(Fraction(a) - Fraction(LEARNING_RATE) * Fraction(b))
                                    for a, b in zip(p.ravel(), g.ravel())]).reshape(p.shape)
        exact = (after[name] == rounded_twice) | (after[name] == rounded_once)
        assert exact.all(), (name, after[name][~exact], rounded_twice[~exact])
        assert not numpy.array_equal(after[name], p), name
    # the step went downhill
    assert model.g.evaluate_model(x, mask) < out["cost"]


# ---------------------------------------------------------------- the mask's contract

def assert_same_cost_and_grads(a, b):
    assert a["cost"] == pytest.approx(b["cost"], rel=1e-12, abs=0)
    for name in a["grads"]:
        numpy.testing.assert_allclose(a["grads"][name], b["grads"][name], rtol=1e-11,
                                      atol=1e-14, err_msg=name)


def test_padding_sentences_change_nothing(model):
    rng = numpy.random.RandomState(5)
    model.randomize(105)
    x, mask = random_batch(rng, model.n_in, random_lengths(rng, 3))
    extra_x = rng.randint(0, model.n_in, size=(x.shape[0], 2))
    wide_x = numpy.hstack([x, extra_x])
    wide_mask = numpy.hstack([mask, numpy.zeros((x.shape[0], 2))])
    assert_same_cost_and_grads(model.probe(wide_x, wide_mask), model.probe(x, mask))
    # padding columns in the middle of the batch, too
    mid_x = numpy.hstack([extra_x[:, :1], x[:, :2], extra_x[:, 1:], x[:, 2:]])
    mid_mask = numpy.hstack([numpy.zeros((x.shape[0], 1)), mask[:, :2],
                             numpy.zeros((x.shape[0], 1)), mask[:, 2:]])
    assert_same_cost_and_grads(model.probe(mid_x, mid_mask), model.probe(x, mask))


def test_padding_time_steps_change_nothing(model):
    rng = numpy.random.RandomState(6)
    model.randomize(106)
    x, mask = random_batch(rng, model.n_in, random_lengths(rng))
    long_x = numpy.vstack([x, rng.randint(0, model.n_in, size=(4, x.shape[1]))])
    long_mask = numpy.vstack([mask, numpy.zeros((4, x.shape[1]))])
    assert_same_cost_and_grads(model.probe(long_x, long_mask), model.probe(x, mask))


def test_padding_ids_are_ignored(model):
    rng = numpy.random.RandomState(7)
    model.randomize(107)
    x0, mask = random_batch(rng, model.n_in, random_lengths(rng), pad="zero")
    xr = numpy.where(mask > 0, x0, rng.randint(1, model.n_in, size=x0.shape))
    assert not numpy.array_equal(x0, xr)
    assert_same_cost_and_grads(model.probe(xr, mask), model.probe(x0, mask))


def test_state_is_kept_across_masked_steps(model):
    rng = numpy.random.RandomState(8)
    model.randomize(108)
    lengths = [MAX_LEN, 5, 1, 9, 0]            # 0: an all-padding column
    x, mask = random_batch(rng, model.n_in, lengths, pad="random")
    out = model.probe(x, mask)
    for b, n in enumerate(lengths):
        for state in (out["h"], out["c"]):
            last = state[n - 1, b] if n else numpy.zeros(N_H)
            for t in range(n, x.shape[0]):
                numpy.testing.assert_array_equal(state[t, b], last)
        if n > 1:
            assert not numpy.allclose(out["h"][n - 1, b], out["h"][n - 2, b])


def test_batch_is_the_sum_of_its_sentences(model):
    rng = numpy.random.RandomState(9)
    model.randomize(109)
    lengths = [7, 3, MAX_LEN, 1, 9]
    x, mask = random_batch(rng, model.n_in, lengths)
    batch = model.probe(x, mask)
    alone = []
    for b, n in enumerate(lengths):
        # a one-character sentence alone is padded with one masked step, so that the batch
        # keeps a step to predict (a batch of one time step costs 0, tested below)
        steps = max(n, 2)
        sentence, sentence_mask = x[:steps, b:b + 1], mask[:steps, b:b + 1]
        single = model.probe(sentence, sentence_mask)
        assert single["cost"] == pytest.approx(
            model.g.evaluate_model(sentence, sentence_mask), rel=1e-15)
        numpy.testing.assert_allclose(batch["h"][:n, b], single["h"][:n, 0], rtol=1e-12,
                                      atol=1e-15)
        numpy.testing.assert_allclose(batch["c"][:n, b], single["c"][:n, 0], rtol=1e-12,
                                      atol=1e-15)
        alone.append(single)
    assert alone[3]["cost"] == 0.0       # a one-character sentence predicts nothing
    assert all(numpy.all(g == 0) for g in alone[3]["grads"].values())
    assert batch["cost"] == pytest.approx(sum(s["cost"] for s in alone), rel=1e-12, abs=0)
    for name in model.names:
        numpy.testing.assert_allclose(batch["grads"][name],
                                      sum(s["grads"][name] for s in alone),
                                      rtol=1e-11, atol=1e-14, err_msg=name)


# ---------------------------------------------------------------- single_step

def test_single_step_is_one_step_of_the_scan(model):
    rng = numpy.random.RandomState(10)
    params = model.randomize(110)
    n = 12
    x = rng.randint(0, model.n_in, size=(n, 1)).astype("int64")
    out = model.probe(x, numpy.ones((n, 1)))
    h = numpy.zeros(N_H)
    c = numpy.zeros(N_H)
    for t in range(n):
        ref_h, ref_c = ref.lstm_step(params, x[t], h[None, :], c[None, :])
        prediction, h_t, c_t = model.g.single_step(int(x[t, 0]), h, c)
        assert prediction.shape == (1, model.n_in)
        assert h_t.shape == c_t.shape == (1, N_H)
        numpy.testing.assert_allclose(h_t, ref_h, rtol=1e-10, atol=1e-14)
        numpy.testing.assert_allclose(c_t, ref_c, rtol=1e-10, atol=1e-14)
        numpy.testing.assert_allclose(h_t[0], out["h"][t, 0], rtol=1e-12, atol=1e-15)
        numpy.testing.assert_allclose(c_t[0], out["c"][t, 0], rtol=1e-12, atol=1e-15)
        expected = ref.output_probabilities(params, ref_h)
        numpy.testing.assert_allclose(prediction, expected, rtol=1e-10, atol=1e-15)
        if t < n - 1:
            numpy.testing.assert_allclose(prediction[0], out["p"][t, 0], rtol=1e-12,
                                          atol=1e-15)
        h, c = h_t[0], c_t[0]


@pytest.mark.parametrize("float_x, tolerance", [("float64", 1e-12), ("float32", 1e-6)])
def test_single_step_returns_a_probability_vector(request, float_x, tolerance):
    model = request.getfixturevalue("model" if float_x == "float64" else "model32")
    model.randomize(111, scale=1.5)     # larger weights: peaked distributions
    rng = numpy.random.RandomState(11)
    for _ in range(20):
        h = (rng.randn(N_H) * 3).astype(float_x)
        c = (rng.randn(N_H) * 3).astype(float_x)
        prediction, h_t, c_t = model.g.single_step(int(rng.randint(model.n_in)), h, c)
        assert prediction.dtype == float_x
        assert numpy.all(prediction >= 0) and numpy.all(numpy.isfinite(prediction))
        assert abs(float(prediction.sum(dtype="float64")) - 1.0) < tolerance


# ---------------------------------------------------------------- speak and sampling

@pytest.mark.parametrize("which", ["model", "model32"])
def test_speak_is_reproducible_and_seed_dependent(request, which):
    model = request.getfixturevalue(which)
    model.randomize(112)
    prefix = "the meaning of life is "
    first = model.speak(numpy.random.RandomState(7), prefix=prefix, n_steps=60)
    again = model.speak(numpy.random.RandomState(7), prefix=prefix, n_steps=60)
    other = model.speak(numpy.random.RandomState(8), prefix=prefix, n_steps=60)
    assert first == again
    assert first != other
    for text in (first, other):
        assert text.startswith(prefix) and len(text) == len(prefix) + 60
        assert set(text[len(prefix):]) <= set(model.dictionary)


@pytest.mark.parametrize("which", ["model", "model32"])
def test_speak_greedy_is_argmax(request, which):
    model = request.getfixturevalue(which)
    model.randomize(113)
    prefix = "she was "
    text = model.speak(numpy.random.RandomState(0), prefix=prefix, n_steps=40,
                       temperature=0)
    predictions, chosen = replay(model.g.single_step, model.dictionary, text, len(prefix),
                                 model.float_x)
    assert len(chosen) == 40
    numpy.testing.assert_array_equal(chosen, predictions.argmax(axis=1))
    # greedy does not depend on the generator
    assert text == model.speak(numpy.random.RandomState(99), prefix=prefix, n_steps=40,
                               temperature=0)


def test_speak_at_low_temperature_is_nearly_greedy(model):
    model.randomize(114, scale=2.0)     # larger weights: top characters further apart
    prefix = "it is "
    n_steps = 200
    text = model.speak(numpy.random.RandomState(1), prefix=prefix, n_steps=n_steps,
                       temperature=0.05)
    predictions, chosen = replay(model.g.single_step, model.dictionary, text, len(prefix),
                                 model.float_x)
    greedy = chosen == predictions.argmax(axis=1)
    expected = numpy.mean([ref.tempered(p, 0.05).max() for p in predictions])
    assert expected > 0.9
    assert greedy.mean() >= 0.9
    assert greedy.mean() == pytest.approx(expected, abs=5 * math.sqrt(0.25 / n_steps))
    # at temperature 1 the same model is far from greedy
    text1 = model.speak(numpy.random.RandomState(1), prefix=prefix, n_steps=n_steps)
    predictions1, chosen1 = replay(model.g.single_step, model.dictionary, text1, len(prefix),
                                   model.float_x)
    assert (chosen1 == predictions1.argmax(axis=1)).mean() < 0.8


def pooled_chi_square(counts, expected, min_expected=5.0):
    """Chi-square statistic and degrees of freedom, cells with small expectation pooled."""
    big = expected >= min_expected
    obs = list(counts[big]) + [counts[~big].sum()]
    exp = list(expected[big]) + [expected[~big].sum()]
    if exp[-1] < min_expected:      # too small to be a cell of its own: merge into the last
        obs[-2] += obs.pop()
        exp[-2] += exp.pop()
    obs, exp = numpy.array(obs, dtype=float), numpy.array(exp)
    return float(((obs - exp) ** 2 / exp).sum()), len(obs) - 1


PROBABILITIES = numpy.array([0.3, 0.0, 0.1, 0.25, 0.0, 0.05, 0.2, 0.1], dtype="float32")


@pytest.mark.parametrize("temperature", [1.0, 0.5, 2.0, 0.2])
def test_sample_character_draws_from_tempered_distribution(temperature):
    rng = numpy.random.RandomState(2024)
    n = 10000
    with numpy.errstate(all="raise"):
        draws = [notebook_model.sample_character(PROBABILITIES, rng, temperature)
                 for _ in range(n)]
    counts = numpy.bincount(draws, minlength=len(PROBABILITIES))
    assert counts[PROBABILITIES == 0].sum() == 0
    expected = n * ref.tempered(PROBABILITIES, temperature)
    statistic, dof = pooled_chi_square(counts[PROBABILITIES > 0], expected[PROBABILITIES > 0])
    assert scipy.stats.chi2.sf(statistic, dof) > 1e-3, (counts, expected)
    # the most probable character's share, within 5 standard deviations
    top = numpy.argmax(PROBABILITIES)
    q = expected[top] / n
    assert counts[top] / n == pytest.approx(q, abs=5 * math.sqrt(q * (1 - q) / n))


@pytest.mark.parametrize("temperature", [0, 0.05, 0.5, 1.0, 3.0])
def test_sample_character_never_draws_zero_probabilities(temperature):
    p = numpy.zeros(30, dtype="float32")
    p[[3, 17, 29]] = [0.2, 0.5, 0.3]
    rng = numpy.random.RandomState(5)
    with numpy.errstate(all="raise"):
        draws = {notebook_model.sample_character(p, rng, temperature) for _ in range(2000)}
    assert draws <= {3, 17, 29}
    if temperature == 0:
        assert draws == {17}
    elif temperature >= 0.5:
        assert draws == {3, 17, 29}


def test_sample_character_with_tiny_probabilities_gives_no_nan():
    """Probabilities that vanish under p ** (1 / T) (float underflow, harmless) give no
    division by zero, overflow or NaN, and are not drawn."""
    p = numpy.array([0.6, 0.0, 1e-30, 0.4 - 1e-30], dtype="float64")
    rng = numpy.random.RandomState(6)
    with numpy.errstate(divide="raise", invalid="raise", over="raise"):
        draws = [notebook_model.sample_character(p, rng, 0.01) for _ in range(500)]
    assert set(draws) <= {0, 3}
    assert draws.count(0) > 450       # 0.6^100 : 0.4^100


def test_speak_maps_unknown_prefix_characters_to_the_unknown_token(model):
    model.randomize(115)
    unknown = [char for char in "\u20ac\u00a7#@{}\u00df" if char not in model.dictionary]
    assert len(unknown) >= 2
    prefix = "ab%sc%s " % (unknown[0], unknown[1])
    tilde = prefix.replace(unknown[0], "~").replace(unknown[1], "~")
    text = model.speak(numpy.random.RandomState(3), prefix=prefix, n_steps=30)
    text_tilde = model.speak(numpy.random.RandomState(3), prefix=tilde, n_steps=30)
    assert text.startswith(prefix)
    assert text[len(prefix):] == text_tilde[len(tilde):]


def test_speak_looks_up_unknown_prefix_characters_lowercased(model):
    model.randomize(116)
    upper = model.speak(numpy.random.RandomState(4), prefix="THE Meaning Of ", n_steps=30)
    lower = model.speak(numpy.random.RandomState(4), prefix="the meaning of ", n_steps=30)
    assert upper.startswith("THE Meaning Of ")   # the prefix as given, as in the original
    assert upper[len("THE Meaning Of "):] == lower[len("the meaning of "):]


def test_speak_called_as_the_original_draws_from_numpys_global_generator(model):
    """The original's call, speak(single_step, prefix=..., n_steps=...), draws from
    numpy.random; seeding it gives the text that the same seed in a RandomState gives."""
    model.randomize(121)
    numpy.random.seed(77)
    with_global = notebook_model.speak(model.g.single_step, prefix="the meaning of life is ",
                                   n_steps=50, dictionary=model.dictionary, n_h=N_H)
    with_rng = model.speak(numpy.random.RandomState(77), prefix="the meaning of life is ",
                           n_steps=50)
    assert with_global == with_rng


# ---------------------------------------------------------------- Fuel and validate

@pytest.mark.parametrize("path, batch_size", [(TINY_TRAIN, 10), (TINY_VALID, BATCH_SIZE)])
def test_fuel_batches_hold_every_character_once_in_order(dictionary, path, batch_size):
    sentences = read_sentences(path)
    reverse = {index: char for char, index in dictionary.items()}
    batches = list(fuel_stream(path, dictionary, batch_size).get_epoch_iterator())
    assert len(batches) == math.ceil(len(sentences) / batch_size)
    assert len(sentences) % batch_size != 0      # the last batch is short
    position = 0
    for number, (x, mask) in enumerate(batches):
        assert x.dtype == numpy.int64 and mask.dtype == numpy.float32
        assert x.shape == mask.shape
        expected_size = min(batch_size, len(sentences) - position)
        assert x.shape[0] == expected_size
        in_batch = sentences[position:position + expected_size]
        assert x.shape[1] == max(len(s) for s in in_batch)
        for row, sentence in enumerate(in_batch):
            n = len(sentence)
            assert x[row, :n].tolist() == encode(sentence, dictionary)
            assert numpy.all(mask[row, :n] == 1)
            assert numpy.all(x[row, n:] == 0) and numpy.all(mask[row, n:] == 0)
            decoded = "".join(reverse[i] for i in x[row, :n])
            assert decoded == "".join(ch if ch in dictionary else "~" for ch in sentence)
            if path == TINY_TRAIN:
                assert decoded == sentence     # the dictionary is built from this file
        position += expected_size
    assert position == len(sentences)
    assert sum(int(m.sum()) for _, m in batches) == sum(len(s) for s in sentences)


def test_validate_matches_reference(model, dictionary):
    params = model.randomize(117)
    stream = fuel_stream(TINY_VALID, dictionary, BATCH_SIZE)
    ce_per_sentence, bpc = notebook_model.validate(model.g.evaluate_model, stream, BATCH_SIZE)

    # the reference on the same batches; the original's "CE per sentence" is the mean of
    # the minibatches' costs, each divided by batch_size (the short last one too)
    total, batch_costs, n_predicted, sizes = 0.0, [], 0, []
    for x, mask in stream.get_epoch_iterator():
        batch_total = ref.token_cross_entropies(params, x.T, mask.T).sum()
        total += batch_total
        batch_costs.append(batch_total / BATCH_SIZE)
        n_predicted += int(mask[:, 1:].sum())
        sizes.append(x.shape[0])
    assert sizes == [5, 5, 5, 5, 4]
    assert ce_per_sentence == pytest.approx(numpy.mean(batch_costs), rel=1e-10, abs=0)
    assert bpc == pytest.approx(total / n_predicted / math.log(2), rel=1e-10, abs=0)

    # and sentence by sentence, read from the file without Fuel
    sentences = read_sentences(TINY_VALID)
    per_sentence = [ref.token_cross_entropies(
        params, numpy.array(encode(s, dictionary))[:, None], numpy.ones((len(s), 1))).sum()
        for s in sentences]
    assert len(sentences) == sum(sizes)
    assert sum(len(s) - 1 for s in sentences) == n_predicted
    starts = numpy.cumsum([0] + sizes)
    assert ce_per_sentence == pytest.approx(numpy.mean(
        [sum(per_sentence[a:b]) / BATCH_SIZE for a, b in zip(starts, starts[1:])]), rel=1e-10)
    assert bpc == pytest.approx(sum(per_sentence) / n_predicted / math.log(2), rel=1e-10)


# ------------------------------------------------- a batch of one time step

@pytest.mark.parametrize("which", ["model", "model32"])
def test_a_batch_of_one_time_step_costs_zero(request, which):
    """A minibatch whose sentences are all one character long has nothing to predict: the
    softmax gets output[:-1], an empty (0, n_h) matrix. It costs 0, its gradients are 0 and
    update_model changes no parameter, under whichever BLAS Theano links. (Theano 1.0.5's
    Dot22 and Gemm refused empty matrices when linked to a BLAS such as OpenBLAS, "some
    matrix has no unit stride"; tools/install_theano.py patches its C code.)"""
    model = request.getfixturevalue(which)
    before = model.randomize(119)
    x = numpy.array([[3, 7, 1]], dtype="int64")
    mask = numpy.ones((1, 3), dtype=model.float_x)
    assert model.g.evaluate_model(x, mask) == 0.0
    assert model.g.update_model(x, mask) == 0.0
    after = model.get_params()
    for name in model.names:
        numpy.testing.assert_array_equal(after[name], before[name], err_msg=name)
    if which == "model":    # the float64 graph has the probe: the gradients themselves
        out = model.probe(x, mask)
        assert out["cost"] == 0.0 and out["p"].shape == (0, 3, model.n_in)
        assert all(numpy.all(g == 0) for g in out["grads"].values())


def test_prepared_copies_never_give_a_batch_of_one_time_step(model, dictionary, tmp_path):
    """A user file that starts with a minibatch of one-character lines: load_corpus's
    prepared copy leaves those lines out (they have nothing to predict), and the rest is
    scored exactly as the reference scores it. Read as it is, the raw file is scored without
    error too: its first batch, of one time step, costs 0, and the bits per character are
    the same (the one-character lines have nothing to predict)."""
    params = model.randomize(120)
    lines = ["a", "e", "t", "o", " i "] + ["the cat sat.", "a tea.", "no."]
    assert len(lines) > BATCH_SIZE
    train = tmp_path / "train.txt"
    train.write_text("\n".join(lines) + "\n", encoding="utf-8")
    kept = [s for s in lines if len(s.strip()) > 1]
    expected = sum(ref.token_cross_entropies(
        params, numpy.array(encode(s, dictionary))[:, None], numpy.ones((len(s), 1))).sum()
        for s in kept)
    expected_bpc = expected / sum(len(s) - 1 for s in kept) / math.log(2)

    # the raw file: a first batch of one time step, which costs 0, then the rest
    batches = list(fuel_stream(train, dictionary, BATCH_SIZE).get_epoch_iterator())
    assert [x_.shape for x_, _ in batches] == [(BATCH_SIZE, 1), (3, len("the cat sat."))]
    costs = [model.g.evaluate_model(x_.T, mask_.T) for x_, mask_ in batches]
    assert costs[0] == 0.0
    assert costs[1] * BATCH_SIZE == pytest.approx(expected, rel=1e-10)
    _, raw_bpc = notebook_model.validate(
        model.g.evaluate_model, fuel_stream(train, dictionary, BATCH_SIZE), BATCH_SIZE)
    assert raw_bpc == pytest.approx(expected_bpc, rel=1e-10)

    # the prepared copy: the one-character lines left out, the rest kept in order
    with pytest.warns(UserWarning, match="5 one-character lines"):
        corpus = corpora.load_corpus(train=train, valid=train, dictionary=dictionary,
                                            work_dir=tmp_path / "work")
    assert read_sentences(corpus.train_file) == [s.lower().strip() for s in kept]
    prepared = list(fuel_stream(corpus.train_file, dictionary, BATCH_SIZE).get_epoch_iterator())
    assert [x_.shape for x_, _ in prepared] == [(3, len("the cat sat."))]
    assert model.g.evaluate_model(prepared[0][0].T, prepared[0][1].T) * BATCH_SIZE == \
        pytest.approx(expected, rel=1e-10)
    _, bpc = notebook_model.validate(
        model.g.evaluate_model, fuel_stream(corpus.train_file, dictionary, BATCH_SIZE),
        BATCH_SIZE)
    assert bpc == pytest.approx(expected_bpc, rel=1e-10)


def test_speak_needs_the_dictionary_and_size_passed_in(model):
    """No globals: without dictionary= and n_h= speak says what it needs."""
    with pytest.raises(TypeError, match=r"speak\(\) needs dictionary= and n_h="):
        notebook_model.speak(model.g.single_step, n_steps=5)
