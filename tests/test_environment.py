"""The environment works: Theano compiles a masked scan LSTM with T.grad, Fuel batches text.

These are the set-up's smoke tests. They say which scan loop and which BLAS run, so a
broken or half-configured environment fails here, with a readable message, first.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy
import pytest

from lstm_text import environment

import theano
import theano.tensor as T
from theano.scan_module import scan_op

from lstm_text.paths import REPO  # the one place that knows the repository


def test_versions_and_flags():
    settings = environment.SETTINGS
    assert sys.version_info[:2] in environment.SUPPORTED_PYTHONS
    assert settings["python"] == "%d.%d.%d" % sys.version_info[:3]
    assert numpy.__version__ == {"1.23.": "1.23.5", "1.26.": "1.26.4"}[environment.EXPECTED["numpy"]]
    assert theano.__version__ == "1.0.5"
    assert settings["fuel"] == "0.2.0"
    assert theano.config.floatX == "float32"
    import fuel
    assert fuel.config.floatX == theano.config.floatX
    assert Path(theano.config.compiledir).is_relative_to(
        os.environ.get("LSTM_TEXT_COMPILEDIR", REPO / ".cache" / "theano"))


def test_blas_is_the_first_that_works_of_pypi_openblas_system_openblas_fallback():
    """LSTM_TEXT_BLAS=auto: PyPI's scipy-openblas32 when installed, else the OpenBLAS the
    compiler can link, else Theano's NumPy C-API fallback; and Theano parses the flags."""
    import importlib.util
    ldflags = theano.config.blas.ldflags
    if os.environ.get("LSTM_TEXT_BLAS", "auto") == "auto":
        if importlib.util.find_spec("scipy_openblas32") is not None:
            assert "-lscipy_openblas" in ldflags.split()
            assert "-include" + str(REPO / "src" / "lstm_text" / "scipy_openblas_names.h") \
                in ldflags.split()
        else:
            found = subprocess.run(["g++", "-print-file-name=libopenblas.so"],
                                   capture_output=True, text=True).stdout.strip()
            assert ldflags == ("-lopenblas" if os.path.isabs(found) else "")
    from theano.tensor.blas import ldflags as theano_ldflags
    assert theano_ldflags() == _linked_libraries()


def test_settings_say_which_blas_and_kernel_run():
    settings = environment.SETTINGS
    if _linked_libraries():
        # The library's own description of itself: "OpenBLAS 0.3.x, kernel K, n threads (...)"
        assert re.match(r"OpenBLAS 0\.3\.\d+\S*, kernel \w+, \d+ threads? \(", settings["blas"])
    else:
        assert settings["blas"] == "NumPy's (Theano's C-API fallback)"
    assert settings["numpy blas"].startswith(("OpenBLAS 0.3.", "no bundled OpenBLAS"))
    assert settings["cpu"]


def _linked_libraries():
    """The libraries named by -l in blas.ldflags (LSTM_TEXT_BLAS may give explicit flags)."""
    return [token[2:] for token in theano.config.blas.ldflags.split() if token.startswith("-l")]


def _masked_lstm_cost(n_in=7, n_h=5):
    """A tiny masked LSTM (fused gates, no peepholes) + softmax + masked CE, in Theano."""
    rng = numpy.random.RandomState(0)
    floatX = theano.config.floatX
    W = theano.shared((rng.randn(n_in, 4 * n_h) * 0.5).astype(floatX), "W")
    U = theano.shared((rng.randn(n_h, 4 * n_h) * 0.5).astype(floatX), "U")
    V = theano.shared((rng.randn(n_h, n_in) * 0.5).astype(floatX), "V")
    x = T.lmatrix("x")
    mask = T.matrix("mask")

    def step(m_, x_, h_, c_):
        pre = W[x_] + T.dot(h_, U)
        i, f, o = [T.nnet.sigmoid(pre[:, k * n_h:(k + 1) * n_h]) for k in range(3)]
        c = f * c_ + i * T.tanh(pre[:, 3 * n_h:])
        c = m_[:, None] * c + (1. - m_)[:, None] * c_
        h = m_[:, None] * (o * T.tanh(c)) + (1. - m_)[:, None] * h_
        return h, c

    zeros = T.zeros((x.shape[1], n_h))
    (h, _), _ = theano.scan(step, sequences=[mask, x], outputs_info=[zeros, zeros])
    p = T.nnet.softmax(T.dot(h[:-1].reshape((-1, n_h)), V))
    ce = T.nnet.categorical_crossentropy(p, x[1:].flatten())
    cost = T.sum(ce * mask[1:].flatten()) / x.shape[1]
    return x, mask, cost, [W, U, V]


def test_masked_scan_lstm_compiles_in_c_and_learns(monkeypatch):
    calls = []
    python_loop = scan_op.Scan.execute

    def counting_execute(self, node, args, outs):
        calls.append(node)
        return python_loop(self, node, args, outs)

    monkeypatch.setattr(scan_op.Scan, "execute", counting_execute)
    x, mask, cost, params = _masked_lstm_cost()
    grads = T.grad(cost, params)
    step = theano.function([x, mask], cost,
                           updates=[(p, p - 0.5 * g) for p, g in zip(params, grads)],
                           mode=theano.Mode(linker="cvm", optimizer="fast_run"))
    evaluate = theano.function([x, mask], cost)

    # The C virtual machine runs the graph, and most nodes got compiled C thunks.
    from theano.gof import lazylinker_c
    assert isinstance(step.fn, lazylinker_c.CLazyLinker)
    c_thunks = [t for t in step.fn.thunks if hasattr(t, "cthunk")]
    assert len(c_thunks) >= len(step.fn.thunks) // 2

    rng = numpy.random.RandomState(1)
    x_ = rng.randint(0, 7, size=(6, 3)).astype("int64")
    mask_ = numpy.ones((6, 3), dtype=theano.config.floatX)
    mask_[4:, 1] = 0
    before = evaluate(x_, mask_)
    first = step(x_, mask_)
    after = evaluate(x_, mask_)
    assert numpy.isfinite(before) and first == pytest.approx(before)
    assert after < before
    # Which scan implementation ran: the pure-Python loop (see lstm_text.environment).
    assert calls, "Scan.execute (the Python loop) did not run"
    assert environment.SETTINGS["scan"] == "python loop"
    assert sys.modules[environment.SCAN_EXT] is None


def test_gemm_in_the_scan_uses_the_configured_blas():
    x, mask, cost, params = _masked_lstm_cost()
    f = theano.function([x, mask], T.grad(cost, params[1]))
    inner_ops = []
    for node in f.maker.fgraph.toposort():
        if isinstance(node.op, scan_op.Scan):
            inner_ops += [n.op for n in node.op.fn.maker.fgraph.toposort()]
    blas_ops = [op for op in inner_ops if type(op).__name__ in ("Gemm", "Dot22", "CGemv", "Gemv")]
    assert blas_ops, "no BLAS op inside the scan: %s" % sorted({type(o).__name__ for o in inner_ops})
    wanted = _linked_libraries()
    for op in blas_ops:
        if hasattr(op, "c_libraries"):
            assert op.c_libraries() == wanted


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_empty_matrix_products_under_the_configured_blas(dtype):
    """Dot22, Dot22Scalar and Gemm on matrices with a dimension of 0, in C and Fortran order:
    what NumPy computes (an empty product, or b * z or zeros when only the inner dimension
    is 0), under whichever BLAS is linked. Unpatched, Theano 1.0.5 raised "some matrix has no
    unit stride" (NumPy gives empty arrays strides of 0); see tools/install_theano.py."""
    x, y, z = T.matrix(dtype=dtype), T.matrix(dtype=dtype), T.matrix(dtype=dtype)
    half, two = numpy.asarray(0.5, dtype), numpy.asarray(2.0, dtype)
    mode = theano.Mode(linker="cvm", optimizer="fast_run")
    functions = {"Dot22": theano.function([x, y], T.dot(x, y), mode=mode),
                 "Dot22Scalar": theano.function([x, y], two * T.dot(x, y), mode=mode),
                 "Gemm": theano.function([z, x, y], half * z + two * T.dot(x, y), mode=mode)}
    for name, f in functions.items():
        ops = [type(node.op).__name__ for node in f.maker.fgraph.toposort()]
        assert name in ops, (name, ops)     # the optimiser still picks the BLAS op
    references = {"Dot22": lambda c, a, b: a @ b, "Dot22Scalar": lambda c, a, b: 2 * (a @ b),
                  "Gemm": lambda c, a, b: 0.5 * c + 2 * (a @ b)}
    rng = numpy.random.RandomState(3)
    checked = 0
    for m, k, n in [(0, 5, 4), (3, 0, 4), (3, 5, 0), (0, 0, 4), (0, 5, 0), (3, 0, 0),
                    (0, 0, 0), (1, 0, 1), (0, 1, 1), (3, 5, 4)]:
        for orders in ["CCC", "FFF", "CFC", "FCF"]:
            a = numpy.asarray(rng.rand(m, k), dtype, order=orders[0])
            b = numpy.asarray(rng.rand(k, n), dtype, order=orders[1])
            c = numpy.asarray(rng.rand(m, n), dtype, order=orders[2])
            for name, f in functions.items():
                args = (c, a, b) if name == "Gemm" else (a, b)
                out = f(*args)
                expected = references[name](c, a, b)
                assert out.shape == expected.shape, (name, m, k, n, orders)
                numpy.testing.assert_allclose(out, expected, rtol=1e-5,
                                              err_msg="%s %s %s" % (name, (m, k, n), orders))
                checked += 1
    assert checked == 120


def test_fuel_text_pipeline(tmp_path):
    from fuel.datasets import TextFile
    from fuel.streams import DataStream
    from fuel.schemes import ConstantScheme
    from fuel.transformers import Batch, Padding

    text = tmp_path / "text.txt"
    text.write_text("Hello World\nab\nCaf\u00e9 Z!\n", encoding="utf-8")
    chars = " abcdefghijklmnopqrstuvwxyz!"
    dictionary = {c: i for i, c in enumerate(chars)}
    dictionary["~"] = len(dictionary)
    dataset = TextFile(files=[str(text)], dictionary=dictionary, level="character",
                       unk_token="~", preprocess=str.lower, bos_token=None, eos_token=None)
    stream = Padding(Batch(DataStream.default_stream(dataset),
                           iteration_scheme=ConstantScheme(2)))
    # Independent reference: ids written out by hand from `chars` above.
    hello = [8, 5, 12, 12, 15, 0, 23, 15, 18, 12, 4]
    ab = [1, 2]
    cafe = [3, 1, 6, 28, 0, 26, 27]  # 'é' is unknown -> '~' = 28
    for epoch in range(2):
        batches = list(stream.get_epoch_iterator())
        assert len(batches) == 2
        (x1, m1), (x2, m2) = batches
        assert x1.dtype == numpy.int64 and m1.dtype == numpy.float32
        assert x1.shape == m1.shape == (2, 11)
        assert x1[0].tolist() == hello
        assert x1[1].tolist() == ab + [0] * 9
        assert m1.tolist() == [[1.0] * 11, [1.0] * 2 + [0.0] * 9]
        assert x2.tolist() == [cafe] and m2.tolist() == [[1.0] * 7]


def test_wrong_environment_gives_a_clear_message(tmp_path):
    """Importing the set-up module under a Python without our pins explains the fix."""
    script = ("import sys; sys.modules['numpy'] = type(sys)('numpy'); "
              "sys.modules['numpy'].__version__ = '1.22.4'\n"
              "try:\n    from lstm_text import environment\nexcept Exception as e:\n"
              "    print(type(e).__name__, e)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60).stdout
    assert out.startswith("EnvironmentProblem")
    expected = "numpy %s*" % environment.EXPECTED["numpy"]
    assert expected in out and "1.22.4" in out and "make test" in out


def test_theano_imported_first_with_other_flags_is_explained():
    script = ("import os, sys; os.environ['THEANO_FLAGS'] = 'floatX=float64,blas.ldflags=,"
              "base_compiledir=%s'\n"
              "import theano\n"
              "try:\n    from lstm_text import environment\nexcept Exception as e:\n"
              "    print(type(e).__name__, e)\n"
              % theano.config.base_compiledir)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120).stdout
    assert out.startswith("EnvironmentProblem")
    assert "before `import theano`" in out and "float64" in out


def test_unpatched_theano_is_explained():
    """A Theano without tools/install_theano.py's marker is refused, with the fix."""
    script = ("import sys; sys.modules['theano._lstm_text_patch'] = None\n"
              "try:\n    from lstm_text import environment\nexcept Exception as e:\n"
              "    print(type(e).__name__, e)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120).stdout
    assert out.startswith("EnvironmentProblem")
    assert "patched by lstm-text is missing" in out and "tools/install_theano.py" in out


def _python_with_blas(choice, script):
    """stdout of `script` in a fresh Python with LSTM_TEXT_BLAS=choice."""
    env = dict(os.environ, LSTM_TEXT_BLAS=choice, THEANO_FLAGS="")
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=120).stdout


def test_blas_override_none_uses_the_fallback():
    out = _python_with_blas("none", "from lstm_text import environment; import theano; print("
                            "repr(theano.config.blas.ldflags), environment.SETTINGS['blas.ldflags'])")
    assert out.startswith("'' (none: NumPy C-API fallback)")


def test_a_bad_blas_setting_is_one_clear_error():
    out = _python_with_blas("openblass", "try:\n    from lstm_text import environment\n"
                            "except Exception as e:\n    print(type(e).__name__, e)\n")
    assert out.startswith("EnvironmentProblem LSTM_TEXT_BLAS='openblass' is not one of")
