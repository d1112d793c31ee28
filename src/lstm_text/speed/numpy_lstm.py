"""The LSTM's loops written out in NumPy, fused gates [i|f|g|o]: one copy for three uses.

forward, backward and softmax_nll compute exactly what the one-C-Op model's three Ops
compute (lstm_text.speed.fast_op: their perform() calls these, and tests/test_fast_op.py
checks the C against them); NumpyLstm chains them into the notebook's whole model with an
SGD step, the benchmark's row (d) "NumPy by hand". Written for speed as well as reading: the
input projection and the weight gradients are one product over all steps, and only what
depends on the previous step stays in the loops. NumPy only, no Theano.
"""
import numpy


def forward(x, mask, W, U, b, h0, c0):
    """H, C, G, TC as LstmRecurrence computes them (G's rows are 0 where the mask is 0).

    The input part of the pre-activations, W[x] + b, for all steps at once; then per step one
    GEMM (h U), the gates G = [i|f|g|o] (sigmoid, tanh for g) and the masked state update.
    """
    n_steps, batch = x.shape
    n = U.shape[0]
    dtype = W.dtype
    one = dtype.type(1)
    if x.size and (x.min() < 0 or x.max() >= W.shape[0]):
        raise IndexError("LstmRecurrence: a character id is outside [0, %d)" % W.shape[0])
    mask = mask.astype(dtype)
    Z = W.take(x.ravel(), axis=0).reshape(n_steps, batch, 4 * n)
    Z += b
    G = numpy.empty_like(Z)
    H = numpy.empty((n_steps, batch, n), dtype)
    C = numpy.empty_like(H)
    TC = numpy.empty_like(H)
    h, c = h0, c0
    for t in range(n_steps):
        z = Z[t]
        z += h.dot(U)
        a = G[t]
        numpy.negative(z, out=a)                        # sigmoid(z) = 1 / (1 + exp(-z)) ...
        numpy.exp(a, out=a)
        a += one
        numpy.reciprocal(a, out=a)
        numpy.tanh(z[:, 2 * n:3 * n], out=a[:, 2 * n:3 * n])  # ... but tanh for g
        m = mask[t][:, None]
        c = m * (a[:, n:2 * n] * c + a[:, :n] * a[:, 2 * n:3 * n]) + (one - m) * c
        numpy.tanh(c, out=TC[t])
        h = m * (a[:, 3 * n:] * TC[t]) + (one - m) * h
        a[mask[t] == 0] = 0
        H[t], C[t] = h, c
    return H, C, G, TC


def backward(x, mask, W, U, h0, c0, H, C, G, TC, dH):
    """dW, dU, db, dh0, dc0, dZ as LstmRecurrenceGrad computes them.

    Only dh, dc and dZ (the gradient of the pre-activations) in the loop back through time;
    then the weights' gradients, each one product over all steps: dU = H_prev^T dZ and
    dW = onehot(x)^T dZ.
    """
    n_steps, batch = x.shape
    n = U.shape[0]
    dtype = W.dtype
    one = dtype.type(1)
    mask = mask.astype(dtype)
    dZ = numpy.empty_like(G)
    dh_next = numpy.zeros((batch, n), dtype)
    dc = numpy.zeros((batch, n), dtype)
    for t in range(n_steps - 1, -1, -1):
        a = G[t]
        i, f, g, o = a[:, :n], a[:, n:2 * n], a[:, 2 * n:3 * n], a[:, 3 * n:]
        c_prev = C[t - 1] if t else c0
        tc = TC[t]
        m = mask[t][:, None]
        dh = dH[t] + dh_next
        dhm = m * dh
        dcv = dc + dhm * o * (one - tc * tc)
        dcm = m * dcv
        dz = dZ[t]
        dz[:, :n] = dcm * g * (i * (one - i))
        dz[:, n:2 * n] = dcm * c_prev * (f * (one - f))
        dz[:, 2 * n:3 * n] = dcm * i * (one - g * g)
        dz[:, 3 * n:] = dhm * tc * (o * (one - o))
        dh_next = (one - m) * dh + dz.dot(U.T)
        dc = (one - m) * dcv + dcm * f
    dZ2 = dZ.reshape(-1, 4 * n)
    h_prev = numpy.concatenate([h0[None], H[:-1]])[:n_steps].reshape(-1, n)
    onehot = (x.reshape(-1, 1) == numpy.arange(W.shape[0])).astype(dtype)
    return onehot.T.dot(dZ2), h_prev.T.dot(dZ2), dZ2.sum(axis=0), dh_next, dc, dZ


def softmax_nll(E, b, targets, weights):
    """cost, dE, db as SoftmaxNll computes them."""
    dtype = E.dtype
    if targets.size and (targets.min() < 0 or targets.max() >= E.shape[1]):
        raise IndexError("SoftmaxNll: a target is outside [0, %d)" % E.shape[1])
    e = E + b                                       # then in place: e becomes dE
    e -= e.max(axis=1, keepdims=True)
    rows = numpy.arange(E.shape[0])
    picked = e[rows, targets]
    numpy.exp(e, out=e)
    total = e.sum(axis=1, keepdims=True)
    nll = numpy.log(total[:, 0]) - picked
    cost = numpy.asarray((weights.astype("float64") * nll).sum(), dtype=dtype)
    dE = e
    dE /= total
    dE[rows, targets] -= 1
    dE *= weights.astype(dtype)[:, None]
    return cost, dE, dE.sum(axis=0)


class NumpyLstm:
    """The notebook's model in NumPy, fused gates [i|f|g|o]: forward, softmax_nll and
    backward above, chained by hand, and an SGD step (the benchmark's row (d)).

    Parameters are the fused values [W_out, b_out, W, U, b] (fast_graph.fuse_params).
    tests/test_fast_graph.py checks cost and gradients against the Theano graphs.
    """

    def __init__(self, fused_values, learning_rate, batch_size):
        self.params = [numpy.array(value) for value in fused_values]
        self.learning_rate, self.batch_size = learning_rate, batch_size

    def cost_and_grads(self, x, mask):
        """The cost (the sum over sentences / batch_size, as the notebook's) and the gradients
        of the fused parameters."""
        w_out, b_out, w, u, b = self.params
        dtype = w.dtype
        steps, batch = x.shape
        n = u.shape[0]
        zeros = numpy.zeros((batch, n), dtype)
        H, C, G, TC = forward(x, mask, w, u, b, zeros, zeros)
        # Output layer: softmax cross-entropy of x[1:] given h[:-1], weighted by mask[1:].
        h2 = H[:-1].reshape(-1, n)
        weights = mask[1:].ravel().astype(dtype) / dtype.type(self.batch_size)
        cost, d_energy, d_b_out = softmax_nll(h2.dot(w_out), b_out, x[1:].ravel(), weights)
        dH = numpy.zeros_like(H)
        dH[:-1] = d_energy.dot(w_out.T).reshape(steps - 1, batch, n)
        d_w, d_u, d_b = backward(x, mask, w, u, zeros, zeros, H, C, G, TC, dH)[:3]
        return cost, [h2.T.dot(d_energy), d_b_out, d_w, d_u, d_b]

    def update_model(self, x, mask):
        cost, grads = self.cost_and_grads(x, mask)
        lr = self.params[0].dtype.type(self.learning_rate)
        for param, grad in zip(self.params, grads):
            param -= lr * grad
        return cost
