"""Data plumbing for lstm_text.ipynb: downloads, the character dictionary and the corpus.

The 2015 notebook downloaded its text and a pickled dictionary from a university web page
that may be gone. This module gives it one call, ``load_corpus()``, that returns checked
text files and a dictionary, by default from the Jane Austen corpus bundled in data/.
It also holds the careful plumbing behind that call: atomic writes (temporaries a killed
process left are removed by the next write), a downloader with retries, checksums, timeouts,
a deadline per file and a progress line, that moves aside a file it cannot use (an HTML
login page, say) instead of caching it, a pickle loader that runs no code, and checks that
explain bad input files (UTF-16, binary, the same text for training and validation).

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
import errno
import gzip
import hashlib
import os
import pickle
import re
import secrets
import string
import sys
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
ORIGINAL_FILES = {"train": "traindata.txt", "valid": "valdata.txt", "dictionary": "dictionary.pkl"}
DOWNLOAD_HINT = "Check the URL and your network connection, then try again."
CHUNK = 1 << 16
CONNECT_TIMEOUT, READ_TIMEOUT = 10, 20  # seconds: to connect; to wait for the next bytes
DEADLINE = 600                          # seconds per downloaded file, retries included
PROGRESS_BYTES = 1 << 20                # files this large (or of unknown size) show progress
PROGRESS_EVERY = 1.0                    # seconds between its updates on a terminal (else 10x)
STALE_SECONDS = 600                     # age after which an old-style temporary is stale


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

def _pid_alive(pid):
    """True unless no process has this id (a zombie or another user's process counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(folder, pattern, max_age=STALE_SECONDS):
    """Delete the temporaries of ours in `folder` that no running process is writing.

    `pattern` (a regex) matches our temporary names; a named group `pid` holds the writer's
    process id. A match whose writer is gone (killed during a save, say) is removed; one
    without a pid (an older naming) once it is `max_age` seconds old. Returns what it removed.
    """
    removed = []
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return removed
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if not match or not entry.is_file(follow_symlinks=False):
            continue
        pid = match.groupdict().get("pid")
        try:
            stale = (not _pid_alive(int(pid)) if pid else
                     time.time() - entry.stat().st_mtime > max_age)
            if stale:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except FileNotFoundError:  # another process cleaned it first
            pass
    return removed


def _temporary_pattern(name):
    """Our temporaries beside `name`: .NAME.PID-HEX.tmp; older .NAME.HEX.tmp, .NAME.download."""
    return re.compile(re.escape(f".{name}.")
                      + r"(?:(?:(?P<pid>\d+)-)?[0-9a-f]{12}\.tmp|download)")


@contextlib.contextmanager
def _temporary(path):
    """Yield a new temporary path beside `path` (stale ones removed first); deleted on exit."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path.parent, _temporary_pattern(path.name))
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(6)}.tmp")
    try:
        yield tmp
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


@contextlib.contextmanager
def atomic_open(path, mode="wb", **open_kwargs):
    """Yield a temporary file beside `path` (folder created) that replaces it on success.

    Readers never see half a file: the data is fsynced, then os.replace'd onto `path`;
    on any error (or Ctrl-C) the temporary file is deleted and `path` is left untouched.
    Temporaries that a killed process left beside `path` are deleted first.
    """
    with _temporary(path) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # umask applies
        with open(fd, mode, **open_kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)


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


@contextlib.contextmanager
def _os_errors(folder):
    """Turn an OSError (a full disk, a folder we may not write) into one DataError."""
    try:
        yield
    except OSError as exc:
        fix = {errno.ENOSPC: "the disk is full: free some space, then run again",
               errno.EDQUOT: "the disk quota is used up: free some space, then run again",
               errno.EFBIG: "a file-size limit was reached (see ulimit -f)"}.get(
                   exc.errno, "check the path and its permissions")
        raise DataError(f"{exc.filename or folder}: {exc.strerror or exc}; {fix}. Files are "
                        f"written whole or not at all: nothing half-written was left.") from None


# ---------------------------------------------------------------- downloads

class _Transient(Exception):
    """A download failure worth retrying (connection trouble, HTTP 5xx)."""


class _TimedOut(_Transient):
    """No connection or no data within the timeout: retried once, not `retries` times."""


def _short_reason(exc):
    """The useful part of a requests/urllib3 error, e.g. '[Errno 111] Connection refused'."""
    text = str(exc)
    match = re.search(r"\[Errno -?\d+\][^'\")]*", text)
    return match.group(0).strip() if match else f"{type(exc).__name__}: {text[:300]}"


def _size(count):
    """A byte count for people: '850 B', '12.3 kB', '4.1 MB'."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count:.0f} B"


def _is_cached(dest, sha256):
    """True when `dest` is a file and, where a checksum is known, matches it."""
    return dest.is_file() and (sha256 is None or sha256_file(dest) == sha256.lower())


def _html_problem(path, url):
    """Why `path` (downloaded from `url`) is an HTML page rather than the file, or None."""
    if url.lower().endswith((".html", ".htm")):
        return None
    with open(path, "rb") as handle:
        head = handle.read(4096)
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    xhtml = start.startswith(b"<?xml") and b"<html" in start
    if not (xhtml or start.startswith((b"<!doctype html", b"<html", b"<head", b"<body"))):
        return None
    title = re.search(rb"<title[^>]*>(.*?)</title", head, re.I | re.S)
    titled = f" titled {title.group(1).decode('utf-8', 'replace').strip()[:80]!r}" if title else ""
    return (f"it is an HTML page{titled}, not the file: the network sent a login page (log "
            f"in to it in a browser first) or the file has moved")


def _text_problem(path):
    """Why a downloaded text file cannot be the corpus (empty, or binary), or None."""
    with open(path, "rb") as handle:
        head = handle.read(CHUNK)
    if not head:
        return "it is empty"
    if b"\0" in head:
        return "it holds NUL bytes, so it is not a text file"
    return None


def _dictionary_problem(path):
    """Why `path` is not a usable dictionary pickle, or None."""
    try:
        load_dictionary(path)
    except DataError as exc:
        return str(exc).removeprefix(f"{path}: ").rstrip(".")
    return None


def _problem(path, url, check):
    """The first problem that the HTML test or `check(path)` finds in a file, or None."""
    return _html_problem(path, url) or (check(path) if check else None)


def _reject(path, dest):
    """Move an unusable `path` to DEST.rejected (replacing an older one), kept for inspection."""
    aside = dest.with_name(dest.name + ".rejected")
    os.replace(path, aside)
    return aside


class _Progress:
    """A one-line report on stderr for large downloads: size, percentage and rate."""

    def __init__(self, name, total):
        self.name, self.total, self.done = name, total, 0
        self.show = total is None or total >= PROGRESS_BYTES
        self.every = PROGRESS_EVERY * (1 if sys.stderr.isatty() else 10)
        self.started = self.last = time.monotonic()
        self.shown = False

    def rate(self):
        return self.done / max(time.monotonic() - self.started, 1e-3)

    def text(self):
        of = f" of {_size(self.total)} ({100 * self.done / self.total:.0f}%)" if self.total else ""
        return f"{_size(self.done)}{of}, {_size(self.rate())}/s"

    def update(self, count):
        self.done += count
        now = time.monotonic()
        if self.show and now - self.last >= self.every:
            self.last, self.shown = now, True
            sys.stderr.write(f"\rdownloading {self.name}: {self.text()}   ")
            sys.stderr.flush()

    def close(self, finished=True):
        """The last line: the size, time and rate of a finished download; else end the line."""
        if finished and self.show:
            seconds = time.monotonic() - self.started
            end = "\r" if self.shown else ""
            sys.stderr.write(f"{end}downloaded {self.name}: {_size(self.done)} in {seconds:.0f} s "
                             f"({_size(self.rate())}/s)\n")
        elif self.shown:
            sys.stderr.write("\n")  # the error message that follows gets a line of its own
        sys.stderr.flush()


def _receive(response, path, what, clock, decode):
    """Stream the response body into `path`, fsynced; return its SHA-256 as served.

    `clock` is (start, deadline in seconds) of the whole file. Past the deadline, or as soon
    as the rate seen so far cannot finish in time, it gives up with a DataError.
    """
    started, deadline = clock
    total = int(response.headers.get("Content-Length", "0") or 0) or None
    progress = _Progress(response.url.rsplit("/", 1)[-1] or what, total)
    digest = hashlib.sha256()
    finished = False
    with open(path, "wb") as out:
        try:
            # read1: whatever has arrived (one recv), so a trickling server cannot hold us
            # inside one read past the deadline.
            for chunk in iter(lambda: response.raw.read1(CHUNK, decode_content=decode), b""):
                digest.update(chunk)
                out.write(chunk)
                progress.update(len(chunk))
                _check_deadline(progress, started, deadline, what)
            out.flush()
            os.fsync(out.fileno())
            finished = True
        except urllib3.exceptions.TimeoutError as exc:
            raise _TimedOut(f"no data for the read timeout ({_short_reason(exc)})") from None
        except (urllib3.exceptions.HTTPError, requests.RequestException) as exc:
            raise _Transient(_short_reason(exc)) from None
        finally:
            progress.close(finished)
    return digest.hexdigest()


def _check_deadline(progress, started, deadline, what):
    """Give up (DataError) past the deadline, or early when the rate cannot make it in time."""
    elapsed = time.monotonic() - started
    left = (progress.total - progress.done) if progress.total else None
    attempt_seconds = time.monotonic() - progress.started
    projected = (elapsed + left / max(progress.rate(), 1e-9)
                 if left and attempt_seconds >= min(10.0, deadline / 3) else 0)
    if elapsed > deadline or projected > deadline:
        why = (f"at {_size(progress.rate())}/s the remaining {_size(left)} would take "
               f"{projected - elapsed:.0f} s more" if projected > deadline else
               f"it was still unfinished")
        raise DataError(f"gave up on {what} after {elapsed:.0f} s: {_size(progress.done)} "
                        f"received, and {why}; the limit is {deadline:g} s per file. "
                        f"The network or the server is too slow: try again later, or "
                        f"download the file another way and put it at the path above.")


def _request(url, timeout, what, hint):
    """GET `url` streaming; a connection problem is _Transient, HTTP 4xx a DataError."""
    try:
        response = requests.get(url, stream=True, timeout=timeout,
                                headers={"Accept-Encoding": "identity"})
    except requests.Timeout as exc:  # ConnectTimeout or ReadTimeout (no answer)
        raise _TimedOut(f"no answer within the timeout ({_short_reason(exc)})") from None
    except requests.ConnectionError as exc:
        raise _Transient(_short_reason(exc)) from None
    except requests.RequestException as exc:
        raise DataError(f"cannot download {what}: {_short_reason(exc)}") from None
    if response.status_code >= 500:
        response.close()
        raise _Transient(f"HTTP {response.status_code} {response.reason}")
    if response.status_code >= 400:
        response.close()
        raise DataError(f"cannot download {what}: HTTP {response.status_code} "
                        f"{response.reason}. {hint}")
    return response


def _fetch_once(url, dest, sha256, download_sha256, gunzip, timeout, clock, check, hint):
    """One download attempt: stream `url` to a temporary file, verify, move it to `dest`."""
    what = f"{url} (downloading to {dest})"
    response = _request(url, timeout, what, hint)
    with response, _temporary(dest) as received:
        # A .gz file is often labelled "Content-Encoding: gzip"; we want its bytes as served
        # and gunzip them ourselves, so urllib3 decodes the transfer only when not gunzipping.
        served = _receive(response, received, what, clock, decode=not gunzip)
        _expect_sha256(served, download_sha256, f"{what}, as served")
        _refuse_unusable(received, dest, url, None if gunzip else check, hint)
        if not gunzip:
            _expect_sha256(served, sha256, what)
            os.replace(received, dest)
            return
        with _temporary(dest) as text:
            with open(text, "wb") as out:
                for chunk in _gzip_chunks(received, what):
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            _expect_sha256(sha256_file(text), sha256, what)
            _refuse_unusable(text, dest, url, check, hint)
            os.replace(text, dest)


def _refuse_unusable(path, dest, url, check, hint):
    """DataError if `path` is an HTML page or fails `check`; it is moved to DEST.rejected."""
    problem = _problem(path, url, check)
    if problem:
        aside = _reject(path, dest)
        raise DataError(f"{url} sent a file that is not usable as {dest}: {problem}. It is "
                        f"kept as {aside} for inspection; nothing was cached, so the next "
                        f"run downloads it again. {hint}")


def _usable_cache(dest, sha256, url, check):
    """True when `dest` is a usable cached copy; a failing one is moved aside with a warning."""
    if not dest.is_file():
        return False
    if sha256 is not None:
        problem = None if sha256_file(dest) == sha256.lower() else "its SHA-256 is wrong"
    else:
        problem = _problem(dest, url, check)
    if problem is None:
        return True
    aside = _reject(dest, dest)
    warnings.warn(f"{dest}: the cached copy is not usable: {problem}. Moved it to {aside} "
                  f"for inspection; downloading {url} again.", stacklevel=3)
    return False


def download(url, dest, sha256=None, gunzip=False, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
             retries=3, backoff=1.0, download_sha256=None, deadline=DEADLINE, check=None,
             hint=DOWNLOAD_HINT):
    """Download `url` to `dest` (gunzipped if asked) unless a valid copy is already there.

    `sha256` is checked against the final file at `dest` (the decompressed text when
    gunzip=True), so it also validates the cache; `download_sha256` is checked against the
    bytes as served. A mismatch of either leaves nothing behind. `check(path)` returns None
    or what is wrong with a file; a file that fails it, or is an HTML page (a login page, a
    moved file), is moved to DEST.rejected and named in the message, whether it was cached
    or just downloaded. `timeout` is (connect, read) seconds; `deadline` bounds the seconds
    spent on the file, retries included. Connection errors and HTTP 5xx are retried
    `retries` more times, waiting backoff, 2*backoff, ... seconds; timeouts once; 4xx never.
    Every failure is one DataError naming the URL and the file, ending with `hint`.
    """
    dest = Path(dest)
    if dest.is_dir():
        raise DataError(f"{dest} is a directory; download() needs a file name for {url}.")
    with _os_errors(dest.parent):
        if _usable_cache(dest, sha256, url, check):
            return dest
        started, timeouts = time.monotonic(), 0
        for attempt in range(retries + 1):
            try:
                _fetch_once(url, dest, sha256, download_sha256, gunzip, timeout,
                            (started, deadline), check, hint)
                return dest
            except _Transient as exc:
                timeouts += isinstance(exc, _TimedOut)
                wait = backoff * 2 ** attempt
                if (attempt == retries or timeouts == 2
                        or time.monotonic() + wait - started > deadline):
                    raise DataError(f"cannot download {url} to {dest}: {exc} "
                                    f"(tried {attempt + 1} times). {hint}") from None
                time.sleep(wait)


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


# What a file starts with when it is not one-byte or UTF-8 text: (signature, what it is, fix).
_NOT_TEXT = (
    (codecs.BOM_UTF32_LE, "UTF-32 text (it starts with the byte-order mark FF FE 00 00)", "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32 text (it starts with the byte-order mark 00 00 FE FF)", "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16 text (it starts with the byte-order mark FF FE)", "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16 text (it starts with the byte-order mark FE FF)", "UTF-16"),
    (b"\x1f\x8b", "gzip-compressed", "decompress it first (gunzip)"),
    (b"PK\x03\x04", "a zip archive", "extract the text file from it first"),
    (b"%PDF-", "a PDF document", "export it as plain text first"),
)


def _convert_hint(path, source_encoding):
    """The command that converts `path` to UTF-8."""
    return (f"convert it to UTF-8 first, e.g. `iconv -f {source_encoding} -t UTF-8 {path} > "
            f"{Path(path).stem}-utf8.txt`, and use the converted file")


def _refuse_not_text(path, raw, number, offset):
    """DataError for a file that is UTF-16/32, compressed or binary: what it is, and the fix."""
    if number == 1:
        for signature, what, fix in _NOT_TEXT:
            if raw.startswith(signature):
                if fix.startswith("UTF-"):
                    fix = _convert_hint(path, fix)
                raise DataError(f"{path}: is {what}, not a text file that Fuel can read one "
                                f"line at a time: {fix}.")
    position = raw.find(b"\0")
    if position >= 0:
        guess = "UTF-16LE" if (offset + position) % 2 else "UTF-16BE"
        raise DataError(
            f"{path} line {number}: a NUL byte (0x00) at byte {position} of the line "
            f"({offset + position} of the file), which text never has: the file is probably "
            f"UTF-16 without a byte-order mark, or not text at all. If it is UTF-16, "
            f"{_convert_hint(path, guess)}.")


def _decoded_lines(path, encoding):
    """Yield (line number, decoded line) of a text file; a decoding error is a DataError.

    UTF-16/32 files, compressed or binary ones are refused by what they start with or by
    their NUL bytes, in any encoding: latin-1 would read them as garbage without an error.
    """
    _check_encoding(encoding)
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found.")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, expected a text file.")
    offset = 0
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            _refuse_not_text(path, raw, number, offset)
            try:
                line = raw.decode(encoding)
            except UnicodeDecodeError as exc:
                hint = (" If the file is in another encoding, convert it to UTF-8 (e.g. "
                        "`iconv -f WINDOWS-1252 -t UTF-8`) or pass that encoding, e.g. "
                        "encoding='latin-1' (only if you know it is: any byte reads as "
                        "latin-1)." if codecs.lookup(encoding).name == "utf-8" else "")
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


def original_hint(folder):
    """What to do when the 2015 files cannot be downloaded: the command, or where they go."""
    return (f"Once online, run `LSTM_CORPUS=original make run` again, or download "
            f"{', '.join(ORIGINAL_SOURCE.values())} another way and put them into {folder} "
            f"(the .gz files as they are). `make run` alone uses the bundled Austen corpus.")


def _download_original(folder, timeout):
    """Download the 2015 notebook's files into `folder`; return (train, valid, dictionary).

    Files put there by hand are used as they are: traindata.txt.gz is decompressed once.
    """
    hint = original_hint(folder)
    paths = []
    for key in ("train", "valid"):
        text = folder / ORIGINAL_FILES[key]
        archive = text.with_name(text.name + ".gz")
        if not text.is_file() and archive.is_file():
            gunzip_file(archive, text)
        paths.append(download(ORIGINAL_SOURCE[key], text, gunzip=True, timeout=timeout,
                              check=_text_problem, hint=hint))
    paths.append(download(ORIGINAL_SOURCE["dictionary"], folder / ORIGINAL_FILES["dictionary"],
                          timeout=timeout, check=_dictionary_problem, hint=hint))
    return tuple(paths)


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
    with _os_errors(folder):  # a full disk or a read-only work_dir: one DataError
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
