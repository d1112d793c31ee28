"""The maintainers' tools still run: each is run here as a user would run it, briefly."""
import gzip
import io
import json
import struct
import subprocess
import sys
import tarfile
import zlib
from pathlib import Path

import pytest

from repo_tools import load_tool

from lstm_text.paths import REPO  # the one place that knows the repository


def test_measure_sgd_divergence_runs_and_records_each_minibatch(tmp_path):
    out = tmp_path / "sgd.json"
    result = subprocess.run(
        [sys.executable, str(REPO / "tools" / "measure_sgd_divergence.py"), "--corpus", "tiny",
         "--epochs", "4", "--max-minibatches", "6", "--report-every", "3", "--out", str(out)],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    record = json.loads(out.read_text())
    assert [step[0] for step in record["steps"]] == [1, 2, 3, 4, 5, 6]
    assert all(step[1] > 0 and step[2] > 0 for step in record["steps"])   # cost, gradient norm
    assert [point[0] for point in record["valid"]] == [3, 6, 6]   # and the final one
    # (the tiny corpus has two minibatches of 100 an epoch: 6 minibatches span 3 epochs)
    assert "no divergence in 6 minibatches" in result.stdout


# ---------------------------------------------------------------- tools/make_austen_corpus.py
# A small .deb built here the way Debian and R build the real one: an ar archive holding
# control.tar.gz (the package's Version) and data.tar.xz, whose janeaustenr/data/Rdata.rdx
# and .rdb are an R lazy-load database written by the few lines of R serialization below.

def _xdr(*ints):
    return struct.pack(">%di" % len(ints), *ints)

def _r_string(text):                                   # CHARSXP (9), UTF-8
    data = text.encode("utf-8")
    return _xdr(9, len(data)) + data

def _r_names(names):                                   # attributes: pairlist(names = ...)
    return (_xdr(2 | 1 << 10) + _xdr(1) + _r_string("names")      # LISTSXP, tag: SYMSXP
            + _xdr(16, len(names)) + b"".join(map(_r_string, names)) + _xdr(254))

def _r_serialize(body):
    return b"X\n" + _xdr(2, 0x040000, 0x020300) + body

def _r_character(lines):                               # STRSXP (16)
    return _xdr(16, len(lines)) + b"".join(map(_r_string, lines))

def _r_named_list(items):                              # VECSXP (19) with names
    return (_xdr(19 | 1 << 9, len(items)) + b"".join(items.values())
            + _r_names(list(items)))

def _lazy_load_db(objects):
    """(rdx, rdb) bytes of an R lazy-load database of character vectors."""
    rdb, offsets = b"", {}
    for name, lines in objects.items():
        data = _r_serialize(_r_character(lines))
        blob = struct.pack(">I", len(data)) + zlib.compress(data)
        offsets[name] = _xdr(13, 2, len(rdb), len(blob))          # INTSXP c(offset, length)
        rdb += blob
    index = _r_named_list({"variables": _r_named_list(offsets)})
    return gzip.compress(_r_serialize(index)), rdb

def _tar(files, mode):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo("./" + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()

def _ar(members):
    out = b"!<arch>\n"
    for name, data in members.items():
        out += b"%-16s%-12d%-6d%-6d%-8s%-10d`\n" % (name.encode(), 0, 0, 0, b"100644", len(data))
        out += data + (b"\n" if len(data) % 2 else b"")
    return out

def _novel(title, sentences_per_paragraph):
    """A novel as janeaustenr stores it: one vector element per printed line."""
    lines = [title, "", "CHAPTER 1", ""]
    for number, count in enumerate(sentences_per_paragraph):
        words = " ".join("%s sentence %d of paragraph %d, with _some_ words." % (title, k, number)
                         for k in range(count))
        lines += [words[:40], words[40:], ""]          # a paragraph over two printed lines
    return lines + ["THE END"]


def test_make_austen_corpus_builds_a_corpus_that_load_corpus_accepts(tmp_path, monkeypatch,
                                                                      capsys):
    tool = load_tool("make_austen_corpus")
    novels = {name: _novel(name.title(), [3, 2]) for name in tool.TRAIN_NOVELS}
    novels[tool.HELDOUT_NOVEL] = _novel("Persuasion", [4] * 10)
    rdx, rdb = _lazy_load_db(novels)
    root = "usr/lib/R/site-library/janeaustenr/data/Rdata"
    deb = tmp_path / "r-cran-janeaustenr_9.9-1_all.deb"
    deb.write_bytes(_ar({
        "debian-binary": b"2.0\n",
        "control.tar.gz": _tar({"control": b"Package: r-cran-janeaustenr\nVersion: 9.9-1\n"},
                               "w:gz"),
        "data.tar.xz": _tar({root + ".rdx": rdx, root + ".rdb": rdb}, "w:xz")}))
    # The real limits (100 kB of validation text) are for the real novels: smaller here.
    monkeypatch.setattr(tool, "VALID_BYTES", 1500)
    monkeypatch.setattr(tool, "TINY_TRAIN_BYTES", 400)
    monkeypatch.setattr(tool, "TINY_VALID_BYTES", 200)
    out, again = tmp_path / "data", tmp_path / "again"
    tool.main(["--deb", str(tmp_path), "--out", str(out)])
    printed = capsys.readouterr().out
    assert "version 9.9-1" in printed and "WARNING: expected version" in printed
    assert "wrote 6 files to %s" % out in printed
    tool.main(["--deb", str(deb), "--out", str(again)])          # the .deb itself, this time
    written = sorted(path.name for path in out.iterdir())
    assert written == sorted(path.name for path in again.iterdir())
    assert all((out / name).read_bytes() == (again / name).read_bytes() for name in written)

    train = gzip.decompress((out / "austen_train.txt.gz").read_bytes()).decode().splitlines()
    valid = gzip.decompress((out / "austen_valid.txt.gz").read_bytes()).decode().splitlines()
    test = gzip.decompress((out / "austen_test.txt.gz").read_bytes()).decode().splitlines()
    # One sentence per line, the paragraphs' printed lines joined, italics marks removed,
    # headings, titles and the end marker dropped; Persuasion split into valid and test.
    assert train[0] == "Sensesensibility sentence 0 of paragraph 0, with some words."
    assert len(train) == 5 * 5 and len(valid) + len(test) == 40 and valid and test
    assert all(line.startswith("Persuasion sentence") for line in valid + test)
    assert 1300 < len("\n".join(valid)) <= 1500
    assert not {"CHAPTER 1", "THE END"} & set(train + valid + test)
    from lstm_text.corpus import load_corpus
    with pytest.warns(UserWarning, match="not in the dictionary"):  # digits: none in train
        corpus = load_corpus(data_dir=out, work_dir=tmp_path / "work")  # SHA256SUMS checked
    assert Path(corpus.valid_file).read_text().splitlines() == valid


# ---------------------------------------------------------------- benchmarks/bench.py

def test_a_quick_bench_run_writes_its_results_and_its_rows_agree(tmp_path):
    """bench.py's main path on a tiny size: two rows in their own subprocess, results written
    to --out, the table what the report renders from the JSON, and the costs of the NumPy
    loops (d) and the one-C-Op model (f) equal step for step (same weights and batches), a
    check of the benchmark's set-up; the exact equalities of the models are
    tests/test_fast_graph.py's and tests/test_fast_op.py's."""
    from lstm_text.speed.benchmark import report
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "bench.py"), "--quick", "--sizes", "8",
         "--impls", "d,f", "--reps", "1", "--no-generation", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    [saved] = tmp_path.glob("bench-*-quick.json")
    results = json.loads(saved.read_text())
    assert results["quick"] and results["config"]["sizes"] == [8]
    assert saved.with_suffix(".md").read_text() == report.markdown_report(results)
    assert saved.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (tmp_path / "latest.md").exists()        # a quick run leaves latest.* alone
    rows = results["runs"]["1"]["sizes"]["8"]
    assert len(rows["d"]["costs"]) == 2                 # the warm-up step and the timed one
    assert rows["d"]["costs"] == pytest.approx(rows["f"]["costs"], rel=1e-5)
    assert all(rows[impl]["computed_chars_per_s"]["median"] > 0 for impl in ("d", "f"))
