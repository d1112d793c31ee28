"""lstm_text.speed.fast_op: the recurrence as one C Op per direction, same numbers.

As tests/test_fast_graph.py does for the scan graph: the notebook's graph (lstm_text.notebook_model, in
FAST_COMPILE mode, i.e. Theano's Python implementations) and build_op_graph are built in
float64 with the same random, large-ish weights; cost, every gradient (the notebook's
gradient clipping active), the SGD update and single_step must agree to 1e-10 relative, for
(a) a padded batch with ragged lengths, (b) a batch of one time step (nothing to predict:
cost and gradients 0) and (c) a batch of one sequence. Then theano.gradient.verify_grad on
LstmRecurrence (through its grad, LstmRecurrenceGrad) with a non-zero initial state and a
fractional mask, the C code against the Op's NumPy perform(), and bad input. The C runs on
whatever BLAS Theano links here (OpenBLAS, or its NumPy C-API fallback). No timing here.
"""
import numpy
import pytest

from lstm_text import environment  # noqa: F401  (before theano)
import theano
import theano.tensor as T

import reference_lstm

from equality_cases import (BATCH, MAX_NORM, N_H, N_IN, RTOL, STEPS, faithful_graph, padded,
                             random_weights, set_weights)

NAMES = ["W_out", "b_out", "W_i", "W_f", "W_c", "W_o", "U_i", "U_f", "U_c", "U_o",
         "b_i", "b_f", "b_c", "b_o"]


def _close(actual, expected, what=""):
    actual, expected = numpy.asarray(actual), numpy.asarray(expected)
    assert actual.shape == expected.shape, what
    scale = max(numpy.abs(expected).max(initial=0.), 1e-300)
    numpy.testing.assert_allclose(actual, expected, rtol=RTOL, atol=RTOL * scale,
                                  err_msg=what)


@pytest.fixture(scope="module")
def graphs():
    from lstm_text.speed import fast_graph
    from lstm_text.speed import fast_op
    faithful, f_faithful = faithful_graph()
    with theano.change_flags(floatX="float64"):
        fast = fast_op.build_op_graph(N_IN, N_H, batch_size=BATCH, learning_rate=0.1,
                                           max_grad_norm=MAX_NORM, functions=("single_step",))
        f_fast = fast_graph.function([fast.x, fast.mask], [fast.cost] + fast.grads +
                                    [new for _, new in fast.updates])
    initial = ([p.get_value() for p in faithful.params], [p.get_value() for p in fast.params])
    rng = numpy.random.RandomState(1234)
    weights = random_weights(rng)
    set_weights(faithful, fast, weights)
    batches = {
        "ragged": padded(rng, [STEPS, STEPS - 2, 2, 1], STEPS),
        "one time step": padded(rng, [1, 1, 1, 1], 1),
        "batch size 1": padded(rng, [3], STEPS - 1),
    }
    n, k = len(faithful.params), len(fast.params)
    results = {}
    for name, (x, mask) in batches.items():
        out_faithful = f_faithful(x, mask)
        out_fast = f_fast(x, mask)
        results[name] = dict(x=x, mask=mask, faithful=out_faithful[:1 + n],
                             raw_grads=out_faithful[1 + n:], fast=out_fast[:1 + k],
                             updated=out_fast[1 + k:])
    return dict(faithful=faithful, fast=fast, weights=weights, initial=initial,
                results=results)


CASES = ["ragged", "one time step", "batch size 1"]


def test_graph_is_float64_and_uses_the_ops(graphs):
    from lstm_text.speed import fast_op
    fast = graphs["fast"]
    assert fast.cost.dtype == "float64" and all(p.dtype == "float64" for p in fast.params)
    ops = {type(node.op) for node in theano.gof.graph.io_toposort(
        [fast.x, fast.mask], [fast.cost] + fast.grads)}
    assert {fast_op.LstmRecurrence, fast_op.LstmRecurrenceGrad} <= ops
    assert not any("Scan" in op.__name__ for op in ops)


def test_training_graph_overwrites_the_gates_in_place(graphs):
    """The optimiser lets LstmRecurrenceGrad write dZ over G in the training function."""
    from lstm_text.speed import fast_graph
    from lstm_text.speed import fast_op
    fast = graphs["fast"]
    with theano.change_flags(floatX="float64"):
        f = fast_graph.function([fast.x, fast.mask], fast.cost, updates=fast.updates)
    ops = [node.op for node in f.maker.fgraph.toposort()
           if isinstance(node.op, fast_op.LstmRecurrenceGrad)]
    assert len(ops) == 1 and ops[0].inplace and ops[0].destroy_map == {5: [8]}


def test_same_initial_weights_for_a_seed(graphs):
    from lstm_text.speed import fast_graph
    faithful, fast = graphs["initial"]
    for value, want in zip(fast, fast_graph.fuse_params(faithful)):
        numpy.testing.assert_array_equal(value, want)


def test_cases_exercise_the_model(graphs):
    """Non-trivial costs, the clipping active, every gradient non-zero for the ragged batch."""
    ragged = graphs["results"]["ragged"]
    assert float(ragged["faithful"][0]) > 0.1
    assert all(numpy.abs(g).max() > 1e-6 for g in ragged["faithful"][1:])
    raw_norm = numpy.sqrt(sum((g ** 2).sum() for g in ragged["raw_grads"]))
    assert raw_norm > MAX_NORM
    assert float(graphs["results"]["batch size 1"]["faithful"][0]) > 0.1


@pytest.mark.parametrize("case", CASES)
def test_equal_cost(graphs, case):
    result = graphs["results"][case]
    _close(result["fast"][0], result["faithful"][0], "cost")


@pytest.mark.parametrize("case", CASES)
def test_equal_gradients(graphs, case):
    from lstm_text.speed import fast_graph
    result = graphs["results"][case]
    for name, got, want in zip(NAMES, fast_graph.unfuse_params(result["fast"][1:]),
                               result["faithful"][1:]):
        _close(got, want, "gradient of %s (%s)" % (name, case))


def test_one_time_step_predicts_nothing(graphs):
    """One time step: no character to predict, so cost and gradients are exactly 0 (as the
    NumPy reference says, independently of the notebook's graph)."""
    result = graphs["results"]["one time step"]
    params = dict(zip(reference_lstm.PARAM_NAMES, graphs["weights"]))
    assert reference_lstm.cost(params, result["x"], result["mask"], BATCH) == 0.
    assert float(result["fast"][0]) == 0.
    assert all(not numpy.any(g) for g in result["fast"][1:])


def test_reference_cost_for_ragged_batch(graphs):
    """The independent NumPy reference (tests/reference_lstm.py) gives the same cost."""
    result = graphs["results"]["ragged"]
    params = dict(zip(reference_lstm.PARAM_NAMES, graphs["weights"]))
    _close(result["fast"][0], reference_lstm.cost(params, result["x"], result["mask"], BATCH))


@pytest.mark.parametrize("case", ["ragged", "batch size 1"])
def test_update_model_is_one_sgd_step(graphs, case):
    from lstm_text.speed import fast_graph
    faithful, result = graphs["faithful"], graphs["results"][case]
    faithful.update_model(result["x"], result["mask"])
    after = [p.get_value() for p in faithful.params]
    for param, value in zip(faithful.params, graphs["weights"]):
        param.set_value(value)                      # leave the fixture as it was
    for name, got, want in zip(NAMES, fast_graph.unfuse_params(result["updated"]), after):
        _close(got, want, "updated %s (%s)" % (name, case))


def test_single_step_matches(graphs):
    fast, faithful = graphs["fast"], graphs["faithful"]
    rng = numpy.random.RandomState(5)
    h, c = rng.randn(N_H), rng.randn(N_H)
    for x_t in (0, 3, N_IN - 1):
        for got, want in zip(fast.single_step(x_t, h, c), faithful.single_step(x_t, h, c)):
            _close(got, want, "single_step(%d)" % x_t)
    # and a short sampled sequence, the state fed back as speak() does
    h_f = h_o = numpy.zeros(N_H)
    c_f = c_o = numpy.zeros(N_H)
    for x_t in rng.randint(0, N_IN, size=8):
        p_f, h_f, c_f = faithful.single_step(x_t, h_f.flatten(), c_f.flatten())
        p_o, h_o, c_o = fast.single_step(x_t, h_o.flatten(), c_o.flatten())
        _close(p_o, p_f, "sampling")


# -- the Op on its own ------------------------------------------------------------------------

def _op_inputs(rng, steps=5, batch=3, n_in=6, n=4):
    x = rng.randint(0, n_in, size=(steps, batch)).astype("int64")
    mask = (numpy.arange(steps)[:, None] < numpy.array([steps, 3, 1][:batch])).astype("float64")
    mask[1, -1] = 0.5                  # the Op is defined for any mask, not only 0/1
    values = [rng.randn(n_in, 4 * n) * 0.5, rng.randn(n, 4 * n) * 0.5, rng.randn(4 * n) * 0.5,
              rng.randn(batch, n) * 0.5, rng.randn(batch, n) * 0.5]
    return x, mask, values


def test_verify_grad():
    """Finite differences of LstmRecurrence's H against its gradient (LstmRecurrenceGrad),
    for W, U, b, h0 and c0, in float64."""
    from lstm_text.speed import fast_op
    rng = numpy.random.RandomState(42)
    x, mask, values = _op_inputs(rng)

    def recurrence(W, U, b, h0, c0):
        return fast_op.lstm_recurrence(x, mask, W, U, b, h0, c0)[0]

    with theano.change_flags(floatX="float64"):
        theano.gradient.verify_grad(recurrence, values, rng=rng, abs_tol=1e-7, rel_tol=1e-7)


def test_c_code_matches_numpy_perform():
    """The C implementation (fast_run) and the Op's NumPy perform() (Python linker), forward
    and backward, with a non-zero initial state; and T.grad through the Op gives the same."""
    from lstm_text.speed import fast_graph
    from lstm_text.speed import fast_op
    rng = numpy.random.RandomState(7)
    x, mask, values = _op_inputs(rng, steps=4, batch=3, n_in=5, n=3)
    with theano.change_flags(floatX="float64"):
        variables = [T.matrix(), T.matrix(), T.vector(), T.matrix(), T.matrix()]
        xv, mv = T.lmatrix(), T.matrix()
        outs = fast_op.lstm_recurrence(xv, mv, *variables)
        dH = T.tensor3()
        grads = fast_op.lstm_recurrence_grad(xv, mv, variables[0], variables[1],
                                                  variables[3], variables[4], *outs, dH)
        projection = rng.randn(4, 3, 3)
        cost = T.sum(outs[0] * projection)
        tgrads = T.grad(cost, variables)
        inputs = [xv, mv] + variables + [dH]
        c_fn = fast_graph.function(inputs, list(outs) + list(grads) + tgrads,
                                  on_unused_input="ignore")
        py_fn = theano.function(inputs, list(outs) + list(grads) + tgrads,
                                mode=theano.Mode(linker="py", optimizer="fast_compile"),
                                on_unused_input="ignore")
    dh = rng.randn(4, 3, 3)
    got = c_fn(x, mask, *values, dh)
    want = py_fn(x, mask, *values, dh)
    for k, (a, b) in enumerate(zip(got, want)):
        _close(a, b, "output %d" % k)
    # T.grad of sum(H * P) is the grad Op applied to dH = P
    again = c_fn(x, mask, *values, projection)
    for a, b in zip(again[10:], again[4:9]):
        _close(a, b, "T.grad against the grad Op")


def test_bad_input_is_an_error():
    from lstm_text.speed import fast_graph
    from lstm_text.speed import fast_op
    rng = numpy.random.RandomState(3)
    x, mask, values = _op_inputs(rng)
    with theano.change_flags(floatX="float64"):
        variables = [T.matrix(), T.matrix(), T.vector(), T.matrix(), T.matrix()]
        xv, mv = T.lmatrix(), T.matrix()
        f = fast_graph.function([xv, mv] + variables,
                               fast_op.lstm_recurrence(xv, mv, *variables)[0])
    f(x, mask, *values)
    bad = x.copy()
    bad[2, 1] = 6                                   # n_in is 6
    with pytest.raises(IndexError, match="outside"):
        f(bad, mask, *values)
    with pytest.raises(ValueError, match="inconsistent shapes"):
        f(x, mask[:, :2], *values)
    with pytest.raises(TypeError):
        fast_op.lstm_recurrence(T.matrix(), mask, *variables)


def test_float32_is_close_to_float64():
    """The float32 C code (what training runs) against the float64 NumPy loops."""
    from lstm_text.speed import fast_graph, fast_op, numpy_lstm
    rng = numpy.random.RandomState(11)
    x, mask, values = _op_inputs(rng, steps=7, batch=3, n_in=6, n=8)
    dh = rng.randn(7, 3, 8)
    with theano.change_flags(floatX="float32"):
        variables = [T.fmatrix(), T.fmatrix(), T.fvector(), T.fmatrix(), T.fmatrix()]
        xv, mv, dHv = T.lmatrix(), T.fmatrix(), T.ftensor3()
        outs = fast_op.lstm_recurrence(xv, mv, *variables)
        grads = fast_op.lstm_recurrence_grad(xv, mv, variables[0], variables[1],
                                                  variables[3], variables[4], *outs, dHv)
        f = fast_graph.function([xv, mv] + variables + [dHv], list(outs) + list(grads[:5]))
    got = f(x, mask.astype("float32"), *[v.astype("float32") for v in values],
            dh.astype("float32"))
    forward = numpy_lstm.forward(x, mask, *values)
    want = list(forward) + list(numpy_lstm.backward(
        x, mask, values[0], values[1], values[3], values[4], *forward, dh)[:5])
    for k, (a, b) in enumerate(zip(got, want)):
        assert a.dtype == numpy.float32
        numpy.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * numpy.abs(b).max(),
                                      err_msg="output %d" % k)


def test_softmax_nll():
    """SoftmaxNll: C against its NumPy perform() and the definition, and verify_grad."""
    from lstm_text.speed import fast_graph
    from lstm_text.speed import fast_op
    rng = numpy.random.RandomState(9)
    R, K = 13, 7
    E, b = rng.randn(R, K) * 2, rng.randn(K)
    targets = rng.randint(0, K, size=R).astype("int64")
    weights = rng.rand(R) / 4
    weights[[2, 5, 6]] = 0                           # padding rows
    with theano.change_flags(floatX="float64"):
        Ev, bv, tv, wv = T.matrix(), T.vector(), T.lvector(), T.vector()
        outs = fast_op.softmax_nll(Ev, bv, tv, wv)
        c_fn = fast_graph.function([Ev, bv, tv, wv], list(outs))
        py_fn = theano.function([Ev, bv, tv, wv], list(outs),
                                mode=theano.Mode(linker="py", optimizer="fast_compile"))
        got, want = c_fn(E, b, targets, weights), py_fn(E, b, targets, weights)
        e = E + b
        log_p = e - numpy.log(numpy.exp(e).sum(axis=1, keepdims=True))
        _close(got[0], -(weights * log_p[numpy.arange(R), targets]).sum(), "cost")
        for k, (a, w) in enumerate(zip(got, want)):
            _close(a, w, "output %d" % k)
        theano.gradient.verify_grad(
            lambda E_, b_: fast_op.softmax_nll(E_, b_, targets, weights)[0], [E, b],
            rng=rng, abs_tol=1e-6, rel_tol=1e-6)
        with pytest.raises(IndexError, match="outside"):
            c_fn(E, b, targets + K, weights)
