"""lstm_text.speed.fast_graph computes the notebook's model: same cost, same gradients.

Both graphs are built in float64 on tiny sizes (the notebook's in FAST_COMPILE mode, i.e.
Theano's Python implementations; the fast one compiled as it runs), given the same random
weights (mapped with fuse_params) and the same padded batch; cost, every gradient (with the
notebook's gradient clipping active), the SGD update and single_step must agree to 1e-10
relative. The hand-written NumPy LSTM (lstm_text.speed.numpy_lstm, the benchmark's row (d) and
the one-C-Op model's perform()) is checked against the fast graph the same way. No timing here: speed is the benchmark's job (make bench).
"""
import numpy
import pytest

from lstm_text import environment  # noqa: F401  (before theano)
import theano

from equality_cases import (BATCH, MAX_NORM, N_H, N_IN, RTOL, STEPS, faithful_graph, padded,
                             random_weights, set_weights)


def _batch(rng):
    """A padded batch like Fuel's, with lengths from full to one character."""
    return padded(rng, [STEPS, STEPS - 2, 2, 1], STEPS)


@pytest.fixture(scope="module")
def graphs():
    from lstm_text.speed import fast_graph
    # The notebook's graph in FAST_COMPILE mode (see equality_cases); the fast graph as it runs.
    faithful, f_faithful = faithful_graph()
    with theano.change_flags(floatX="float64"):
        # Only single_step compiled: the training functions are update_model's expressions,
        # compiled below into one function (Theano's optimiser is the slow part here).
        fast = fast_graph.build_fast_graph(N_IN, N_H, batch_size=BATCH, learning_rate=0.1,
                                          max_grad_norm=MAX_NORM, functions=("single_step",))
        f_fast = fast_graph.function([fast.x, fast.mask], [fast.cost] + fast.grads +
                                    [new for _, new in fast.updates])
    initial_faithful = [p.get_value() for p in faithful.params]
    initial_fast = [p.get_value() for p in fast.params]
    rng = numpy.random.RandomState(1234)
    weights = random_weights(rng)
    set_weights(faithful, fast, weights)
    x, mask = _batch(rng)
    out_faithful = f_faithful(x, mask)
    n_params = len(faithful.params)
    out_fast = f_fast(x, mask)
    return dict(faithful=faithful, fast=fast, weights=weights, x=x, mask=mask,
                initial_faithful=initial_faithful, initial_fast=initial_fast,
                out_faithful=out_faithful[:1 + n_params], raw_grads=out_faithful[1 + n_params:],
                out_fast=out_fast[:1 + len(fast.params)],
                updated_fast=out_fast[1 + len(fast.params):])


def _close(actual, expected):
    actual, expected = numpy.asarray(actual), numpy.asarray(expected)
    assert actual.shape == expected.shape
    scale = max(numpy.abs(expected).max(), 1e-300)
    numpy.testing.assert_allclose(actual, expected, rtol=RTOL, atol=RTOL * scale)


def test_graphs_are_float64(graphs):
    assert graphs["fast"].cost.dtype == "float64"
    assert all(p.dtype == "float64" for p in graphs["fast"].params)
    assert graphs["faithful"].cost.dtype == "float64"


def test_fuse_and_unfuse_are_inverse(graphs):
    from lstm_text.speed import fast_graph
    fused = fast_graph.fuse_params(graphs["weights"])
    assert [w.shape for w in fused] == [(N_H, N_IN), (N_IN,), (N_IN, 4 * N_H),
                                        (N_H, 4 * N_H), (4 * N_H,)]
    for back, original in zip(fast_graph.unfuse_params(fused), graphs["weights"]):
        numpy.testing.assert_array_equal(back, original)


def test_same_initial_weights_for_a_seed(graphs):
    """Built with the same seed, the fast graph starts from the notebook's weights."""
    from lstm_text.speed import fast_graph
    expected = fast_graph.fuse_params(graphs["initial_faithful"])
    for value, want in zip(graphs["initial_fast"], expected):
        numpy.testing.assert_array_equal(value, want)


def test_gradient_clipping_is_exercised(graphs):
    """The compared gradients are the clipped ones (the notebook's max_grad_norm)."""
    raw_norm = numpy.sqrt(sum((g ** 2).sum() for g in graphs["raw_grads"]))
    clipped_norm = numpy.sqrt(sum((g ** 2).sum() for g in graphs["out_faithful"][1:]))
    assert raw_norm > MAX_NORM
    assert abs(clipped_norm - MAX_NORM) < 1e-12


def test_equal_cost(graphs):
    cost_fast, cost_faithful = graphs["out_fast"][0], graphs["out_faithful"][0]
    assert float(cost_faithful) > 0.1              # a real cost, not a degenerate zero
    _close(cost_fast, cost_faithful)


def test_equal_gradients(graphs):
    from lstm_text.speed import fast_graph
    grads_faithful = graphs["out_faithful"][1:]
    grads_fast = graphs["out_fast"][1:]
    # Every faithful gradient is non-trivial (the padding and masks are exercised) ...
    assert all(numpy.abs(g).max() > 1e-6 for g in grads_faithful)
    # ... and the fast gradients, mapped back to the notebook's layout, are the same.
    for name, g_fast, g_faithful in zip(
            ["W_out", "b_out", "W_i", "W_f", "W_c", "W_o", "U_i", "U_f", "U_c", "U_o",
             "b_i", "b_f", "b_c", "b_o"],
            fast_graph.unfuse_params(grads_fast), grads_faithful):
        try:
            _close(g_fast, g_faithful)
        except AssertionError as error:
            raise AssertionError("gradient of %s differs: %s" % (name, error)) from None


def test_padding_does_not_change_the_cost(graphs):
    """Changing characters under the mask changes nothing (notebook's graph and fast one)."""
    x, mask = graphs["x"].copy(), graphs["mask"]
    x[mask == 0] = N_IN - 1
    _close(graphs["faithful"].evaluate_model(x, mask), graphs["out_fast"][0])


def test_update_model_is_one_sgd_step(graphs):
    """The fast graph's updates give the notebook's update_model step (clipped SGD)."""
    from lstm_text.speed import fast_graph
    faithful = graphs["faithful"]
    faithful.update_model(graphs["x"], graphs["mask"])
    after = [p.get_value() for p in faithful.params]
    for param, value in zip(faithful.params, graphs["weights"]):
        param.set_value(value)                      # leave the fixture as it was
    for got, expected in zip(fast_graph.unfuse_params(graphs["updated_fast"]), after):
        _close(got, expected)


def test_single_step_matches(graphs):
    fast, faithful = graphs["fast"], graphs["faithful"]
    rng = numpy.random.RandomState(5)
    h, c = rng.randn(N_H), rng.randn(N_H)
    for got, expected in zip(fast.single_step(3, h, c), faithful.single_step(3, h, c)):
        _close(got, expected)


def test_numpy_reference_matches_the_fast_graph(graphs):
    """The benchmark's hand-written NumPy LSTM (d) has the same cost and gradients."""
    from lstm_text.speed import fast_graph
    from lstm_text.speed.numpy_lstm import NumpyLstm
    fused = fast_graph.fuse_params(graphs["weights"])
    model = NumpyLstm([w.astype("float64") for w in fused], learning_rate=0.1,
                      batch_size=BATCH)
    cost, grads = model.cost_and_grads(graphs["x"], graphs["mask"])
    _close(cost, graphs["out_fast"][0])
    # NumPyLstm does not clip: compare with the notebook's raw gradients.
    for got, expected in zip(fast_graph.unfuse_params(grads), graphs["raw_grads"]):
        _close(got, expected)
