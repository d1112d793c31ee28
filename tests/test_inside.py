"""lstm_text.inside (the third notebook's plumbing), checked against things worked out elsewhere:
the notebook's own cost, the gate formulas written out in NumPy, a unit built by hand, and
text features counted by hand. Tiny models, random weights: seconds once compiled."""
import math

import numpy
import pytest

from lstm_text import environment  # noqa: F401  (Theano and Fuel flags first)

DICTIONARY = {char: index for index, char in enumerate(' "abcdehilnorstw,.~')}


@pytest.fixture(scope="module")
def inside():
    from lstm_text import inside
    return inside


def random_values(inside, n_h, seed, scale=0.5):
    rng = numpy.random.RandomState(seed)
    n_in = len(DICTIONARY)
    shapes = {"W": (n_h, n_in), "b": (n_in,)}
    for gate in "ifco":
        shapes.update({"W_" + gate: (n_in, n_h), "U_" + gate: (n_h, n_h), "b_" + gate: (n_h,)})
    return {name: (rng.randn(*shapes[name]) * scale).astype("float32") for name in inside.NAMES}


def test_the_bits_of_a_sentence_sum_to_the_notebooks_cost(inside):
    from lstm_text import experiments
    values = random_values(inside, 6, seed=1)
    model = inside.build(len(DICTIONARY), 6, values)
    sentence = 'she said, "to write it."'
    traced = inside.trace(model, [sentence], DICTIONARY)
    assert math.isnan(traced.bits[0]) and numpy.isfinite(traced.bits[1:]).all()
    # The notebook's graph (the experiments' Model: LstmLayer scanned over the sentence, the
    # softmax layer, sequence_categorical_crossentropy) with the same weights, batch of one.
    config = dict(n_h=6, optimizer="sgd", max_grad_norm=0, sd=0.005, orthogonal_u=False,
                  forget_bias=0.0)
    notebook = experiments.Model(len(DICTIONARY), config, batch_size=1)
    from lstm_text.checkpoints import set_shared_values
    set_shared_values(notebook.softmax.params + notebook.lstm.params, values)
    x = numpy.array([[DICTIONARY[c]] for c in sentence], dtype="int64")
    cost = float(notebook.evaluate_model(x, numpy.ones(x.shape, dtype="float32")))
    assert numpy.nansum(traced.bits) * math.log(2) == pytest.approx(cost, rel=1e-4)


def test_the_gates_found_in_the_graph_are_the_gates(inside):
    values = random_values(inside, 5, seed=2)
    model = inside.build(len(DICTIONARY), 5, values)
    zeros = numpy.zeros(5, dtype="float32")
    x = DICTIONARY["w"]
    _, _, _, i, f, o = model.step(x, zeros, zeros)

    def sigmoid(z):
        return 1 / (1 + numpy.exp(-z))
    # From a zero state only the input row and the bias count: sigmoid(W_g[x] + b_g).
    for got, gate in ((i, "i"), (f, "f"), (o, "o")):
        expected = sigmoid(values["W_" + gate][x] + values["b_" + gate])
        numpy.testing.assert_allclose(numpy.ravel(got), expected, rtol=1e-5)


def quote_unit_values(inside, n_h=4, big=12.0):
    """Random small weights, except unit 0, built to flip its cell between +1 and -1 at every
    quotation mark and to hold it in between (forget gate open, input gate shut)."""
    values = random_values(inside, n_h, seed=3, scale=0.1)
    q = DICTIONARY['"']
    for name in ("W_i", "W_f", "W_c", "W_o", "U_i", "U_f", "U_c", "U_o"):
        values[name][:, 0] = 0
    values["b_f"][0], values["W_f"][q, 0] = big, -2 * big   # keep, except at a quote
    values["b_i"][0], values["W_i"][q, 0] = -big, 2 * big   # write only at a quote
    values["b_o"][0] = big                                  # h = tanh(c)
    values["W_c"][q, 0], values["U_c"][0, 0] = 0.38 * big, -big   # +1 if h was <= 0, else -1
    return values


def test_a_unit_built_to_track_quotation_marks_is_the_one_found(inside):
    model = inside.build(len(DICTIONARY), 4, quote_unit_values(inside))
    sentences = ['she said "it is there" and she left, "it is not."', 'he wrote it.',
                 'a "b" c "d e" f', 'the "one" and "the other" then "none"']
    traced = inside.trace(model, sentences, DICTIONARY)
    inside_quotes = inside.features(traced.text, traced.sentence)["inside quotation marks"]
    assert numpy.all((traced.c[:, 0] > 0.5) == (inside_quotes == 1))   # the unit works
    unit, r = inside.best_units(traced.c, {"inside quotation marks": inside_quotes})[
        "inside quotation marks"]
    assert unit == 0 and r > 0.9


def test_text_features_counted_by_hand(inside):
    text = list('a "b, c" (d). e') + list("xy")
    sentence = [0] * 15 + [1, 1]
    got = inside.features(text, numpy.array(sentence))
    assert list(got["inside quotation marks"][:9]) == [0, 0, 1, 1, 1, 1, 1, 0, 0]
    assert list(got["position in the word"][:5]) == [1, 0, 0, 1, 0]
    assert list(got["position in the sentence"]) == list(range(15)) + [0, 1]
    assert list(got["after a comma"][:13]) == [0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0]
    assert list(got["inside parentheses"][8:13]) == [0, 1, 1, 0, 0]
    assert list(got["after '. ' (a capital would follow)"][12:15]) == [0, 1, 0]
    assert not got["inside quotation marks"][15:].any()          # a new sentence starts fresh


def test_html_colouring_escapes_text_and_scales(inside):
    page = inside.coloured(["<", " ", "a"], [0.0, 4.0, float("nan")], 0, 8)
    assert "&lt;" in page and "&nbsp;" in page
    assert "rgba(220,50,32,0.00)" in page and "rgba(220,50,32,0.50)" in page
