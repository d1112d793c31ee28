"""Looking inside a trained model: surprise per character, cell states, gates (plumbing for
notebooks/lstm_text_inside.ipynb).

The model is the main notebook's own: its `LstmLayer` and `LogisticRegression`, imported
through lstm_text.notebook_model and loaded from a checkpoint in the notebook's parameter names
(the main notebook's saved model, or the 30-minute study's kept one). `step` is the notebook's
`single_step` graph (`LstmLayer._step` on one character, the softmax layer on its output) that
also returns the three gates, found in that very graph: the sigmoid whose inputs use W_i is the
input gate, and so on. Nothing of the model is written again here.
"""
import html
import types

import numpy

from lstm_text import environment  # noqa: F401  (Theano and Fuel flags first)
import theano
import theano.tensor as T
from theano.gof.graph import ancestors

from lstm_text.checkpoints import load_checkpoint, set_shared_values
from lstm_text.notebook_model import LogisticRegression, LstmLayer

GATES = ("i", "f", "o")
NAMES = ("W", "b", "W_i", "W_f", "W_c", "W_o", "U_i", "U_f", "U_c", "U_o",
         "b_i", "b_f", "b_c", "b_o")
"""The main notebook's `params` names, softmax first: how its checkpoints store them."""


def build(n_in, n_h, values=None, seed=0):
    """The notebook's layers for these sizes (weights from `values`, {name: array}, if given)
    and `step(x_t, h, c) -> [p, h, c, i, f, o]` compiled for one character."""
    rng = numpy.random.RandomState(seed)
    x, mask = T.lmatrix("x"), T.matrix("mask")
    lstm = LstmLayer(rng=rng, input=x, mask=mask, n_in=n_in, n_h=n_h)
    x_t, h_p, c_p = T.iscalar("x_t"), T.vector("h"), T.vector("c")
    h_t, c_t = lstm._step(T.ones(1), x_t, h_p, c_p)                 # (1, n_h) each
    # The notebook's softmax layer, on the one step's output seen as (time 1, batch 1, n_h).
    softmax = LogisticRegression(rng=rng, input=h_t.dimshuffle("x", 0, 1), n_in=n_h,
                                 n_out=n_in)
    params = softmax.params + lstm.params
    if values is not None:
        set_shared_values(params, values, source="the model")
    gates = gate_variables(lstm, [h_t, c_t])
    step = theano.function([x_t, h_p, c_p],
                           [softmax.p_y_given_x[0], h_t, c_t] + gates)
    return types.SimpleNamespace(lstm=lstm, softmax=softmax, params=params, step=step,
                                 n_in=n_in, n_h=n_h,
                                 single_step=lambda x_t, h, c: step(x_t, h, c)[:3])


def gate_variables(lstm, outputs):
    """The input, forget and output gates of LstmLayer._step, found in its graph: the sigmoid
    that depends on W_i is the input gate, on W_f the forget gate, on W_o the output gate."""
    found = {}
    for variable in ancestors(outputs):
        op = getattr(variable.owner, "op", None)
        if not isinstance(op, T.Elemwise) or "sigmoid" not in str(op.scalar_op).lower():
            continue
        inputs = set(ancestors([variable]))
        for gate in GATES:
            if getattr(lstm, "W_" + gate) in inputs:
                found[gate] = variable
    missing = [gate for gate in GATES if gate not in found]
    if missing:
        raise LookupError("LstmLayer._step has no sigmoid gate using W_%s" % missing[0])
    return [found[gate] for gate in GATES]


def load(path, n_in):
    """The model saved at `path` (the notebooks' parameter names), built for `n_in` characters;
    also returns the checkpoint's meta record."""
    # n_h is read from the file, so the loader's own bound applies (checkpoints.MAX_BYTES).
    arrays, meta = load_checkpoint(str(path), array_names=NAMES)
    n_h = arrays["U_i"].shape[0]
    return build(n_in, n_h, arrays), meta


def char_id(dictionary, char):
    """The id speak() gives a character: itself, lowercased, else the unknown token '~'."""
    return dictionary.get(char, dictionary.get(char.lower(), dictionary["~"]))


def trace(model, sentences, dictionary):
    """Run each sentence from a fresh state (as the model was trained and validated) and record,
    for every character, what the model saw after reading it.

    Returns a namespace of arrays over all characters of all sentences, in order: text (the
    characters), sentence (its index), p (the next-character distribution, n_out), h, c, i, f, o
    (n_h each), and bits: the surprise of each character, -log2 of the probability the model
    gave it one step before (NaN for a sentence's first character, which nothing predicts).
    """
    rows = {key: [] for key in ("p", "h", "c", "i", "f", "o")}
    text, sentence_of, bits = [], [], []
    floatx = theano.config.floatX
    for number, sentence in enumerate(sentences):
        h = numpy.zeros(model.n_h, dtype=floatx)
        c = numpy.zeros(model.n_h, dtype=floatx)
        previous = None
        for char in sentence:
            x_t = char_id(dictionary, char)
            bits.append(numpy.nan if previous is None else -numpy.log2(previous[x_t]))
            p, h, c, i, f, o = model.step(x_t, h.ravel(), c.ravel())
            previous = p.ravel().astype("float64")
            for key, value in zip(("p", "h", "c", "i", "f", "o"), (p, h, c, i, f, o)):
                rows[key].append(numpy.asarray(value).ravel())
            text.append(char)
            sentence_of.append(number)
    arrays = {key: numpy.array(value) for key, value in rows.items()}
    return types.SimpleNamespace(text=text, sentence=numpy.array(sentence_of),
                                 bits=numpy.array(bits), **arrays)


# -- features of the text, for the cells' search ---------------------------------------------------

WORD_BREAKS = set(" \t.,;:!?\"'()-")


def features(text, sentence):
    """{name: float array} over the characters: simple properties of the text at each one (after
    reading it), for finding the units that track them."""
    n = len(text)
    out = {name: numpy.zeros(n) for name in (
        "inside quotation marks", "position in the word", "position in the sentence",
        "after a comma", "inside parentheses", "after '. ' (a capital would follow)")}
    quotes = parens = word = position = 0
    comma = False
    for k, char in enumerate(text):
        if k == 0 or sentence[k] != sentence[k - 1]:        # a new sentence: a fresh state
            quotes = parens = word = position = 0
            comma = False
        quotes += char == '"'
        parens += (char == "(") - (char == ")")
        word = 0 if char in WORD_BREAKS else word + 1
        comma = (comma or char == ",") and char not in ".;:!?"
        out["inside quotation marks"][k] = quotes % 2
        out["position in the word"][k] = word
        out["position in the sentence"][k] = position
        out["after a comma"][k] = comma
        out["inside parentheses"][k] = parens > 0
        out["after '. ' (a capital would follow)"][k] = (
            char == " " and k > 0 and text[k - 1] in ".!?" and sentence[k - 1] == sentence[k])
        position += 1
    return out


def correlations(states, feature):
    """Pearson's r of every unit's values (states: characters x units) with a feature; 0 where
    either is constant."""
    x = states - states.mean(axis=0)
    y = feature - feature.mean()
    denominator = numpy.sqrt((x ** 2).sum(axis=0) * (y ** 2).sum())
    with numpy.errstate(invalid="ignore", divide="ignore"):
        r = (x * y[:, None]).sum(axis=0) / denominator
    return numpy.nan_to_num(r)


def best_units(states, named_features):
    """{feature: (unit, r)}: the unit whose state correlates most (in absolute value)."""
    found = {}
    for name, feature in named_features.items():
        r = correlations(states, feature)
        unit = int(numpy.argmax(numpy.abs(r)))
        found[name] = (unit, float(r[unit]))
    return found


def saturation(gate, low=0.1, high=0.9):
    """(fraction of steps below `low`, fraction above `high`) for each unit of a gate's
    activations (characters x units)."""
    return (gate < low).mean(axis=0), (gate > high).mean(axis=0)


# -- pictures as HTML with inline styles (they render in JupyterLab and on GitHub) -------------

def _span(char, colour, strength, tip=""):
    """One character of a coloured text: its background `colour` at opacity `strength`."""
    shown = html.escape(char) if char != " " else "&nbsp;"
    return ('<span style="background-color: rgba(%d,%d,%d,%.2f)"%s>%s</span>'
            % (colour + (strength, tip, shown)))


def _text_block(spans):
    return ('<div style="font-family: monospace; line-height: 1.7; white-space: normal">%s</div>'
            % "".join(spans))


def coloured(text, values, low, high, title=None, colour=(220, 50, 32)):
    """`text` as HTML, each character's background as strong as its value between low and high
    (white below low); `title` adds each value as a tooltip."""
    spans = []
    for char, value in zip(text, values):
        strength = 0.0 if not numpy.isfinite(value) else float(
            numpy.clip((value - low) / (high - low), 0, 1))
        tip = ' title="%s"' % (title % value) if title and numpy.isfinite(value) else ""
        spans.append(_span(char, colour, strength, tip))
    return _text_block(spans)


def diverging(text, values, scale=1.0):
    """`text` as HTML coloured by signed values: blue for negative, red for positive."""
    return _text_block(
        _span(char, (220, 50, 32) if value > 0 else (40, 90, 200),
              float(numpy.clip(abs(value) / scale, 0, 1)))
        for char, value in zip(text, values))
