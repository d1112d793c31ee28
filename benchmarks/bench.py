#!/usr/bin/env python
"""How fast the character LSTM learns per second of CPU: six implementations side by side.

    python benchmarks/bench.py            # full run (12-16 minutes on 2 cores)
    python benchmarks/bench.py --quick    # smoke run (about 1 minute): n_h 50, 1 thread

Rows (see benchmarks/README.md for the discussion):
  (a) faithful   the notebook's graph (notebook_model.build_graph), compiled as the notebook does
  (b) fast       the optimised Theano graph of the same model (lstm_text/speed/fast_graph.py)
  (c) torch      PyTorch nn.LSTM + Linear + masked cross-entropy, SGD (skipped without torch)
  (d) numpy      a hand-written NumPy forward/backward with fused gates (lstm_text/speed/
                 numpy_lstm.py: NumpyLstm, the loops that fast_op's perform() runs too)
  (f) C op      the same model with the whole recurrence in one C Op per direction
                 (lstm_text/speed/fast_op.py: LstmRecurrence, LstmRecurrenceGrad, SoftmaxNll)
  (e) ceiling    the model's GEMMs alone: per step the (B x n)(n x 4n) forward product and
                 the (B x 4n)(4n x n) backward one, dU = H^T dZ over all steps, and the three
                 output-layer products (see CeilingNumpy). Measured through NumPy's own BLAS
                 (e numpy) and through Theano functions of just those dots, i.e. Theano's
                 linked BLAS (e theano).
Every training row does full SGD steps (forward, backward, update) on the same random
batches: batch 100, 150 time steps, n_in 60 characters, sentence lengths drawn from the
bundled Austen corpus (mask with varying lengths, padded like Fuel pads). Speeds are in
characters per second: "real" counts the characters under the mask (mask.sum()),
"computed" counts batch x time (all implementations compute the padding too).

Each thread count runs in a subprocess of its own, with OMP_NUM_THREADS,
OPENBLAS_NUM_THREADS and MKL_NUM_THREADS (and torch.set_num_threads) set before any import;
inside it the implementations' timed steps are interleaved (a b c d e a b ...) so that all
rows of a size see the same background load; peak memory is that subprocess's ru_maxrss.
Compile times are measured in subprocesses with a fresh, empty LSTM_TEXT_COMPILEDIR (cold)
and again with it filled (warm). The BLAS comparison reruns (b) and (e theano) with Theano
linked to other BLAS libraries.
Results: benchmarks/results/bench-<date>.{json,md,png} and latest.md / latest.png.

The code is the package lstm_text.speed.benchmark (src/lstm_text/speed/benchmark/): workloads,
implementations (the rows: NumpyLstm from lstm_text.speed.numpy_lstm, CeilingNumpy, ...),
measure, report and main; this file is its entry point, and the subprocesses run it again.
"""
import sys

from lstm_text import blas_library

blas_library.load_numpy()   # before anything imports numpy: its OpenBLAS with the CPU's kernel
from lstm_text.speed.benchmark.main import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
