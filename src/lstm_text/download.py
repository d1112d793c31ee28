"""Downloads that leave nothing half-done: what the notebook's helper fetches, made robust.

`download(url, dest)` builds on lstm_text_data.fetch (one GET into a file): a valid cached
copy is used as it is; otherwise the file is fetched into a temporary name beside `dest`,
retried on connection trouble and HTTP 5xx, given up after a deadline, checked (SHA-256, an
HTML login page instead of the file, a `check` of your own), gunzipped if asked, and only
then renamed to `dest`. A file that fails a check is moved to DEST.rejected, never deleted.
`download_original()` fetches the three files of the 2015 notebook. Every problem is one
DataError naming the URL, the file and what to do.
"""
import os
import re
import sys
import time
import warnings
from pathlib import Path

from lstm_text_data import (CONNECT_TIMEOUT, ORIGINAL_FILES, ORIGINAL_SOURCE, READ_TIMEOUT,
                            DataError, DownloadError, fetch, load_dictionary)
from lstm_text.files import (CHUNK, expect_sha256, gunzip_file, gzip_chunks, os_errors,
                             sha256_file, temporary)

DOWNLOAD_HINT = "Check the URL and your network connection, then try again."
DEADLINE = 600                          # seconds per downloaded file, retries included
PROGRESS_BYTES = 1 << 20                # files this large (or of unknown size) show progress
PROGRESS_EVERY = 1.0                    # seconds between its updates on a terminal (else 10x)


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

def text_problem(path):
    """Why a downloaded text file cannot be the corpus (empty, or binary), or None."""
    with open(path, "rb") as handle:
        head = handle.read(CHUNK)
    if not head:
        return "it is empty"
    if b"\0" in head:
        return "it holds NUL bytes, so it is not a text file"
    return None

def dictionary_problem(path):
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
    """A one-line report on stderr for large downloads (size, percentage, rate), and the
    deadline: it gives up as soon as the rate seen so far cannot finish in time."""

    def __init__(self, name, what, clock):
        self.name, self.what, self.total, self.done = name, what, None, 0
        self.clock = clock  # (start of the whole file, its deadline in seconds)
        self.every = PROGRESS_EVERY * (1 if sys.stderr.isatty() else 10)
        self.started = self.last = time.monotonic()
        self.shown = False

    def rate(self):
        return self.done / max(time.monotonic() - self.started, 1e-3)

    def text(self):
        of = f" of {_size(self.total)} ({100 * self.done / self.total:.0f}%)" if self.total else ""
        return f"{_size(self.done)}{of}, {_size(self.rate())}/s"

    def show(self):
        return self.total is None or self.total >= PROGRESS_BYTES

    def __call__(self, received, total):
        """fetch's report: draw the line now and then, and check the deadline."""
        self.done, self.total = received, total
        now = time.monotonic()
        if self.show() and now - self.last >= self.every:
            self.last, self.shown = now, True
            sys.stderr.write(f"\rdownloading {self.name}: {self.text()}   ")
            sys.stderr.flush()
        _check_deadline(self, *self.clock, self.what)

    def close(self, finished=True):
        """The last line: the size, time and rate of a finished download; else end the line."""
        if finished and self.show():
            seconds = time.monotonic() - self.started
            end = "\r" if self.shown else ""
            sys.stderr.write(f"{end}downloaded {self.name}: {_size(self.done)} in {seconds:.0f} s "
                             f"({_size(self.rate())}/s)\n")
        elif self.shown:
            sys.stderr.write("\n")  # the error message that follows gets a line of its own
        sys.stderr.flush()

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


def _receive(url, path, what, timeout, clock, decode):
    """Fetch `url` into `path` with the progress line and the deadline; its SHA-256 as served."""
    progress = _Progress(url.rsplit("/", 1)[-1] or what, what, clock)
    finished = False
    try:
        served = fetch(url, path, timeout, decode=decode, report=progress)
        finished = True
    finally:
        progress.close(finished)
    return served

def _fetch_once(url, dest, sha256, download_sha256, gunzip, timeout, clock, check, hint):
    """One download attempt: stream `url` to a temporary file, verify, move it to `dest`."""
    what = f"{url} (downloading to {dest})"
    with temporary(dest) as received:
        # A .gz file is often labelled "Content-Encoding: gzip"; we want its bytes as served
        # and gunzip them ourselves, so urllib3 decodes the transfer only when not gunzipping.
        try:
            served = _receive(url, received, what, timeout, clock, decode=not gunzip)
        except DownloadError as exc:
            if exc.retry:
                raise
            raise DataError(f"cannot download {what}: {exc.reason}. {hint}") from None
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
            except DownloadError as exc:  # only those worth retrying reach here
                timeouts += exc.timed_out
                wait = backoff * 2 ** attempt
                if (attempt == retries or timeouts == 2
                        or time.monotonic() + wait - started > deadline):
                    raise DataError(f"cannot download {url} to {dest}: {exc.reason} "
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
                              check=text_problem, hint=hint))
    paths.append(download(ORIGINAL_SOURCE["dictionary"], folder / ORIGINAL_FILES["dictionary"],
                          timeout=timeout, check=dictionary_problem, hint=hint))
    return tuple(paths)
