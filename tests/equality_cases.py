"""Tiny sizes, padded batches and random weights shared by the graph-equality tests
(tests/test_fast_graph.py, tests/test_fast_op.py): each compares an implementation of the
notebook's model with the notebook's own graph on these."""
import numpy

N_IN, N_H, BATCH, STEPS = 7, 5, 4, 6
RTOL = 1e-10
MAX_NORM = 0.5      # small enough that the notebook's gradient clipping is active here


def padded(rng, lengths, steps):
    """(time, batch) int64 characters and a 0/1 mask, right-padded with 0 as Fuel pads."""
    x = rng.randint(0, N_IN, size=(steps, len(lengths))).astype("int64")
    mask = numpy.zeros((steps, len(lengths)))
    for column, length in enumerate(lengths):
        mask[:length, column] = 1.
        x[length:, column] = 0
    return x, mask


def random_weights(rng):
    """The notebook's 14 parameters, random and large enough that every term matters."""
    shapes = ([(N_H, N_IN), (N_IN,)] + [(N_IN, N_H)] * 4 + [(N_H, N_H)] * 4 + [(N_H,)] * 4)
    return [rng.randn(*shape) * 0.5 for shape in shapes]


def faithful_graph():
    """The notebook's graph in float64 and a function of a batch giving its cost, its
    (clipped) gradients, then the raw ones (to see that clipping acts). Compiled in
    FAST_COMPILE mode: Theano's Python implementations, an independent reference, and 3x
    quicker to build. (Import lstm_text.environment before this module's callers import
    theano, as the test modules do.)"""
    import theano
    from lstm_text import notebook_model
    with theano.change_flags(floatX="float64", mode="FAST_COMPILE"):
        faithful = notebook_model.build_graph(N_IN, N_H, batch_size=BATCH, learning_rate=0.1,
                                              max_grad_norm=MAX_NORM)
        function = theano.function([faithful.x, faithful.mask],
                                   [faithful.cost] + faithful.grads +
                                   theano.grad(faithful.cost, faithful.params))
    return faithful, function


def set_weights(faithful, fast, weights):
    """Give the notebook's graph `weights` and the fused graph the same numbers, fused."""
    from lstm_text.speed import fast_graph
    for param, value in zip(faithful.params, weights):
        param.set_value(value)
    for param, value in zip(fast.params, fast_graph.fuse_params(weights)):
        param.set_value(value)
