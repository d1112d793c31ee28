"""The notebook's model, importable: runs the cells of lstm_text.ipynb tagged `model`.

There is one definition of the model, and it is the one a student reads in
notebooks/lstm_text.ipynb. This module executes that notebook's cells tagged `model`
(gauss_weight, index_dot, LstmLayer, LogisticRegression, the cost, speak, validate) into its
own namespace, so tests, the experiments notebook and the benchmark use exactly that code.
Edit the notebook and they all follow. `build_graph` runs the cell tagged `graph` (the
symbolic graph and the compiled update_model, evaluate_model and single_step) for given sizes.
"""
import json
import types
from pathlib import Path

from lstm_text import environment  # noqa: F401  (Theano and Fuel flags first)
from lstm_text import paths

NOTEBOOK = paths.NOTEBOOKS / "lstm_text.ipynb"


def tagged_sources(tag, notebook=NOTEBOOK):
    """The source of every code cell carrying `tag`, in notebook order."""
    cells = json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]
    sources = ["".join(cell["source"]) for cell in cells
               if cell["cell_type"] == "code" and tag in cell.get("metadata", {}).get("tags", [])]
    if not sources:
        raise LookupError("%s has no code cell tagged %r" % (notebook, tag))
    return sources


def _run_cells(tag, namespace):
    for index, source in enumerate(tagged_sources(tag)):
        code = compile(source, "%s[%s %d]" % (NOTEBOOK.name, tag, index), "exec")
        exec(code, namespace)


_run_cells("model", globals())


def build_graph(n_in, n_h, batch_size=100, learning_rate=0.1, seed=12345, n_out=None,
                max_grad_norm=0):
    """Run the notebook's `graph` cell for these sizes; returns its variables as a namespace.

    The result has x, mask, recurrent_layer, logreg_layer, cost, params, grads, updates,
    update_model, evaluate_model and single_step, exactly as the notebook defines them.
    """
    namespace = dict(globals())
    namespace.update(n_in=n_in, n_out=n_in if n_out is None else n_out, n_h=n_h,
                     batch_size=batch_size, learning_rate=learning_rate,
                     max_grad_norm=max_grad_norm, seed=seed)
    _run_cells("graph", namespace)
    return _public(namespace)


def build_streams(corpus, batch_size=100):
    """Run the notebook's `data` cell (Fuel's TextFile, Batch, Padding) for a corpus.

    `corpus` needs train_file, valid_file, dictionary, preprocess and encoding, as
    lstm_text.corpus.load_corpus returns them. The result has train_stream and val_stream.
    """
    namespace = dict(globals())
    namespace.update(corpus=corpus, TRAIN_FILE=corpus.train_file, VAL_FILE=corpus.valid_file,
                     dictionary=corpus.dictionary, batch_size=batch_size)
    _run_cells("data", namespace)
    return _public(namespace)


def _public(namespace):
    return types.SimpleNamespace(**{key: value for key, value in namespace.items()
                                    if not key.startswith("__")})
