"""File plumbing for the corpus, downloads and checkpoints: nothing is ever half-written.

Atomic writes (a temporary beside the file, fsynced, then renamed; temporaries that a killed
process left are removed by the next write), SHA-256 checksums, gzip, and reading a text
file line by line with an error that names the file, the line and the fix (UTF-16, binary,
a wrong encoding). Every problem is one ``DataError``, the class of the notebook's helper
(lstm_text_data), so that one `except DataError` catches them all. Otherwise standard library.
"""
import codecs
import contextlib
import errno
import gzip
import hashlib
import os
import re
import secrets
import time
import zlib
from pathlib import Path

from lstm_text_data import CHUNK, DataError  # noqa: F401  (DataError: for the package)

STALE_SECONDS = 600  # age after which an old-style temporary (no process id) is stale


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
def temporary(path):
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
    with temporary(path) as tmp:
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

def expect_sha256(actual, expected, what):
    """Raise DataError unless `actual` equals the `expected` hex digest (if one is known)."""
    if expected is not None and actual != expected.lower():
        raise DataError(f"{what}: SHA-256 is {actual}, expected {expected.lower()}.")

def is_cached(dest, sha256):
    """True when `dest` is a file and, where a checksum is known, matches it."""
    return dest.is_file() and (sha256 is None or sha256_file(dest) == sha256.lower())

def gzip_chunks(path, label):
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
        for chunk in gzip_chunks(src, label):
            digest.update(chunk)
            out.write(chunk)
        expect_sha256(digest.hexdigest(), sha256, f"{label} decompressed into {dest}")
    return Path(dest)

@contextlib.contextmanager
def os_errors(folder):
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


# ---------------------------------------------------------------- reading text

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
    (b"\x89PNG\r\n", "a PNG image", "give the path of a text file"),  # first line only
    (b"\xff\xd8\xff", "a JPEG image", "give the path of a text file"),
    (b"GIF8", "a GIF image", "give the path of a text file"),
    (b"\x7fELF", "a program (ELF)", "give the path of a text file"),
)
# Bytes below 0x20 that text has (tab, line feed, form feed, carriage return); others mean binary.
_TEXT_CONTROLS = frozenset(b"\t\n\x0c\r")

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

def _refuse_missing(path):
    """DataError for a path that is not there: missing, a dangling link or a link loop."""
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise DataError(f"{path}: a loop of symbolic links (it leads back to itself); "
                            f"point it at a text file.") from None
        if os.path.islink(path):
            raise DataError(f"{path}: a symbolic link to {os.readlink(path)}, which does not "
                            f"exist.") from None
        if exc.errno == errno.ENOENT:
            raise DataError(f"{path}: file not found.") from None
        raise DataError(f"{path}: {exc.strerror}.") from None

def _refuse_binary(path, raw, number):
    """DataError for a line that is binary data (control bytes that text never has)."""
    controls = sum(1 for byte in raw[:4096] if byte < 0x20 and byte not in _TEXT_CONTROLS)
    if controls >= 2:
        raise DataError(f"{path} line {number}: holds {controls} control bytes that text never "
                        f"has: this is binary data (an image, an archive, a program), not a "
                        f"text file. Give the path of a text file, one sentence per line.")

def decoded_lines(path, encoding):
    """Yield (line number, decoded line) of a text file; a decoding error is a DataError.

    UTF-16/32 files, compressed or binary ones are refused by what they start with or by
    their NUL bytes, in any encoding: latin-1 would read them as garbage without an error.
    """
    _check_encoding(encoding)
    path = Path(path)
    _refuse_missing(path)
    if path.is_dir():
        raise DataError(f"{path}: is a directory, expected a text file.")
    offset = 0
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            _refuse_not_text(path, raw, number, offset)
            try:
                line = raw.decode(encoding)
            except UnicodeDecodeError as exc:
                _refuse_binary(path, raw, number)
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
