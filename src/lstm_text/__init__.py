"""lstm-text's library code: everything the notebooks use that is not the model itself.

The model is defined once, in notebooks/lstm_text.ipynb; notebook_model runs its tagged cells.
Import `lstm_text.environment` before theano or fuel (it sets their flags). Modules:

    environment     Theano and Fuel flags, the BLAS, version checks (import it first)
    blas_library    which BLAS Theano links, and the kernel each OpenBLAS runs
    parameters      the notebooks' LSTM_<NAME> variables, converted and checked
    files           atomic writes, checksums, gzip, reading text lines with clear errors
    download        downloads that leave nothing half-done (retries, deadline, cache, checks)
    corpus          the bundled Austen corpus, the original one, your files: checked, for Fuel
    checkpoints     saving and loading the model's parameters safely (.npz)
    plots           learning curves
    progress        the training progress bar (a widget in Jupyter, text when headless)
    notebook_model  the model from the notebook's tagged cells (for tests and experiments)
    experiments     the experiments notebook's runner cells, imported by its tests
    study           how far the model goes in 30 minutes: two trainers, logged, resumable
    inside          the third notebook's plumbing: surprise, cell states, gates, HTML colouring
    paths           where the repository is (the one place that knows)
    speed/          the speed work, a subpackage of its own: fast_graph (the same model as an
                    optimised Theano graph), fast_op (the whole recurrence in one C Op, its C in
                    the .c files there) and benchmark (benchmarks/bench.py is its entry point)

The notebook's own helper, notebooks/lstm_text_data.py (fetch, the dictionary, DataError), is
the layer below: the package imports it, it never imports the package.
Nothing is imported here, so `import lstm_text.files` does not configure Theano.
"""
