"""Tests of the notebook's helper notebooks/lstm_text_data.py: fetch and the dictionary.

fetch is tested against a real HTTP server on 127.0.0.1 (tests/local_http.py, no mocks);
every bad dictionary has its own test. Fast and offline: no Theano, no Fuel, no internet.
"""
import ast
import gzip
import hashlib
import os
import pickle
import shlex
import subprocess
import sys

import pytest

from file_helpers import names, write  # noqa: F401
from local_http import dead_url, no_proxy, server  # noqa: F401  (fixtures)

import lstm_text_data as ltd
from lstm_text import paths
from lstm_text_data import DataError, DownloadError

HELPER = paths.NOTEBOOKS / "lstm_text_data.py"
TEXT = "The first sentence.\nAnd a second one, café.\n".encode("utf-8")
GZ = gzip.compress(TEXT)


# ---------------------------------------------------------------- one direction, small

def test_the_helper_needs_only_the_standard_library_and_requests():
    imported = set()
    for node in ast.walk(ast.parse(HELPER.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module.split(".")[0])
    assert imported - set(sys.stdlib_module_names) == {"requests", "urllib3"}
    # ... and importing it, from its own folder, loads nothing of the package.
    code = ("import sys, lstm_text_data; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'lstm_text'))")
    out = subprocess.run([sys.executable, "-c", code], cwd=paths.NOTEBOOKS, check=True,
                         capture_output=True, text=True).stdout
    assert out.strip() == "[]"
    assert len(HELPER.read_text(encoding="utf-8").splitlines()) <= 200  # a student reads it


# ---------------------------------------------------------------- fetch

def test_fetch_writes_the_bytes_and_returns_their_sha256(server, tmp_path):
    # Served the way Apache serves .gz files: decode=False keeps the gzip bytes as served.
    server.routes["/t.txt.gz"] = (200, GZ, {"Content-Encoding": "gzip"})
    seen = []
    digest = ltd.fetch(server.url + "/t.txt.gz", tmp_path / "t.gz", decode=False,
                       report=lambda received, total: seen.append((received, total)))
    assert (tmp_path / "t.gz").read_bytes() == GZ
    assert digest == hashlib.sha256(GZ).hexdigest()
    assert seen[-1] == (len(GZ), len(GZ))
    assert ltd.fetch(server.url + "/t.txt.gz", tmp_path / "t.txt") == hashlib.sha256(
        TEXT).hexdigest()  # decode=True: the transfer encoding undone
    assert (tmp_path / "t.txt").read_bytes() == TEXT


@pytest.mark.parametrize("status, retry", [(404, False), (403, False), (500, True), (503, True)])
def test_fetch_http_errors_say_whether_to_retry(server, tmp_path, status, retry):
    server.routes["/t.txt"] = (status, b"no", {})
    with pytest.raises(DownloadError) as err:
        ltd.fetch(server.url + "/t.txt", tmp_path / "t.txt", timeout=5)
    assert str(err.value).startswith(f"cannot download {server.url}/t.txt: HTTP {status} ")
    assert (err.value.retry, err.value.timed_out) == (retry, False)
    assert names(tmp_path) == []  # nothing was opened for an error page


def test_fetch_a_cut_transfer_is_worth_retrying(server, tmp_path):
    server.routes["/t.txt"] = (200, TEXT[:10], {"Content-Length": str(len(TEXT))})
    with pytest.raises(DownloadError) as err:
        ltd.fetch(server.url + "/t.txt", tmp_path / "t.txt", timeout=5)
    assert err.value.retry and not err.value.timed_out


def test_fetch_connection_refused(dead_url, tmp_path):
    with pytest.raises(DownloadError, match="(?i)refused") as err:
        ltd.fetch(dead_url + "/t.txt", tmp_path / "t.txt", timeout=2)
    assert str(err.value).startswith(f"cannot download {dead_url}/t.txt: ")
    assert err.value.retry and err.value.__suppress_context__  # one line, no chained traceback


def test_fetch_report_may_stop_the_download(server, tmp_path):
    server.routes["/t.txt"] = (200, TEXT, {})

    def stop(received, total):
        raise DataError(f"stopped at {received} of {total}")

    with pytest.raises(DataError, match=f"stopped at {len(TEXT)} of {len(TEXT)}"):
        ltd.fetch(server.url + "/t.txt", tmp_path / "t.txt", report=stop)


# ---------------------------------------------------------------- the dictionary

def test_build_dictionary_exact_mapping():
    assert ltd.build_dictionary(["Hello, World!\n", "  abc~ \n", "\n"]) == {
        " ": 0, "!": 1, ",": 2, "a": 3, "b": 4, "c": 5, "d": 6, "e": 7, "h": 8,
        "l": 9, "o": 10, "r": 11, "w": 12, "~": 13}  # '~' occurs: one entry, sorted place


def test_build_dictionary_unknown_token_comes_last(tmp_path):
    path = write(tmp_path / "a.txt", "Été\nTT\n")
    with open(path, encoding="utf-8") as lines:
        assert ltd.build_dictionary(lines) == {"t": 0, "é": 1, "~": 2}


def test_build_dictionary_refuses_a_path_for_lines(tmp_path):
    with pytest.raises(TypeError, match="open"):  # not the characters of the file's name
        ltd.build_dictionary(str(tmp_path / "a.txt"))


def test_build_dictionary_byte_level_like_the_original():
    # Python 2 saw the two UTF-8 bytes of 'É' as two characters and lowercased only ASCII.
    line = "CAFÉ\n".encode("utf-8").decode("latin-1")
    assert ltd.build_dictionary([line], preprocess=ltd.ascii_lower) == {
        "a": 0, "c": 1, "f": 2, "\x89": 3, "Ã": 4, "~": 5}


def test_load_dictionary_adds_unknown_token(tmp_path):
    path = write(tmp_path / "d.pkl", pickle.dumps({"b": 1, "a": 0}))
    assert ltd.load_dictionary(path) == {"a": 0, "b": 1, "~": 2}


def test_load_python2_protocol0_dictionary_with_byte_keys(tmp_path):
    # What Python 2's cPickle.dump({'a': 0, 'b': 1, '\xc3': 2}, f) wrote (protocol 0).
    py2 = b"(dp0\nS'a'\np1\nI0\nsS'b'\np2\nI1\nsS'\\xc3'\np3\nI2\ns."
    path = write(tmp_path / "dictionary.pkl", py2)
    assert ltd.load_dictionary(path) == {"a": 0, "b": 1, "\xc3": 2, "~": 3}


@pytest.mark.parametrize("data", [b"this is not a pickle", pickle.dumps({"a": 0})[:-3], b""],
                         ids=["garbage", "truncated", "empty"])
def test_load_dictionary_corrupt_pickle(tmp_path, data):
    path = write(tmp_path / "d.pkl", data)
    with pytest.raises(DataError, match="d.pkl: not a usable dictionary pickle"):
        ltd.load_dictionary(path)


def test_load_dictionary_missing_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        ltd.load_dictionary(tmp_path / "nope.pkl")


def evil_pickle(kind, target):
    """A pickled dictionary that creates `target` when loaded by a plain pickle.load."""
    if kind == "handwritten eval":
        code = repr(f"open({str(target)!r}, 'w').close()").encode()
        return b"(dp0\nS'a'\nI0\nsS'b'\ncbuiltins\neval\n(S" + code + b"\ntRs."

    class Evil:
        def __reduce__(self):
            if kind == "os.system":
                return os.system, ("touch " + shlex.quote(str(target)),)
            if kind == "eval":
                return eval, (f"open({str(target)!r}, 'w').close()",)
            return open, (str(target), "w")

    return pickle.dumps({"a": 0, "b": Evil()}, protocol=2)


@pytest.mark.parametrize("kind", ["os.system", "eval", "open", "handwritten eval"])
def test_malicious_pickle_is_refused_without_running(tmp_path, kind):
    control = tmp_path / "control"  # the payload is live: plain pickle runs it
    pickle.loads(evil_pickle(kind, control))
    assert control.exists()
    target = tmp_path / "pwned"
    path = write(tmp_path / "d.pkl", evil_pickle(kind, target))
    with pytest.raises(DataError, match="malicious"):
        ltd.load_dictionary(path)
    assert not target.exists()


@pytest.mark.parametrize("obj, problem", [
    (["a", "b"], "expected a dict"),
    ({0: "a", 1: "b"}, "not a single character"),
    ({"a": 0, "b": 0}, "each exactly once"),
    ({"a": 0, "b": 2}, "each exactly once"),
    ({"a": -1, "b": 0}, "each exactly once"),
    ({"ab": 0}, "not a single character"),
    ({"a": 0.0}, "not an int"),
    ({"a": True}, "not an int"),
    ({"a": 0, b"a": 1}, "appears twice"),
])
def test_load_dictionary_wrong_contents(tmp_path, obj, problem):
    path = write(tmp_path / "d.pkl", pickle.dumps(obj))
    with pytest.raises(DataError, match=problem) as err:
        ltd.load_dictionary(path)
    assert str(path) in str(err.value)
