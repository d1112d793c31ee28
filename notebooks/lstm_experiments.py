"""The experiments notebook's code, importable: runs the cells of lstm_text_experiments.ipynb
tagged `experiment`.

As with lstm_model.py, there is one definition and a reader sees it in the notebook: the
optimizer update rules, the initialisations, the bucketed minibatch stream, the training-run
loop and the checkpoint/resume functions. This module executes those cells into its own
namespace (they import the model itself from lstm_model), so tests use exactly that code.
"""
from pathlib import Path

import lstm_text_env  # noqa: F401  (Theano and Fuel flags first)
from lstm_model import tagged_sources

NOTEBOOK = Path(__file__).resolve().parent / "lstm_text_experiments.ipynb"

for _index, _source in enumerate(tagged_sources("experiment", notebook=NOTEBOOK)):
    exec(compile(_source, "%s[experiment %d]" % (NOTEBOOK.name, _index), "exec"), globals())
