"""Tests of notebooks/lstm_text_data.py: atomic files, downloads, the dictionary, the corpus.

Downloads are tested against a real HTTP server on 127.0.0.1 started here (no mocks); every
bad input has its own test. Fast and offline: no Theano, no Fuel, no internet.
"""
import gzip
import hashlib
import os
import pickle
import shlex
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from local_http import dead_url, no_proxy, server  # noqa: F401  (fixtures)

import lstm_text_data as ltd
from lstm_text import corpus as corpora, files
from lstm_text_data import DataError

from lstm_text.paths import NOTEBOOKS  # the one place that knows the repository

FAST = {"timeout": 5, "retries": 2, "backoff": 0}


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def write(path, data):
    path = Path(path)
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def names(folder):
    """Every entry of a folder, hidden temporary files included."""
    return sorted(p.name for p in Path(folder).iterdir())


# ---------------------------------------------------------------- a real local HTTP server

TEXT = "The first sentence.\nAnd a second one, café.\n".encode("utf-8")
GZ = gzip.compress(TEXT)


# ---------------------------------------------------------------- atomic writes

def test_atomic_write_replaces_whole_file_and_leaves_no_temp(tmp_path):
    target = write(tmp_path / "f.bin", b"old")
    files.atomic_write_bytes(target, b"new contents")
    assert target.read_bytes() == b"new contents"
    assert names(tmp_path) == ["f.bin"]


def test_atomic_open_error_keeps_old_file_and_removes_temp(tmp_path):
    target = write(tmp_path / "f.bin", b"old")
    with pytest.raises(RuntimeError):
        with files.atomic_open(target) as handle:
            handle.write(b"half")
            raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old"
    assert names(tmp_path) == ["f.bin"]


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


# ---------------------------------------------------------------- checking text files

def test_check_text_file_accepts_and_reports(tmp_path):
    path = write(tmp_path / "t.txt", "One.\n\nTwo words.\r\n   \n")
    report = corpora.check_text_file(path)
    assert (report.lines, report.blank_lines, report.longest_line) == (4, 2, 10)
    assert report.unknown_chars == Counter()


def test_check_missing_file(tmp_path):
    with pytest.raises(DataError, match="missing.txt: file not found"):
        corpora.check_text_file(tmp_path / "missing.txt")


def test_check_directory(tmp_path):
    with pytest.raises(DataError, match="is a directory"):
        corpora.check_text_file(tmp_path)


def test_check_empty_file(tmp_path):
    with pytest.raises(DataError, match="empty.txt: file is empty"):
        corpora.check_text_file(write(tmp_path / "empty.txt", b""))


def test_check_only_blank_lines(tmp_path):
    with pytest.raises(DataError, match="only blank lines"):
        corpora.check_text_file(write(tmp_path / "blank.txt", b"\n  \n\r\n"))


def test_check_not_utf8_names_line_and_offset(tmp_path):
    path = write(tmp_path / "t.txt", b"good line\nbad \xe9 byte\n")
    with pytest.raises(DataError) as err:
        corpora.check_text_file(path)
    message = str(err.value)
    assert f"{path} line 2" in message and "0xe9" in message
    assert "byte 4 of the line (14 of the file)" in message
    assert "encoding='latin-1'" in message
    assert corpora.check_text_file(path, encoding="latin-1").lines == 2


def test_check_line_too_long(tmp_path):
    path = write(tmp_path / "t.txt", "short\n" + "x" * 30 + "\n")
    with pytest.raises(DataError, match=r"t.txt line 2: 30 characters.*max_line_chars=20"):
        corpora.check_text_file(path, max_line_chars=20)
    assert corpora.check_text_file(path, max_line_chars=30).longest_line == 30


def test_check_unknown_characters_warns_with_counts(tmp_path):
    path = write(tmp_path / "t.txt", "ABC\nxyz!!\n")
    dictionary = {"a": 0, "b": 1, "c": 2, "~": 3}
    with pytest.warns(UserWarning, match=r"5 characters \(4 distinct\).*'!' \(2\)"):
        report = corpora.check_text_file(path, dictionary=dictionary)
    assert report.unknown_chars == Counter({"!": 2, "x": 1, "y": 1, "z": 1})


def test_check_unknown_encoding(tmp_path):
    with pytest.raises(DataError, match="unknown text encoding"):
        corpora.check_text_file(write(tmp_path / "t.txt", "a\n"), encoding="no-such-codec")


# ---------------------------------------------------------------- load_corpus

def test_user_files_blank_lines_dropped_in_copy_and_originals_untouched(tmp_path):
    train = write(tmp_path / "train.txt", b"First line.\r\n\r\nSecond line.\r\n  \n")
    valid = write(tmp_path / "valid.txt", b"\xef\xbb\xbfSecond line.\n")
    test = write(tmp_path / "test.txt", b"line\r\n")
    before = train.read_bytes(), valid.read_bytes(), test.read_bytes()
    with pytest.warns(UserWarning, match=r"train.txt: the prepared copy .* leaves out 2 blank "
                      r"lines \(Fuel would read them as empty sentences\)\.$"):
        corpus = corpora.load_corpus(train=train, valid=valid, test=test,
                                 work_dir=tmp_path / "work")
    assert (train.read_bytes(), valid.read_bytes(), test.read_bytes()) == before
    assert corpus.source == "files"
    assert Path(corpus.test_file).read_bytes() == b"line\n"
    assert Path(corpus.train_file).read_bytes() == b"First line.\nSecond line.\n"
    assert Path(corpus.valid_file).read_bytes() == b"Second line.\n"
    assert Path(corpus.train_file).parent == tmp_path / "work" / "files"
    assert corpus.dictionary == ltd.build_dictionary([corpus.train_file])
    assert ltd.load_dictionary(corpus.dictionary_file) == corpus.dictionary


def test_user_files_one_character_lines_dropped_in_copy(tmp_path):
    """A one-character sentence has nothing to predict; a batch of only such sentences has
    one time step, which crashes Theano (see test_model_reference), so the copy leaves them out."""
    train = write(tmp_path / "train.txt", b"a\n\nAn apple.\n  b \nI\nok\n")
    valid = write(tmp_path / "valid.txt", b"A pplan.\n")
    before = train.read_bytes()
    with pytest.warns(UserWarning, match=r"train.txt: the prepared copy .* leaves out 1 blank "
                      r"lines .* and 3 one-character lines \(nothing to predict\)\.$"):
        corpus = corpora.load_corpus(train=train, valid=valid, work_dir=tmp_path / "work")
    assert train.read_bytes() == before
    assert Path(corpus.train_file).read_bytes() == b"An apple.\nok\n"
    # the dictionary is built from the copy: no characters that only dropped lines had
    assert set(corpus.dictionary) == set("an pple.ok") | {ltd.UNKNOWN}


def test_check_no_line_long_enough_to_predict(tmp_path):
    path = write(tmp_path / "letters.txt", b"a\n\nb\n c \n")
    with pytest.raises(DataError, match=r"letters.txt: no line has two characters or more "
                       r"\(3 one-character lines, 1 blank\)"):
        corpora.check_text_file(path)


def test_user_files_with_given_dictionary_and_latin1(tmp_path):
    train = write(tmp_path / "train.txt", "Déjà vu\n".encode("latin-1"))
    valid = write(tmp_path / "valid.txt", b"vu\n")
    with pytest.warns(UserWarning, match="not in the dictionary"):
        corpus = corpora.load_corpus(train=train, valid=valid, encoding="latin-1",
                                 dictionary={"v": 0, "u": 1}, work_dir=tmp_path / "w")
    assert corpus.dictionary == {"v": 0, "u": 1, "~": 2}
    assert Path(corpus.train_file).read_text(encoding="utf-8") == "Déjà vu\n"


def test_user_files_bad_input_named(tmp_path):
    valid = write(tmp_path / "valid.txt", "ok\n")
    with pytest.raises(DataError, match="nope.txt: file not found"):
        corpora.load_corpus(train=tmp_path / "nope.txt", valid=valid, work_dir=tmp_path / "w")
    with pytest.raises(DataError, match="needs both"):
        corpora.load_corpus("files", train=valid, work_dir=tmp_path / "w")


def test_unknown_source(tmp_path):
    with pytest.raises(DataError, match="unknown source 'shakespeare'"):
        corpora.load_corpus("shakespeare", work_dir=tmp_path)


def make_bundle(folder, texts):
    """A data/ folder like the repository's: austen_*.txt.gz and SHA256SUMS."""
    folder.mkdir()
    rows = []
    for split, text in texts.items():
        raw = text.encode("utf-8")
        archive = gzip.compress(raw)
        write(folder / f"austen_{split}.txt.gz", archive)
        rows += [f"{sha256(archive)}  austen_{split}.txt.gz",
                 f"{sha256(raw)}  austen_{split}.txt"]
    write(folder / "SHA256SUMS", "\n".join(rows) + "\n")
    return folder


BUNDLE = {"train": "Emma Woodhouse.\nHandsome, clever!\n", "valid": "Woe.\n",
          "test": "Emma!\n"}


def test_austen_source_unpacks_once_and_builds_dictionary(tmp_path, monkeypatch):
    data = make_bundle(tmp_path / "data", BUNDLE)
    corpus = corpora.load_corpus(data_dir=data, work_dir=tmp_path / "work")
    folder = tmp_path / "work" / "austen"
    assert corpus.train_file == str(folder / "austen_train.txt")
    assert Path(corpus.test_file).read_text() == BUNDLE["test"]
    assert corpus.dictionary == ltd.build_dictionary([corpus.train_file])
    assert len(corpus.dictionary) == len(set(BUNDLE["train"].lower()) - {"\n"}) + 1
    assert names(folder) == ["austen_test.txt", "austen_train.txt", "austen_valid.txt",
                             "dictionary.pkl"]

    def must_not_run(*args, **kwargs):
        raise AssertionError("the cached text should have been used")

    monkeypatch.setattr(corpora, "gunzip_file", must_not_run)
    assert corpora.load_corpus(data_dir=data, work_dir=tmp_path / "work") == corpus


def test_austen_source_redoes_a_modified_cached_text(tmp_path):
    data = make_bundle(tmp_path / "data", BUNDLE)
    corpora.load_corpus(data_dir=data, work_dir=tmp_path / "work")
    cached = tmp_path / "work" / "austen" / "austen_valid.txt"
    cached.write_text("tampered\n")
    corpora.load_corpus(data_dir=data, work_dir=tmp_path / "work")
    assert cached.read_text() == BUNDLE["valid"]


def test_austen_source_corrupt_bundle_is_named(tmp_path):
    data = make_bundle(tmp_path / "data", BUNDLE)
    archive = data / "austen_valid.txt.gz"
    write(archive, archive.read_bytes()[:-4])
    with pytest.raises(DataError, match="austen_valid.txt.gz is corrupt"):
        corpora.load_corpus(data_dir=data, work_dir=tmp_path / "work")


def test_original_source_from_a_local_server(server, tmp_path, monkeypatch):
    py2 = b"(dp0\nS' '\nI0\nsS'a'\nI1\nsS'b'\nI2\nsS'\\xc3'\nI3\ns."
    server.routes.update({
        "/traindata.txt.gz": (200, gzip.compress("AB ba\nÀ\n".encode("utf-8")), {}),
        "/valdata.txt.gz": (200, gzip.compress(b"ab\n"), {}),
        "/dictionary.pkl": (200, py2, {})})
    for key in ltd.ORIGINAL_SOURCE:
        name = ltd.ORIGINAL_SOURCE[key].rsplit("/", 1)[1]
        monkeypatch.setitem(ltd.ORIGINAL_SOURCE, key, f"{server.url}/{name}")
    with pytest.warns(UserWarning, match=r"1 characters \(1 distinct\).*'\\x80'"):
        corpus = corpora.load_corpus("original", work_dir=tmp_path)
    assert corpus.dictionary == {" ": 0, "a": 1, "b": 2, "Ã": 3, "~": 4}
    assert (corpus.encoding, corpus.preprocess) == ("latin-1", ltd.ascii_lower)
    assert Path(corpus.train_file).read_bytes() == "AB ba\nÀ\n".encode("utf-8")
    with pytest.warns(UserWarning):
        corpora.load_corpus("original", work_dir=tmp_path)  # cached: no new request
    assert len(server.hits) == 3


def test_original_source_offline_says_what_to_do(dead_url, tmp_path, monkeypatch):
    monkeypatch.setitem(ltd.ORIGINAL_SOURCE, "train", dead_url + "/traindata.txt.gz")
    monkeypatch.setattr(ltd, "download", _fast(ltd.download))
    with pytest.raises(DataError, match=r"cannot download .*Once online, run "
                       r"`LSTM_CORPUS=original make run` again, or download .* another way "
                       r"and put them into .*original") as err:
        corpora.load_corpus("original", work_dir=tmp_path)
    assert "load_corpus" not in str(err.value)  # a command to run, not a Python call


def _fast(function):
    def call(*args, **kwargs):
        return function(*args, **{**kwargs, "retries": 0, "backoff": 0})
    return call


@pytest.fixture
def bundled():
    if not (corpora.DATA_DIR / "SHA256SUMS").is_file():
        pytest.skip("the bundled corpus is not in data/ yet")
    return corpora.DATA_DIR


def test_tiny_source_from_the_repository(bundled, tmp_path):
    with pytest.warns(UserWarning, match="tiny_valid.txt"):  # digits unseen in tiny_train
        corpus = corpora.load_corpus("tiny", work_dir=tmp_path)
    assert corpus.train_file == str(bundled / "tiny_train.txt")
    assert corpus.dictionary == ltd.build_dictionary([corpus.train_file])
    assert corpus.dictionary["~"] == len(corpus.dictionary) - 1
    assert ltd.load_dictionary(corpus.dictionary_file) == corpus.dictionary


def test_austen_source_from_the_repository(bundled, tmp_path):
    corpus = corpora.load_corpus(work_dir=tmp_path)
    for path in (corpus.train_file, corpus.valid_file, corpus.test_file):
        assert corpora.check_text_file(path).blank_lines == 0
    assert corpus.dictionary["~"] == len(corpus.dictionary) - 1


def test_paths_and_no_heavy_imports():
    assert (corpora.REPO_ROOT / "notebooks" / "lstm_text_data.py").is_file()
    assert corpora.DATA_DIR == corpora.REPO_ROOT / "data"
    code = ("import sys, lstm_text_data, lstm_text.corpus; "
            "assert not {'theano', 'fuel'} & set(sys.modules), sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], cwd=NOTEBOOKS, check=True)
