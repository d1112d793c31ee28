"""The notebook's helper: downloads and the character dictionary.

The 2015 notebook fetched three files with `requests` and `gzip` (traindata.txt.gz,
valdata.txt.gz and dictionary.pkl) and unpickled the dictionary. This module does the same,
carefully: `download()` has timeouts, retries, a deadline per file, checksums and a progress
line, and moves aside a file it cannot use (an HTML login page, say) instead of caching it;
`download_original()` fetches the three files; `load_dictionary()` unpickles without running
code, and `build_dictionary()` makes a dictionary from your own text.

Every problem is one ``DataError`` whose message names the file (and URL) and what to do.
The corpus itself (the bundled Austen novels, checks of text files) is lstm_text.corpus,
and the atomic-write plumbing is lstm_text.files.
"""
import hashlib
import os
import pickle
import re
import string
import sys
import time
import warnings
from pathlib import Path

import requests
import urllib3  # requests' own transport: its errors surface when reading response.raw

from lstm_text.files import (CHUNK, DataError, atomic_write_bytes, decoded_lines,  # noqa: F401
                             expect_sha256, gzip_chunks, gunzip_file, os_errors, sha256_file,
                             temporary)

UNKNOWN = "~"  # the notebook's token for characters missing from the dictionary
ORIGINAL_URL = "http://www-etud.iro.umontreal.ca/~brakelp/"
# The files of the 2015 notebook. No checksums were ever published, so they are unverified.
ORIGINAL_SOURCE = {
    "train": ORIGINAL_URL + "traindata.txt.gz",
    "valid": ORIGINAL_URL + "valdata.txt.gz",
    "dictionary": ORIGINAL_URL + "dictionary.pkl",
}
ORIGINAL_FILES = {"train": "traindata.txt", "valid": "valdata.txt", "dictionary": "dictionary.pkl"}
DOWNLOAD_HINT = "Check the URL and your network connection, then try again."
CONNECT_TIMEOUT, READ_TIMEOUT = 10, 20  # seconds: to connect; to wait for the next bytes
DEADLINE = 600                          # seconds per downloaded file, retries included
PROGRESS_BYTES = 1 << 20                # files this large (or of unknown size) show progress
PROGRESS_EVERY = 1.0                    # seconds between its updates on a terminal (else 10x)


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
    """Move an unusable `path` aside for inspection, to the first free name of DEST.rejected,
    DEST.rejected.1, ...: an older rejected file (perhaps the user's own) is never replaced."""
    for number in range(1000):
        aside = dest.with_name(dest.name + ".rejected" + (f".{number}" if number else ""))
        try:
            os.link(path, aside)    # fails if `aside` exists: no race can overwrite it
        except FileExistsError:
            continue
        except OSError:             # a file system without hard links
            if aside.exists():
                continue
            os.replace(path, aside)
            return aside
        os.unlink(path)
        return aside
    raise DataError(f"{dest}: 1000 rejected copies beside it already; delete them.")

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
    with response, temporary(dest) as received:
        # A .gz file is often labelled "Content-Encoding: gzip"; we want its bytes as served
        # and gunzip them ourselves, so urllib3 decodes the transfer only when not gunzipping.
        served = _receive(response, received, what, clock, decode=not gunzip)
        expect_sha256(served, download_sha256, f"{what}, as served")
        _refuse_unusable(received, dest, url, None if gunzip else check, hint)
        if not gunzip:
            expect_sha256(served, sha256, what)
            os.replace(received, dest)
            return
        with temporary(dest) as text:
            with open(text, "wb") as out:
                for chunk in gzip_chunks(received, what):
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            expect_sha256(sha256_file(text), sha256, what)
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
    with os_errors(dest.parent):
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

def original_hint(folder):
    """What to do when the 2015 files cannot be downloaded: the command, or where they go."""
    return (f"Once online, run `LSTM_CORPUS=original make run` again, or download "
            f"{', '.join(ORIGINAL_SOURCE.values())} another way and put them into {folder} "
            f"(the .gz files as they are). `make run` alone uses the bundled Austen corpus.")

def download_original(folder, timeout):
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
        for _, line in decoded_lines(path, encoding):
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
        if module.split(".")[0] == "numpy":
            raise pickle.UnpicklingError(
                f"it holds NumPy objects ({module}.{name}), e.g. numpy.int64 ids; save it with "
                f"plain Python values, e.g. {{char: int(i) for char, i in d.items()}} (only "
                f"plain data is read from a pickle, so it was not loaded)")
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
