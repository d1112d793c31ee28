"""Data plumbing for lstm_text.ipynb: downloads, the character dictionary and the corpus.

The 2015 notebook downloaded its text and a pickled dictionary from a university web page
that may be gone. This module gives it one call, ``load_corpus()``, that returns checked
text files and a dictionary, by default from the Jane Austen corpus bundled in data/.
It also holds the careful plumbing behind that call: atomic writes, a retrying, checksummed
downloader, a pickle loader that runs no code, and checks that explain bad input files.

Every problem is reported as one ``DataError`` whose message names the file (and URL or
line) and says what to do. Standard library and requests only: no Theano, no Fuel.

    corpus = load_corpus()      # or load_corpus('tiny'), ('original'), (train=..., valid=...)
    train = TextFile([corpus.train_file], corpus.dictionary, level='character',
                     unk_token='~', bos_token=None, eos_token=None,
                     preprocess=corpus.preprocess, encoding=corpus.encoding)
    n_in = n_out = len(corpus.dictionary)
"""
import codecs
import collections
import contextlib
import dataclasses
import gzip
import hashlib
import os
import pickle
import re
import secrets
import string
import time
import warnings
import zlib
from pathlib import Path
from typing import Callable, Counter, Dict, NamedTuple, Optional

import requests
import urllib3  # requests' own transport: its errors surface when reading response.raw

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "data"
WORK_DIR = REPO_ROOT / "build" / "data"

UNKNOWN = "~"  # the notebook's token for characters missing from the dictionary
ORIGINAL_DICTIONARY_SIZE = 111  # the original dictionary.pkl: 110 one-byte keys, plus '~'
ORIGINAL_URL = "http://www-etud.iro.umontreal.ca/~brakelp/"
# The files of the 2015 notebook. No checksums were ever published, so they are unverified.
ORIGINAL_SOURCE = {
    "train": ORIGINAL_URL + "traindata.txt.gz",
    "valid": ORIGINAL_URL + "valdata.txt.gz",
    "dictionary": ORIGINAL_URL + "dictionary.pkl",
}
OFFLINE_HINT = ("If you are offline or the server is gone, use the corpus bundled with "
                "this repository instead: load_corpus('austen').")
CHUNK = 1 << 16


class DataError(Exception):
    """A data file or download is missing or unusable; the message names it and the fix."""


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


# ---------------------------------------------------------------- files and checksums

@contextlib.contextmanager
def atomic_open(path, mode="wb", **open_kwargs):
    """Yield a temporary file beside `path` (folder created) that replaces it on success.

    Readers never see half a file: the data is fsynced, then os.replace'd onto `path`;
    on any error (or Ctrl-C) the temporary file is deleted and `path` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # umask applies
    try:
        with open(fd, mode, **open_kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path, data):
    """Write `data` to `path` all at once or not at all (see atomic_open)."""
    with atomic_open(path) as handle:
        handle.write(data)


def sha256_file(path):
    """Hex SHA-256 of a file, read in chunks so big files need little memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_checksums(path):
    """Map file name -> hex SHA-256 from a file in `sha256sum` format."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"{path}: cannot read the checksum file ({exc.strerror}).") from None
    sums = {}
    for number, row in enumerate(text.splitlines(), 1):
        match = re.fullmatch(r"([0-9a-fA-F]{64}) [ *](.+)", row.strip())
        if not match:
            if row.strip():
                raise DataError(f"{path} line {number}: not in sha256sum format: {row!r}")
            continue
        sums[match.group(2)] = match.group(1).lower()
    return sums


def _expect_sha256(actual, expected, what):
    """Raise DataError unless `actual` equals the `expected` hex digest (if one is known)."""
    if expected is not None and actual != expected.lower():
        raise DataError(f"{what}: SHA-256 is {actual}, expected {expected.lower()}.")


def _gzip_chunks(path, label):
    """Yield the decompressed bytes of a gzip file; a corrupt or truncated one is a DataError."""
    try:
        with gzip.open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(CHUNK), b""):
                yield chunk
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{label}: not a complete gzip file ({exc}).") from None


def gunzip_file(src, dest, sha256=None, label=None):
    """Decompress gzip file `src` into `dest` atomically; `sha256` is of the decompressed data.

    On a corrupt or truncated archive or a checksum mismatch nothing is left at `dest`.
    `label` names the origin (e.g. a URL) in error messages.
    """
    label = label or str(src)
    digest = hashlib.sha256()
    with atomic_open(dest) as out:
        for chunk in _gzip_chunks(src, label):
            digest.update(chunk)
            out.write(chunk)
        _expect_sha256(digest.hexdigest(), sha256, f"{label} decompressed into {dest}")
    return Path(dest)


# ---------------------------------------------------------------- downloads

class _Transient(Exception):
    """A download failure worth retrying (connection trouble, HTTP 5xx)."""


def _short_reason(exc):
    """The useful part of a requests/urllib3 error, e.g. '[Errno 111] Connection refused'."""
    text = str(exc)
    match = re.search(r"\[Errno -?\d+\][^'\")]*", text)
    return match.group(0).strip() if match else f"{type(exc).__name__}: {text[:300]}"


def _is_cached(dest, sha256):
    """True when `dest` is a file and, where a checksum is known, matches it."""
    return dest.is_file() and (sha256 is None or sha256_file(dest) == sha256.lower())


def _fetch_once(url, dest, sha256, download_sha256, gunzip, timeout):
    """One download attempt: stream `url` to a temporary file, verify, move it to `dest`."""
    what = f"{url} (downloading to {dest})"
    try:
        response = requests.get(url, stream=True, timeout=timeout,
                                headers={"Accept-Encoding": "identity"})
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise _Transient(_short_reason(exc)) from None
    except requests.RequestException as exc:
        raise DataError(f"cannot download {what}: {_short_reason(exc)}") from None
    with response:
        if response.status_code >= 500:
            raise _Transient(f"HTTP {response.status_code} {response.reason}")
        if response.status_code >= 400:
            raise DataError(f"cannot download {what}: HTTP {response.status_code} "
                            f"{response.reason}. {OFFLINE_HINT}")
        # A .gz file is often labelled "Content-Encoding: gzip"; we want its bytes as served
        # and gunzip them ourselves, so urllib3 decodes the transfer only when not gunzipping.
        served = hashlib.sha256()
        target = dest.with_name(f".{dest.name}.download") if gunzip else dest
        try:
            with atomic_open(target) as out:
                for chunk in response.raw.stream(CHUNK, decode_content=not gunzip):
                    served.update(chunk)
                    out.write(chunk)
                _expect_sha256(served.hexdigest(), download_sha256, f"{what}, as served")
                if not gunzip:
                    _expect_sha256(served.hexdigest(), sha256, what)
        except (urllib3.exceptions.HTTPError, requests.RequestException) as exc:
            raise _Transient(_short_reason(exc)) from None
    if gunzip:
        try:
            gunzip_file(target, dest, sha256=sha256, label=what)
        finally:
            target.unlink()


def download(url, dest, sha256=None, gunzip=False, timeout=30, retries=3, backoff=1.0,
             download_sha256=None):
    """Download `url` to `dest` (gunzipped if asked) unless a valid copy is already there.

    `sha256` is checked against the final file at `dest` (the decompressed text when
    gunzip=True), so it also validates the cache; `download_sha256` is checked against the
    bytes as served. A mismatch of either leaves nothing behind. Connection errors and HTTP
    5xx are retried `retries` more times, waiting backoff, 2*backoff, ... seconds; 4xx are
    not. Every failure is one DataError naming the URL and the file. Returns Path(dest).
    """
    dest = Path(dest)
    if dest.is_dir():
        raise DataError(f"{dest} is a directory; download() needs a file name for {url}.")
    if _is_cached(dest, sha256):
        return dest
    for attempt in range(retries + 1):
        try:
            _fetch_once(url, dest, sha256, download_sha256, gunzip, timeout)
            return dest
        except _Transient as exc:
            if attempt == retries:
                raise DataError(f"cannot download {url} to {dest}: {exc} "
                                f"(tried {retries + 1} times). {OFFLINE_HINT}") from None
            time.sleep(backoff * 2 ** attempt)


# ---------------------------------------------------------------- the dictionary

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def ascii_lower(text):
    """Lowercase A-Z only, as Python 2's str.lower did on the byte strings of the original."""
    return text.translate(_ASCII_LOWER)


def build_dictionary(paths, encoding="utf-8", preprocess=str.lower):
    """Map every character that Fuel will look up in `paths` to 0..n-1, in sorted order.

    Characters are those of each line after `preprocess` and strip(), as Fuel's TextFile
    reads them. '~' (unknown) comes last, unless it occurs in the text: then it keeps its
    sorted place and the dictionary has no extra entry.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    chars = set()
    for path in paths:
        for _, line in _decoded_lines(path, encoding):
            chars.update(preprocess(line).strip())
    dictionary = {char: index for index, char in enumerate(sorted(chars))}
    dictionary.setdefault(UNKNOWN, len(dictionary))
    return dictionary


def save_dictionary(dictionary, path):
    """Pickle a validated dictionary atomically (protocol 2, which Python 2 can read too)."""
    dictionary = validate_dictionary(dictionary, str(path))
    atomic_write_bytes(path, pickle.dumps(dictionary, protocol=2))
    return Path(path)


class _NoGlobalsUnpickler(pickle.Unpickler):
    """Unpickles only plain data: any class or function in the pickle is refused, not run."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(
            f"it refers to {module}.{name}; a dictionary needs no code, so the file may be "
            f"malicious and was not loaded")

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("it uses persistent ids, which a dictionary never needs")


def load_dictionary(path):
    """Load a pickled char -> int dictionary without running code; add '~' if missing.

    Python 2 byte-string keys (the original dictionary.pkl, protocol 0) are decoded as
    latin-1. The original code iterated over the bytes of UTF-8 text, so each UTF-8 byte
    was one "character"; to reproduce its tokens, read the text with encoding='latin-1'
    (one char per byte) and lowercase with ascii_lower. See validate_dictionary for rules.
    """
    path = Path(path)
    if not path.is_file():
        problem = "is a directory" if path.is_dir() else "not found"
        raise DataError(f"{path}: dictionary file {problem}.")
    try:
        with open(path, "rb") as handle:
            obj = _NoGlobalsUnpickler(handle, encoding="bytes").load()
    except Exception as exc:  # noqa: BLE001 - any parse failure of untrusted bytes
        reason = str(exc) or type(exc).__name__
        raise DataError(f"{path}: not a usable dictionary pickle: {reason}.") from None
    return validate_dictionary(obj, str(path))


def validate_dictionary(obj, name="dictionary"):
    """Return a checked copy of a char -> int dictionary, with '~' added at len() if missing.

    Keys must be one-character str (or bytes, decoded as latin-1); values must be the ints
    0..n-1, each once, because the notebook sizes its input and output layers as
    len(dictionary) and every value is an index into them.
    """
    if not isinstance(obj, dict):
        raise DataError(f"{name}: expected a dict of character -> int, got {type(obj).__name__}.")
    result = {}
    for key, value in obj.items():
        char = key.decode("latin-1") if isinstance(key, bytes) else key
        if not isinstance(char, str) or len(char) != 1:
            raise DataError(f"{name}: key {key!r} is not a single character.")
        if type(value) is not int:
            raise DataError(f"{name}: value {value!r} of key {char!r} is not an int.")
        if char in result:
            raise DataError(f"{name}: character {char!r} appears twice (str and bytes keys).")
        result[char] = value
    if sorted(result.values()) != list(range(len(result))):
        raise DataError(f"{name}: values must be 0..{len(result) - 1}, each exactly once "
                        f"(they index the network's {len(result)} inputs and outputs).")
    result.setdefault(UNKNOWN, len(result))
    return result


def _dictionary_from(arg):
    """A dictionary given to load_corpus: a dict or the path of a pickle."""
    if isinstance(arg, dict):
        return validate_dictionary(arg), None
    return load_dictionary(arg), str(arg)


# ---------------------------------------------------------------- text files

def _check_encoding(encoding):
    """Refuse unknown encodings and those whose newline is not the byte b'\\n'."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise DataError(f"unknown text encoding {encoding!r}.") from None
    if name.startswith(("utf-16", "utf-32")):
        raise DataError(f"encoding {encoding!r} is not supported: convert the file to "
                        f"UTF-8 first (Fuel reads one sentence per line).")


def _decoded_lines(path, encoding):
    """Yield (line number, decoded line) of a text file; a decoding error is a DataError."""
    _check_encoding(encoding)
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found.")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, expected a text file.")
    offset = 0
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            try:
                line = raw.decode(encoding)
            except UnicodeDecodeError as exc:
                hint = (" If you know the file's encoding, pass it, e.g. encoding='latin-1'."
                        if codecs.lookup(encoding).name == "utf-8" else "")
                raise DataError(
                    f"{path} line {number}: not valid {encoding}: byte 0x{raw[exc.start]:02x} "
                    f"at byte {exc.start} of the line ({offset + exc.start} of the file)."
                    f"{hint}") from None
            yield number, line
            offset += len(raw)


def check_text_file(path, encoding="utf-8", max_line_chars=2000, dictionary=None,
                    preprocess=str.lower):
    """Check a one-sentence-per-line file before Fuel reads it; return a TextFileReport.

    DataError (naming file and line): missing, a directory, empty or only blank lines, no
    line of two characters or more (nothing to predict), not decodable, or a line over
    `max_line_chars` (the LSTM unrolls over every character and a batch is padded to its
    longest sentence). Blank and one-character lines are counted, not refused: Fuel would
    make empty sentences of the first, the second have no next character to predict, so
    load_corpus drops both from its prepared copy.
    Characters outside `dictionary` (if given) are counted and reported with a warning:
    Fuel reads them as '~'.
    """
    lines = blank = one_character = longest = 0
    unknown = collections.Counter()
    for number, line in _decoded_lines(path, encoding):
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
        warnings.warn(f"{path}: {sum(unknown.values())} characters ({len(unknown)} distinct) "
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
        for number, line in _decoded_lines(src, encoding):
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


# ---------------------------------------------------------------- the corpus

def _verified(path, sums):
    """Raise DataError unless `path` exists and matches its line in SHA256SUMS."""
    path = Path(path)
    if path.name not in sums:
        raise DataError(f"{path}: no checksum in SHA256SUMS; the data/ folder is incomplete.")
    if not path.is_file():
        raise DataError(f"{path}: bundled file not found; restore data/ (e.g. git checkout data).")
    _expect_sha256(sha256_file(path), sums[path.name],
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
        if not _is_cached(text, sums[text.name]):
            gunzip_file(archive, text, sha256=sums[text.name])
        texts.append(text)
    return texts


def _download_original(folder, timeout):
    """Download the 2015 notebook's files into `folder`; return (train, valid, dictionary)."""
    train = download(ORIGINAL_SOURCE["train"], folder / "traindata.txt", gunzip=True,
                     timeout=timeout)
    valid = download(ORIGINAL_SOURCE["valid"], folder / "valdata.txt", gunzip=True,
                     timeout=timeout)
    dictionary = download(ORIGINAL_SOURCE["dictionary"], folder / "dictionary.pkl",
                          timeout=timeout)
    return train, valid, dictionary


def _checked_corpus(source, folder, files, dictionary, max_line_chars):
    """Check `files` (train, valid, test), build or load the dictionary, return the Corpus."""
    train, valid, test = files
    dictionary_file = None
    if dictionary is not None:
        dictionary, dictionary_file = _dictionary_from(dictionary)
    check_text_file(train, max_line_chars=max_line_chars, dictionary=dictionary)
    if dictionary is None:
        dictionary = build_dictionary([train])
    if dictionary_file is None:
        dictionary_file = str(save_dictionary(dictionary, folder / "dictionary.pkl"))
    for path in (valid, test):
        if path is not None:
            check_text_file(path, max_line_chars=max_line_chars, dictionary=dictionary)
    return Corpus(str(train), str(valid), None if test is None else str(test),
                  dictionary, source, dictionary_file)


def _prepared_copies(folder, train, valid, test, encoding, max_line_chars):
    """Check the user's files, then write their prepared UTF-8 copies into `folder`."""
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
                max_line_chars=2000, timeout=30):
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
    return _checked_corpus(source, folder, files, dictionary, max_line_chars)


def _original_corpus(folder, max_line_chars, timeout):
    """The 2015 corpus: downloaded files, the Python 2 dictionary, read as latin-1 bytes."""
    train, valid, dictionary_file = _download_original(folder, timeout)
    dictionary = load_dictionary(dictionary_file)
    for path in (train, valid):
        check_text_file(path, encoding="latin-1", max_line_chars=max_line_chars,
                        dictionary=dictionary, preprocess=ascii_lower)
    return Corpus(str(train), str(valid), None, dictionary, "original", str(dictionary_file),
                  encoding="latin-1", preprocess=ascii_lower)
