"""Tests of lstm_text.files (atomic writes) and of checking text files before Fuel reads them
(lstm_text.corpus.check_text_file): fast, offline, no Theano."""

import gzip
from collections import Counter

import pytest

from file_helpers import names, write  # noqa: F401

from lstm_text import corpus as corpora, files
from lstm_text_data import DataError


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


def test_gunzip_file_truncated_archive(tmp_path):
    packed = gzip.compress(b"The first sentence.\nAnd a second one.\n")
    archive = write(tmp_path / "a.txt.gz", packed[: len(packed) // 2])
    with pytest.raises(DataError, match="a.txt.gz.*gzip"):
        files.gunzip_file(archive, tmp_path / "a.txt")
    assert names(tmp_path) == ["a.txt.gz"]


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
