"""A plain NumPy reference of the notebook's character-level LSTM language model.

Written from the equations of the notebook's text (section 3), not from its Theano code, so
that tests can check the Theano graph against an independent implementation:

    i_t = sigmoid(W_i[x_t] + h_{t-1} U_i + b_i)        input gate
    f_t = sigmoid(W_f[x_t] + h_{t-1} U_f + b_f)        forget gate
    o_t = sigmoid(W_o[x_t] + h_{t-1} U_o + b_o)        output gate
    g_t = tanh(W_c[x_t] + h_{t-1} U_c + b_c)           candidate memory
    c_t = f_t * c_{t-1} + i_t * g_t
    h_t = o_t * tanh(c_t)

W_g[x_t] is row x_t of W_g (the input is a one-hot character). h_0 = c_0 = 0. Where the mask
is 0 (padding after the end of a sentence) the state is carried over unchanged. The output
layer is a softmax, P(x_{t+1} | x_1..x_t) = softmax(h_t W + b), and the cost of a batch is
the cross-entropy of x[1:] given h[:-1], summed over the unmasked targets and divided by the
(constant) batch size. Arrays are (time, batch) for ids and masks, as in the notebook.

Parameters are a dict keyed by the names of the notebook's shared variables: 'W', 'b' (the
softmax layer) and 'W_i', 'U_i', 'b_i', ... for the gates i, f, c, o.

Note for comparisons: Theano's float64 sigmoid returns exactly 1.0 above 19 (and 0.0 below
-709), so keep the pre-activations well below 19 when asking for 1e-10 agreement.
"""
import numpy

GATES = ("i", "f", "c", "o")
PARAM_NAMES = (("W", "b") + tuple("W_" + g for g in GATES) + tuple("U_" + g for g in GATES)
               + tuple("b_" + g for g in GATES))


def sigmoid(z):
    """The logistic function, written so that it never overflows: 1 / (1 + e^-z)."""
    z = numpy.asarray(z, dtype="float64")
    e = numpy.exp(-numpy.abs(z))
    return numpy.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def softmax(energy, axis=-1):
    """exp(energy) normalised along `axis`, shifted by the maximum for stability."""
    energy = numpy.asarray(energy, dtype="float64")
    shifted = numpy.exp(energy - energy.max(axis=axis, keepdims=True))
    return shifted / shifted.sum(axis=axis, keepdims=True)


def random_params(rng, n_in, n_h, n_out=None, scale=0.5):
    """Every parameter drawn from N(0, scale^2), float64 (biases too)."""
    n_out = n_in if n_out is None else n_out
    shapes = {"W": (n_h, n_out), "b": (n_out,)}
    for g in GATES:
        shapes["W_" + g] = (n_in, n_h)
        shapes["U_" + g] = (n_h, n_h)
        shapes["b_" + g] = (n_h,)
    return {name: rng.randn(*shapes[name]) * scale for name in PARAM_NAMES}


def lstm_step(params, x_t, h_prev, c_prev, m_t=None):
    """One LSTM step for a batch: x_t (batch,) ids, h_prev and c_prev (batch, n_h).

    m_t (batch,) is the mask: 1 takes the new state, 0 keeps (h_prev, c_prev).
    Returns (h_t, c_t).
    """
    x_t = numpy.asarray(x_t).reshape(-1)
    pre = {g: params["W_" + g][x_t] + h_prev @ params["U_" + g] + params["b_" + g]
           for g in GATES}
    i, f, o = sigmoid(pre["i"]), sigmoid(pre["f"]), sigmoid(pre["o"])
    candidate = numpy.tanh(pre["c"])
    c_t = f * c_prev + i * candidate
    h_t = o * numpy.tanh(c_t)
    if m_t is not None:
        m = numpy.asarray(m_t, dtype="float64").reshape(-1, 1)
        c_t = m * c_t + (1.0 - m) * c_prev
        h_t = m * h_t + (1.0 - m) * h_prev
    return h_t, c_t


def lstm_forward(params, x, mask):
    """The hidden states and memory cells after every step: two (time, batch, n_h) arrays."""
    x = numpy.asarray(x)
    n_steps, n_batch = x.shape
    n_h = params["U_i"].shape[0]
    h = numpy.zeros((n_batch, n_h))
    c = numpy.zeros((n_batch, n_h))
    hs, cs = [], []
    for t in range(n_steps):
        h, c = lstm_step(params, x[t], h, c, mask[t])
        hs.append(h)
        cs.append(c)
    return numpy.array(hs).reshape(n_steps, n_batch, n_h), \
        numpy.array(cs).reshape(n_steps, n_batch, n_h)


def output_probabilities(params, h):
    """softmax(h W + b) over the characters, for h of any leading shape."""
    return softmax(h @ params["W"] + params["b"])


def token_cross_entropies(params, x, mask):
    """-log P(x[t+1] | x[:t+1]) times mask[t+1]: a (time - 1, batch) array, in nats."""
    x = numpy.asarray(x)
    mask = numpy.asarray(mask, dtype="float64")
    h, _ = lstm_forward(params, x, mask)
    p = output_probabilities(params, h[:-1])
    picked = numpy.take_along_axis(p, x[1:, :, None], axis=2)[:, :, 0]
    return -numpy.log(picked) * mask[1:]


def cost(params, x, mask, batch_size):
    """The notebook's training cost: the masked cross-entropy summed, over batch_size."""
    return token_cross_entropies(params, x, mask).sum() / batch_size


def tempered(p, temperature):
    """p ** (1 / temperature) renormalised; temperature 0 puts all mass on the argmax."""
    p = numpy.asarray(p, dtype="float64").ravel()
    if temperature == 0:
        q = numpy.zeros_like(p)
        q[numpy.argmax(p)] = 1.0
        return q
    q = p ** (1.0 / temperature)
    return q / q.sum()
