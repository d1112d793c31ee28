"""The implementations compared, rows (a)-(f): each an object with .update(x, mask) -> cost.

All start from workloads.initial_weights and do one full SGD step per update; the ones that
need Theano import it (configured by lstm_text.environment) only when they are built.
"""
import numpy

from lstm_text.speed.benchmark.workloads import (BATCH, LEARNING_RATE, N_IN, SEED, STEPS,
                                           initial_weights)

LABELS = {
    "a": "(a) faithful Theano",
    "b": "(b) fast Theano",
    "c": "(c) PyTorch nn.LSTM",
    "d": "(d) NumPy by hand",
    "e_numpy": "(e) GEMM ceiling, NumPy BLAS",
    "e_theano": "(e) GEMM ceiling, Theano BLAS",
    "f": "(f) Theano, recurrence in one C Op",
}


# -- (d) the hand-written NumPy model ----------------------------------------------------------

class NumpyLstm:
    """The notebook's model in NumPy, fused gates [i|f|c|o], forward and backward by hand.

    Parameters are the fused values [W_out, b_out, W, U, b] (fast_graph.fuse_params).
    tests/test_fast_graph.py checks cost and gradients against the Theano graphs.
    """

    def __init__(self, fused_values, learning_rate=LEARNING_RATE):
        self.params = [numpy.array(value) for value in fused_values]
        self.learning_rate = learning_rate

    def cost_and_grads(self, x, mask, batch_size=BATCH):
        w_out, b_out, w, u, b = self.params
        dtype = w.dtype
        one = dtype.type(1)
        steps, batch = x.shape
        n, n_in = u.shape[0], w.shape[0]
        mask = mask.astype(dtype)
        # Forward: the input projection for all steps at once, then the recurrence.
        xw = w.take(x.ravel(), axis=0).reshape(steps, batch, 4 * n)
        xw += b
        H = numpy.empty((steps, batch, n), dtype)
        C = numpy.empty_like(H)
        TC = numpy.empty_like(H)
        A = numpy.empty((steps, batch, 4 * n), dtype)
        h = numpy.zeros((batch, n), dtype)
        c = numpy.zeros((batch, n), dtype)
        for t in range(steps):
            z = xw[t]
            z += h.dot(u)
            a = A[t]
            numpy.negative(z, out=a)
            numpy.exp(a, out=a)
            a += one
            numpy.reciprocal(a, out=a)                      # sigmoid for i, f, o
            numpy.tanh(z[:, 2 * n:3 * n], out=a[:, 2 * n:3 * n])
            m = mask[t][:, None]
            c_new = a[:, n:2 * n] * c + a[:, :n] * a[:, 2 * n:3 * n]
            c = m * c_new + (one - m) * c
            numpy.tanh(c, out=TC[t])
            h = m * (a[:, 3 * n:] * TC[t]) + (one - m) * h
            H[t], C[t] = h, c
        # Output layer: softmax cross-entropy of x[1:] given h[:-1], weighted by mask[1:].
        h2 = H[:-1].reshape(-1, n)
        energy = h2.dot(w_out) + b_out
        energy -= energy.max(axis=1, keepdims=True)
        p = numpy.exp(energy)
        p /= p.sum(axis=1, keepdims=True)
        targets = x[1:].ravel()
        weights = mask[1:].ravel()
        rows = numpy.arange(targets.size)
        cost = -(numpy.log(p[rows, targets]) * weights).sum() / batch_size
        d_energy = p
        d_energy[rows, targets] -= one
        d_energy *= (weights / dtype.type(batch_size))[:, None]
        d_w_out = h2.T.dot(d_energy)
        d_b_out = d_energy.sum(axis=0)
        dH = numpy.zeros_like(H)
        dH[:-1] = d_energy.dot(w_out.T).reshape(steps - 1, batch, n)
        # Backward through time: only dh, dc and dZ in the loop.
        dZ = numpy.empty_like(A)
        dh_next = numpy.zeros((batch, n), dtype)
        dc_next = numpy.zeros((batch, n), dtype)
        zeros = numpy.zeros((batch, n), dtype)
        for t in range(steps - 1, -1, -1):
            a = A[t]
            i, f, g, o = a[:, :n], a[:, n:2 * n], a[:, 2 * n:3 * n], a[:, 3 * n:]
            m = mask[t][:, None]
            c_prev = C[t - 1] if t else zeros
            tc = TC[t]
            dh = dH[t] + dh_next
            dhm = m * dh
            dc = dc_next + dhm * o * (one - tc * tc)
            dcm = m * dc
            dz = dZ[t]
            dz[:, :n] = dcm * g * i * (one - i)
            dz[:, n:2 * n] = dcm * c_prev * f * (one - f)
            dz[:, 2 * n:3 * n] = dcm * i * (one - g * g)
            dz[:, 3 * n:] = dhm * tc * o * (one - o)
            dh_next = (one - m) * dh + dz.dot(u.T)
            dc_next = (one - m) * dc + dcm * f
        dZ2 = dZ.reshape(-1, 4 * n)
        h_prev = numpy.concatenate([zeros[None], H[:-1]]).reshape(-1, n)
        d_u = h_prev.T.dot(dZ2)
        onehot = (x.reshape(-1, 1) == numpy.arange(n_in)).astype(dtype)
        d_w = onehot.T.dot(dZ2)
        d_b = dZ2.sum(axis=0)
        return cost, [d_w_out, d_b_out, d_w, d_u, d_b]

    def update_model(self, x, mask):
        cost, grads = self.cost_and_grads(x, mask)
        lr = self.params[0].dtype.type(self.learning_rate)
        for param, grad in zip(self.params, grads):
            param -= lr * grad
        return cost


# -- the implementations, as uniform objects: .update(x, mask) -> cost ------------------------

def import_theano():
    """Theano, configured by lstm_text.environment (imported first)."""
    from lstm_text import environment  # noqa: F401
    import theano
    return theano


class _GraphImpl:
    """A Theano graph of lstm_text (build_graph) given initial weights: its update_model and
    single_step are the implementation's."""

    def __init__(self, n_h):
        import_theano()
        self.graph = self.build_graph(N_IN, n_h, BATCH, LEARNING_RATE, SEED)
        for param, value in zip(self.graph.params, self.weights(n_h)):
            param.set_value(value)
        self.update = self.graph.update_model
        self.single_step = self.graph.single_step

    def weights(self, n_h):
        return initial_weights(N_IN, n_h)


class FaithfulImpl(_GraphImpl):
    name = "a"

    @staticmethod
    def build_graph(*args):
        from lstm_text import notebook_model
        return notebook_model.build_graph(*args)

    def weights(self, n_h):
        from lstm_text.speed import fast_graph
        return [numpy.ascontiguousarray(value)
                for value in fast_graph.unfuse_params(initial_weights(N_IN, n_h))]


class FastImpl(_GraphImpl):
    name = "b"

    @staticmethod
    def build_graph(*args):
        from lstm_text.speed import fast_graph
        return fast_graph.build_fast_graph(*args)


class OpImpl(_GraphImpl):
    """(f): fast_op.build_op_graph, the recurrence in one C Op per direction."""
    name = "f"

    @staticmethod
    def build_graph(*args):
        from lstm_text.speed import fast_op
        return fast_op.build_op_graph(*args)


class TorchImpl:
    """(c): PyTorch's nn.LSTM (lstm_text.speed.benchmark.torch_lstm), plain SGD on the same weights."""
    name = "c"

    def __init__(self, n_h, threads):
        from lstm_text.speed.benchmark.torch_lstm import TorchLstm
        self.model = TorchLstm(initial_weights(N_IN, n_h), batch_size=BATCH, threads=threads)
        self.optimizer = self.model.torch.optim.SGD(self.model.params, lr=LEARNING_RATE)

    def update(self, x, mask):
        self.optimizer.zero_grad(set_to_none=True)
        cost = self.model.cost(x, mask)
        cost.backward()
        self.optimizer.step()
        return cost.item()


class NumpyImpl:
    name = "d"

    def __init__(self, n_h):
        self.model = NumpyLstm(initial_weights(N_IN, n_h))
        self.update = self.model.update_model


class CeilingNumpy:
    """The model's GEMMs alone, through NumPy's BLAS, into preallocated outputs.

    Per step h·U (B x n)(n x 4n) and dz·U^T (B x 4n)(4n x n); the weight gradient
    dU = H^T dZ as one (n x TB)(TB x 4n) product (the flops of the per-step h^T dz); the
    output layer's E = H W_out, dW_out = H^T dE and dH = dE W_out^T. The character lookup
    and its gradient are not GEMMs in the model and are left out ((b) and (c) do them as
    GEMMs with a one-hot matrix: their cost counts against them).
    """
    name = "e_numpy"

    def __init__(self, n_h):
        rng = numpy.random.RandomState(0)
        f32 = lambda *shape: rng.randn(*shape).astype("float32")  # noqa: E731
        n, rows = n_h, STEPS * BATCH
        self.h, self.u, self.dz = f32(BATCH, n), f32(n, 4 * n), f32(BATCH, 4 * n)
        self.z_out, self.dh_out = f32(BATCH, 4 * n), f32(BATCH, n)
        self.H, self.dZ, self.dU = f32(rows, n), f32(rows, 4 * n), f32(n, 4 * n)
        self.H2, self.w_out, self.dE = f32(rows - BATCH, n), f32(n, N_IN), f32(rows - BATCH, N_IN)
        self.E, self.dW_out, self.dH2 = f32(rows - BATCH, N_IN), f32(n, N_IN), f32(rows - BATCH, n)

    def update(self, x, mask):
        dot = numpy.dot
        for _ in range(STEPS):
            dot(self.h, self.u, out=self.z_out)
        for _ in range(STEPS):
            dot(self.dz, self.u.T, out=self.dh_out)
        dot(self.H.T, self.dZ, out=self.dU)
        dot(self.H2, self.w_out, out=self.E)
        dot(self.H2.T, self.dE, out=self.dW_out)
        dot(self.dE, self.w_out.T, out=self.dH2)
        return 0.0


class CeilingTheano:
    """The same GEMMs as CeilingNumpy as compiled Theano functions (Theano's linked BLAS).

    The per-step pair is one function called STEPS times through its VM (fn.fn()), which
    costs about a microsecond of Python per call.
    """
    name = "e_theano"

    def __init__(self, n_h):
        theano = import_theano()
        from lstm_text.speed import fast_graph
        shared = lambda v: theano.shared(v, borrow=True)  # noqa: E731
        ref = CeilingNumpy(n_h)
        h, u, dz = shared(ref.h), shared(ref.u), shared(ref.dz)
        H, dZ = shared(ref.H), shared(ref.dZ)
        H2, w_out, dE = shared(ref.H2), shared(ref.w_out), shared(ref.dE)
        self.step = fast_graph.function([], [h.dot(u), dz.dot(u.T)])
        self.once = fast_graph.function([], [H.T.dot(dZ), H2.dot(w_out), H2.T.dot(dE),
                                            dE.dot(w_out.T)])
        self.step_vm = self.step.fn
        self.once_vm = self.once.fn

    def update(self, x, mask):
        step = self.step_vm
        for _ in range(STEPS):
            step()
        self.once_vm()
        return 0.0


def make_impl(name, n_h, threads):
    if name == "a":
        return FaithfulImpl(n_h)
    if name == "b":
        return FastImpl(n_h)
    if name == "c":
        return TorchImpl(n_h, threads)
    if name == "d":
        return NumpyImpl(n_h)
    if name == "e_numpy":
        return CeilingNumpy(n_h)
    if name == "e_theano":
        return CeilingTheano(n_h)
    if name == "f":
        return OpImpl(n_h)
    raise ValueError(name)


def expand_impls(spec):
    """'a,b,c,d,e' -> the row names ('e' is the two ceilings)."""
    names = []
    for name in spec.split(","):
        names += ["e_numpy", "e_theano"] if name == "e" else [name] if name else []
    return names
