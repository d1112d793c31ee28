#!/usr/bin/env python3
"""Regenerate the default corpus in data/ from Debian's r-cran-janeaustenr.

Usage:
    python tools/make_austen_corpus.py [--deb PATH_OR_DIR] [--out data/]

Without --deb it runs ``apt-get download r-cran-janeaustenr`` in a temporary
directory.  --deb may name the .deb itself or a directory holding it.
Standard library only (the .deb is unpacked in Python: ar + tar.xz).

Output (one sentence per line, UTF-8, original case):
    austen_train.txt.gz  five novels (all but Persuasion)
    austen_valid.txt.gz  the first ~100 KB of Persuasion
    austen_test.txt.gz   the rest of Persuasion
    tiny_train.txt       the first ~25 KB of the training text
    tiny_valid.txt       the first ~5 KB of the validation text
    SHA256SUMS           sums of the above (and of the decompressed .gz)

The processing rules are documented in data/README.md and in the functions
below.  The result is byte-for-byte deterministic for a given .deb.
"""

import argparse
import glob
import gzip
import hashlib
import io
import os
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile


PACKAGE = "r-cran-janeaustenr"
EXPECTED_VERSION = "1.0.0-1"
EXPECTED_DEB_SHA256 = (
    "df6bddf211906d1ff404f8ff662c21b34e6660e7f54a311084e749050c019c95")
RDATA_PATH = "usr/lib/R/site-library/janeaustenr/data/Rdata"

# Training novels in publication order, then the held-out novel.
TRAIN_NOVELS = ["sensesensibility", "prideprejudice", "mansfieldpark",
                "emma", "northangerabbey"]
HELDOUT_NOVEL = "persuasion"

MIN_LEN = 10        # shorter sentences are dropped
MAX_LEN = 400       # longer ones are split at "; " / ", " or dropped
VALID_BYTES = 100_000
TINY_TRAIN_BYTES = 25_000
TINY_VALID_BYTES = 5_000

REPO_DATA = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "data")

# ---------------------------------------------------------------------------
# Getting the .deb and the R objects out of it


def find_deb(path):
    """Return the .deb path: PATH itself, or the single match in a folder."""
    if os.path.isdir(path):
        found = sorted(glob.glob(os.path.join(path, PACKAGE + "_*.deb")))
        if len(found) != 1:
            sys.exit("expected one %s_*.deb in %s, found %d"
                     % (PACKAGE, path, len(found)))
        return found[0]
    if not os.path.isfile(path):
        sys.exit("no such file: %s" % path)
    return path


def download_deb(tmpdir):
    """apt-get download the package into tmpdir; return the .deb path."""
    print("running: apt-get download %s (in %s)" % (PACKAGE, tmpdir))
    subprocess.run(["apt-get", "download", PACKAGE], cwd=tmpdir, check=True)
    return find_deb(tmpdir)


def ar_members(data):
    """Yield (name, bytes) for each member of an ar archive (a .deb)."""
    if data[:8] != b"!<arch>\n":
        raise ValueError("not an ar archive (.deb)")
    pos = 8
    while pos + 60 <= len(data):
        header = data[pos:pos + 60]
        name = header[:16].decode("ascii").strip().rstrip("/")
        size = int(header[48:58].decode("ascii").strip())
        yield name, data[pos + 60:pos + 60 + size]
        pos += 60 + size + (size % 2)  # members are 2-byte aligned


def open_tar_member(deb_bytes, prefix):
    """Open the deb's control.tar.* or data.tar.* member as a TarFile."""
    for name, body in ar_members(deb_bytes):
        if name.startswith(prefix):
            if name.endswith(".zst"):
                raise ValueError("%s is zstd-compressed; unpack it with "
                                 "dpkg-deb first" % name)
            return tarfile.open(fileobj=io.BytesIO(body), mode="r:*")
    raise ValueError("no %s member in the .deb" % prefix)


def tar_read(tar, path):
    """Bytes of PATH in TAR (member names may start with './')."""
    for member in tar.getmembers():
        if member.name.lstrip("./") == path and member.isfile():
            return tar.extractfile(member).read()
    raise KeyError("%s not found in the .deb" % path)


def deb_version(deb_bytes):
    """The Version: field of the .deb's control file."""
    control = tar_read(open_tar_member(deb_bytes, "control.tar"), "control")
    match = re.search(r"^Version:\s*(\S+)", control.decode(), re.M)
    return match.group(1)


def load_novels(deb_bytes):
    """Dict novel name -> list of text lines, read from the .deb."""
    # Beside this script, on sys.path when it runs; imported here so that tests can load
    # the sentence-splitting functions alone (tests/test_corpus.py).
    from rdata_reader import LazyLoadDB

    data = open_tar_member(deb_bytes, "data.tar")
    db = LazyLoadDB(tar_read(data, RDATA_PATH + ".rdx"),
                    tar_read(data, RDATA_PATH + ".rdb"))
    novels = {}
    for name in TRAIN_NOVELS + [HELDOUT_NOVEL]:
        vector = db.load(name)
        if vector.rtype != "character":
            raise ValueError("%s is an R %s, not character" %
                             (name, vector.rtype))
        novels[name] = ["" if line is None else line for line in vector]
    return novels


# ---------------------------------------------------------------------------
# Text processing

HEADING_RE = re.compile(r"(?:CHAPTER|Chapter|VOLUME|Volume)\s+"
                        r"(?:[IVXLC]+|\d+)\.?")
END_RE = re.compile(r"(?i)(?:THE END|FINIS|A NOTE ON THE TEXT)\.?")
EDITORIAL_RE = re.compile(r"(?i)[\[(]End (?:of )?volume\b")
SEPARATOR_RE = re.compile(r"[*\s]+")


def paragraphs(lines):
    """Group lines into paragraphs (separated by blank lines), joined by a
    space with whitespace collapsed."""
    paras, current = [], []
    for line in lines + [""]:
        if line.strip():
            current.append(line)
        elif current:
            paras.append(" ".join(" ".join(current).split()))
            current = []
    return paras


def body_paragraphs(paras):
    """Keep the novel proper: from the first chapter heading to the end
    marker; drop headings, "* * *" separators and editorial notes."""
    start = next(i for i, p in enumerate(paras) if HEADING_RE.fullmatch(p))
    body = []
    for para in paras[start:]:
        if END_RE.fullmatch(para):
            break
        if (HEADING_RE.fullmatch(para) or SEPARATOR_RE.fullmatch(para)
                or EDITORIAL_RE.match(para)):
            continue
        body.append(para)
    return body


def remove_italics(text):
    """Gutenberg marks italics as _word_: drop every underscore."""
    return " ".join(text.replace("_", "").split())


# Words after which a full stop does not end a sentence.
ABBREVIATIONS = {"Mr", "Mrs", "Messrs", "Ms", "Dr", "St", "Rev", "Hon",
                 "Col", "Capt", "Lieut", "Lt", "Gen", "Esq", "Sept", "Co"}
# Candidate boundary: . ! or ? plus closing quotes/brackets, then whitespace,
# then an uppercase letter or an opening quote/bracket.
BOUNDARY_RE = re.compile(r"[.!?][\"')\]]*(?=\s+[A-Z\"'(\[])")
INITIALS_RE = re.compile(r"(?:[A-Z]\.)*[A-Z]")
LAST_WORD_RE = re.compile(r"[A-Za-z.]*$")  # e.g. "Mrs" in "--(Mrs"


def is_abbreviation(before):
    """True if the text BEFORE a full stop ends in an abbreviation or an
    initial ("Mr", "J", "H.M.S"); "I" is a pronoun, not an initial."""
    word = LAST_WORD_RE.search(before).group().lstrip(".")
    if word in ABBREVIATIONS:
        return True
    return word != "I" and INITIALS_RE.fullmatch(word) is not None


def split_sentences(text):
    """Split one paragraph into sentences (see BOUNDARY_RE, is_abbreviation).

    >>> split_sentences('"Oh!" He left. Mr. Darcy came.')
    ['"Oh!"', 'He left.', 'Mr. Darcy came.']
    """
    sentences, start = [], 0
    for match in BOUNDARY_RE.finditer(text):
        if text[match.start()] == "." and is_abbreviation(
                text[start:match.start()]):
            continue
        sentences.append(text[start:match.end()].strip())
        start = match.end()
    sentences.append(text[start:].strip())
    return [s for s in sentences if s]


def _pack(parts, sep_len=1):
    """Greedily join consecutive PARTS (with a space) into pieces of at most
    MAX_LEN characters; a single part may still be longer."""
    pieces, current = [], ""
    for part in parts:
        if current and len(current) + sep_len + len(part) > MAX_LEN:
            pieces.append(current)
            current = part
        else:
            current = current + " " + part if current else part
    if current:
        pieces.append(current)
    return pieces


def limit_length(sentence):
    """Return SENTENCE as pieces of <= MAX_LEN characters: split after "; "
    first, then after ", " inside any clause still too long; if a piece is
    still too long the whole sentence is dropped (returns [])."""
    if len(sentence) <= MAX_LEN:
        return [sentence]
    clauses = []
    for clause in re.split(r"(?<=;) ", sentence):
        if len(clause) > MAX_LEN:
            clauses.extend(_pack(re.split(r"(?<=,) ", clause)))
        else:
            clauses.append(clause)
    pieces = _pack(clauses)
    if any(len(p) > MAX_LEN for p in pieces):
        return []
    return pieces


def novel_sentences(lines, counters):
    """All kept sentences of one novel, in order."""
    out = []
    for para in body_paragraphs(paragraphs(lines)):
        for sentence in split_sentences(remove_italics(para)):
            if len(sentence) > MAX_LEN:
                counters["long_split"] += 1
                pieces = limit_length(sentence)
                if not pieces:
                    counters["long_dropped"] += 1
            else:
                pieces = [sentence]
            for piece in pieces:
                if len(piece) < MIN_LEN:
                    counters["short_dropped"] += 1
                else:
                    out.append(piece)
    return out


def take_bytes(sentences, limit):
    """The longest prefix of SENTENCES whose text is at most LIMIT bytes."""
    total = 0
    for i, s in enumerate(sentences):
        total += len(s.encode("utf-8")) + 1
        if total > limit:
            return sentences[:i]
    return list(sentences)


def build_splits(novels):
    """Dict split name -> list of sentences, plus processing counters."""
    counters = {"long_split": 0, "long_dropped": 0, "short_dropped": 0}
    train = []
    for name in TRAIN_NOVELS:
        train.extend(novel_sentences(novels[name], counters))
    heldout = novel_sentences(novels[HELDOUT_NOVEL], counters)
    seen = set(train)
    unseen = [s for s in heldout if s not in seen]
    counters["heldout_seen_in_train"] = len(heldout) - len(unseen)
    valid = take_bytes(unseen, VALID_BYTES)
    test = unseen[len(valid):]
    splits = {"train": train, "valid": valid, "test": test,
              "tiny_train": take_bytes(train, TINY_TRAIN_BYTES),
              "tiny_valid": take_bytes(valid, TINY_VALID_BYTES)}
    return splits, counters


# ---------------------------------------------------------------------------
# Output

FILES = {"train": "austen_train.txt.gz", "valid": "austen_valid.txt.gz",
         "test": "austen_test.txt.gz", "tiny_train": "tiny_train.txt",
         "tiny_valid": "tiny_valid.txt"}


def encode(sentences):
    return "".join(s + "\n" for s in sentences).encode("utf-8")


def gzip_bytes(data):
    """Deterministic gzip: level 9, mtime 0, no file name in the header."""
    return gzip.compress(data, compresslevel=9, mtime=0)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def file_contents(splits):
    """Dict file name -> bytes, including SHA256SUMS."""
    contents, sums = {}, []
    for key, name in FILES.items():
        text = encode(splits[key])
        if name.endswith(".gz"):
            contents[name] = gzip_bytes(text)
            sums.append((sha256(contents[name]), name))
            sums.append((sha256(text), name[:-3]))
        else:
            contents[name] = text
            sums.append((sha256(text), name))
    contents["SHA256SUMS"] = "".join(
        "%s  %s\n" % pair for pair in sums).encode("ascii")
    return contents


def stats(sentences):
    lengths = [len(s) for s in sentences]
    text = "".join(s + "\n" for s in sentences)
    return {"sentences": len(sentences), "chars": len(text),
            "bytes": len(text.encode("utf-8")),
            "mean": statistics.mean(lengths),
            "median": statistics.median(lengths), "max": max(lengths),
            "distinct": len(set(text))}


def print_report(splits, counters, contents):
    print("\n| split | file | sentences | characters | bytes (uncompressed)"
          " | .gz bytes | mean len | median len | max len | distinct chars |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for key, name in FILES.items():
        st = stats(splits[key])
        gz = len(contents[name]) if name.endswith(".gz") else "-"
        print("| %s | %s | %d | %d | %d | %s | %.1f | %g | %d | %d |"
              % (key, name, st["sentences"], st["chars"], st["bytes"], gz,
                 st["mean"], st["median"], st["max"], st["distinct"]))
    print("\n(characters and bytes include the newline ending each line; "
          "sentence lengths exclude it)")
    print("processing: %(long_split)d sentences over 400 chars split, "
          "%(long_dropped)d of them dropped; %(short_dropped)d pieces under "
          "10 chars dropped; %(heldout_seen_in_train)d Persuasion sentences "
          "dropped as they occur verbatim in train" % counters)
    text = "".join(s for key in ("train", "valid", "test")
                   for s in splits[key])
    non_ascii = sorted({c for c in text if ord(c) > 127})
    print("non-ASCII characters kept: %s" % (
        ", ".join("%s (U+%04X) x%d" % (c, ord(c), text.count(c))
                  for c in non_ascii) or "none"))


def compare_sums(new_sums, reference_path):
    """Say whether the new SHA256SUMS equals the committed one."""
    if not os.path.exists(reference_path):
        print("no %s to compare with" % reference_path)
        return
    with open(reference_path, "rb") as f:
        old = f.read()
    if old == new_sums:
        print("output matches %s" % reference_path)
    else:
        print("WARNING: output DIFFERS from %s:" % reference_path)
        old_lines = set(old.decode().splitlines())
        for line in new_sums.decode().splitlines():
            if line not in old_lines:
                print("  new: " + line)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deb", help="the .deb, or a folder holding it "
                        "(default: apt-get download into a temp folder)")
    parser.add_argument("--out", default=REPO_DATA,
                        help="output folder (default: data/ of this repo)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmpdir:
        deb = find_deb(args.deb) if args.deb else download_deb(tmpdir)
        with open(deb, "rb") as f:
            deb_bytes = f.read()
    version, digest = deb_version(deb_bytes), sha256(deb_bytes)
    print("using %s version %s (%s)" % (PACKAGE, version, deb))
    print("deb sha256 %s" % digest)
    mismatch = version != EXPECTED_VERSION or digest != EXPECTED_DEB_SHA256
    if mismatch:
        print("WARNING: expected version %s with sha256 %s; the output may "
              "differ from the committed data" % (EXPECTED_VERSION,
                                                  EXPECTED_DEB_SHA256))

    splits, counters = build_splits(load_novels(deb_bytes))
    contents = file_contents(splits)
    print_report(splits, counters, contents)
    compare_sums(contents["SHA256SUMS"],
                 os.path.join(REPO_DATA, "SHA256SUMS"))

    os.makedirs(args.out, exist_ok=True)
    for name, data in contents.items():
        with open(os.path.join(args.out, name), "wb") as f:
            f.write(data)
    print("wrote %d files to %s" % (len(contents), args.out))


if __name__ == "__main__":
    main()
