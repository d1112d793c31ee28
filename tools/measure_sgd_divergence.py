"""Does the original's plain SGD (learning rate 0.1, no clipping) diverge on the bundled corpus?

Trains the notebook's own model (notebook_model.build_graph: the cells of lstm_text.ipynb) with the
original's settings on the bundled Austen corpus, in the notebook's float32, and prints the cost,
the gradients' norm and the weights' norm as it goes, and the validation bits per character every
`--report-every` minibatches. Stops at the first non-finite cost. Writes a JSON record.

Usage: .venv/bin/python tools/measure_sgd_divergence.py [--epochs 4] [--max-grad-norm 0]
                                                        [--corpus austen] [--out FILE]
(tests/test_tools.py runs it for a few minibatches on the tiny corpus.)
"""
import argparse
import json
import math
import sys
import time
from pathlib import Path

from lstm_text import environment  # noqa: F401  (Theano and Fuel flags first)
import numpy
import theano
import theano.tensor as T

from lstm_text import notebook_model
from lstm_text.corpus import load_corpus
from lstm_text.files import atomic_write_bytes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--max-grad-norm", type=float, default=0.0)
    parser.add_argument("--report-every", type=int, default=40)
    parser.add_argument("--max-minibatches", type=int, default=0, help="0: no limit")
    parser.add_argument("--corpus", choices=("austen", "tiny"), default="austen")
    parser.add_argument("--out", default="build/sgd_divergence.json")
    args = parser.parse_args(argv)

    corpus = load_corpus(args.corpus)
    n_in = len(corpus.dictionary)
    g = notebook_model.build_graph(n_in, 50, batch_size=100, learning_rate=0.1, seed=12345,
                               max_grad_norm=args.max_grad_norm)
    raw_grads = T.grad(g.cost, g.params)
    grad_norm = T.sqrt(sum(T.sum(grad ** 2) for grad in raw_grads))
    step = theano.function([g.x, g.mask], [g.cost, grad_norm], updates=g.updates)
    streams = notebook_model.build_streams(corpus, 100)

    record = dict(max_grad_norm=args.max_grad_norm, epochs=args.epochs, steps=[], valid=[])
    iteration, started = 0, time.perf_counter()
    for epoch in range(args.epochs):
        for x_, mask_ in streams.train_stream.get_epoch_iterator():
            if args.max_minibatches and iteration >= args.max_minibatches:
                break
            iteration += 1
            cost, norm = step(x_.T, mask_.T)
            weights = math.sqrt(sum(float((p.get_value() ** 2).sum()) for p in g.params))
            record["steps"].append([iteration, float(cost), float(norm), weights])
            if not numpy.isfinite(cost):
                print("minibatch %d: cost %s: DIVERGED (gradient norm %.4g, weights %.4g)"
                      % (iteration, cost, norm, weights), flush=True)
                record["diverged_at"] = iteration
                break
            if iteration % args.report_every == 0:
                ce, bpc = notebook_model.validate(g.evaluate_model, streams.val_stream, 100)
                record["valid"].append([iteration, ce, bpc])
                print("epoch %d minibatch %4d: cost %8.2f, gradient norm %9.2f, weights %8.2f, "
                      "validation %.3f bpc (%.0f s)" % (epoch, iteration, cost, norm, weights,
                                                         bpc, time.perf_counter() - started),
                      flush=True)
        if "diverged_at" in record:
            break
    if "diverged_at" not in record:
        ce, bpc = notebook_model.validate(g.evaluate_model, streams.val_stream, 100)
        record["valid"].append([iteration, ce, bpc])
        print("no divergence in %d minibatches; final validation %.3f bpc" % (iteration, bpc))
    atomic_write_bytes(Path(args.out), json.dumps(record).encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
