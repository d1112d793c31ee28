"""The experiments notebook's code, importable: runs the cells of lstm_text_experiments.ipynb
tagged `experiment`.

As with lstm_text.notebook_model, there is one definition and a reader sees it in the notebook: the
optimizer update rules, the initialisations, the bucketed minibatch stream, the training-run
loop and the checkpoint/resume functions. This module executes those cells into its own
namespace (they import the model itself from lstm_text.notebook_model), so tests use exactly that code.
"""
from lstm_text import environment  # noqa: F401  (Theano and Fuel flags first)
from lstm_text import paths
from lstm_text.notebook_model import tagged_sources

NOTEBOOK = paths.NOTEBOOKS / "lstm_text_experiments.ipynb"

for _index, _source in enumerate(tagged_sources("experiment", notebook=NOTEBOOK)):
    exec(compile(_source, "%s[experiment %d]" % (NOTEBOOK.name, _index), "exec"), globals())
