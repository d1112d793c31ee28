"""Tests of lstm_text.corpus.load_corpus: your files, the bundled Austen and tiny corpora, and
the original one from a local server (tests/local_http.py): fast, offline, no Theano."""
import gzip
import subprocess
import sys
from pathlib import Path

import pytest

from file_helpers import names, sha256, write  # noqa: F401
from local_http import dead_url, no_proxy, server  # noqa: F401  (fixtures)

import lstm_text_data as ltd
from lstm_text import corpus as corpora, download as dl
from lstm_text_data import DataError

from lstm_text.paths import NOTEBOOKS  # the one place that knows the repository

TEXT = "The first sentence.\nAnd a second one, café.\n".encode("utf-8")
GZ = gzip.compress(TEXT)


def lines(path):
    """The lines of a UTF-8 file, split at b'\\n' as Fuel's TextFile splits them."""
    return Path(path).read_bytes().decode("utf-8").split("\n")


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
    assert corpus.dictionary == ltd.build_dictionary(lines(corpus.train_file))
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
    assert corpus.dictionary == ltd.build_dictionary(lines(corpus.train_file))
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
    monkeypatch.setattr(dl, "download", _fast(dl.download))
    with pytest.raises(DataError, match=r"cannot download .*Once online, run "
                       r"`LSTM_CORPUS=original make run` again, or download .* another way "
                       r"and put them into .*original") as err:
        corpora.load_corpus("original", work_dir=tmp_path)
    assert "load_corpus" not in str(err.value)  # a command to run, not a Python call


def _fast(function):
    def call(*args, **kwargs):
        return function(*args, **{**kwargs, "retries": 0, "backoff": 0})
    return call


def test_save_dictionary_round_trip_through_the_helper(tmp_path):
    dictionary = {"a": 0, "b": 1, "é": 2, "~": 3}
    path = corpora.save_dictionary(dictionary, tmp_path / "dictionary.pkl")
    assert path.read_bytes()[:2] == b"\x80\x02"  # protocol 2
    assert ltd.load_dictionary(path) == dictionary
    assert names(tmp_path) == ["dictionary.pkl"]


@pytest.fixture
def bundled():
    if not (corpora.DATA_DIR / "SHA256SUMS").is_file():
        pytest.skip("the bundled corpus is not in data/ yet")
    return corpora.DATA_DIR


def test_tiny_source_from_the_repository(bundled, tmp_path):
    with pytest.warns(UserWarning, match="tiny_valid.txt"):  # digits unseen in tiny_train
        corpus = corpora.load_corpus("tiny", work_dir=tmp_path)
    assert corpus.train_file == str(bundled / "tiny_train.txt")
    assert corpus.dictionary == ltd.build_dictionary(lines(corpus.train_file))
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
