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
