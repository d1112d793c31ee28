"""The notebook's LSTM recurrence as one C Op per direction: the whole minibatch in one call.

lstm_text.speed.fast_graph runs the recurrence as Theano scans (a Gemm and a fused cell Op per
time step, the loop itself in Python on Python 3.11). Here the loop is in C:

* LstmRecurrence(x, mask, W, U, b, h0, c0) -> H, C, G, TC runs every time step of the
  masked recurrence: per step one GEMM h_{t-1}·U (B x n)(n x 4n) through the BLAS Theano
  links (the library in blas.ldflags, or Theano's NumPy C-API fallback when that is empty),
  written straight into that step's rows of G, then per sequence one vectorised pass that
  adds the input row W[x] + b (the lookup, no one-hot product), applies the sigmoid / tanh
  gates and the mask (masked steps keep c and h). H and C are the states after every step,
  G the gate activations [i f c~ o] and TC = tanh(C), kept for the backward pass.
* LstmRecurrenceGrad(x, mask, W, U, h0, c0, H, C, G, TC, dH) -> dW, dU, db, dh0, dc0,
  dZ runs backpropagation through time: per step and sequence one pass that gives dz (the
  gradient of the gate pre-activations) and adds it to dW's row of the character, and one
  GEMM dz_t·U^T for the whole batch (against a transposed copy of U, so an NN product);
  after the loop dU = sum_t h_{t-1}^T dz_t is one GEMM over all steps (n x TB)(TB x 4n)
  and db the sum of dW's rows. dz for all steps is written over G (an optimisation,
  lstm_fast_op_inplace, makes the Op inplace when nothing else needs G) and returned.
* SoftmaxNll(E, b, targets, weights) -> cost, dE, db is the output layer's masked softmax
  cross-entropy and its gradient in one vectorised pass (Theano's own Op calls scalar exp
  and log: at n_h 50 it cost a third as much as all the recurrence's GEMMs).
* Where the mask is 0 (padding), the notebook's step keeps c and h exactly; the Ops skip
  the elementwise work of such rows (G's row is 0 there, and so is the gradient), but not
  their share of the GEMMs: every implementation in the benchmark computes those.

All keep their outputs (and the backward Op its small buffers) between calls: with the
project's no-gc linker they are allocated on the first call only. The C is in the .c files
next to this module (fast_op_common.c, _forward.c, _backward.c, _softmax.c), loaded by
theano.gof.COp, and calls the same sgemm_/dgemm_/sgemv_ as Theano's own Gemm (its
blas_header_text() and blas.ldflags), so it works with a linked BLAS and with Theano's
NumPy C-API fallback.
LstmRecurrence.grad gives LstmRecurrenceGrad, so T.grad and theano.gradient.verify_grad
work through it; perform() runs the same loops in NumPy (lstm_text.speed.numpy_lstm, used by
Theano's Python linker, e.g. FAST_COMPILE).

build_op_graph builds the notebook's whole model around the Ops (the output layer as in
fast_graph) and returns the same namespace as fast_graph.build_fast_graph; the parameters are
fast_graph's fused layout [W_out, b_out, W, U, b] (fast_graph.fuse_params).
tests/test_fast_op.py checks it against the notebook's graph in float64 to 1e-10;
benchmarks/bench.py measures it as row (f).
"""
import types

import numpy

from lstm_text import environment  # noqa: F401  (Theano and Fuel flags first)
import theano
import theano.tensor as T
from theano import config, gof
from theano.gradient import DisconnectedType, grad_not_implemented
from theano.tensor import blas as theano_blas
from theano.tensor import blas_headers

from lstm_text.speed import fast_graph, numpy_lstm

C_COMMON = "fast_op_common.c"
C_FORWARD = "fast_op_forward.c"
C_BACKWARD = "fast_op_backward.c"
C_SOFTMAX = "fast_op_softmax.c"
C_VERSION = 1
"""Bumped by hand when the Python side of the generated code changes; the .c files' own
contents are part of the cache key (c_code_cache_version)."""


class _LstmCOp(fast_graph.FileCOp):
    """Shared plumbing: the .c files, Theano's BLAS (headers, libraries, flags), the cache key."""
    default_c_version = C_VERSION

    def c_support_code(self):
        # Theano's BLAS declarations (or its NumPy C-API sgemm_/dgemm_) first.
        return blas_headers.blas_header_text() + gof.COp.c_support_code(self)

    def c_headers(self):
        return ["<math.h>", "<string.h>", "<stdlib.h>"]

    def c_libraries(self):
        return theano_blas.ldflags()

    def c_compile_args(self):
        return theano_blas.ldflags(libs=False, flags=True) + list(fast_graph.VECTOR_MATH_FLAGS)

    def c_lib_dirs(self):
        return theano_blas.ldflags(libs=False, libs_dir=True)

    def c_header_dirs(self):
        return theano_blas.ldflags(libs=False, include_dir=True)

    def c_code_cache_version(self):
        return fast_graph.FileCOp.c_code_cache_version(self) + tuple(
            blas_headers.blas_header_version())

    @staticmethod
    def _float_inputs(op_name, values, ndims, names):
        values = [T.as_tensor_variable(v) for v in values]
        dtype = values[0].dtype
        if dtype not in ("float32", "float64"):
            raise TypeError("%s: %s must be float32 or float64, not %s"
                            % (op_name, names[0], dtype))
        for value, ndim, name in zip(values, ndims, names):
            if value.dtype != dtype:
                raise TypeError("%s: %s is %s, %s is %s: they must have one dtype"
                                % (op_name, name, value.dtype, names[0], dtype))
            if value.ndim != ndim:
                raise TypeError("%s: %s must have %d dimensions, not %d"
                                % (op_name, name, ndim, value.ndim))
        return values, dtype

    @staticmethod
    def _int_ids(op_name, ids, ndim, what):
        """`ids` as an int64 variable of `ndim` dimensions; anything else is a TypeError."""
        ids = T.as_tensor_variable(ids)
        if ids.dtype not in T.integer_dtypes or ids.ndim != ndim:
            raise TypeError("%s: %s, not %s" % (op_name, what, ids.type))
        return ids if ids.dtype == "int64" else T.cast(ids, "int64")

    @staticmethod
    def _ids_and_mask(op_name, x, mask, dtype):
        x = _LstmCOp._int_ids(op_name, x, 2, "x must be a matrix of integer character ids")
        mask = T.as_tensor_variable(mask)
        if mask.ndim != 2:
            raise TypeError("%s: mask must be a (time, batch) matrix, not %s"
                            % (op_name, mask.type))
        if mask.dtype != dtype:
            mask = T.cast(mask, dtype)
        return x, mask


class LstmRecurrence(_LstmCOp):
    """The masked LSTM over all time steps: (x, mask, W, U, b, h0, c0) -> H, C, G, TC.

    x (T, B) character ids, mask (T, B), W (n_in, 4n), U (n, 4n), b (4n,) in the fused
    gate order i, f, c, o (fast_graph.GATES), h0 and c0 (B, n) the initial state. Outputs,
    all (T, B, .): H and C, the hidden state and memory cell after each step, exactly as
    the notebook's LstmLayer._step computes them (sigmoid gates, masked steps keep the
    previous state); G (T, B, 4n) the gate activations and TC = tanh(C), for the gradient.
    The gradient is defined for the cost through H (LstmRecurrenceGrad) and with respect
    to W, U, b, h0 and c0; x is an index (disconnected), the mask's is not implemented.
    """
    c_files = (fast_graph.C_OUTPUT, C_COMMON, C_FORWARD)
    func_name = "APPLY_SPECIFIC(lstm_recurrence)"

    def make_node(self, x, mask, W, U, b, h0, c0):
        name = type(self).__name__
        (W, U, b, h0, c0), dtype = self._float_inputs(
            name, [W, U, b, h0, c0], [2, 2, 1, 2, 2], ["W", "U", "b", "h0", "c0"])
        x, mask = self._ids_and_mask(name, x, mask, dtype)
        out = T.TensorType(dtype, (False, False, False))
        return gof.Apply(self, [x, mask, W, U, b, h0, c0], [out(), out(), out(), out()])

    def infer_shape(self, node, shapes):
        x_shape, _, _, u_shape = shapes[:4]
        n_steps, batch = x_shape
        n = u_shape[0]
        return [(n_steps, batch, n), (n_steps, batch, n), (n_steps, batch, u_shape[1]),
                (n_steps, batch, n)]

    def connection_pattern(self, node):
        return [[False] * 4] + [[True] * 4 for _ in node.inputs[1:]]

    def L_op(self, inputs, outputs, output_grads):
        x, mask, W, U, b, h0, c0 = inputs
        H, C, G, TC = outputs
        dH = output_grads[0]
        others = [not isinstance(g.type, DisconnectedType) for g in output_grads[1:]]
        if any(others):
            # Only the cost's dependence through H is implemented (all the model needs).
            return ([DisconnectedType()()] +
                    [grad_not_implemented(self, k, inputs[k], "LstmRecurrence: gradients "
                                          "through C, G or TC are not implemented")
                     for k in range(1, len(inputs))])
        if isinstance(dH.type, DisconnectedType):
            dH = H.zeros_like()
        dH = T.cast(dH, H.dtype) if dH.dtype != H.dtype else dH
        dW, dU, db, dh0, dc0, _ = lstm_recurrence_grad(x, mask, W, U, h0, c0, H, C, G, TC,
                                                       dH)
        return [DisconnectedType()(),
                grad_not_implemented(self, 1, mask, "LstmRecurrence: no gradient for the "
                                                    "mask"),
                dW, dU, db, dh0, dc0]

    def perform(self, node, inputs, outputs):
        x, mask, W, U, b, h0, c0 = inputs
        H, C, G, TC = numpy_lstm.forward(x, mask, W, U, b, h0, c0)
        for storage, value in zip(outputs, (H, C, G, TC)):
            storage[0] = value


class LstmRecurrenceGrad(_LstmCOp):
    """Backpropagation through time for LstmRecurrence.

    (x, mask, W, U, h0, c0, H, C, G, TC, dH) -> dW, dU, db, dh0, dc0, dZ: the inputs of
    LstmRecurrence (W only for its shape), its four outputs, and dH (T, B, n) the gradient
    of the cost with respect to H; the outputs are the cost's gradients with respect to W,
    U, b, h0 and c0, and dZ (T, B, 4n) with respect to the gate pre-activations. With
    inplace=True (what the optimisation `lstm_fast_op_inplace` substitutes when nothing
    else needs G) dZ is written over G.
    """
    __props__ = ("c_version", "inplace")
    c_files = (fast_graph.C_OUTPUT, C_COMMON, C_BACKWARD)
    func_name = "APPLY_SPECIFIC(lstm_recurrence_grad)"
    G_INPUT = 8

    def __init__(self, inplace=False, c_version=C_VERSION):
        self.inplace = bool(inplace)
        if self.inplace:
            self.destroy_map = {5: [self.G_INPUT]}
        _LstmCOp.__init__(self, c_version)

    def c_support_code_struct(self, node, name):
        return "#define LSTM_OP_INPLACE %d\n%s\n#undef LSTM_OP_INPLACE\n" % (
            int(self.inplace), _LstmCOp.c_support_code_struct(self, node, name))

    def make_node(self, x, mask, W, U, h0, c0, H, C, G, TC, dH):
        name = type(self).__name__
        floats, dtype = self._float_inputs(
            name, [W, U, h0, c0, H, C, G, TC, dH], [2, 2, 2, 2, 3, 3, 3, 3, 3],
            ["W", "U", "h0", "c0", "H", "C", "G", "TC", "dH"])
        W, U, h0, c0, H, C, G, TC, dH = floats
        x, mask = self._ids_and_mask(name, x, mask, dtype)
        return gof.Apply(self, [x, mask, W, U, h0, c0, H, C, G, TC, dH],
                         [W.type(), U.type(), T.TensorType(dtype, (False,))(), h0.type(),
                          c0.type(), G.type()])

    def infer_shape(self, node, shapes):
        w_shape, u_shape, h0_shape, c0_shape = shapes[2], shapes[3], shapes[4], shapes[5]
        return [w_shape, u_shape, (u_shape[1],), h0_shape, c0_shape, shapes[self.G_INPUT]]

    def connection_pattern(self, node):
        return [[False] * 6] + [[True] * 6 for _ in node.inputs[1:]]

    def grad(self, inputs, output_grads):
        return [DisconnectedType()()] + [
            grad_not_implemented(self, k, inputs[k], "LstmRecurrenceGrad: no second "
                                                     "derivatives")
            for k in range(1, len(inputs))]

    def perform(self, node, inputs, outputs):
        grads = numpy_lstm.backward(*inputs)
        G = inputs[self.G_INPUT]
        if self.inplace:
            G[...] = grads[5]
            grads = grads[:5] + (G,)
        for storage, value in zip(outputs, grads):
            storage[0] = value


@gof.local_optimizer([LstmRecurrenceGrad], inplace=True)
def local_lstm_recurrence_grad_inplace(node):
    """Let LstmRecurrenceGrad write dZ over G (Theano's destroy handler refuses the swap
    when anything else still needs G, e.g. G is also a function output)."""
    if isinstance(node.op, LstmRecurrenceGrad) and not node.op.inplace:
        return LstmRecurrenceGrad(inplace=True, c_version=node.op.c_version)(
            *node.inputs, return_list=True)
    return False


# After the destroy handler is set up (49.5), with Theano's other inplace optimisations.
theano.compile.optdb.register(
    "lstm_fast_op_inplace",
    theano.tensor.opt.in2out(local_lstm_recurrence_grad_inplace,
                             name="lstm_fast_op_inplace"),
    70.5, "fast_run", "inplace")


class SoftmaxNll(_LstmCOp):
    """The output layer's masked softmax cross-entropy with its gradient, in one C pass.

    (E, b, targets, weights) -> cost, dE, db with E (R, K) the energies without the bias,
    b (K,), targets (R,) int ids, weights (R,) (the mask divided by the batch size):
    cost = sum_r weights_r * -log softmax(E_r + b)[targets_r], dE = dcost/dE (R, K) and
    db = dcost/db. The training step needs both; Theano's own softmax/cross-entropy Op calls
    scalar exp and log per element, this loop is vectorised. grad (for T.grad through the
    cost) is g * dE and g * db; the weights' gradient is not implemented.
    """
    c_files = (fast_graph.C_OUTPUT, C_COMMON, C_SOFTMAX)
    func_name = "APPLY_SPECIFIC(softmax_nll)"

    def make_node(self, E, b, targets, weights):
        name = type(self).__name__
        (E, b, weights), dtype = self._float_inputs(name, [E, b, weights], [2, 1, 1],
                                                    ["E", "b", "weights"])
        targets = self._int_ids(name, targets, 1, "targets must be a vector of integer ids")
        return gof.Apply(self, [E, b, targets, weights],
                         [T.TensorType(dtype, ())(), E.type(), b.type()])

    def infer_shape(self, node, shapes):
        return [(), shapes[0], shapes[1]]

    def connection_pattern(self, node):
        return [[True] * 3, [True] * 3, [False] * 3, [True] * 3]

    def L_op(self, inputs, outputs, output_grads):
        E, b, targets, weights = inputs
        _, dE, db = outputs
        g = output_grads[0]
        if any(not isinstance(o.type, DisconnectedType) for o in output_grads[1:]):
            return [grad_not_implemented(self, k, inputs[k], "SoftmaxNll: gradients "
                                         "through dE or db are not implemented")
                    if k != 2 else DisconnectedType()() for k in range(4)]
        if isinstance(g.type, DisconnectedType):
            return [E.zeros_like(), b.zeros_like(), DisconnectedType()(),
                    weights.zeros_like()]
        return [g * dE, g * db, DisconnectedType()(),
                grad_not_implemented(self, 3, weights, "SoftmaxNll: no gradient for the "
                                                       "weights")]

    def perform(self, node, inputs, outputs):
        E, b, targets, weights = inputs
        cost, dE, db = numpy_lstm.softmax_nll(E, b, targets, weights)
        outputs[0][0], outputs[1][0], outputs[2][0] = cost, dE, db


lstm_recurrence = LstmRecurrence()
lstm_recurrence_grad = LstmRecurrenceGrad()
softmax_nll = SoftmaxNll()


# -- the model around the Ops ----------------------------------------------------------------

ALL_FUNCTIONS = fast_graph.ALL_FUNCTIONS


def build_op_graph(n_in, n_h, batch_size=100, learning_rate=0.1, seed=12345, n_out=None,
                   max_grad_norm=0, functions=ALL_FUNCTIONS):
    """The notebook's model with the recurrence in LstmRecurrence / LstmRecurrenceGrad.

    Same arguments and namespace as fast_graph.build_fast_graph: params [W_out, b_out, W, U,
    b] with the notebook's initial values for the seed, grads (clipped to max_grad_norm as
    the notebook's graph cell does when it is > 0), updates, update_model(x, mask) -> cost
    (one SGD step), evaluate_model(x, mask) -> cost and single_step(x_t, h, c) -> [p, h, c].
    """
    n_out = n_in if n_out is None else n_out
    rng = numpy.random.RandomState(seed)
    x = T.lmatrix("x")
    mask = T.matrix("mask")
    lstm = fast_graph.FastLstm(rng, n_in, n_h)        # the same parameters, drawn in order
    logreg = fast_graph.FastLogReg(rng, n_h, n_out)
    W, U, b = lstm.W, lstm.U, lstm.b

    n_steps, batch = x.shape[0], x.shape[1]
    zeros = T.zeros((batch, n_h), dtype=config.floatX)
    H, C, G, TC = lstm_recurrence(x, mask, W, U, b, zeros, zeros)

    # The output layer as in fast_graph: all T steps with weight 0 (and target 0) for the
    # last one, so that dH covers every step without a concatenation; the softmax
    # cross-entropy and its gradient down to the energies in SoftmaxNll.
    rows = n_steps * batch
    h2 = H.reshape((rows, n_h))
    zero_row = T.zeros((1, batch), dtype=x.dtype)
    targets = T.concatenate([x[1:], zero_row], axis=0).flatten()
    weights = T.concatenate([mask[1:], T.cast(zero_row, mask.dtype)], axis=0).flatten()
    scale = numpy.asarray(1. / batch_size, dtype=config.floatX)
    cost, dE, d_b_out = softmax_nll(T.dot(h2, logreg.W), logreg.b, targets, weights * scale)

    d_w_out = T.dot(h2.T, dE)
    dH = T.dot(dE, logreg.W.T).reshape((n_steps, batch, n_h))
    dW, dU, db, _, _, _ = lstm_recurrence_grad(x, mask, W, U, zeros, zeros, H, C, G, TC, dH)
    params = logreg.params + lstm.params
    grads = [d_w_out, d_b_out, dW, dU, db]
    grads, updates, update_model, evaluate_model = fast_graph.sgd_functions(
        x, mask, cost, params, grads, learning_rate, max_grad_norm, functions)
    single_step = None

    # Generation: the same Op for one step of one sequence from (h, c).
    x_t = T.iscalar()
    h_p = T.vector()
    c_p = T.vector()
    H1, C1, _, _ = lstm_recurrence(T.cast(x_t, "int64").reshape((1, 1)),
                                   T.ones((1, 1), dtype=config.floatX), W, U, b,
                                   h_p.dimshuffle("x", 0), c_p.dimshuffle("x", 0))
    h_t, c_t = H1[0], C1[0]
    output = T.nnet.softmax(logreg.energy(h_t))
    if "single_step" in functions:
        single_step = fast_graph.function([x_t, h_p, c_p], [output, h_t, c_t])

    return types.SimpleNamespace(
        x=x, mask=mask, recurrent_layer=lstm, logreg_layer=logreg, cost=cost,
        params=params, grads=grads, updates=updates, update_model=update_model,
        evaluate_model=evaluate_model, single_step=single_step, n_in=n_in, n_out=n_out,
        n_h=n_h, batch_size=batch_size, learning_rate=learning_rate, H=H)
