#!/usr/bin/env python
"""The study's two trainers, timed on the study's own minibatches: how much of the 30 minutes
is each trainer's speed, and how much its validation.

    python benchmarks/study_speed.py [--minibatches 60] [--n-h 384]

Builds both trainers of lstm_text.study with its recipe (one thread each: run it on an idle
machine), takes the first minibatches of the study's stream (the same for both), and times
their training steps interleaved (fast, torch, fast, torch, ...) so that both see the same
background load; then one full validation pass each. Prints characters per second and the
ratio, with the processor and BLAS they were measured on.
"""
import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from lstm_text import study  # noqa: E402  (configures Theano; sets the BLAS threads)
from lstm_text.notebook_model import validate  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minibatches", type=int, default=60)
    parser.add_argument("--n-h", type=int, default=study.RECIPE["n_h"])
    args = parser.parse_args()
    corpus = study.load_corpus("austen")
    n_in = len(corpus.dictionary)
    trainers = {}
    for name in ("fast", "torch"):
        config = dict(study.RECIPE, trainer=name, n_h=args.n_h)
        model = (study.FastModel(n_in, config) if name == "fast"
                 else study.TorchModel(n_in, config, threads=1))
        trainers[name] = model
        model.set_learning_rate(config["learning_rate"])
    # The study's stream (the same for both trainers: it depends on the seed, not the model).
    run = study.experiments.Run("fast", config, corpus, config["seed"], config["batch_size"],
                                model=trainers["fast"])
    batches = run.minibatches()
    batches = [next(batches) for _ in range(args.minibatches + 2)]
    seconds = {name: 0.0 for name in trainers}
    for index, (x, mask) in enumerate(batches):
        for name, model in trainers.items():
            started = time.perf_counter()
            model.update_model(x.T, mask.T)
            if index >= 2:                       # the first two: warm-up
                seconds[name] += time.perf_counter() - started
    chars = sum(int(mask.sum()) for _, mask in batches[2:])
    valid = study.experiments.bucketed_stream(
        study.experiments.text_dataset(corpus.valid_file, corpus), study.RECIPE["batch_size"],
        1000)
    settings = study.environment.SETTINGS
    print("processor: %s\nBLAS: %s" % (settings["cpu"], settings["blas"]))
    print("n_h %d, %d minibatches of %d sentences (%d characters), 1 thread each"
          % (args.n_h, args.minibatches, study.RECIPE["batch_size"], chars))
    for name, model in trainers.items():
        started = time.perf_counter()
        validate(model.evaluate_model, valid, model.batch_size)
        print("%-5s training %6.0f characters/s; one validation pass %.1f s"
              % (name, chars / seconds[name], time.perf_counter() - started))
    print("fast / torch, training speed: %.2f" % (seconds["torch"] / seconds["fast"]))


if __name__ == "__main__":
    main()
