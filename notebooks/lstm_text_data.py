"""The notebook's helper: the 2015 downloads and the character dictionary, in Python 3.

The original notebook fetched traindata.txt.gz, valdata.txt.gz and dictionary.pkl with
`requests`, unzipped the text with `gzip` and read the dictionary with cPickle. This file
keeps those steps, each made safe:

- `fetch(url, path)` streams one URL into a file, with timeouts, and returns its SHA-256;
  every failure is one DownloadError that says whether trying again may help.
- `load_dictionary(path)` reads a pickled char -> int dictionary without running code and
  checks it; `build_dictionary(lines)` makes one from your own text.

It needs only the standard library and `requests`, and never imports the package: the
package builds on it (lstm_text.download adds retries, a deadline, a cache and checks of
what arrived, then writes each file whole or not at all; lstm_text.corpus checks the text).
"""
import hashlib
import os
import pickle
import re
import string
from pathlib import Path

import requests
import urllib3  # requests' own transport: its errors surface while reading response.raw

UNKNOWN = "~"  # the notebook's token for characters missing from the dictionary
ORIGINAL_URL = "http://www-etud.iro.umontreal.ca/~brakelp/"
# The files of the 2015 notebook. No checksums were ever published, so they are unverified.
ORIGINAL_SOURCE = {
    "train": ORIGINAL_URL + "traindata.txt.gz",
    "valid": ORIGINAL_URL + "valdata.txt.gz",
    "dictionary": ORIGINAL_URL + "dictionary.pkl",
}
ORIGINAL_FILES = {"train": "traindata.txt", "valid": "valdata.txt", "dictionary": "dictionary.pkl"}
CONNECT_TIMEOUT, READ_TIMEOUT = 10, 20  # seconds: to connect; to wait for the next bytes
CHUNK = 1 << 16                         # bytes read at a time


class DataError(Exception):
    """A data file or download is missing or unusable; the message names it and the fix."""


class DownloadError(DataError):
    """Downloading `url` failed for `reason`. `retry`: trying again may help (no connection,
    a server error, a cut transfer); `timed_out`: nothing came within the timeout."""

    def __init__(self, url, reason, retry=False, timed_out=False):
        super().__init__(f"cannot download {url}: {reason}.")
        self.url, self.reason, self.retry, self.timed_out = url, reason, retry, timed_out


# ---------------------------------------------------------------- downloads

def _reason(exc):
    """The useful part of a requests/urllib3 error, e.g. '[Errno 111] Connection refused'."""
    text = str(exc)
    match = re.search(r"\[Errno -?\d+\][^'\")]*", text)
    return match.group(0).strip() if match else f"{type(exc).__name__}: {text[:300]}"

def _get(url, timeout):
    """The streaming response to GET `url`; no answer, or HTTP 4xx/5xx, is a DownloadError."""
    try:
        response = requests.get(url, stream=True, timeout=timeout,
                                headers={"Accept-Encoding": "identity"})
    except requests.Timeout as exc:  # no connection, or no answer, within the timeout
        raise DownloadError(url, f"no answer within the timeout ({_reason(exc)})",
                            retry=True, timed_out=True) from None
    except requests.ConnectionError as exc:
        raise DownloadError(url, _reason(exc), retry=True) from None
    except requests.RequestException as exc:  # a malformed URL, say: trying again won't help
        raise DownloadError(url, _reason(exc)) from None
    if response.status_code >= 400:
        response.close()
        raise DownloadError(url, f"HTTP {response.status_code} {response.reason}",
                            retry=response.status_code >= 500)
    return response

def fetch(url, path, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT), decode=True, report=None):
    """Stream `url` into the file `path`, fsynced; return the SHA-256 of the bytes written.

    `timeout` is (connect, read) seconds. decode=False keeps the bytes as served (a .gz file
    sent with "Content-Encoding: gzip" stays compressed, for gzip to open). `report(received,
    total)` is called after each piece (total is None when the server does not say); it may
    raise to stop. `path` is written in place: fetch into a temporary name and rename it once
    checked, as lstm_text.download does, so that a failure never leaves half a file behind.
    """
    response = _get(url, timeout)
    total = int(response.headers.get("Content-Length", "0") or 0) or None
    digest, received = hashlib.sha256(), 0
    with response, open(path, "wb") as out:
        try:
            # read1 returns what has arrived (one recv), so a server that sends a byte at a
            # time cannot keep us inside one read past a deadline that `report` enforces.
            for chunk in iter(lambda: response.raw.read1(CHUNK, decode_content=decode), b""):
                digest.update(chunk)
                out.write(chunk)
                received += len(chunk)
                if report:
                    report(received, total)
        except urllib3.exceptions.TimeoutError as exc:
            raise DownloadError(url, f"no data within the read timeout ({_reason(exc)})",
                                retry=True, timed_out=True) from None
        except (urllib3.exceptions.HTTPError, requests.RequestException) as exc:
            raise DownloadError(url, _reason(exc), retry=True) from None  # e.g. a cut transfer
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest()


# ---------------------------------------------------------------- the dictionary

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)

def ascii_lower(text):
    """Lowercase A-Z only, as Python 2's str.lower did on the byte strings of the original."""
    return text.translate(_ASCII_LOWER)

def build_dictionary(lines, preprocess=str.lower):
    """Map every character that Fuel will look up in `lines` to 0..n-1, in sorted order.

    `lines` are decoded text, e.g. open("my_text.txt", encoding="utf-8"); the characters are
    those of each line after `preprocess` and strip(), as Fuel's TextFile reads them. '~'
    (unknown) comes last, unless it occurs in the text: then it keeps its sorted place.
    """
    if isinstance(lines, (str, bytes, os.PathLike)):
        raise TypeError("build_dictionary takes lines of text, e.g. open(path), not a path")
    chars = set()
    for line in lines:
        chars.update(preprocess(line).strip())
    dictionary = {char: index for index, char in enumerate(sorted(chars))}
    dictionary.setdefault(UNKNOWN, len(dictionary))
    return dictionary

class _PlainDataUnpickler(pickle.Unpickler):
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
            obj = _PlainDataUnpickler(handle, encoding="bytes").load()
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
