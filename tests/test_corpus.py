"""Checks of the embedded Austen corpus in data/ and of its sentence splitter.

Fast and offline: reads only the committed files (no apt, no network).
"""

import gzip
import hashlib

import pytest

from repo_tools import load_tool
from lstm_text.paths import REPO as ROOT  # the one place that knows the repository
DATA = ROOT / "data"

SPLITS = {  # file -> (min, max) number of sentences
    "austen_train.txt.gz": (25_000, 32_000),
    "austen_valid.txt.gz": (400, 1_000),
    "austen_test.txt.gz": (2_000, 4_500),
    "tiny_train.txt": (100, 400),
    "tiny_valid.txt": (10, 60),
}
TINY_SIZES = {"tiny_train.txt": (20_000, 25_000),
              "tiny_valid.txt": (4_000, 5_000)}
MAX_LEN = 400



def _bytes(name):
    data = (DATA / name).read_bytes()
    return gzip.decompress(data) if name.endswith(".gz") else data


def _lines(name):
    return _bytes(name).decode("utf-8").split("\n")[:-1]


@pytest.fixture(scope="module")
def lines():
    return {name: _lines(name) for name in SPLITS}


def test_sha256sums():
    listed = {}
    for row in (DATA / "SHA256SUMS").read_text().splitlines():
        digest, name = row.split("  ", 1)
        listed[name] = digest
    for name in SPLITS:
        assert listed[name] == hashlib.sha256(
            (DATA / name).read_bytes()).hexdigest(), name
        if name.endswith(".gz"):  # the text itself, whatever zlib made it
            assert listed[name[:-3]] == hashlib.sha256(
                _bytes(name)).hexdigest(), name[:-3]


@pytest.mark.parametrize("name", sorted(SPLITS))
def test_split_shape(name, lines):
    text = _bytes(name)
    assert text.endswith(b"\n") and b"\r" not in text
    rows = lines[name]
    assert all(row.strip() == row and row for row in rows), "blank/padded"
    assert max(len(row) for row in rows) <= MAX_LEN
    low, high = SPLITS[name]
    assert low <= len(rows) <= high


def test_validation_and_test_unseen_in_train(lines):
    train = set(lines["austen_train.txt.gz"])
    for name in ("austen_valid.txt.gz", "austen_test.txt.gz"):
        assert not train.intersection(lines[name]), name


def test_tiny_corpus(lines):
    for name, (low, high) in TINY_SIZES.items():
        assert low <= (DATA / name).stat().st_size <= high, name
    train, valid = lines["austen_train.txt.gz"], lines["austen_valid.txt.gz"]
    tiny_train, tiny_valid = lines["tiny_train.txt"], lines["tiny_valid.txt"]
    assert train[:len(tiny_train)] == tiny_train
    assert valid[:len(tiny_valid)] == tiny_valid


@pytest.fixture(scope="module")
def corpus_tool():
    return load_tool("make_austen_corpus")


@pytest.mark.parametrize("text, expected", [
    ('Mr. and Mrs. Dashwood met Dr. Grant. He bowed.',
     ['Mr. and Mrs. Dashwood met Dr. Grant.', 'He bowed.']),
    ('"Oh!" She ran. "Is it you?" He smiled.',
     ['"Oh!"', 'She ran.', '"Is it you?"', 'He smiled.']),
    ('"Come, Sir!" cried she. "Sir!" Yes, Sir. Go.',
     ['"Come, Sir!" cried she.', '"Sir!"', 'Yes, Sir.', 'Go.']),
    ('Signed J. W. Smith, Esq. of Bath. Then the Rev. Mr. Norris came.',
     ['Signed J. W. Smith, Esq. of Bath.', 'Then the Rev. Mr. Norris came.']),
    ('The H.M.S. Thrush sailed. So do I. Indeed.',
     ['The H.M.S. Thrush sailed.', 'So do I.', 'Indeed.']),
    ('"Oh! dear, no, never." It was late. (She knew.) And so--Mrs. Jennings.',
     ['"Oh! dear, no, never."', 'It was late.', '(She knew.)',
      'And so--Mrs. Jennings.']),
    ('Was it? yes; it was 3 p.m. then.', ['Was it? yes; it was 3 p.m. then.']),
])
def test_split_sentences(corpus_tool, text, expected):
    assert corpus_tool.split_sentences(text) == expected


def test_limit_length(corpus_tool):
    clause = "x" * 150
    long = "; ".join([clause] * 4) + "."
    pieces = corpus_tool.limit_length(long)
    assert len(pieces) == 2 and all(len(p) <= MAX_LEN for p in pieces)
    assert " ".join(pieces) == long
    assert corpus_tool.limit_length("y" * 401) == []
    assert corpus_tool.limit_length("short.") == ["short."]


def test_headings_dropped(corpus_tool):
    lines = ["TITLE", "", "CHAPTER I", "", "It began", "here.", "",
             "* * * * *", "", "Chapter 2", "", "(End of volume one.)", "",
             "More _text_.", "", "THE END", "", "A note."]
    body = corpus_tool.body_paragraphs(corpus_tool.paragraphs(lines))
    assert body == ["It began here.", "More _text_."]
    assert corpus_tool.remove_italics(body[1]) == "More text."
