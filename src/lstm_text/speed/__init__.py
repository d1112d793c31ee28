"""The speed work, beside the notebooks' plumbing: the same model, faster, and how fast.

    fast_graph   the notebook's model as an optimised Theano graph (fused gates, C cell Ops)
    fast_op      the whole recurrence as one C Op per direction (C in the .c files here)
    numpy_lstm   the same loops in NumPy: fast_op's perform() and the benchmark's row (d)
    benchmark    the speed benchmark (benchmarks/bench.py is its entry point)

Each is tested equal to the notebook's own graph (tests/test_fast_graph.py, test_fast_op.py).
"""
