"""The workload every implementation trains on: sizes, seeds, padded batches, initial weights.

One place for them, so that all rows compute the same thing from the same starting point.
"""
import numpy

from lstm_text.paths import REPO  # the one place that knows the repository

N_IN, BATCH, STEPS, LEARNING_RATE = 60, 100, 150, 0.1
SEED = 2015
N_BATCHES = 3                        # distinct batches, used in turn
GEN_CHARS = 500                      # characters sampled per generation measurement


def sentence_lengths():
    """Sentence lengths (characters + end of line) of the bundled corpus, or None."""
    import gzip
    path = REPO / "data" / "austen_train.txt.gz"
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            return numpy.array([len(line) for line in handle])
    except OSError:
        return None


def make_batches(n_batches=N_BATCHES, seed=SEED, n_in=N_IN, batch=BATCH, steps=STEPS):
    """[(x, mask)]: x (time, batch) int64 ids, mask (time, batch) float32, right-padded.

    Lengths are real sentence lengths (truncated at `steps`); one sentence per batch has
    the full length, as Fuel pads a batch to its longest sentence.
    """
    rng = numpy.random.RandomState(seed)
    corpus = sentence_lengths()
    out = []
    for _ in range(n_batches):
        if corpus is not None:
            lengths = numpy.minimum(rng.choice(corpus, size=batch), steps)
        else:
            lengths = numpy.clip(rng.normal(95, 40, size=batch).astype(int), 5, steps)
        lengths[rng.randint(batch)] = steps
        mask = (numpy.arange(steps)[:, None] < lengths[None, :]).astype("float32")
        x = rng.randint(0, n_in, size=(steps, batch)).astype("int64")
        x[mask == 0] = 0
        out.append((x, mask))
    return out


def initial_weights(n_in, n_h, seed=SEED, dtype="float32"):
    """Fused weights [W_out, b_out, W, U, b], random (sd 0.1), shared by all implementations."""
    rng = numpy.random.RandomState(seed + n_h)
    shapes = [(n_h, n_in), (n_in,), (n_in, 4 * n_h), (n_h, 4 * n_h), (4 * n_h,)]
    return [(rng.randn(*shape) * 0.1).astype(dtype) for shape in shapes]


LARGE_GEMM = 2048                    # n of the n x n x n product that measures a BLAS's peak


def gemm_flops(n_h, n_in=N_IN, batch=BATCH, steps=STEPS):
    """The floating-point operations of the GEMMs in one training step (the ceiling's, (e)).

    Per time step h.U and dz.U^T, (B x n)(n x 4n) each; the weight gradient H^T dZ over all
    steps; the output layer's three products over the predicted steps. 2 FLOPs per
    multiply-add. The character lookup is not a product in the model and is not counted.
    """
    rows, predicted = steps * batch, (steps - 1) * batch
    recurrent = 2 * steps * 2 * batch * n_h * 4 * n_h + 2 * n_h * rows * 4 * n_h
    output = 3 * 2 * predicted * n_h * n_in
    return recurrent + output
