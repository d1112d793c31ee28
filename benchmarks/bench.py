#!/usr/bin/env python
"""How fast the character LSTM learns per second of CPU: five implementations side by side.

    python benchmarks/bench.py            # full run (12-16 minutes on 2 cores)
    python benchmarks/bench.py --quick    # smoke run (about 1 minute): n_h 50, 1 thread

Rows (see benchmarks/README.md for the discussion):
  (a) faithful   the notebook's graph (notebook_model.build_graph), compiled as the notebook does
  (b) fast       the optimised Theano graph of the same model (notebooks/fast_graph.py)
  (c) torch      PyTorch nn.LSTM + Linear + masked cross-entropy, SGD (skipped without torch)
  (d) numpy      a hand-written NumPy forward/backward with fused gates (NumpyLstm below)
  (f) C op      the same model with the whole recurrence in one C Op per direction
                 (notebooks/fast_op.py: LstmRecurrence, LstmRecurrenceGrad, SoftmaxNll)
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
rows of a size see the same background load; peak memory is that subprocess's ru_maxrss. Compile times are measured in subprocesses
with a fresh, empty LSTM_TEXT_COMPILEDIR (cold) and again with it filled (warm). The
BLAS comparison reruns (b) and (e theano) with Theano linked to other BLAS libraries.
Results: benchmarks/results/bench-<date>.{json,md,png} and latest.md / latest.png.
"""
import argparse
import datetime
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
RESULTS = REPO / "benchmarks" / "results"
N_IN, BATCH, STEPS, LEARNING_RATE = 60, 100, 150, 0.1
SEED = 2015
N_BATCHES = 3                        # distinct batches, used in turn
GEN_CHARS = 500                      # characters sampled per generation measurement

IMPLS = ["a", "b", "c", "d", "e", "f"]
LABELS = {
    "a": "(a) faithful Theano",
    "b": "(b) fast Theano",
    "c": "(c) PyTorch nn.LSTM",
    "d": "(d) NumPy by hand",
    "e_numpy": "(e) GEMM ceiling, NumPy BLAS",
    "e_theano": "(e) GEMM ceiling, Theano BLAS",
    "f": "(f) Theano, recurrence in one C Op",
}
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
OMP_WAIT_POLICY = os.environ.get("OMP_WAIT_POLICY", "PASSIVE")
"""For every subprocess, unless set already. With the default (spinning) policy, PyTorch's
OpenMP threads collapse when other jobs share the cores: 2 threads on this 2-core machine
with ~1 core busy ran at 2.4k characters/s instead of 164k (n_h 50). PASSIVE makes waiting
threads sleep; it is what a shared machine needs, and it is the only OpenMP runtime here
(Theano's OpenBLAS and NumPy's use pthreads)."""


# -- data -------------------------------------------------------------------------------------

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


# -- (d) the hand-written NumPy model ----------------------------------------------------------

class NumpyLstm:
    """The notebook's model in NumPy, fused gates [i|f|c|o], forward and backward by hand.

    Parameters are the fused values [W_out, b_out, W, U, b] (fast_graph.fuse_params).
    tests/test_fast_graph.py checks cost and gradients against the Theano graphs.
    """

    def __init__(self, fused_values, learning_rate=LEARNING_RATE):
        self.params = [numpy.array(value) for value in fused_values]
        self.learning_rate = learning_rate

    def cost_and_grads(self, x, mask, batch_size=BATCH):
        w_out, b_out, w, u, b = self.params
        dtype = w.dtype
        one = dtype.type(1)
        steps, batch = x.shape
        n, n_in = u.shape[0], w.shape[0]
        mask = mask.astype(dtype)
        # Forward: the input projection for all steps at once, then the recurrence.
        xw = w.take(x.ravel(), axis=0).reshape(steps, batch, 4 * n)
        xw += b
        H = numpy.empty((steps, batch, n), dtype)
        C = numpy.empty_like(H)
        TC = numpy.empty_like(H)
        A = numpy.empty((steps, batch, 4 * n), dtype)
        h = numpy.zeros((batch, n), dtype)
        c = numpy.zeros((batch, n), dtype)
        for t in range(steps):
            z = xw[t]
            z += h.dot(u)
            a = A[t]
            numpy.negative(z, out=a)
            numpy.exp(a, out=a)
            a += one
            numpy.reciprocal(a, out=a)                      # sigmoid for i, f, o
            numpy.tanh(z[:, 2 * n:3 * n], out=a[:, 2 * n:3 * n])
            m = mask[t][:, None]
            c_new = a[:, n:2 * n] * c + a[:, :n] * a[:, 2 * n:3 * n]
            c = m * c_new + (one - m) * c
            numpy.tanh(c, out=TC[t])
            h = m * (a[:, 3 * n:] * TC[t]) + (one - m) * h
            H[t], C[t] = h, c
        # Output layer: softmax cross-entropy of x[1:] given h[:-1], weighted by mask[1:].
        h2 = H[:-1].reshape(-1, n)
        energy = h2.dot(w_out) + b_out
        energy -= energy.max(axis=1, keepdims=True)
        p = numpy.exp(energy)
        p /= p.sum(axis=1, keepdims=True)
        targets = x[1:].ravel()
        weights = mask[1:].ravel()
        rows = numpy.arange(targets.size)
        cost = -(numpy.log(p[rows, targets]) * weights).sum() / batch_size
        d_energy = p
        d_energy[rows, targets] -= one
        d_energy *= (weights / dtype.type(batch_size))[:, None]
        d_w_out = h2.T.dot(d_energy)
        d_b_out = d_energy.sum(axis=0)
        dH = numpy.zeros_like(H)
        dH[:-1] = d_energy.dot(w_out.T).reshape(steps - 1, batch, n)
        # Backward through time: only dh, dc and dZ in the loop.
        dZ = numpy.empty_like(A)
        dh_next = numpy.zeros((batch, n), dtype)
        dc_next = numpy.zeros((batch, n), dtype)
        zeros = numpy.zeros((batch, n), dtype)
        for t in range(steps - 1, -1, -1):
            a = A[t]
            i, f, g, o = a[:, :n], a[:, n:2 * n], a[:, 2 * n:3 * n], a[:, 3 * n:]
            m = mask[t][:, None]
            c_prev = C[t - 1] if t else zeros
            tc = TC[t]
            dh = dH[t] + dh_next
            dhm = m * dh
            dc = dc_next + dhm * o * (one - tc * tc)
            dcm = m * dc
            dz = dZ[t]
            dz[:, :n] = dcm * g * i * (one - i)
            dz[:, n:2 * n] = dcm * c_prev * f * (one - f)
            dz[:, 2 * n:3 * n] = dcm * i * (one - g * g)
            dz[:, 3 * n:] = dhm * tc * o * (one - o)
            dh_next = (one - m) * dh + dz.dot(u.T)
            dc_next = (one - m) * dc + dcm * f
        dZ2 = dZ.reshape(-1, 4 * n)
        h_prev = numpy.concatenate([zeros[None], H[:-1]]).reshape(-1, n)
        d_u = h_prev.T.dot(dZ2)
        onehot = (x.reshape(-1, 1) == numpy.arange(n_in)).astype(dtype)
        d_w = onehot.T.dot(dZ2)
        d_b = dZ2.sum(axis=0)
        return cost, [d_w_out, d_b_out, d_w, d_u, d_b]

    def update_model(self, x, mask):
        cost, grads = self.cost_and_grads(x, mask)
        lr = self.params[0].dtype.type(self.learning_rate)
        for param, grad in zip(self.params, grads):
            param -= lr * grad
        return cost


# -- the implementations, as uniform objects: .update(x, mask) -> cost ------------------------

def _import_theano():
    if str(NOTEBOOKS) not in sys.path:
        sys.path.insert(0, str(NOTEBOOKS))
    from lstm_text import environment  # noqa: F401
    import theano
    return theano


class FaithfulImpl:
    name = "a"

    def __init__(self, n_h):
        _import_theano()
        from lstm_text import fast_graph
        from lstm_text import notebook_model
        self.graph = notebook_model.build_graph(N_IN, n_h, BATCH, LEARNING_RATE, SEED)
        for param, value in zip(self.graph.params,
                                fast_graph.unfuse_params(initial_weights(N_IN, n_h))):
            param.set_value(numpy.ascontiguousarray(value))
        self.update = self.graph.update_model
        self.single_step = self.graph.single_step


class FastImpl:
    name = "b"

    def __init__(self, n_h):
        _import_theano()
        from lstm_text import fast_graph
        self.graph = fast_graph.build_fast_graph(N_IN, n_h, BATCH, LEARNING_RATE, SEED)
        for param, value in zip(self.graph.params, initial_weights(N_IN, n_h)):
            param.set_value(value)
        self.update = self.graph.update_model
        self.single_step = self.graph.single_step


class OpImpl:
    """(f): fast_op.build_op_graph, the recurrence in one C Op per direction."""
    name = "f"

    def __init__(self, n_h):
        _import_theano()
        from lstm_text import fast_op
        self.graph = fast_op.build_op_graph(N_IN, n_h, BATCH, LEARNING_RATE, SEED)
        for param, value in zip(self.graph.params, initial_weights(N_IN, n_h)):
            param.set_value(value)
        self.update = self.graph.update_model
        self.single_step = self.graph.single_step


class TorchImpl:
    name = "c"

    def __init__(self, n_h, threads):
        import torch
        torch.set_num_threads(threads)
        self.torch = torch
        self.lstm = torch.nn.LSTM(N_IN, n_h)
        self.linear = torch.nn.Linear(n_h, N_IN)
        w_out, b_out, w, u, b = initial_weights(N_IN, n_h)
        with torch.no_grad():                 # same weights; torch's gate order is i, f, g, o
            self.lstm.weight_ih_l0.copy_(torch.from_numpy(w.T.copy()))
            self.lstm.weight_hh_l0.copy_(torch.from_numpy(u.T.copy()))
            self.lstm.bias_ih_l0.copy_(torch.from_numpy(b))
            self.lstm.bias_hh_l0.zero_()
            self.linear.weight.copy_(torch.from_numpy(w_out.T.copy()))
            self.linear.bias.copy_(torch.from_numpy(b_out))
        params = list(self.lstm.parameters()) + list(self.linear.parameters())
        self.optimizer = torch.optim.SGD(params, lr=LEARNING_RATE)

    def update(self, x, mask):
        torch = self.torch
        x_t = torch.from_numpy(x)
        inputs = torch.nn.functional.one_hot(x_t, N_IN).to(torch.float32)
        weights = torch.from_numpy(mask[1:]).reshape(-1)
        self.optimizer.zero_grad(set_to_none=True)
        hidden, _ = self.lstm(inputs)
        logits = self.linear(hidden[:-1]).reshape(-1, N_IN)
        nll = torch.nn.functional.cross_entropy(logits, x_t[1:].reshape(-1), reduction="none")
        cost = (nll * weights).sum() / BATCH
        cost.backward()
        self.optimizer.step()
        return cost.item()


class NumpyImpl:
    name = "d"

    def __init__(self, n_h):
        self.model = NumpyLstm(initial_weights(N_IN, n_h))
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
        theano = _import_theano()
        from lstm_text import fast_graph
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


# -- measuring ----------------------------------------------------------------------------------

def _reset_peak_rss():
    """Reset the kernel's peak-RSS counter (VmHWM) of this process, where Linux allows it."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _peak_rss_mb():
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def _stats(values):
    values = sorted(values)
    q = numpy.percentile(values, [25, 50, 75])
    return {"median": float(q[1]), "min": float(values[0]), "max": float(values[-1]),
            "q1": float(q[0]), "q3": float(q[2]), "n": len(values)}


def time_generation(single_step, n_h, n_chars=GEN_CHARS, reps=3):
    """Characters per second of the notebook's sampling loop around single_step."""
    from lstm_text import notebook_model
    dtype = numpy.float32
    rates = []
    for rep in range(reps + 1):
        rng = numpy.random.RandomState(rep)
        h = numpy.zeros((n_h,), dtype)
        c = numpy.zeros((n_h,), dtype)
        char = 0
        start = time.perf_counter()
        for _ in range(n_chars):
            prediction, h, c = single_step(char, h.flatten(), c.flatten())
            char = notebook_model.sample_character(prediction, rng)
            char = min(char, N_IN - 1)
        elapsed = time.perf_counter() - start
        if rep:                                   # the first run is the warm-up
            rates.append(n_chars / elapsed)
    return rates


def _rss_mb():
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2.0 ** 20
    except (OSError, ValueError):
        return None


def expand_impls(spec):
    """'a,b,c,d,e' -> the row names ('e' is the two ceilings)."""
    names = []
    for name in spec.split(","):
        names += ["e_numpy", "e_theano"] if name == "e" else [name] if name else []
    return names


def worker(args):
    """One subprocess, one thread count: build every implementation for a size, then time
    their steps in turn (a b c d e a b c ...), so that all rows of a size see the same
    background load; then the next size."""
    threads = args.threads
    names = expand_impls(args.impl)
    out = {"impls": names, "threads": threads, "sizes": {}, "skipped": {},
           "load_before": os.getloadavg()}
    if "c" in names:
        try:
            import torch
            torch.set_num_threads(threads)
        except ImportError as error:
            out["skipped"]["c"] = "torch is not installed (%s)" % error
            names.remove("c")
    if set(names) & {"a", "b", "e_theano", "f"}:
        _import_theano()                    # imports are not counted as an implementation's
        from lstm_text import fast_graph  # noqa: F401     # memory below
        from lstm_text import notebook_model  # noqa: F401
    batches = make_batches()
    real = [float(mask.sum()) for _, mask in batches]
    for n_h in args.sizes:
        impls, rows = {}, {}
        for name in names:                  # build, one warm-up step, memory it added
            before = _rss_mb()
            _reset_peak_rss()
            start = time.perf_counter()
            impls[name] = make_impl(name, n_h, threads)
            build = time.perf_counter() - start
            cost = float(impls[name].update(*batches[0]))
            peak = _peak_rss_mb()
            rows[name] = {"build_s": build, "first_cost": cost, "costs": [cost],
                          "rss_added_mb": peak - before if peak and before else None,
                          "times": [], "cpu_times": [], "real": []}
        for rep in range(args.reps):        # the timed steps, interleaved
            x, mask = batches[(rep + 1) % len(batches)]
            for name in names:
                cpu_start, start = time.process_time(), time.perf_counter()
                cost = float(impls[name].update(x, mask))
                rows[name]["times"].append(time.perf_counter() - start)
                rows[name]["cpu_times"].append(time.process_time() - cpu_start)
                rows[name]["costs"].append(cost)
                rows[name]["real"].append(real[(rep + 1) % len(batches)])
        for name in names:
            row = rows[name]
            times, cpu_times = row.pop("times"), row.pop("cpu_times")
            real_chars = row.pop("real")
            row.update({
                "step_s": _stats(times),
                "step_cpu_s": _stats(cpu_times),
                "real_chars_per_s": _stats([r / t for r, t in zip(real_chars, times)]),
                "computed_chars_per_s": _stats([STEPS * BATCH / t for t in times]),
                "computed_chars_per_cpu_s": _stats([STEPS * BATCH / t for t in cpu_times]),
                "load": os.getloadavg(),
            })
            if hasattr(impls[name], "single_step") and not args.no_generation:
                row["generation_chars_per_s"] = _stats(
                    time_generation(impls[name].single_step, n_h))
            out["sizes"].setdefault(str(n_h), {})[name] = row
        del impls
    out["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    out["load_after"] = os.getloadavg()
    if "theano" in sys.modules:
        theano = sys.modules["theano"]
        out["theano_blas"] = theano.config.blas.ldflags or "(none: NumPy C-API fallback)"
    _write(args.result_file, out)


def compile_worker(args):
    """One subprocess: build (a) or (b) for n_h 50 and report the seconds it took."""
    start = time.perf_counter()
    theano = _import_theano()
    imported = time.perf_counter() - start
    start = time.perf_counter()
    make_impl(args.impl, 50, 1)
    _write(args.result_file, {"impl": args.impl, "import_s": imported,
                              "build_s": time.perf_counter() - start,
                              "compiledir": theano.config.compiledir,
                              "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0})


def gradient_check():
    """(d) against (b) once, on a small float64 case: cost and gradients to 1e-10."""
    theano = _import_theano()
    from lstm_text import fast_graph
    n_in, n_h, batch = 7, 5, 4
    rng = numpy.random.RandomState(3)
    weights = [rng.randn(*shape) * 0.5 for shape in
               [(n_h, n_in), (n_in,), (n_in, 4 * n_h), (n_h, 4 * n_h), (4 * n_h,)]]
    x = rng.randint(0, n_in, size=(6, batch)).astype("int64")
    mask = (numpy.arange(6)[:, None] < numpy.array([6, 4, 2, 1])[None]).astype("float64")
    with theano.change_flags(floatX="float64"):
        graph = fast_graph.build_fast_graph(n_in, n_h, batch_size=batch, functions=())
        f = fast_graph.function([graph.x, graph.mask], [graph.cost] + graph.grads)
    for param, value in zip(graph.params, weights):
        param.set_value(value)
    expected = f(x, mask)
    cost, grads = NumpyLstm(weights).cost_and_grads(x, mask, batch_size=batch)
    worst = max(float(numpy.max(numpy.abs(got - want)) / max(numpy.max(numpy.abs(want)), 1e-300))
                for got, want in zip([cost] + grads, expected))
    return worst


def _write(path, data):
    Path(path).write_text(json.dumps(data, indent=1))


# -- the orchestrating process -----------------------------------------------------------------

def machine_info():
    info = {"python": sys.version.split()[0], "platform": platform.platform(),
            "cores": os.cpu_count(), "numpy": numpy.__version__}
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    config = numpy.__config__
    blas = getattr(config, "blas_opt_info", None) or getattr(config, "blas_ilp64_opt_info", {})
    info["numpy_blas"] = " ".join(sorted(set(blas.get("libraries", [])))) or "?"
    try:
        import importlib.metadata as metadata
        info["torch"] = metadata.version("torch")
    except Exception:  # noqa: BLE001
        info["torch"] = None
    return info


def run_subprocess(mode_args, threads, env_extra, timeout, label):
    """Run this script in a subprocess with the thread variables set; returns its JSON."""
    return run_subprocesses([(mode_args, threads, env_extra, timeout, label)])[0]


def run_subprocesses(jobs):
    """Run several such subprocesses at the same time; returns their JSON, in order.

    Their output goes to temporary files (Theano can print a lot while compiling); the
    tail of it is kept in the result when a subprocess fails.
    """
    running = []
    for mode_args, threads, env_extra, timeout, label in jobs:
        env = dict(os.environ)
        for var in THREAD_VARS:
            env[var] = str(threads)
        env["OMP_WAIT_POLICY"] = OMP_WAIT_POLICY
        env.update(env_extra)
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
            result_file = handle.name
        log = tempfile.TemporaryFile(mode="w+")
        cmd = [sys.executable, str(Path(__file__).resolve())] + mode_args + [
            "--threads", str(threads), "--result-file", result_file]
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
        running.append((proc, result_file, log, timeout, label, time.perf_counter()))
    ended = {}
    while len(ended) < len(running):                # note when each one ends
        for k, (proc, _, _, timeout, _, start) in enumerate(running):
            if k in ended:
                continue
            if proc.poll() is None and time.perf_counter() - start > timeout:
                proc.kill()
                proc.wait()
            if proc.poll() is not None:
                ended[k] = time.perf_counter()
        time.sleep(0.05)
    results = []
    for k, (proc, result_file, log, timeout, label, start) in enumerate(running):
        elapsed = ended[k] - start
        log.seek(0)
        tail = log.read()[-2000:]
        log.close()
        try:
            if elapsed > timeout:
                print("  %-46sTIMEOUT after %d s" % (label, timeout))
                results.append({"error": "timeout after %d s: %s" % (timeout, tail)})
            elif proc.returncode != 0:
                print("  %-46sFAILED (%.0f s)" % (label, elapsed))
                results.append({"error": "exit %d: %s" % (proc.returncode, tail)})
            else:
                data = json.loads(Path(result_file).read_text())
                print("  %-46s%.0f s" % (label, elapsed))
                data["wall_s"] = elapsed
                results.append(data)
        finally:
            Path(result_file).unlink(missing_ok=True)
    return results


MKL_DIRS = [Path(sys.prefix) / "lib", Path("/tmp/lstm-text-mkl/lib")]
"""Where to look for libmkl_rt.so (an unpacked `pip download mkl` wheel; see README)."""


def find_mkl():
    """Linker flags for an MKL runtime (libmkl_rt.so in MKL_DIRS), or None.

    Theano adds -Wl,-rpath for each -L directory itself. pip's mkl wheel only ships
    versioned names (libmkl_rt.so.3): `-lmkl_rt` needs a libmkl_rt.so link next to it.
    """
    for libdir in MKL_DIRS:
        if (libdir / "libmkl_rt.so").exists():
            return "-L%s -lmkl_rt" % libdir
    return None


def orchestrate(args):
    started = datetime.datetime.now()
    results = {"started": started.isoformat(timespec="seconds"), "quick": args.quick,
               "machine": machine_info(), "load_before": os.getloadavg(),
               "config": {"n_in": N_IN, "batch": BATCH, "steps": STEPS,
                          "learning_rate": LEARNING_RATE, "sizes": args.sizes,
                          "threads": args.threads, "reps": args.reps, "seed": SEED,
                          "blas_sizes": args.blas_sizes, "omp_wait_policy": OMP_WAIT_POLICY}}
    run_start = time.perf_counter()
    batches = make_batches()
    results["config"]["real_chars_per_batch"] = [float(m.sum()) for _, m in batches]
    print("lstm-text benchmark: %s, %s cores, load %s" % (
        results["machine"].get("cpu", "?"), results["machine"]["cores"],
        " ".join("%.2f" % v for v in results["load_before"])))
    print("batch %d x %d steps, n_in %d, sizes %s, threads %s, %d timed steps each"
          % (BATCH, STEPS, N_IN, args.sizes, args.threads, args.reps))

    if args.check:                     # tests/test_fast_graph.py checks this too
        check = run_subprocess(["--gradient-check"], 1, {}, 600,
                               "check: (d) NumPy against (b), float64")
        results["gradient_check"] = check
        if "worst_relative_error" in check:
            print("    worst relative difference %.1e" % check["worst_relative_error"])

    if not args.quick and not args.no_compile:
        print("compile time, n_h 50: fresh compile caches, (a) and (b) at the same time "
              "(one core each), then each again with its cache filled:")
        results["compile"] = {}
        caches = {impl: tempfile.mkdtemp(prefix="lstm-text-cold-") for impl in ("a", "b")}
        try:
            envs = {impl: {"LSTM_TEXT_COMPILEDIR": caches[impl]} for impl in caches}
            colds = run_subprocesses([(["--compile-worker", "--impl", impl], 1, envs[impl],
                                       1200, "%s cold" % LABELS[impl]) for impl in caches])
            for impl, cold in zip(caches, colds):
                warm = run_subprocess(["--compile-worker", "--impl", impl], 1, envs[impl],
                                      900, "%s warm" % LABELS[impl])
                results["compile"][impl] = {"cold": cold, "warm": warm}
        finally:
            for cache in caches.values():
                shutil.rmtree(cache, ignore_errors=True)

    print("training steps (all implementations in one subprocess per thread count, "
          "their steps interleaved):")
    results["runs"] = {}
    common = ["--sizes", ",".join(map(str, args.sizes)), "--reps", str(args.reps)]
    if args.no_generation:
        common.append("--no-generation")
    for threads in args.threads:
        label = "%s, %d thread%s" % (" ".join(args.impls), threads, "s" if threads > 1 else "")
        data = run_subprocess(["--worker", "--impl", ",".join(args.impls)] + common, threads,
                              {}, 3600, label)
        for name, reason in data.get("skipped", {}).items():
            print("    %s skipped: %s" % (LABELS.get(name, name), reason))
        results["runs"][str(threads)] = data

    if not args.quick and not args.no_blas:
        print("BLAS for Theano, 1 thread (rows b, e theano and f, n_h %s):" % args.blas_sizes)
        results["blas"] = {}
        choices = [("openblas (-lopenblas)", "-lopenblas"), ("none (NumPy C-API)", "none")]
        mkl = find_mkl()
        if mkl:
            choices.append(("mkl (pip mkl, -lmkl_rt)", mkl))
        else:
            results["blas_note"] = ("MKL: no libmkl_rt.so found (see benchmarks/README.md to "
                                    "include it)")
        blas_common = ["--sizes", args.blas_sizes, "--reps", str(args.reps), "--no-generation"]
        for name, flags in choices:
            env = {"LSTM_TEXT_BLAS": flags}
            if "mkl" in flags:
                env["MKL_THREADING_LAYER"] = "SEQUENTIAL"   # 1 thread; no libiomp5 needed
            results["blas"][name] = run_subprocess(["--worker", "--impl", "b,e,f"] + blas_common,
                                                   1, env, 1800, "b e, BLAS " + name)

    results["load_after"] = os.getloadavg()
    results["finished"] = datetime.datetime.now().isoformat(timespec="seconds")
    results["duration_s"] = time.perf_counter() - run_start
    table = markdown_report(results)
    save(results, table, args)
    print()
    print(table)


# -- the report ---------------------------------------------------------------------------------

def _row(results, impl, threads, n_h):
    run = results.get("runs", {}).get(str(threads), {})
    return run.get("sizes", {}).get(str(n_h), {}).get(impl)


def _fmt_rate(stats):
    if not stats:
        return "-"
    return "%s (%s-%s)" % (_k(stats["median"]), _k(stats["min"]), _k(stats["max"]))


def _k(value):
    if value >= 1e6:
        return "%.2fM" % (value / 1e6)
    if value >= 1e4:
        return "%.0fk" % (value / 1e3)
    if value >= 1e3:
        return "%.1fk" % (value / 1e3)
    return "%.0f" % value


def _has_impl(results, impl):
    """Whether any run of these results has a row for impl (older runs have no (f))."""
    runs = list(results.get("runs", {}).values()) + list(results.get("blas", {}).values())
    return any(impl in per_size for run in runs for per_size in run.get("sizes", {}).values())


def _training_rows(results):
    return ["a", "b", "c", "d", "e_numpy", "e_theano"] + (
        ["f"] if _has_impl(results, "f") else [])


def markdown_report(results):
    cfg, machine = results["config"], results["machine"]
    lines = ["# lstm-text benchmark, %s%s" % (results["started"],
                                              " (quick)" if results["quick"] else ""), ""]
    lines.append("Machine: %s, %s cores; Python %s, NumPy %s (BLAS: %s), torch %s. "
                 "Load average (1/5/15 min) before %s, after %s; run took %s." % (
                     machine.get("cpu", "?"), machine["cores"], machine["python"],
                     machine["numpy"], machine.get("numpy_blas", "?"), machine.get("torch"),
                     " ".join("%.2f" % v for v in results["load_before"]),
                     " ".join("%.2f" % v for v in results["load_after"]),
                     "%.1f min" % (results["duration_s"] / 60) if "duration_s" in results
                     else "?"))
    theano_blas = next((run.get("theano_blas") for run in results.get("runs", {}).values()
                        if run.get("theano_blas")), "?")
    lines.append("Theano BLAS: %s; OMP_WAIT_POLICY=%s. Batch %d x %d steps, n_in %d, SGD; "
                 "real characters per batch (mask sum) %s of %d computed. %d timed steps "
                 "after one warm-up; median (min-max)." % (
                     theano_blas, cfg.get("omp_wait_policy", "?"), cfg["batch"], cfg["steps"],
                     cfg["n_in"],
                                        "/".join("%.0f" % v for v in cfg["real_chars_per_batch"]),
                                        cfg["batch"] * cfg["steps"], cfg["reps"]))
    lines.append("")
    for threads in cfg["threads"]:
        lines.append("## Training, %d thread%s: characters per second, real (computed)"
                     % (threads, "s" if threads > 1 else ""))
        lines.append("")
        header = "| implementation | " + " | ".join("n_h %d" % n for n in cfg["sizes"]) + " |"
        lines += [header, "|---" * (len(cfg["sizes"]) + 1) + "|"]
        for impl in _training_rows(results):
            cells = []
            for n_h in cfg["sizes"]:
                row = _row(results, impl, threads, n_h)
                if row is None:
                    run = results.get("runs", {}).get(str(threads), {})
                    cells.append("skipped" if impl in run.get("skipped", {}) else
                                 ("error" if "error" in run else "-"))
                    continue
                cells.append("%s (%s)" % (_fmt_rate(row["real_chars_per_s"]),
                                          _k(row["computed_chars_per_s"]["median"])))
            lines.append("| %s | %s |" % (LABELS[impl], " | ".join(cells)))
        lines.append("")
        lines.append("Ratios of medians (computed characters per second; the CPU-time row "
                     "uses each process's CPU seconds, less sensitive to other jobs):")
        lines.append("")
        lines.append("| ratio | " + " | ".join("n_h %d" % n for n in cfg["sizes"]) + " |")
        lines.append("|---" * (len(cfg["sizes"]) + 1) + "|")
        op_ratios = [
            ("(f) / (c) PyTorch", "f", "c", "computed_chars_per_s"),
            ("(f) / (c) PyTorch, by CPU time", "f", "c", "computed_chars_per_cpu_s"),
            ("(f) / (b) fast", "f", "b", "computed_chars_per_s"),
            ("(f) / (e) ceiling, Theano BLAS", "f", "e_theano", "computed_chars_per_s"),
            ("(f) / (e) ceiling, NumPy BLAS", "f", "e_numpy", "computed_chars_per_s"),
        ] if _has_impl(results, "f") else []
        for label, num, den, key in [
                ("(b) / (c) PyTorch", "b", "c", "computed_chars_per_s"),
                ("(b) / (c) PyTorch, by CPU time", "b", "c", "computed_chars_per_cpu_s"),
                ("(b) / (a) faithful", "b", "a", "computed_chars_per_s"),
                ("(b) / (e) ceiling, Theano BLAS", "b", "e_theano", "computed_chars_per_s"),
                ("(b) / (e) ceiling, NumPy BLAS", "b", "e_numpy", "computed_chars_per_s"),
                ("(c) PyTorch / (e) ceiling, NumPy BLAS", "c", "e_numpy",
                 "computed_chars_per_s"),
                ("(d) NumPy / (c) PyTorch", "d", "c", "computed_chars_per_s")] + op_ratios:
            cells = []
            for n_h in cfg["sizes"]:
                a_row, b_row = _row(results, num, threads, n_h), _row(results, den, threads, n_h)
                if a_row and b_row and key in a_row and key in b_row:
                    cells.append("%.2f" % (a_row[key]["median"] / b_row[key]["median"]))
                else:
                    cells.append("-")
            lines.append("| %s | %s |" % (label, " | ".join(cells)))
        lines.append("")

    lines.append("## Generation (single_step sampling, 1 thread): characters per second")
    lines.append("")
    lines.append("| implementation | " + " | ".join("n_h %d" % n for n in cfg["sizes"]) + " |")
    lines.append("|---" * (len(cfg["sizes"]) + 1) + "|")
    for impl in ["a", "b"] + (["f"] if _has_impl(results, "f") else []):
        cells = []
        for n_h in cfg["sizes"]:
            row = _row(results, impl, cfg["threads"][0], n_h)
            cells.append(_fmt_rate(row.get("generation_chars_per_s")) if row else "-")
        lines.append("| %s | %s |" % (LABELS[impl], " | ".join(cells)))
    lines.append("")

    lines.append("## Build and memory")
    lines.append("")
    if results.get("compile"):
        lines.append("Build time of update_model, evaluate_model and single_step (n_h 50); "
                     "the two cold builds ran at the same time, one core each:")
        lines.append("")
        lines.append("| graph, n_h 50 | cold compile cache (s) | warm (s) | peak RSS cold (MB) |")
        lines.append("|---|---|---|---|")
        for impl, data in results["compile"].items():
            cold, warm = data["cold"], data["warm"]
            lines.append("| %s | %s | %s | %s |" % (
                LABELS[impl], "%.1f" % cold["build_s"] if "build_s" in cold else "error",
                "%.1f" % warm["build_s"] if "build_s" in warm else "error",
                "%.0f" % cold["maxrss_mb"] if "maxrss_mb" in cold else "-"))
        lines.append("")
    lines.append("Memory each implementation added to its process while it was built and "
                 "ran its first step (RSS peak minus RSS before, MB), and build time (s):")
    lines.append("")
    lines.append("| implementation | threads | " + " | ".join(
        "n_h %d MB / build s" % n for n in cfg["sizes"]) + " |")
    lines.append("|---" * (len(cfg["sizes"]) + 2) + "|")
    for threads in cfg["threads"]:
        for impl in _training_rows(results):
            cells = []
            for n_h in cfg["sizes"]:
                row = _row(results, impl, threads, n_h)
                if not row:
                    cells.append("-")
                    continue
                added = row.get("rss_added_mb")
                cells.append("%s / %.1f" % ("%.0f" % added if added is not None else "?",
                                            row["build_s"]))
            lines.append("| %s | %d | %s |" % (LABELS[impl], threads, " | ".join(cells)))
    lines.append("")
    lines.append("Subprocesses (peak memory is ru_maxrss):")
    lines.append("")
    lines.append("| subprocess | wall (s) | load (1 min) before, after | peak memory (MB) |")
    lines.append("|---|---|---|---|")
    procs = [("training, %s thread%s" % (t, "s" if t != "1" else ""), run)
             for t, run in results.get("runs", {}).items()]
    procs += [("BLAS %s" % name, run) for name, run in results.get("blas", {}).items()]
    for label, run in procs:
        loads = ("%.2f, %.2f" % (run["load_before"][0], run["load_after"][0])
                 if "load_after" in run else "-")
        lines.append("| %s | %s | %s | %s |" % (
            label, "%.0f" % run["wall_s"] if "wall_s" in run else "-", loads,
            "%.0f" % run["maxrss_mb"] if "maxrss_mb" in run else run.get("error", "-")[:80]))
    lines.append("")

    if results.get("blas"):
        blas_sizes = [int(v) for v in str(cfg.get("blas_sizes", "50,512")).split(",")]
        lines.append("## BLAS linked into Theano, 1 thread: computed characters per second")
        lines.append("")
        lines.append("Each BLAS in its own subprocess (Theano links it at import); the NumPy "
                     "ceiling does not use Theano's BLAS and shows how busy the machine was.")
        lines.append("")
        lines.append("| BLAS | row | " + " | ".join("n_h %d" % n for n in blas_sizes) + " |")
        lines.append("|---" * (len(blas_sizes) + 2) + "|")
        for name, run in results["blas"].items():
            for impl in ("b", "e_theano", "e_numpy") + (("f",) if _has_impl(results, "f")
                                                        else ()):
                cells = []
                for n_h in blas_sizes:
                    row = run.get("sizes", {}).get(str(n_h), {}).get(impl)
                    cells.append(_fmt_rate(row["computed_chars_per_s"]) if row else
                                 ("error" if "error" in run else "-"))
                lines.append("| %s | %s | %s |" % (name, LABELS[impl], " | ".join(cells)))
        if results.get("blas_note"):
            lines += ["", results["blas_note"]]
        lines.append("")

    check = results.get("gradient_check", {})
    if "worst_relative_error" in check:
        lines.append("Check: (d) NumPy against (b) fast Theano in float64, worst relative "
                     "difference of cost and gradients %.1e." % check["worst_relative_error"])
    costs = []
    for impl in ["a", "b", "c", "d"] + (["f"] if _has_impl(results, "f") else []):
        row = _row(results, impl, cfg["threads"][0], cfg["sizes"][0])
        if row:
            costs.append("%s %.4f" % (impl, row["first_cost"]))
    if costs:
        lines.append("First-step cost, same weights and batch (n_h %d): %s." % (
            cfg["sizes"][0], ", ".join(costs)))
    return "\n".join(lines) + "\n"


def save(results, table, args):
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y-%m-%d-%H%M")
    stem = "bench-%s%s" % (stamp, "-quick" if args.quick else "")
    (RESULTS / (stem + ".json")).write_text(json.dumps(results, indent=1))
    (RESULTS / (stem + ".md")).write_text(table)
    png = RESULTS / (stem + ".png")
    try:
        plot(results, png)
    except Exception as error:  # noqa: BLE001  (a missing matplotlib must not lose the data)
        print("plot failed: %s" % error)
        png = None
    if not args.quick:
        (RESULTS / "latest.md").write_text(table)
        if png:
            shutil.copyfile(png, RESULTS / "latest.png")
    print("results: %s.{json,md%s}" % (RESULTS / stem, ",png" if png else ""))


def plot(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    cfg = results["config"]
    impls = _training_rows(results)
    fig, axes = plt.subplots(1, len(cfg["threads"]), figsize=(6 * len(cfg["threads"]), 4.5),
                             squeeze=False)
    width = 0.8 / len(impls)
    for ax, threads in zip(axes[0], cfg["threads"]):
        for k, impl in enumerate(impls):
            medians, lows, highs, xs = [], [], [], []
            for j, n_h in enumerate(cfg["sizes"]):
                row = _row(results, impl, threads, n_h)
                if row:
                    s = row["computed_chars_per_s"]
                    xs.append(j + (k - len(impls) / 2 + 0.5) * width)
                    medians.append(s["median"])
                    lows.append(s["median"] - s["min"])
                    highs.append(s["max"] - s["median"])
            if xs:
                ax.bar(xs, medians, width, yerr=[lows, highs], label=LABELS[impl], capsize=2)
        ax.set_yscale("log")
        ax.set_xticks(range(len(cfg["sizes"])))
        ax.set_xticklabels(["n_h %d" % n for n in cfg["sizes"]])
        ax.set_ylabel("computed characters / s (log)")
        ax.set_title("training, %d thread%s" % (threads, "s" if threads > 1 else ""))
        ax.grid(axis="y", which="both", alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle("lstm-text, batch %d x %d steps, %s" % (cfg["batch"], cfg["steps"],
                                                        results["started"]))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: n_h 50, 1 thread, 2 timed steps, no compile/BLAS runs")
    parser.add_argument("--sizes", default=None, help="comma-separated n_h (default 50,128,512)")
    parser.add_argument("--threads", default=None,
                        help="comma-separated thread counts (default 1,2)")
    parser.add_argument("--reps", type=int, default=None, help="timed steps (default 5)")
    parser.add_argument("--impls", default="a,b,c,d,e,f", help="subset of a,b,c,d,e,f")
    parser.add_argument("--no-blas", action="store_true", help="skip the BLAS comparison")
    parser.add_argument("--no-compile", action="store_true",
                        help="skip the cold/warm compile-time measurement")
    parser.add_argument("--blas-sizes", default="50,512",
                        help="n_h for the BLAS comparison (default 50,512)")
    parser.add_argument("--check", action="store_true",
                        help="also check (d) against (b) in float64 (the tests do)")
    parser.add_argument("--no-generation", action="store_true")
    # internal: the subprocesses
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--compile-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--gradient-check", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--impl", help=argparse.SUPPRESS)
    parser.add_argument("--result-file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker or args.compile_worker or args.gradient_check:
        args.threads = int(args.threads or 1)
        args.sizes = [int(v) for v in (args.sizes or "50").split(",")]
        args.reps = args.reps or 5
        if args.worker:
            worker(args)
        elif args.compile_worker:
            compile_worker(args)
        else:
            _write(args.result_file, {"worst_relative_error": gradient_check()})
        return
    args.sizes = [int(v) for v in (args.sizes or ("50" if args.quick else "50,128,512"))
                  .split(",")]
    args.threads = [int(v) for v in (args.threads or ("1" if args.quick else "1,2")).split(",")]
    args.reps = args.reps or (2 if args.quick else 5)
    args.impls = [v for v in args.impls.split(",") if v]
    orchestrate(args)


if __name__ == "__main__":
    main()
