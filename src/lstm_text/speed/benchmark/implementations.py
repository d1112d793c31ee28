"""The implementations compared, rows (a)-(f): each an object with .update(x, mask) -> cost.

All start from workloads.initial_weights and do one full SGD step per update; the ones that
need Theano import it (configured by lstm_text.environment) only when they are built.
"""
import numpy

from lstm_text.speed.numpy_lstm import NumpyLstm
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
    """(c): PyTorch's nn.LSTM (lstm_text.speed.benchmark.torch_lstm), plain SGD on the same
    weights."""
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
        self.model = NumpyLstm(initial_weights(N_IN, n_h), LEARNING_RATE, BATCH)
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
