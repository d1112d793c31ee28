"""The corpus: checked text files and the dictionary, ready for Fuel's TextFile.

`load_corpus()` returns a Corpus: by default the Jane Austen novels bundled in data/
(checked against data/SHA256SUMS, decompressed once into build/data), or 'tiny' (small
files for tests), 'original' (the 2015 files, downloaded by lstm_text.download), or your
own files (train=..., valid=...), checked and copied without the lines the model cannot
learn from. `check_text_file()` explains a bad file in one DataError.

    corpus = load_corpus()
    train = TextFile([corpus.train_file], corpus.dictionary, level='character',
                     unk_token='~', bos_token=None, eos_token=None,
                     preprocess=corpus.preprocess, encoding=corpus.encoding)
"""
import collections
import dataclasses
import os
import pickle
import warnings
from pathlib import Path
from typing import Callable, Counter, Dict, NamedTuple, Optional

from lstm_text_data import (CONNECT_TIMEOUT, READ_TIMEOUT, UNKNOWN, ascii_lower,
                            build_dictionary, load_dictionary, validate_dictionary)
from lstm_text import download, paths
from lstm_text.files import (DataError, atomic_open, atomic_write_bytes, decoded_lines,
                             expect_sha256, gunzip_file, is_cached, os_errors, read_checksums,
                             sha256_file)

REPO_ROOT = paths.REPO
DATA_DIR = paths.DATA
WORK_DIR = paths.BUILD / "data"


class TextFileReport(NamedTuple):
    """What check_text_file found in a file that it accepted."""
    path: str
    lines: int
    blank_lines: int
    longest_line: int
    unknown_chars: Counter


@dataclasses.dataclass(frozen=True)

class Corpus:
    """Checked text files and the dictionary, with what Fuel's TextFile needs to read them.

    Paths are str because Fuel calls str methods on them. ``dictionary_file`` is a pickle
    that load_dictionary turns into ``dictionary``. Pass ``encoding`` and ``preprocess``
    to TextFile (encoding=..., preprocess=...) so it reads the files as they were checked.
    """
    train_file: str
    valid_file: str
    test_file: Optional[str]
    dictionary: Dict[str, int] = dataclasses.field(repr=False)
    source: str
    dictionary_file: str
    encoding: str = "utf-8"
    preprocess: Callable[[str], str] = str.lower

def check_text_file(path, encoding="utf-8", max_line_chars=2000, dictionary=None,
                    preprocess=str.lower, label=None):
    """Check a one-sentence-per-line file before Fuel reads it; return a TextFileReport.

    DataError (naming file and line): missing, a directory, empty or only blank lines, no
    line of two characters or more (nothing to predict), not decodable, or a line over
    `max_line_chars` (the LSTM unrolls over every character and a batch is padded to its
    longest sentence). Blank and one-character lines are counted, not refused: Fuel would
    make empty sentences of the first, the second have no next character to predict, so
    load_corpus drops both from its prepared copy.
    Characters outside `dictionary` (if given) are counted and reported with a warning:
    Fuel reads them as '~'. `label` names the file in that warning (the user's own file
    when `path` is its prepared copy).
    """
    lines = blank = one_character = longest = 0
    unknown = collections.Counter()
    for number, line in decoded_lines(path, encoding):
        lines = number
        sentence = line.strip()
        if not sentence:
            blank += 1
            continue
        if len(sentence) == 1:
            one_character += 1
        if len(sentence) > max_line_chars:
            raise DataError(
                f"{path} line {number}: {len(sentence)} characters, more than "
                f"max_line_chars={max_line_chars}. The LSTM unrolls over every character and "
                f"the whole batch is padded to the longest sentence: split the line into "
                f"sentences, or raise max_line_chars.")
        longest = max(longest, len(sentence))
        if dictionary is not None:
            unknown.update(char for char in preprocess(sentence).strip()
                           if char not in dictionary)
    if lines == 0:
        raise DataError(f"{path}: file is empty.")
    if blank == lines:
        raise DataError(f"{path}: contains only blank lines ({lines}).")
    if blank + one_character == lines:
        raise DataError(
            f"{path}: no line has two characters or more ({one_character} one-character "
            f"lines, {blank} blank): the model learns to predict each next character, and a "
            f"one-character sentence has none.")
    if unknown:
        common = ", ".join(f"{char!r} ({count})" for char, count in unknown.most_common(5))
        warnings.warn(f"{label or path}: {sum(unknown.values())} characters ({len(unknown)} distinct) "
                      f"are not in the dictionary and will be read as {UNKNOWN!r}; most "
                      f"common: {common}.", stacklevel=2)
    return TextFileReport(str(path), lines, blank, longest, unknown)

def prepare_text_file(src, dest, encoding="utf-8"):
    """Write a UTF-8 copy of `src` to `dest` with only the sentences the model can learn from.

    Returns (blank, one_character): how many lines of each kind were left out. Blank lines
    would be empty sentences; a one-character sentence has no next character to predict,
    and a minibatch made only of them has one time step, which Theano's matrix product
    refuses deep inside update_model. The user's file is never modified. Line endings become
    '\\n' and a leading byte-order mark is removed, so Fuel (reading the copy as UTF-8) sees
    exactly the sentences.
    """
    src, dest = Path(src), Path(dest)
    if dest.exists() and src.exists() and src.resolve() == dest.resolve():
        raise DataError(f"{src}: refusing to prepare a file onto itself; choose another work_dir.")
    blank = one_character = 0
    with atomic_open(dest, "w", encoding="utf-8", newline="\n") as out:
        for number, line in decoded_lines(src, encoding):
            line = line.rstrip("\r\n")
            if number == 1:
                line = line.lstrip("\ufeff")
            sentence_length = len(line.strip())
            if sentence_length >= 2:
                out.write(line + "\n")
            elif sentence_length == 1:
                one_character += 1
            else:
                blank += 1
    return blank, one_character

def _verified(path, sums):
    """Raise DataError unless `path` exists and matches its line in SHA256SUMS."""
    path = Path(path)
    if path.name not in sums:
        raise DataError(f"{path}: no checksum in SHA256SUMS; the data/ folder is incomplete.")
    if not path.is_file():
        raise DataError(f"{path}: bundled file not found; restore data/ (e.g. git checkout data).")
    expect_sha256(sha256_file(path), sums[path.name],
                   f"{path} is corrupt or modified; restore data/ (e.g. git checkout data)")
    return path

def _unpack_austen(data_dir, folder):
    """Decompress the bundled Austen splits into `folder` unless valid copies are there."""
    sums = read_checksums(data_dir / "SHA256SUMS")
    texts = []
    for split in ("train", "valid", "test"):
        archive = _verified(data_dir / f"austen_{split}.txt.gz", sums)
        text = folder / f"austen_{split}.txt"
        if text.name not in sums:
            raise DataError(f"{data_dir / 'SHA256SUMS'}: no checksum for {text.name}.")
        if not is_cached(text, sums[text.name]):
            gunzip_file(archive, text, sha256=sums[text.name])
        texts.append(text)
    return texts

def save_dictionary(dictionary, path):
    """Pickle a validated dictionary atomically (protocol 2, which Python 2 can read too)."""
    dictionary = validate_dictionary(dictionary, str(path))
    atomic_write_bytes(path, pickle.dumps(dictionary, protocol=2))
    return Path(path)

def _dictionary_from(arg):
    """A dictionary given to load_corpus: a dict or the path of a pickle."""
    if isinstance(arg, dict):
        return validate_dictionary(arg), None
    return load_dictionary(arg), str(arg)

def _checked_corpus(source, folder, files, dictionary, max_line_chars, labels=(None,) * 3):
    """Check `files` (train, valid, test), build or load the dictionary, return the Corpus.
    `labels`: the user's files that `files` are prepared copies of, for the warnings."""
    train, valid, test = files
    dictionary_file = None
    if dictionary is not None:
        dictionary, dictionary_file = _dictionary_from(dictionary)
    check_text_file(train, max_line_chars=max_line_chars, dictionary=dictionary,
                    label=labels[0])
    if dictionary is None:
        dictionary = build_dictionary(line for _, line in decoded_lines(train, "utf-8"))
    if dictionary_file is None:
        dictionary_file = str(save_dictionary(dictionary, folder / "dictionary.pkl"))
    for path, label in zip((valid, test), labels[1:]):
        if path is not None:
            check_text_file(path, max_line_chars=max_line_chars, dictionary=dictionary,
                            label=label)
    return Corpus(str(train), str(valid), None if test is None else str(test),
                  dictionary, source, dictionary_file)

def _warn_same_files(train, valid, test):
    """Warn when validation or test text is the training text (same file or same bytes)."""
    train_path = Path(train)
    for role, path in (("validation", valid), ("test", test)):
        if path is None or not (train_path.is_file() and Path(path).is_file()):
            continue
        if os.path.samefile(train_path, path):
            same = "the same file as"
        elif (os.path.getsize(train_path) == os.path.getsize(path)
              and sha256_file(train_path) == sha256_file(path)):
            same = "identical to"
        else:
            continue
        warnings.warn(f"{path}: the {role} text is {same} the training text {train}: its "
                      f"score then measures how well the model memorised its training text, "
                      f"not how it does on text it has not seen.", stacklevel=4)

def _prepared_copies(folder, train, valid, test, encoding, max_line_chars):
    """Check the user's files, then write their prepared UTF-8 copies into `folder`."""
    _warn_same_files(train, valid, test)
    copies = []
    for role, path in (("train", train), ("valid", valid), ("test", test)):
        if path is None:
            copies.append(None)
            continue
        check_text_file(path, encoding=encoding, max_line_chars=max_line_chars)
        copy = folder / f"{role}.txt"
        blank, one_character = prepare_text_file(path, copy, encoding=encoding)
        reasons = []
        if blank:
            reasons.append(f"{blank} blank lines (Fuel would read them as empty sentences)")
        if one_character:
            reasons.append(f"{one_character} one-character lines (nothing to predict)")
        if reasons:
            warnings.warn(f"{path}: the prepared copy {copy} leaves out "
                          f"{' and '.join(reasons)}.", stacklevel=3)
        copies.append(copy)
    return copies

def load_corpus(source="austen", data_dir=DATA_DIR, work_dir=WORK_DIR, train=None,
                valid=None, test=None, dictionary=None, encoding="utf-8",
                max_line_chars=2000, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT)):
    """Return a Corpus of checked files and dictionary; files are written to work_dir/source.

    source: 'austen' (default: the bundled corpus, checked against data/SHA256SUMS and
    decompressed once), 'tiny' (small bundled files for tests), 'original' (downloads the
    2015 files and their byte-level dictionary: the text is then read as latin-1 with
    ascii_lower, see load_dictionary), or 'files' (also implied by train=/valid=: your own
    files in `encoding`, left untouched; prepared UTF-8 copies without blank or
    one-character lines are used).
    `dictionary` (a dict or a pickle path) replaces the dictionary built from the train file.
    """
    data_dir, work_dir = Path(data_dir), Path(work_dir)
    if source == "austen" and (train is not None or valid is not None):
        source = "files"
    if source != "files" and (train, valid, test) != (None, None, None):
        raise DataError(f"train=/valid=/test= are for source='files', not {source!r}.")
    folder = work_dir / source
    with os_errors(folder):  # a full disk or a read-only work_dir: one DataError
        if source == "austen":
            files = _unpack_austen(data_dir, folder)
        elif source == "tiny":
            sums = read_checksums(data_dir / "SHA256SUMS")
            files = [_verified(data_dir / "tiny_train.txt", sums),
                     _verified(data_dir / "tiny_valid.txt", sums), None]
        elif source == "files":
            if train is None or valid is None:
                raise DataError("source='files' needs both train= and valid= text files.")
            files = _prepared_copies(folder, train, valid, test, encoding, max_line_chars)
        elif source == "original":
            if dictionary is not None:
                raise DataError("source='original' comes with its own dictionary; "
                                "dictionary= is for the other sources.")
            return _original_corpus(folder, max_line_chars, timeout)
        else:
            raise DataError(f"unknown source {source!r}: use 'austen', 'tiny', 'original' "
                            f"or 'files'.")
        labels = (train, valid, test) if source == "files" else (None,) * 3
        return _checked_corpus(source, folder, files, dictionary, max_line_chars, labels)

def _original_corpus(folder, max_line_chars, timeout):
    """The 2015 corpus: downloaded files, the Python 2 dictionary, read as latin-1 bytes."""
    train, valid, dictionary_file = download.download_original(folder, timeout)
    dictionary = load_dictionary(dictionary_file)
    for path in (train, valid):
        check_text_file(path, encoding="latin-1", max_line_chars=max_line_chars,
                        dictionary=dictionary, preprocess=ascii_lower)
    return Corpus(str(train), str(valid), None, dictionary, "original", str(dictionary_file),
                  encoding="latin-1", preprocess=ascii_lower)
