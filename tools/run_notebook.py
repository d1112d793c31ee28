"""Execute a notebook headless, top to bottom, and write the executed copy outside the tree.

Usage: python tools/run_notebook.py notebooks/lstm_text.ipynb [--out build/run] [--in-place]

The kernel runs in the notebook's folder and inherits this environment, so LSTM_* variables
set the run's size. The notebook writes its outputs (model, metrics.json, plot) into
LSTM_OUTPUT_DIR, which we point at --out. --in-place also writes the executed notebook back
over the tracked one: that is how the committed outputs are produced, from a real run.
"""
import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook")
    parser.add_argument("--out", default="build/run")
    parser.add_argument("--in-place", action="store_true")
    parser.add_argument("--timeout", type=int, default=None, help="seconds per cell")
    args = parser.parse_args(argv)

    source = Path(args.notebook).resolve()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("LSTM_OUTPUT_DIR", str(out / source.stem))
    executed_path = out / source.name
    notebook = nbformat.read(source, as_version=4)
    print("running %s (outputs in %s) ..." % (source.name, os.environ["LSTM_OUTPUT_DIR"]),
          flush=True)
    started = time.perf_counter()
    client = NotebookClient(notebook, timeout=args.timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(source.parent)}})
    try:
        client.execute()
    except CellExecutionError as error:
        nbformat.write(notebook, executed_path)
        print("\n%s failed; the partly executed copy is %s\n%s" % (source.name, executed_path,
                                                                   error), file=sys.stderr)
        return 1
    nbformat.write(notebook, executed_path)
    minutes = (time.perf_counter() - started) / 60
    print("executed %s in %.1f minutes: %s" % (source.name, minutes, executed_path))
    metrics = Path(os.environ["LSTM_OUTPUT_DIR"]) / "metrics.json"
    if metrics.exists():
        summary = json.loads(metrics.read_text())
        if "final_valid_bpc" in summary:
            print("final validation: %.3f bits per character after %d minibatches"
                  % (summary["final_valid_bpc"], summary["minibatches"]))
    if args.in_place:
        shutil.copyfile(executed_path, source)
        print("wrote the outputs into %s" % source)
    return 0


if __name__ == "__main__":
    sys.exit(main())
