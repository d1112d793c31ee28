"""The notebook's character LSTM as an optimised Theano graph: same model, same numbers.

notebooks/lstm_text.ipynb defines the model the way the 2015 tutorial wrote it: four
separate gate matrices, the input lookup (`index_dot`) and T.grad's automatic gradient
inside `theano.scan`. This module builds the SAME function of the same parameters the way
Theano users tuned recurrent nets for speed. tests/test_fast_graph.py checks in float64 that
cost, gradients (with the notebook's clipping), the SGD update and single_step agree with
the notebook's graph to 1e-10; benchmarks/bench.py measures both (see benchmarks/README.md).

1. Fused gates. W (n_in x 4n_h), U (n_h x 4n_h) and b (4n_h) hold the notebook's
   W_i|W_f|W_c|W_o side by side (gate order i, f, c, o): a time step does ONE
   (batch x n_h)·(n_h x 4n_h) GEMM instead of four. `fuse_params` / `unfuse_params`
   convert weights between the two layouts.
2. The input projection is hoisted out of the loop: one GEMM [onehot(x) | 1]·[W; b] for all
   time steps before the scan (see FastLstm.forward for why not W[x]); the loop only adds
   h·U to its slice (a single Gemm node per step).
3. The cell's elementwise work is one fused C Op per direction (LstmCellForward and
   LstmCellBackward: theano.gof.COp, their C in fast_graph_cell.c, fast_graph_forward.c and
   fast_graph_backward.c). The profile of the pure-Theano graph showed why: Theano's
   Elemwise calls scalar libm tanhf/expf per element (20-40 ns each) and gcc does not
   vectorise the loops Theano generates, so at n_h 512 the elementwise work cost as much as
   the GEMMs.
   The Ops are plain loops over contiguous rows that gcc vectorises with glibc's SIMD
   tanh/exp (libmvec), using the notebook's formulas (sigmoid = 1 / (1 + exp(-z)), masked
   steps keep the state) in float32 or float64. The forward Op stores what the backward
   one needs, so the backward pass evaluates no transcendental function.
4. A hand-written backward pass. T.grad through scan accumulates dU, dW and db inside the
   reverse loop (a small GEMM, an indexed increment and a reduction per step). Here the
   reverse scan only carries dh and dc and emits dz, the gradient of the gate
   pre-activations; the weight gradients are then two GEMMs over all time steps after the
   loop (dU = h_prev^T dz, fused by Theano with the SGD update of U, and
   [dW; db] = [onehot(x) | 1]^T dz). T.grad is used for the output layer only (down to its
   energies, where Theano's fused softmax/cross-entropy gradient op takes over).
5. Linker and memory: Mode(linker='cvm_nogc') for every function and allow_gc=False for
   the scans, so buffers are kept and reused between calls (fresh memory is expensive:
   page faults and huge-page compaction cost more than the copies they replace), and no
   concatenation of time*batch sized arrays (each would be a fresh array per call).
   scan.allow_output_prealloc stays on (Theano's default), but the cell Ops do not write
   into the views of scan's output buffers it hands them: to see whether an output was
   written in place, Theano 1.0.5's Python scan loop compares `ndarray.data` memoryviews,
   which on Python 3 compares every element, about ten times the cost of letting scan copy
   the row (see lstm_output in fast_output.c; at n_h 512 it was 25% of the step).
6. float32 throughout (floatX; constants cast), int64 only for the character ids, and no
   host round trips: update_model applies all SGD updates inside the one call.

What remains is Theano's scan loop itself, which runs in Python on Python 3.11 (see
lstm_text.environment): a fixed cost per time step that matters only for small n_h.
"""
import hashlib
import os
import types

import numpy

from lstm_text import environment  # noqa: F401  (Theano and Fuel flags first)
import theano
import theano.tensor as T
from theano import config, gof

GATES = ("i", "f", "c", "o")
"""Order of the gate blocks in the fused W, U, b (the notebook's parameter order)."""

VECTOR_MATH_FLAGS = ["-D__FAST_MATH__"]
"""C flags the cell Ops add to Theano's (-O3 -fno-math-errno) for their own code.

Defining __FAST_MATH__ makes glibc's <math.h> declare its SIMD variants of tanhf/expf
(libmvec, at most 4 ulp error), so gcc vectorises the Ops' loops: tanh drops from ~30 ns to
~1-2 ns per element here. Unlike -ffast-math it changes no IEEE semantics (no finite-math
or reassociation assumptions) and does not link crtfastmath.o, which on gcc 12 would switch
on flush-to-zero for the whole process.
"""


def fast_mode():
    """The compilation mode: the usual fast_run optimisations with the no-gc C VM."""
    return theano.Mode(linker="cvm_nogc", optimizer="fast_run")


def function(inputs, outputs, **kwargs):
    """theano.function in fast_mode() (unless a mode is given)."""
    kwargs.setdefault("mode", fast_mode())
    return theano.function(inputs, outputs, **kwargs)


# -- moving weights between the notebook's layout and the fused one ------------------------

def fuse_params(faithful_values):
    """Notebook parameter values -> fast parameter values.

    faithful_values: the 14 arrays in the notebook's `params` order
    (logreg W, b, W_i, W_f, W_c, W_o, U_i, U_f, U_c, U_o, b_i, b_f, b_c, b_o).
    Returns [W_out, b_out, W, U, b] with W = [W_i|W_f|W_c|W_o] and so on.
    """
    values = [numpy.asarray(value) for value in faithful_values]
    if len(values) != 14:
        raise ValueError("expected the notebook's 14 parameters, got %d" % len(values))
    return [values[0], values[1], numpy.concatenate(values[2:6], axis=1),
            numpy.concatenate(values[6:10], axis=1), numpy.concatenate(values[10:14])]


def unfuse_params(fast_values):
    """Fast parameter values [W_out, b_out, W, U, b] -> the notebook's 14 arrays."""
    w_out, b_out, w, u, b = [numpy.asarray(value) for value in fast_values]
    n_h = u.shape[0]
    blocks = [slice(k * n_h, (k + 1) * n_h) for k in range(len(GATES))]
    return ([w_out, b_out] + [w[:, s] for s in blocks] + [u[:, s] for s in blocks] +
            [b[s] for s in blocks])



# -- the fused cell Ops ----------------------------------------------------------------------
#
# Per time step and sequence, the forward Op writes one row of the "cache" the backward Op
# reads: [i f c~ o | c_prev | tanh(c) | h_prev] (7 n_h numbers). The backward Op writes
# [dz | h_prev] (5 n_h), so that after the reverse scan dU = h_prev^T dz is one GEMM over
# two strided views of that array, in the same (reversed) time order, without copies.
# The C is in fast_graph_cell.c (helpers and kernels, loaded by both Ops) and the Ops' entry
# points fast_graph_forward.c and fast_graph_backward.c, beside this module.

CACHE_BLOCKS = 7
"""Cache row: gate activations (4 n_h), c_prev, tanh(c), h_prev (LSTM_FAST_CACHE_BLOCKS in
fast_graph_cell.c)."""

HERE = os.path.dirname(os.path.abspath(__file__))
C_OUTPUT = "fast_output.c"   # shared with fast_op
C_CELL = "fast_graph_cell.c"
C_CELL_VERSION = 7
"""Bumped by hand when the Python side of the generated code changes; the .c files' own
contents are part of the cache key (c_code_cache_version)."""


def files_digest(names):
    """A number that changes with the contents of the named files (beside this module)."""
    digest = hashlib.sha256()
    for name in names:
        with open(os.path.join(HERE, name), "rb") as handle:
            digest.update(handle.read())
    return int(digest.hexdigest()[:15], 16)


class FileCOp(gof.COp):
    """A COp whose C is in .c files beside this module (c_files), compiled once per machine.

    func_name is the C entry point, in the Op's own .c file. Also the base of fast_op's Ops.
    """
    # Not empty: Theano 1.0.5's module cache treats an Op whose __props__ is () as
    # unversioned (CLinker.cmodule_key_ appends __props__ to the version and drops the key
    # when any part is empty), i.e. recompiles it in every process.
    __props__ = ("c_version",)
    c_files = ()
    func_name = None
    default_c_version = None

    def __init__(self, c_version=None):
        self.c_version = self.default_c_version if c_version is None else c_version
        gof.COp.__init__(self, [os.path.join(HERE, name) for name in self.c_files],
                         self.func_name)

    def c_code_cache_version(self):
        # COp's default hashes the code with Python's per-process salted str hash, which
        # would recompile in every process: the files' contents instead.
        return (self.c_version, files_digest(self.c_files))


class _CellOp(FileCOp):
    """Shared plumbing of the cell Ops: float inputs of one dtype, headers and flags.

    The C entry point gets the inputs and pointers to the outputs, makes contiguous versions
    of the inputs, checks the shapes, (re)allocates the outputs and runs the kernel.
    """
    default_c_version = C_CELL_VERSION

    def c_headers(self):
        return ["<math.h>"]

    def c_compile_args(self):
        return list(VECTOR_MATH_FLAGS)

    def __str__(self):
        # The class name alone, as before c_version was a prop (profiles, debugprint).
        return type(self).__name__

    def _check(self, inputs, vector_positions):
        inputs = [T.as_tensor_variable(v) for v in inputs]
        dtype = inputs[0].dtype
        for pos, var in enumerate(inputs):
            if var.dtype != dtype or var.dtype not in ("float32", "float64"):
                raise TypeError("%s: all inputs must be float32 or float64 of one dtype"
                                % type(self).__name__)
            if var.ndim != (1 if pos in vector_positions else 2):
                raise TypeError("%s: input %d has the wrong number of dimensions"
                                % (type(self).__name__, pos))
        return inputs


class LstmCellForward(_CellOp):
    """One time step of the cell after the gate GEMM, for a whole batch.

    Inputs: z (batch, 4n) gate pre-activations [i|f|c|o], c_prev and h_prev (batch, n),
    m (batch,) the mask. Outputs: the cache (batch, 7n) for LstmCellBackward, and c and h
    (batch, n) exactly as the notebook's LstmLayer._step computes them (sigmoid gates,
    masked positions keep the previous state).
    """
    c_files = (C_OUTPUT, C_CELL, "fast_graph_forward.c")
    func_name = "APPLY_SPECIFIC(lstm_cell_forward)"

    def make_node(self, z, c_prev, h_prev, m):
        z, c_prev, h_prev, m = self._check([z, c_prev, h_prev, m], vector_positions=[3])
        return theano.Apply(self, [z, c_prev, h_prev, m],
                            [z.type(), c_prev.type(), h_prev.type()])

    def infer_shape(self, node, shapes):
        z_shape, c_shape, h_shape, _ = shapes
        return [(z_shape[0], c_shape[1] * CACHE_BLOCKS), c_shape, h_shape]

    def perform(self, node, inputs, outputs):
        z, c_prev, h_prev, m = inputs
        n = c_prev.shape[1]
        one = z.dtype.type(1)
        a = one / (one + numpy.exp(-z))
        a[:, 2 * n:3 * n] = numpy.tanh(z[:, 2 * n:3 * n])
        i, f, g, o = a[:, :n], a[:, n:2 * n], a[:, 2 * n:3 * n], a[:, 3 * n:]
        mc = m[:, None]
        c = f * c_prev + i * g
        c = mc * c + (one - mc) * c_prev
        tc = numpy.tanh(c)
        h = mc * (o * tc) + (one - mc) * h_prev
        cache = numpy.concatenate([a, c_prev, tc, h_prev], axis=1)
        for storage, value in zip(outputs, (cache, c, h)):
            storage[0] = numpy.asarray(value, dtype=z.dtype)



class LstmCellBackward(_CellOp):
    """The reverse of LstmCellForward for one time step (everything but the dz·U^T GEMM).

    Inputs: the cache (batch, 7n), m (batch,), dh_out (batch, n) the output layer's
    gradient at h_t, dh_next and dc_next (batch, n) the gradients flowing back from step
    t+1. Outputs: [dz | h_prev] (batch, 5n) with dz the gradient of the gate
    pre-activations, dh_keep = (1 - m) dh (the part of dh_prev that skips the cell; the
    caller adds dz·U^T) and dc_prev (batch, n).
    """
    c_files = (C_OUTPUT, C_CELL, "fast_graph_backward.c")
    func_name = "APPLY_SPECIFIC(lstm_cell_backward)"

    def make_node(self, cache, m, dh_out, dh_next, dc_next):
        inputs = self._check([cache, m, dh_out, dh_next, dc_next], vector_positions=[1])
        return theano.Apply(self, inputs, [inputs[0].type(), inputs[3].type(),
                                           inputs[4].type()])

    def infer_shape(self, node, shapes):
        n = shapes[2][1]
        return [(shapes[0][0], n * 5), shapes[3], shapes[4]]

    def perform(self, node, inputs, outputs):
        cache, m, dh_out, dh_next, dc_next = inputs
        n = dh_out.shape[1]
        one = cache.dtype.type(1)
        i, f, g, o = [cache[:, k * n:(k + 1) * n] for k in range(4)]
        c_prev, tc, h_prev = [cache[:, k * n:(k + 1) * n] for k in range(4, 7)]
        mc = m[:, None]
        dh = dh_out + dh_next
        dhm = mc * dh
        dc = dc_next + dhm * o * (one - tc * tc)
        dcm = mc * dc
        dzh = numpy.concatenate([dcm * g * (i * (one - i)), dcm * c_prev * (f * (one - f)),
                                 dcm * i * (one - g * g), dhm * tc * (o * (one - o)), h_prev],
                                axis=1)
        outputs[0][0] = numpy.asarray(dzh, dtype=cache.dtype)
        outputs[1][0] = numpy.asarray((one - mc) * dh, dtype=cache.dtype)
        outputs[2][0] = numpy.asarray((one - mc) * dc + dcm * f, dtype=cache.dtype)



lstm_cell_forward = LstmCellForward()
lstm_cell_backward = LstmCellBackward()


# -- the layers and the graph -----------------------------------------------------------------

class FastLstm:
    """Fused-gate LSTM layer: scan(Gemm + LstmCellForward), hand-written backward pass."""

    def __init__(self, rng, n_in, n_h):
        from lstm_text.notebook_model import gauss_weight  # the notebook's initialiser
        self.n_in, self.n_h = n_in, n_h
        # Drawn in the notebook's order, so a seed gives the notebook's initial weights.
        w = [gauss_weight(rng, n_in, n_h) for _ in GATES]
        u = [gauss_weight(rng, n_h) for _ in GATES]
        self.W = theano.shared(numpy.concatenate(w, axis=1), "W", borrow=True)
        self.U = theano.shared(numpy.concatenate(u, axis=1), "U", borrow=True)
        self.b = theano.shared(numpy.zeros((4 * n_h,), dtype=config.floatX), "b", borrow=True)
        self.params = [self.W, self.U, self.b]

    def onehot(self, x):
        """[onehot(x) | 1], (time*batch, n_in + 1) floatX, rows in x's (time, batch) order."""
        columns = T.arange(self.n_in + 1)
        return T.cast(T.or_(T.eq(x.flatten().dimshuffle(0, "x"), columns.dimshuffle("x", 0)),
                            T.eq(columns, self.n_in).dimshuffle("x", 0)), config.floatX)

    def forward(self, x, mask):
        """H (time, batch, n_h) and the cache (time, batch, 7 n_h) for backward()."""
        n_steps, batch = x.shape[0], x.shape[1]
        # Hoisted input projection, for every time step at once: [onehot(x) | 1]·[W; b],
        # a GEMM into a buffer Theano reuses between calls. (W[x] + b would be cheaper in
        # flops, but Theano's AdvancedSubtensor1 calls numpy.take in "raise" mode, which
        # writes into a fresh time*batch*4n_h scratch array on every call: at n_h 512 that
        # memory cost several times the GEMM. Gathering per step inside the scan measured
        # slower too.)
        Wb = T.concatenate([self.W, self.b.dimshuffle("x", 0)], axis=0)
        xw = T.dot(self.onehot(x), Wb).reshape((n_steps, batch, 4 * self.n_h))
        U = self.U

        def step(xw_t, m_t, h_prev, c_prev):
            cache, c, h = lstm_cell_forward(xw_t + T.dot(h_prev, U), c_prev, h_prev, m_t)
            return h, c, cache

        zeros = T.zeros((batch, self.n_h), dtype=config.floatX)
        (H, _, cache), _ = theano.scan(step, sequences=[xw, mask],
                                       outputs_info=[zeros, zeros, None],
                                       mode=fast_mode(), allow_gc=False, name="lstm_fwd")
        return H, cache

    def backward(self, x, mask, cache, dH):
        """[dW, dU, db] given the forward pass and dH = dcost/dH from the layer above."""
        n = self.n_h
        n_steps, batch = x.shape[0], x.shape[1]
        zeros = T.zeros((batch, n), dtype=config.floatX)
        U_T = self.U.T

        def step(dh_out, m_t, cache_t, dh_next, dc_next):
            dzh, dh_keep, dc_prev = lstm_cell_backward(cache_t, m_t, dh_out, dh_next, dc_next)
            return dzh, dh_keep + T.dot(dzh[:, :4 * n], U_T), dc_prev

        (dzh_rev, _, _), _ = theano.scan(step, sequences=[dH, mask, cache],
                                         outputs_info=[None, zeros, zeros],
                                         go_backwards=True, mode=fast_mode(),
                                         allow_gc=False, name="lstm_bwd")
        # dzh_rev holds [dz | h_prev] in reverse time order. Weight gradients are sums over
        # time, so pair it with x reversed: two GEMMs over all time steps, after the loop.
        dzh2 = dzh_rev.reshape((n_steps * batch, 5 * n))
        dZ2, H_prev = dzh2[:, :4 * n], dzh2[:, 4 * n:]
        dU = T.dot(H_prev.T, dZ2)
        dWb = T.dot(self.onehot(x[::-1]).T, dZ2)          # [dW; db]
        return [dWb[:self.n_in], dU, dWb[self.n_in]]


class FastLogReg:
    """The notebook's LogisticRegression (same W, b) on a 2-D (time*batch, n_h) input."""

    def __init__(self, rng, n_h, n_out):
        from lstm_text.notebook_model import gauss_weight  # drawn after the LSTM's weights, as the notebook
        self.W = theano.shared(gauss_weight(rng, n_h, n_out), "W", borrow=True)
        self.b = theano.shared(numpy.zeros((n_out,), dtype=config.floatX), "b", borrow=True)
        self.params = [self.W, self.b]

    def energy(self, h2):
        return T.dot(h2, self.W) + self.b


ALL_FUNCTIONS = ("update_model", "evaluate_model", "single_step")


def sgd_functions(x, mask, cost, params, grads, learning_rate, max_grad_norm, functions):
    """The notebook's clipping (if max_grad_norm) and SGD update, and the functions asked for.

    Returns (grads, updates, update_model, evaluate_model); a function not in `functions`
    is None. Shared by this graph and fast_op's.
    """
    if max_grad_norm:
        # The notebook's clipping; the fused matrices hold the same numbers, so same norm.
        grad_norm = T.sqrt(sum(T.sum(g ** 2) for g in grads))
        scale = T.minimum(1., numpy.asarray(max_grad_norm, dtype=config.floatX) / grad_norm)
        grads = [g * scale for g in grads]
    lr = numpy.asarray(learning_rate, dtype=config.floatX)
    updates = [(p, p - lr * g) for p, g in zip(params, grads)]
    update_model = (function([x, mask], cost, updates=updates)
                    if "update_model" in functions else None)
    evaluate_model = function([x, mask], cost) if "evaluate_model" in functions else None
    return grads, updates, update_model, evaluate_model


def build_fast_graph(n_in, n_h, batch_size=100, learning_rate=0.1, seed=12345, n_out=None,
                     max_grad_norm=0, functions=ALL_FUNCTIONS):
    """The optimised graph; returns a namespace like notebook_model.build_graph's.

    params are [W_out, b_out, W, U, b] (see fuse_params) with the notebook's initial values
    for the same seed; grads are the matching gradient expressions; update_model(x, mask)
    does one SGD step and returns the cost; evaluate_model(x, mask) returns the cost;
    single_step(x_t, h, c) -> [p, h, c] as in the notebook (p is 1 x n_out, h and c 1 x n_h).
    x is (time, batch) int64 and mask (time, batch) floatX, the notebook's inputs.
    max_grad_norm > 0 clips the gradients' total norm as the notebook's `graph` cell does
    (0: plain SGD, the original). `functions` names the functions to compile (the others
    are None); tests that only need the symbolic graph skip the slow scan compilations.
    """
    n_out = n_in if n_out is None else n_out
    rng = numpy.random.RandomState(seed)
    x = T.lmatrix("x")
    mask = T.matrix("mask")
    lstm = FastLstm(rng, n_in, n_h)
    logreg = FastLogReg(rng, n_h, n_out)

    H, cache = lstm.forward(x, mask)
    n_steps, batch = x.shape[0], x.shape[1]
    # Predict character t+1 from h_t. The notebook does it for t < T-1 (targets x[1:],
    # weights mask[1:]); here the last step is included with weight 0 (and target 0), which
    # adds exactly 0 to the cost and gives dH for all T steps without a concatenation.
    rows = n_steps * batch
    energy = logreg.energy(H.reshape((rows, n_h)))
    zero_row = T.zeros((1, batch), dtype=x.dtype)
    targets = T.concatenate([x[1:], zero_row], axis=0).flatten()
    weights = T.concatenate([mask[1:], T.cast(zero_row, mask.dtype)], axis=0).flatten()
    nll = T.nnet.categorical_crossentropy(T.nnet.softmax(energy), targets)
    cost = T.sum(nll * weights) / batch_size

    # Output layer: T.grad down to the energies, then the three products written out
    # (db as a GEMV: Theano's Sum over axis 0 with its float64 accumulator is slower).
    dE = T.grad(cost, energy)
    h2 = H.reshape((rows, n_h))
    d_w_out = T.dot(h2.T, dE)
    d_b_out = T.dot(T.ones((rows,), dtype=config.floatX), dE)
    dH = T.dot(dE, logreg.W.T).reshape((n_steps, batch, n_h))
    params = logreg.params + lstm.params
    grads = [d_w_out, d_b_out] + lstm.backward(x, mask, cache, dH)
    grads, updates, update_model, evaluate_model = sgd_functions(
        x, mask, cost, params, grads, learning_rate, max_grad_norm, functions)
    single_step = None

    # Generation: one step for one sequence, same signature and shapes as the notebook's.
    x_t = T.iscalar()
    h_p = T.vector()
    c_p = T.vector()
    z = (lstm.W[x_t] + lstm.b + T.dot(h_p, lstm.U)).dimshuffle("x", 0)
    _, c_t, h_t = lstm_cell_forward(z, c_p.dimshuffle("x", 0), h_p.dimshuffle("x", 0),
                                    T.ones((1,), dtype=config.floatX))
    output = T.nnet.softmax(logreg.energy(h_t))
    if "single_step" in functions:
        single_step = function([x_t, h_p, c_p], [output, h_t, c_t])

    return types.SimpleNamespace(
        x=x, mask=mask, recurrent_layer=lstm, logreg_layer=logreg, cost=cost,
        params=params, grads=grads, updates=updates, update_model=update_model,
        evaluate_model=evaluate_model, single_step=single_step, n_in=n_in, n_out=n_out,
        n_h=n_h, batch_size=batch_size, learning_rate=learning_rate)
