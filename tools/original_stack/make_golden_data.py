"""Write the small, deterministic data set that the original-stack golden run reads.

From the bundled corpus (data/austen_train.txt.gz, data/austen_valid.txt.gz: gzip, UTF-8,
one sentence per line) this writes, into tests/golden/ by default:

  traindata.txt    the first 3,000 eligible training lines
  valdata.txt      the first 300 eligible validation lines
  dictionary.pkl   a protocol-0 pickle of a dict of one-byte strings -> ints, 110 entries

A line is eligible when every character is printable ASCII (0x20..0x7e), it has no '~'
(the seed's unknown token) and it keeps at least 2 characters after strip(). Printable
ASCII is stricter than "ASCII" on purpose: Python 2's bytes.strip()/lower() and Python 3's
str.strip()/lower() then agree on every line, so Fuel on Python 2 (bytes) and on Python 3
(text) see the same characters. Lines are written unchanged, each ending in '\\n'.

The dictionary has EXACTLY 110 entries because the seed hard-codes n_in = n_out = 111 and
adds '~' as entry 110 itself (`dictionary['~'] = len(dictionary)`). Its keys are every
character of the lowercased lines of both files, then filler characters that occur in
neither lowercased file, in this order until there are 110: uppercase A-Z, digits, other
printable ASCII (except '~'), then the bytes 0x80, 0x81, ... . The values are the keys'
ranks in byte order (0 for the smallest byte). The pickle is written by hand in the form
Python 2's `pickle.dumps(d, 0)` uses for byte-string keys (opcode S), so Python 2 loads
byte-string keys and Python 3's no-globals loader (lstm_text_data.load_dictionary) accepts it.

Standard library only; run with any Python 3:  python3 tools/original_stack/make_golden_data.py
"""
import argparse
import gzip
import os
import pickle
import string
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
TRAIN_SRC = ROOT / "data" / "austen_train.txt.gz"
VALID_SRC = ROOT / "data" / "austen_valid.txt.gz"
N_TRAIN = 3000
N_VALID = 300
N_ENTRIES = 110  # the seed adds '~' as entry 110: n_in = n_out = 111
UNKNOWN = "~"
PRINTABLE = {chr(code) for code in range(0x20, 0x7F)}


def eligible(line):
    """Printable ASCII only, no '~', and at least 2 characters after strip()."""
    return set(line) <= PRINTABLE and UNKNOWN not in line and len(line.strip()) >= 2


def first_lines(path, count):
    """The first `count` eligible lines of a gzip UTF-8 file (without their newline)."""
    selected = []
    with gzip.open(path, "rt", encoding="utf-8", newline="\n") as handle:
        for raw in handle:
            line = raw[:-1] if raw.endswith("\n") else raw
            if eligible(line):
                selected.append(line)
                if len(selected) == count:
                    return selected
    sys.exit("make_golden_data: %s has only %d eligible lines, %d needed"
             % (path, len(selected), count))


def dictionary_keys(lines):
    """The 110 one-character keys: the text's characters, then fillers (see the docstring)."""
    text_chars = set()
    for line in lines:
        text_chars.update(line.lower().strip())
    keys = sorted(text_chars)
    fillers = (list(string.ascii_uppercase) + list(string.digits)
               + sorted(PRINTABLE) + [chr(code) for code in range(0x80, 0x100)])
    for char in fillers:
        if len(keys) == N_ENTRIES:
            break
        if char not in keys and char != UNKNOWN:
            keys.append(char)
    if len(keys) != N_ENTRIES:
        sys.exit("make_golden_data: the text has %d distinct characters, more than %d"
                 % (len(text_chars), N_ENTRIES))
    return keys


def py2_str_literal(byte):
    """One byte as Python 2's repr() of a str writes it (what pickle protocol 0 stores)."""
    char = chr(byte)
    if char == "'":
        return "\"'\""
    if char == "\\":
        return "'\\\\'"
    if 0x20 <= byte < 0x7F:
        return "'%s'" % char
    return "'\\x%02x'" % byte


def protocol0_pickle(mapping):
    """A protocol-0 pickle of {one-byte str: int}, keys in byte order, as Python 2 writes it."""
    parts = ["(dp0\n"]
    for memo, (key, value) in enumerate(sorted(mapping.items()), start=1):
        parts.append("S%s\np%d\nI%d\ns" % (py2_str_literal(key[0]), memo, value))
    parts.append(".")
    return "".join(parts).encode("ascii")


def atomic_write(path, data):
    """Write bytes to path via a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=str(path.parent), prefix="." + path.name + ".")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, str(path))
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def check(out, train, valid, dictionary):
    """Re-read what was written: it round-trips, and every character is in the dictionary."""
    loaded = pickle.loads((out / "dictionary.pkl").read_bytes(), encoding="bytes")
    assert loaded == dictionary, "dictionary.pkl does not round-trip"
    assert len(loaded) == N_ENTRIES and sorted(loaded.values()) == list(range(N_ENTRIES))
    assert all(isinstance(key, bytes) and len(key) == 1 for key in loaded)
    assert UNKNOWN.encode() not in loaded
    for name, lines in (("traindata.txt", train), ("valdata.txt", valid)):
        data = (out / name).read_bytes()
        assert data.decode("ascii").split("\n")[:-1] == lines, name
        missing = {c for line in lines for c in line.lower().strip()
                   if c.encode("latin-1") not in loaded}
        assert not missing, "%s: characters missing from the dictionary: %r" % (name, missing)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(ROOT / "tests" / "golden"),
                        help="output folder (default: tests/golden)")
    out = Path(parser.parse_args().out)
    train = first_lines(TRAIN_SRC, N_TRAIN)
    valid = first_lines(VALID_SRC, N_VALID)
    keys = dictionary_keys(train + valid)
    dictionary = {key.encode("latin-1"): rank
                  for rank, key in enumerate(sorted(keys, key=lambda c: ord(c)))}
    atomic_write(out / "traindata.txt", "".join(l + "\n" for l in train).encode("ascii"))
    atomic_write(out / "valdata.txt", "".join(l + "\n" for l in valid).encode("ascii"))
    atomic_write(out / "dictionary.pkl", protocol0_pickle(dictionary))
    check(out, train, valid, dictionary)
    print("make_golden_data: wrote %s (%d train lines, %d validation lines, %d-entry dictionary)"
          % (out, len(train), len(valid), len(dictionary)))


if __name__ == "__main__":
    main()
