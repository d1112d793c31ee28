"""Tests of the notebook's helper notebooks/lstm_text_data.py: downloads and the dictionary.

Downloads are tested against a real HTTP server on 127.0.0.1 (tests/local_http.py, no mocks);
every bad input has its own test. Fast and offline: no Theano, no Fuel, no internet.
"""
import gzip
import os
import pickle
import shlex

import pytest

from file_helpers import names, sha256, write  # noqa: F401
from local_http import dead_url, no_proxy, server  # noqa: F401  (fixtures)

import lstm_text_data as ltd
from lstm_text_data import DataError

FAST = {"timeout": 5, "retries": 2, "backoff": 0}
TEXT = "The first sentence.\nAnd a second one, café.\n".encode("utf-8")
GZ = gzip.compress(TEXT)


# ---------------------------------------------------------------- downloads

def test_download_gunzip_checksums_and_cache_hit(server, tmp_path):
    # Served the way Apache serves .gz files; we must still get the text, decompressed once.
    server.routes["/t.txt.gz"] = (200, GZ, {"Content-Encoding": "gzip"})
    dest = tmp_path / "t.txt"
    got = ltd.download(server.url + "/t.txt.gz", dest, sha256=sha256(TEXT), gunzip=True,
                       download_sha256=sha256(GZ), **FAST)
    assert got == dest and dest.read_bytes() == TEXT
    assert ltd.download(server.url + "/t.txt.gz", dest, sha256=sha256(TEXT), gunzip=True,
                        **FAST) == dest
    assert ltd.download(server.url + "/t.txt.gz", dest, gunzip=True, **FAST) == dest
    assert server.hits == ["/t.txt.gz"]  # the cache answered the second and third calls
    assert names(tmp_path) == ["t.txt"]


def test_download_plain_file(server, tmp_path):
    server.routes["/dictionary.pkl"] = (200, b"\x80\x02}q\x00.", {})
    dest = ltd.download(server.url + "/dictionary.pkl", tmp_path / "sub" / "d.pkl", **FAST)
    assert dest.read_bytes() == b"\x80\x02}q\x00."


def test_download_replaces_cached_file_with_wrong_checksum(server, tmp_path):
    server.routes["/t.txt"] = (200, TEXT, {})
    dest = write(tmp_path / "t.txt", b"stale")
    with pytest.warns(UserWarning, match=r"t.txt: the cached copy is not usable: its SHA-256 "
                      r"is wrong. Moved it to .*t.txt.rejected for inspection"):
        ltd.download(server.url + "/t.txt", dest, sha256=sha256(TEXT), **FAST)
    assert dest.read_bytes() == TEXT and len(server.hits) == 1
    assert (tmp_path / "t.txt.rejected").read_bytes() == b"stale"  # kept, not lost


def test_download_404_is_not_retried(server, tmp_path):
    dest = tmp_path / "traindata.txt"
    with pytest.raises(DataError) as err:
        ltd.download(server.url + "/traindata.txt.gz", dest, gunzip=True, **FAST)
    message = str(err.value)
    assert "404" in message and server.url + "/traindata.txt.gz" in message
    assert str(dest) in message and message.endswith(ltd.DOWNLOAD_HINT)
    assert server.hits == ["/traindata.txt.gz"]
    assert names(tmp_path) == []


def test_download_500_is_retried_then_fails(server, tmp_path):
    server.routes["/t.txt"] = (500, b"oops", {})
    with pytest.raises(DataError) as err:
        ltd.download(server.url + "/t.txt", tmp_path / "t.txt", **FAST)
    assert "HTTP 500" in str(err.value) and "tried 3 times" in str(err.value)
    assert len(server.hits) == 1 + FAST["retries"]
    assert names(tmp_path) == []


def test_download_recovers_after_a_503(server, tmp_path):
    server.routes["/t.txt"] = [(503, b"busy", {}), (200, TEXT, {})]
    dest = ltd.download(server.url + "/t.txt", tmp_path / "t.txt", **FAST)
    assert dest.read_bytes() == TEXT and len(server.hits) == 2


def test_download_truncated_body_is_retried_and_leaves_nothing(server, tmp_path):
    server.routes["/t.txt"] = (200, TEXT[:10], {"Content-Length": str(len(TEXT))})
    with pytest.raises(DataError, match="cannot download"):
        ltd.download(server.url + "/t.txt", tmp_path / "t.txt", **FAST)
    assert len(server.hits) == 1 + FAST["retries"]
    assert names(tmp_path) == []


def test_download_connection_refused_is_one_clear_error(dead_url, tmp_path):
    dest = tmp_path / "traindata.txt"
    with pytest.raises(DataError) as err:
        ltd.download(dead_url + "/traindata.txt.gz", dest, gunzip=True, timeout=2, retries=1,
                     backoff=0)
    message = str(err.value)
    assert dead_url in message and str(dest) in message
    assert "refused" in message.lower() and message.endswith(ltd.DOWNLOAD_HINT)
    assert err.value.__cause__ is None and err.value.__suppress_context__  # one traceback
    assert names(tmp_path) == []


def test_download_checksum_mismatch_leaves_nothing(server, tmp_path):
    server.routes["/t.txt"] = (200, TEXT, {})
    server.routes["/t.txt.gz"] = (200, GZ, {})
    with pytest.raises(DataError, match="SHA-256"):
        ltd.download(server.url + "/t.txt", tmp_path / "t.txt", sha256="0" * 64, **FAST)
    with pytest.raises(DataError, match="SHA-256"):
        ltd.download(server.url + "/t.txt.gz", tmp_path / "t.txt", gunzip=True,
                     sha256="0" * 64, **FAST)
    with pytest.raises(DataError, match="as served"):
        ltd.download(server.url + "/t.txt.gz", tmp_path / "t.txt", gunzip=True,
                     download_sha256="0" * 64, **FAST)
    assert len(server.hits) == 3  # a wrong checksum is not retried
    assert names(tmp_path) == []


def test_download_truncated_gzip_names_url_and_file(server, tmp_path):
    server.routes["/t.txt.gz"] = (200, GZ[:-12], {})
    dest = tmp_path / "t.txt"
    with pytest.raises(DataError, match="gzip") as err:
        ltd.download(server.url + "/t.txt.gz", dest, gunzip=True, **FAST)
    assert server.url + "/t.txt.gz" in str(err.value) and str(dest) in str(err.value)
    assert names(tmp_path) == []


def test_gunzip_file_truncated_archive(tmp_path):
    archive = write(tmp_path / "a.txt.gz", GZ[: len(GZ) // 2])
    with pytest.raises(DataError, match="a.txt.gz.*gzip"):
        ltd.gunzip_file(archive, tmp_path / "a.txt")
    assert names(tmp_path) == ["a.txt.gz"]


# ---------------------------------------------------------------- the dictionary

def test_build_dictionary_exact_mapping(tmp_path):
    text = write(tmp_path / "t.txt", "Hello, World!\n  abc~ \n\n")
    assert ltd.build_dictionary([text]) == {
        " ": 0, "!": 1, ",": 2, "a": 3, "b": 4, "c": 5, "d": 6, "e": 7, "h": 8,
        "l": 9, "o": 10, "r": 11, "w": 12, "~": 13}  # '~' occurs: one entry, sorted place


def test_build_dictionary_unknown_token_comes_last(tmp_path):
    first = write(tmp_path / "a.txt", "Été\n")
    second = write(tmp_path / "b.txt", "TT\n")
    assert ltd.build_dictionary([first, second]) == {"t": 0, "é": 1, "~": 2}


def test_build_dictionary_byte_level_like_the_original(tmp_path):
    # Python 2 saw the two UTF-8 bytes of 'É' as two characters and lowercased only ASCII.
    text = write(tmp_path / "t.txt", "CAFÉ\n")
    assert ltd.build_dictionary(text, encoding="latin-1", preprocess=ltd.ascii_lower) == {
        "a": 0, "c": 1, "f": 2, "\x89": 3, "Ã": 4, "~": 5}


def test_save_load_round_trip(tmp_path):
    dictionary = {"a": 0, "b": 1, "é": 2, "~": 3}
    path = ltd.save_dictionary(dictionary, tmp_path / "dictionary.pkl")
    assert path.read_bytes()[:2] == b"\x80\x02"  # protocol 2
    assert ltd.load_dictionary(path) == dictionary
    assert names(tmp_path) == ["dictionary.pkl"]


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
