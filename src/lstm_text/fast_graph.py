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
   LstmCellBackward). The profile of the pure-Theano graph showed why: Theano's Elemwise
   calls scalar libm tanhf/expf per element (20-40 ns each) and gcc does not vectorise the
   loops Theano generates, so at n_h 512 the elementwise work cost as much as the GEMMs.
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
   the row (see lstm_fast_output below; at n_h 512 it was 25% of the step).
6. float32 throughout (floatX; constants cast), int64 only for the character ids, and no
   host round trips: update_model applies all SGD updates inside the one call.

What remains is Theano's scan loop itself, which runs in Python on Python 3.11 (see
lstm_text_env): a fixed cost per time step that matters only for small n_h.
"""
import types

import numpy

from lstm_text import environment  # noqa: F401  (Theano and Fuel flags first)
import theano
import theano.tensor as T
from theano import config

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


unfuse = unfuse_params


# -- the fused cell Ops ----------------------------------------------------------------------
#
# Per time step and sequence, the forward Op writes one row of the "cache" the backward Op
# reads: [i f c~ o | c_prev | tanh(c) | h_prev] (7 n_h numbers). The backward Op writes
# [dz | h_prev] (5 n_h), so that after the reverse scan dU = h_prev^T dz is one GEMM over
# two strided views of that array, in the same (reversed) time order, without copies.

CACHE_BLOCKS = 7
"""Cache row: gate activations (4 n_h), c_prev, tanh(c), h_prev."""

_SUPPORT = r"""
/* A C-contiguous output of the given shape and type, reusing *out when it fits and owns
   its memory. Inside a scan, *out is a view of the scan's output buffer, and Theano 1.0.5's
   Python scan loop checks that such a view was written in place by comparing memoryviews,
   which on Python 3 compares every element (~10x the cost of copying them). So we write
   into our own array and let scan copy it. */
static int lstm_fast_output(PyArrayObject** out, int nd, const npy_intp* dims, int typenum)
{
    if (*out && PyArray_BASE(*out) == NULL && PyArray_NDIM(*out) == nd &&
            PyArray_TYPE(*out) == typenum && PyArray_IS_C_CONTIGUOUS(*out) &&
            PyArray_ISWRITEABLE(*out)) {
        int same = 1;
        for (int d = 0; d < nd; d++) same &= PyArray_DIMS(*out)[d] == dims[d];
        if (same) return 0;
    }
    Py_XDECREF(*out);
    *out = (PyArrayObject*)PyArray_EMPTY(nd, (npy_intp*)dims, typenum, 0);
    return *out ? 0 : -1;
}

/* A C-contiguous version of an input (a new reference: the input itself or a copy). */
static PyArrayObject* lstm_fast_contiguous(PyArrayObject* in)
{
    return (PyArrayObject*)PyArray_GETCONTIGUOUS(in);
}

/* The kernels: plain loops over one contiguous row (one sequence of the batch), in
   functions of their own (noinline, restrict pointers): inlined into the large run()
   function Theano generates, or with pointers stepping through the batch, gcc does not
   vectorise them. */
template <typename real>
__attribute__((noinline)) static void lstm_fast_forward_row(
        npy_intp N, real mb, const real* __restrict__ z, const real* __restrict__ c_prev,
        const real* __restrict__ h_prev, real* __restrict__ a, real* __restrict__ cp,
        real* __restrict__ tc, real* __restrict__ hp, real* __restrict__ c,
        real* __restrict__ h)
{
    const real one = 1;
    for (npy_intp j = 0; j < 2 * N; j++) a[j] = one / (one + exp(-z[j]));      /* i, f */
    for (npy_intp j = 2 * N; j < 3 * N; j++) a[j] = tanh(z[j]);                 /* c~ */
    for (npy_intp j = 3 * N; j < 4 * N; j++) a[j] = one / (one + exp(-z[j]));  /* o */
    for (npy_intp j = 0; j < N; j++) {
        real cn = a[N + j] * c_prev[j] + a[j] * a[2 * N + j];        /* f c_ + i c~ */
        cn = mb * cn + (one - mb) * c_prev[j];
        c[j] = cn;
        cp[j] = c_prev[j];
        hp[j] = h_prev[j];
    }
    for (npy_intp j = 0; j < N; j++) tc[j] = tanh(c[j]);
    for (npy_intp j = 0; j < N; j++)
        h[j] = mb * (a[3 * N + j] * tc[j]) + (one - mb) * h_prev[j];
}

template <typename real>
static void lstm_fast_forward(
        npy_intp B, npy_intp N, const real* z, const real* c_prev, const real* h_prev,
        const real* m, real* cache, real* c, real* h)
{
    for (npy_intp b = 0; b < B; b++) {
        real* row = cache + b * 7 * N;      /* [i f c~ o | c_prev | tanh(c) | h_prev] */
        lstm_fast_forward_row<real>(N, m[b], z + b * 4 * N, c_prev + b * N, h_prev + b * N,
                                    row, row + 4 * N, row + 5 * N, row + 6 * N,
                                    c + b * N, h + b * N);
    }
}

template <typename real>
__attribute__((noinline)) static void lstm_fast_backward_row(
        npy_intp N, real mb, const real* __restrict__ a, const real* __restrict__ cp,
        const real* __restrict__ tc, const real* __restrict__ hp,
        const real* __restrict__ dh_out, const real* __restrict__ dh_next,
        const real* __restrict__ dc_next, real* __restrict__ dz, real* __restrict__ hp_out,
        real* __restrict__ dh_keep, real* __restrict__ dc_prev)
{
    const real one = 1;
    for (npy_intp j = 0; j < N; j++) {
        const real i = a[j], f = a[N + j], g = a[2 * N + j], o = a[3 * N + j];
        const real t = tc[j];
        const real dh = dh_out[j] + dh_next[j];
        const real dhm = mb * dh;                               /* into o tanh(c) */
        const real dc = dc_next[j] + dhm * o * (one - t * t);
        const real dcm = mb * dc;                               /* into f c_ + i c~ */
        dz[j] = dcm * g * (i * (one - i));
        dz[N + j] = dcm * cp[j] * (f * (one - f));
        dz[2 * N + j] = dcm * i * (one - g * g);
        dz[3 * N + j] = dhm * t * (o * (one - o));
        dh_keep[j] = (one - mb) * dh;
        dc_prev[j] = (one - mb) * dc + dcm * f;
    }
    for (npy_intp j = 0; j < N; j++) hp_out[j] = hp[j];
}

template <typename real>
static void lstm_fast_backward(
        npy_intp B, npy_intp N, const real* cache, const real* m, const real* dh_out,
        const real* dh_next, const real* dc_next, real* dzh, real* dh_keep, real* dc_prev)
{
    for (npy_intp b = 0; b < B; b++) {
        const real* row = cache + b * 7 * N;
        real* out = dzh + b * 5 * N;        /* [dz | h_prev] */
        lstm_fast_backward_row<real>(N, m[b], row, row + 4 * N, row + 5 * N, row + 6 * N,
                                     dh_out + b * N, dh_next + b * N, dc_next + b * N,
                                     out, out + 4 * N, dh_keep + b * N, dc_prev + b * N);
    }
}
"""


class _CellOp(theano.Op):
    """Shared plumbing: float inputs of one dtype, contiguous views, outputs (re)allocated."""
    __props__ = ()

    def c_headers(self):
        return ["<math.h>"]

    def c_compile_args(self):
        return list(VECTOR_MATH_FLAGS)

    def c_support_code(self):
        return _SUPPORT

    def c_code_cache_version(self):
        return (6,)

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

    def _c_code(self, inputs, outputs, sub, check, alloc, call):
        """C code: contiguous inputs, a shape check, the outputs, the kernel, clean-up."""
        names = ["in%d" % k for k in range(len(inputs))]
        release = " ".join("Py_DECREF(%s);" % name for name in names)
        lines = ["{"]
        lines += ["PyArrayObject* %s = lstm_fast_contiguous(%s);" % (name, var)
                  for name, var in zip(names, inputs)]
        lines.append("if (%s) { %s %s }" % (" || ".join("!%s" % n for n in names),
                                            " ".join("Py_XDECREF(%s);" % n for n in names),
                                            sub["fail"]))
        lines.append("typedef dtype_%s real;" % outputs[0])
        lines.append("const int typenum = PyArray_TYPE(in0);")
        lines.append(check)
        lines.append('if (bad) { PyErr_SetString(PyExc_ValueError, "%s: inconsistent '
                     'shapes"); %s %s }' % (type(self).__name__, release, sub["fail"]))
        lines.append("if (%s) { %s %s }" % (" || ".join(
            "lstm_fast_output(&%s, 2, %s, typenum)" % (out, dims)
            for out, dims in zip(outputs, alloc)), release, sub["fail"]))
        lines.append(call % dict(("in%d" % k, "(const real*)PyArray_DATA(in%d)" % k)
                                 for k in range(len(inputs))) % tuple(
            "(real*)PyArray_DATA(%s)" % out for out in outputs))
        lines.append(release)
        lines.append("}")
        return "\n".join(lines)


class LstmCellForward(_CellOp):
    """One time step of the cell after the gate GEMM, for a whole batch.

    Inputs: z (batch, 4n) gate pre-activations [i|f|c|o], c_prev and h_prev (batch, n),
    m (batch,) the mask. Outputs: the cache (batch, 7n) for LstmCellBackward, and c and h
    (batch, n) exactly as the notebook's LstmLayer._step computes them (sigmoid gates,
    masked positions keep the previous state).
    """

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

    def c_code(self, node, name, inputs, outputs, sub):
        check = """
const npy_intp B = PyArray_DIMS(in0)[0], N4 = PyArray_DIMS(in0)[1], N = N4 / 4;
int bad = N4 != 4 * N || PyArray_DIMS(in3)[0] != B;
for (int k = 1; k < 3; k++) {
    PyArrayObject* mat = k == 1 ? in1 : in2;
    bad |= PyArray_DIMS(mat)[0] != B || PyArray_DIMS(mat)[1] != N;
}
const npy_intp dims_cache[2] = {B, %d * N}, dims[2] = {B, N};
""" % CACHE_BLOCKS
        call = ("lstm_fast_forward<real>(B, N, %(in0)s, %(in1)s, %(in2)s, %(in3)s, "
                "%%s, %%s, %%s);")
        return self._c_code(inputs, outputs, sub, check, ["dims_cache", "dims", "dims"], call)


class LstmCellBackward(_CellOp):
    """The reverse of LstmCellForward for one time step (everything but the dz·U^T GEMM).

    Inputs: the cache (batch, 7n), m (batch,), dh_out (batch, n) the output layer's
    gradient at h_t, dh_next and dc_next (batch, n) the gradients flowing back from step
    t+1. Outputs: [dz | h_prev] (batch, 5n) with dz the gradient of the gate
    pre-activations, dh_keep = (1 - m) dh (the part of dh_prev that skips the cell; the
    caller adds dz·U^T) and dc_prev (batch, n).
    """

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

    def c_code(self, node, name, inputs, outputs, sub):
        check = """
const npy_intp B = PyArray_DIMS(in2)[0], N = PyArray_DIMS(in2)[1];
int bad = PyArray_DIMS(in0)[0] != B || PyArray_DIMS(in0)[1] != %d * N ||
          PyArray_DIMS(in1)[0] != B;
for (int k = 3; k < 5; k++) {
    PyArrayObject* mat = k == 3 ? in3 : in4;
    bad |= PyArray_DIMS(mat)[0] != B || PyArray_DIMS(mat)[1] != N;
}
const npy_intp dims_dzh[2] = {B, 5 * N}, dims[2] = {B, N};
""" % CACHE_BLOCKS
        call = ("lstm_fast_backward<real>(B, N, %(in0)s, %(in1)s, %(in2)s, %(in3)s, "
                "%(in4)s, %%s, %%s, %%s);")
        return self._c_code(inputs, outputs, sub, check, ["dims_dzh", "dims", "dims"], call)


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
    if max_grad_norm:
        # The notebook's clipping; the fused matrices hold the same numbers, so same norm.
        grad_norm = T.sqrt(sum(T.sum(g ** 2) for g in grads))
        scale = T.minimum(1., numpy.asarray(max_grad_norm, dtype=config.floatX) / grad_norm)
        grads = [g * scale for g in grads]
    lr = numpy.asarray(learning_rate, dtype=config.floatX)
    updates = [(p, p - lr * g) for p, g in zip(params, grads)]

    update_model = evaluate_model = single_step = None
    if "update_model" in functions:
        update_model = function([x, mask], cost, updates=updates)
    if "evaluate_model" in functions:
        evaluate_model = function([x, mask], cost)

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
