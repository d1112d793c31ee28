"""What Theano's optimiser made of a compiled function, comparable between Python versions.

`signature(fn)` counts the ops of a compiled theano.function by their printed form
(Elemwise{Composite{...}} shows what was fused and which constants were folded), including
the inner graphs of its scans, so two versions that optimise differently give different
counts. tests/test_python_versions.py compares the notebook's update_model with the count
recorded on Python 3.11 (tests/golden/update_model_ops.json), and runs `tiny` in each other
version's environment: `<venv>/bin/python tests/graph_signature.py` prints it as JSON.
"""
import collections
import json
import re
import sys



def _ops(fgraph, counts, prefix=""):
    for node in fgraph.toposort():
        name = re.sub(r"0x[0-9a-fA-F]+", "0xADDRESS", str(node.op))
        counts[prefix + name] += 1
        inner = getattr(getattr(node.op, "fn", None), "maker", None)
        if inner is not None:  # a scan: its compiled inner function
            _ops(inner.fgraph, counts, prefix + "  scan/")


def signature(fn):
    """{printed op: how many} over a compiled function and its scans' inner functions."""
    counts = collections.Counter()
    _ops(fn.maker.fgraph, counts)
    return dict(sorted(counts.items()))


def tiny():
    """A tiny masked scan LSTM-like step with its gradient, compiled; its cost and signature."""
    from lstm_text import environment  # noqa: F401  (flags first)
    import numpy
    import theano
    import theano.tensor as T
    floatX = theano.config.floatX
    rng = numpy.random.RandomState(0)
    W = theano.shared((rng.randn(5, 12) * 0.5).astype(floatX), "W")
    U = theano.shared((rng.randn(3, 12) * 0.5).astype(floatX), "U")
    x = T.lmatrix("x")
    mask = T.matrix("mask")

    def step(m_, x_, h_):
        pre = W[x_] + T.dot(h_, U)
        h = T.nnet.sigmoid(pre[:, :3]) * T.tanh(pre[:, 3:6])
        return m_[:, None] * h + (1. - m_)[:, None] * h_

    h, _ = theano.scan(step, sequences=[mask, x], outputs_info=[T.zeros((x.shape[1], 3))])
    cost = T.sum(h ** 2) / x.shape[1]
    updates = [(p, p - 0.1 * g) for p, g in zip([W, U], T.grad(cost, [W, U]))]
    fn = theano.function([x, mask], cost, updates=updates)
    xs = rng.randint(0, 5, size=(4, 2)).astype("int64")
    ms = numpy.ones((4, 2), dtype=floatX)
    costs = [float(fn(xs, ms)) for _ in range(3)]
    return {"python": "%d.%d" % sys.version_info[:2], "numpy": numpy.__version__,
            "costs": costs, "ops": signature(fn)}


def notebook_update_model(n_in=54, n_h=50):
    """The notebook's own update_model (notebook_model.build_graph), its signature."""
    from lstm_text import notebook_model
    return signature(notebook_model.build_graph(n_in, n_h).update_model)


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "tiny"
    result = tiny() if which == "tiny" else notebook_update_model()
    print(json.dumps(result, indent=1, sort_keys=True))
