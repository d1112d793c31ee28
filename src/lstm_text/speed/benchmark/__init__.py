"""The speed benchmark: the character LSTM trained by several implementations side by side.

benchmarks/bench.py is its entry point (see its docstring and benchmarks/README.md). Modules:

    workloads        the batches every implementation trains on, their sizes, initial weights
    implementations  the rows (a)-(f), each an object with .update(x, mask) -> cost
    measure          the subprocesses' side: timing, memory, build time, the float64 check
    report           the markdown tables and the plot, the files in benchmarks/results/
    main             the command line and the orchestrating process (one subprocess a run)

Nothing here imports Theano until an implementation that needs it is built.
"""
