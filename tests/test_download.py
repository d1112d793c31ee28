"""Tests of lstm_text.download: the robust download of the 2015 files.

Against a real HTTP server on 127.0.0.1 (tests/local_http.py, no mocks): cache, retries,
checksums, gunzip, and a clear error for each failure. Fast and offline.
"""
import gzip

import pytest

from file_helpers import names, sha256, write  # noqa: F401
from local_http import dead_url, no_proxy, server  # noqa: F401  (fixtures)

from lstm_text import download as dl
from lstm_text_data import DataError

FAST = {"timeout": 5, "retries": 2, "backoff": 0}
TEXT = "The first sentence.\nAnd a second one, café.\n".encode("utf-8")
GZ = gzip.compress(TEXT)


def test_download_gunzip_checksums_and_cache_hit(server, tmp_path):
    # Served the way Apache serves .gz files; we must still get the text, decompressed once.
    server.routes["/t.txt.gz"] = (200, GZ, {"Content-Encoding": "gzip"})
    dest = tmp_path / "t.txt"
    got = dl.download(server.url + "/t.txt.gz", dest, sha256=sha256(TEXT), gunzip=True,
                       download_sha256=sha256(GZ), **FAST)
    assert got == dest and dest.read_bytes() == TEXT
    assert dl.download(server.url + "/t.txt.gz", dest, sha256=sha256(TEXT), gunzip=True,
                        **FAST) == dest
    assert dl.download(server.url + "/t.txt.gz", dest, gunzip=True, **FAST) == dest
    assert server.hits == ["/t.txt.gz"]  # the cache answered the second and third calls
    assert names(tmp_path) == ["t.txt"]


def test_download_plain_file(server, tmp_path):
    server.routes["/dictionary.pkl"] = (200, b"\x80\x02}q\x00.", {})
    dest = dl.download(server.url + "/dictionary.pkl", tmp_path / "sub" / "d.pkl", **FAST)
    assert dest.read_bytes() == b"\x80\x02}q\x00."


def test_download_replaces_cached_file_with_wrong_checksum(server, tmp_path):
    server.routes["/t.txt"] = (200, TEXT, {})
    dest = write(tmp_path / "t.txt", b"stale")
    with pytest.warns(UserWarning, match=r"t.txt: the cached copy is not usable: its SHA-256 "
                      r"is wrong. Moved it to .*t.txt.rejected for inspection"):
        dl.download(server.url + "/t.txt", dest, sha256=sha256(TEXT), **FAST)
    assert dest.read_bytes() == TEXT and len(server.hits) == 1
    assert (tmp_path / "t.txt.rejected").read_bytes() == b"stale"  # kept, not lost


def test_download_404_is_not_retried(server, tmp_path):
    dest = tmp_path / "traindata.txt"
    with pytest.raises(DataError) as err:
        dl.download(server.url + "/traindata.txt.gz", dest, gunzip=True, **FAST)
    message = str(err.value)
    assert "404" in message and server.url + "/traindata.txt.gz" in message
    assert str(dest) in message and message.endswith(dl.DOWNLOAD_HINT)
    assert server.hits == ["/traindata.txt.gz"]
    assert names(tmp_path) == []


def test_download_500_is_retried_then_fails(server, tmp_path):
    server.routes["/t.txt"] = (500, b"oops", {})
    with pytest.raises(DataError) as err:
        dl.download(server.url + "/t.txt", tmp_path / "t.txt", **FAST)
    assert "HTTP 500" in str(err.value) and "tried 3 times" in str(err.value)
    assert len(server.hits) == 1 + FAST["retries"]
    assert names(tmp_path) == []


def test_download_recovers_after_a_503(server, tmp_path):
    server.routes["/t.txt"] = [(503, b"busy", {}), (200, TEXT, {})]
    dest = dl.download(server.url + "/t.txt", tmp_path / "t.txt", **FAST)
    assert dest.read_bytes() == TEXT and len(server.hits) == 2


def test_download_truncated_body_is_retried_and_leaves_nothing(server, tmp_path):
    server.routes["/t.txt"] = (200, TEXT[:10], {"Content-Length": str(len(TEXT))})
    with pytest.raises(DataError, match="cannot download"):
        dl.download(server.url + "/t.txt", tmp_path / "t.txt", **FAST)
    assert len(server.hits) == 1 + FAST["retries"]
    assert names(tmp_path) == []


def test_download_connection_refused_is_one_clear_error(dead_url, tmp_path):
    dest = tmp_path / "traindata.txt"
    with pytest.raises(DataError) as err:
        dl.download(dead_url + "/traindata.txt.gz", dest, gunzip=True, timeout=2, retries=1,
                     backoff=0)
    message = str(err.value)
    assert dead_url in message and str(dest) in message
    assert "refused" in message.lower() and message.endswith(dl.DOWNLOAD_HINT)
    assert err.value.__cause__ is None and err.value.__suppress_context__  # one traceback
    assert names(tmp_path) == []


def test_download_checksum_mismatch_leaves_nothing(server, tmp_path):
    server.routes["/t.txt"] = (200, TEXT, {})
    server.routes["/t.txt.gz"] = (200, GZ, {})
    with pytest.raises(DataError, match="SHA-256"):
        dl.download(server.url + "/t.txt", tmp_path / "t.txt", sha256="0" * 64, **FAST)
    with pytest.raises(DataError, match="SHA-256"):
        dl.download(server.url + "/t.txt.gz", tmp_path / "t.txt", gunzip=True,
                     sha256="0" * 64, **FAST)
    with pytest.raises(DataError, match="as served"):
        dl.download(server.url + "/t.txt.gz", tmp_path / "t.txt", gunzip=True,
                     download_sha256="0" * 64, **FAST)
    assert len(server.hits) == 3  # a wrong checksum is not retried
    assert names(tmp_path) == []


def test_download_truncated_gzip_names_url_and_file(server, tmp_path):
    server.routes["/t.txt.gz"] = (200, GZ[:-12], {})
    dest = tmp_path / "t.txt"
    with pytest.raises(DataError, match="gzip") as err:
        dl.download(server.url + "/t.txt.gz", dest, gunzip=True, **FAST)
    assert server.url + "/t.txt.gz" in str(err.value) and str(dest) in str(err.value)
    assert names(tmp_path) == []
