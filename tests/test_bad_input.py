"""Bad input a user can hand the project, each met with one clear error and nothing lost.

- the notebooks' parameters (LSTM_* variables), run through their parameters cells as read
  from the notebooks now, and once through tools/run_notebook.py as `make run` does;
- text files that are UTF-16, binary or compressed, and validation text that is the
  training text;
- downloads from a local HTTP server on 127.0.0.1: an HTML page instead of the file, a
  server that never answers or trickles one byte at a time, large files (progress), no
  network at all, files put in place by hand, and a download killed with SIGKILL.
Bounded in time: no test waits on a default timeout.
"""
import codecs
import gzip
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import pytest

from local_http import answer, dead_url, no_proxy, server, silent_url, trickle  # noqa: F401

from lstm_text.paths import REPO  # the one place that knows the repository
NOTEBOOKS = REPO / "notebooks"

import lstm_text_data as ltd
from lstm_text import corpus as corpora, download as dl
from lstm_text_data import DataError

MAIN = NOTEBOOKS / "lstm_text.ipynb"
EXPERIMENTS = NOTEBOOKS / "lstm_text_experiments.ipynb"


def names(folder):
    return sorted(p.name for p in Path(folder).iterdir())


# ---------------------------------------------------------------- the parameters cells

def tagged_cell(notebook, tag):
    """The source of the (first) code cell of `notebook` tagged `tag`."""
    cells = nbformat.read(notebook, as_version=4).cells
    return next(cell.source for cell in cells
                if cell.cell_type == "code" and tag in cell.metadata.get("tags", []))


@pytest.fixture
def ParameterError():
    """The parameters' error class (lstm_text.parameters imports neither Theano nor Fuel)."""
    from lstm_text import parameters
    return parameters.ParameterError


@pytest.fixture
def run_parameters(monkeypatch, tmp_path):
    """Run a notebook's parameters cell with only the given LSTM_* variables set."""
    def run(notebook, **variables):
        for name in list(os.environ):
            if name.startswith("LSTM_") and not name.startswith("LSTM_TEXT_"):
                monkeypatch.delenv(name)
        monkeypatch.setenv("LSTM_OUTPUT_DIR", str(tmp_path / "out"))
        monkeypatch.setenv("LSTM_EXPERIMENTS_DIR", str(tmp_path / "experiments"))
        for name, value in variables.items():
            monkeypatch.setenv("LSTM_" + name, value)
        namespace = {}
        exec(compile(tagged_cell(notebook, "parameters"), str(notebook), "exec"), namespace)
        return namespace
    return run


@pytest.fixture
def a_file(tmp_path):
    path = tmp_path / "a-file"
    path.write_text("not a folder")
    return path


MAIN_CASES = [
    ("BATCH_SIZE", "0", "LSTM_BATCH_SIZE=0: must be an integer >= 1"),
    ("BATCH_SIZE", "-5", "LSTM_BATCH_SIZE=-5: must be an integer >= 1"),
    ("BATCH_SIZE", "1e2", "LSTM_BATCH_SIZE=1e2: must be an integer >= 1"),
    ("EPOCHS", "0", "LSTM_EPOCHS=0: must be an integer >= 1"),
    ("EPOCHS", "", "LSTM_EPOCHS='': must be an integer >= 1"),
    ("REPORT_EVERY", "0", "LSTM_REPORT_EVERY=0: must be an integer >= 1"),
    ("MAX_MINIBATCHES", "-1", "LSTM_MAX_MINIBATCHES=-1: must be an integer >= 0"),
    ("N_H", "abc", "LSTM_N_H=abc: must be an integer from 1 to 4096"),
    ("N_H", "50.5", "LSTM_N_H=50.5: must be an integer from 1 to 4096"),
    ("N_H", "100000", "LSTM_N_H=100000: must be an integer from 1 to 4096"),
    ("LEARNING_RATE", "nan", "LSTM_LEARNING_RATE=nan: must be a finite number > 0"),
    ("LEARNING_RATE", "inf", "LSTM_LEARNING_RATE=inf: must be a finite number > 0"),
    ("LEARNING_RATE", "0", "LSTM_LEARNING_RATE=0: must be a finite number > 0"),
    ("LEARNING_RATE", "-0.1", "LSTM_LEARNING_RATE=-0.1: must be a finite number > 0"),
    ("LEARNING_RATE", "fast", "LSTM_LEARNING_RATE=fast: must be a finite number > 0"),
    ("MAX_GRAD_NORM", "-1", "LSTM_MAX_GRAD_NORM=-1: must be a finite number >= 0"),
    ("MAX_GRAD_NORM", "nan", "LSTM_MAX_GRAD_NORM=nan: must be a finite number >= 0"),
    ("SEED", "-1", "LSTM_SEED=-1: must be an integer from 0 to 4294967295"),
    ("SEED", "4294967296", "LSTM_SEED=4294967296: must be an integer from 0 to 4294967295"),
    ("SAMPLE_LENGTH", "-1", "LSTM_SAMPLE_LENGTH=-1: must be an integer >= 0"),
    ("CORPUS", "shakespeare", "LSTM_CORPUS=shakespeare: must be one of austen, original, tiny"),
    ("CORPUS", "", "LSTM_CORPUS='': must be one of austen, original, tiny, not empty"),
    ("OUTPUT_DIR", "", "LSTM_OUTPUT_DIR='': must be a folder that can be written (created if "
     "missing), not empty"),
]


@pytest.mark.parametrize("name, value, message", MAIN_CASES,
                         ids=["%s=%s" % (name, value) for name, value, _ in MAIN_CASES])
def test_main_notebook_refuses_a_bad_parameter_in_one_line(run_parameters, ParameterError,
                                                           name, value, message):
    with pytest.raises(ParameterError) as error:
        run_parameters(MAIN, **{name: value})
    assert str(error.value) == message


def test_main_notebook_refuses_an_output_dir_that_is_a_file(run_parameters, ParameterError,
                                                            a_file):
    with pytest.raises(ParameterError, match=r"^LSTM_OUTPUT_DIR=\S+a-file: must be a folder "
                       r"that can be written \(created if missing\); \S+a-file is a file$"):
        run_parameters(MAIN, OUTPUT_DIR=str(a_file))


def test_an_output_dir_under_a_file_is_refused_before_training(run_parameters, ParameterError,
                                                               a_file):
    # Before, this passed the check and the run failed only after training, losing the model.
    with pytest.raises(ParameterError) as error:
        run_parameters(MAIN, OUTPUT_DIR=str(a_file / "sub"))
    assert str(error.value) == ("LSTM_OUTPUT_DIR=%s: must be a folder that can be written "
                                "(created if missing); %s cannot be written to (Not a directory)"
                                % (a_file / "sub", a_file / "sub"))


def test_the_output_folder_is_created_and_the_model_saved_before_the_plot(run_parameters,
                                                                          tmp_path):
    namespace = run_parameters(MAIN, OUTPUT_DIR=str(tmp_path / "new" / "out"))
    assert (tmp_path / "new" / "out").is_dir() and names(tmp_path / "new" / "out") == []
    cells = [cell.source for cell in nbformat.read(MAIN, as_version=4).cells
             if cell.cell_type == "code"]
    saves = next(i for i, text in enumerate(cells) if "save_checkpoint(model_file" in text)
    plots = next(i for i, text in enumerate(cells) if "plot_learning_curves(" in text)
    assert saves < plots and "atomic_open(metrics_file" in cells[saves]
    assert namespace["output_dir"] == str(tmp_path / "new" / "out")


def test_main_notebook_accepts_its_defaults_and_prints_them(run_parameters, capsys):
    namespace = run_parameters(MAIN, MAX_GRAD_NORM="0", CORPUS="tiny", SEED="4294967295")
    assert (namespace["n_epochs"], namespace["batch_size"], namespace["n_h"]) == (40, 100, 50)
    assert namespace["max_grad_norm"] == 0.0 and namespace["seed"] == 2 ** 32 - 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "epochs 40, report every 40 minibatches, max minibatches unlimited"
    assert lines[1].startswith("n_h 50, batch size 100, learning rate 0.1, ")
    assert "seed 4294967295" in lines[1]
    assert lines[2].startswith("corpus tiny, outputs in ") and len(lines) == 3


def test_a_misspelt_variable_is_reported(run_parameters):
    with pytest.warns(UserWarning, match="LSTM_EPOCH is set but no parameter reads it; did "
                      "you mean LSTM_EPOCHS?"):
        run_parameters(MAIN, EPOCH="10")


EXPERIMENT_CASES = [
    ("EXPERIMENT_SECONDS", "0", "LSTM_EXPERIMENT_SECONDS=0: must be a finite number > 0"),
    ("EXPERIMENT_SECONDS", "nan", "LSTM_EXPERIMENT_SECONDS=nan: must be a finite number > 0"),
    ("EXPERIMENT_MINIBATCHES", "-2", "LSTM_EXPERIMENT_MINIBATCHES=-2: must be an integer >= 0"),
    ("EXPERIMENT_VALID_EVERY", "0",
     "LSTM_EXPERIMENT_VALID_EVERY=0: must be a finite number > 0"),
    ("EXPERIMENT_EXTRA_SECONDS", "-1",
     "LSTM_EXPERIMENT_EXTRA_SECONDS=-1: must be a finite number >= 0"),
    ("EXPERIMENTS", "", "LSTM_EXPERIMENTS='': must be text, not empty"),
]


@pytest.mark.parametrize("name, value, message", EXPERIMENT_CASES,
                         ids=["%s=%s" % (name, value) for name, value, _ in EXPERIMENT_CASES])
def test_experiments_notebook_refuses_a_bad_parameter_in_one_line(run_parameters, ParameterError,
                                                                  name, value, message):
    with pytest.raises(ParameterError) as error:
        run_parameters(EXPERIMENTS, **{name: value})
    assert str(error.value) == message


def test_experiments_notebook_accepts_its_defaults(run_parameters, ParameterError, a_file):
    namespace = run_parameters(EXPERIMENTS, EXPERIMENT_MINIBATCHES="2")
    assert namespace["budget_seconds"] == 120 and namespace["max_minibatches"] == 2
    assert namespace["docs_dir"] == ""  # empty means: no copy of the results
    with pytest.raises(ParameterError, match="LSTM_EXPERIMENTS_DOCS_DIR=.*is a file"):
        run_parameters(EXPERIMENTS, EXPERIMENTS_DOCS_DIR=str(a_file))


def test_a_bad_parameter_stops_make_run_in_one_line_before_compiling(tmp_path):
    """The same path as `make run`: tools/run_notebook.py on the notebook's own first cells."""
    cells = nbformat.read(MAIN, as_version=4).cells
    setup = next(cell for cell in cells if cell.cell_type == "code"
                 and "from lstm_text import environment" in cell.source)
    parameters = next(cell for cell in cells if cell.cell_type == "code"
                      and "parameters" in cell.metadata.get("tags", []))
    notebook = nbformat.v4.new_notebook(metadata=nbformat.read(MAIN, as_version=4).metadata)
    notebook.cells = [nbformat.v4.new_markdown_cell("## 1. Parameters"), setup, parameters]
    path = tmp_path / "lstm_text.ipynb"
    nbformat.write(notebook, path)
    env = {k: v for k, v in os.environ.items() if k != "MAKELEVEL"}
    env.update(LSTM_BATCH_SIZE="0", PYTHONPATH=str(NOTEBOOKS),
               LSTM_OUTPUT_DIR=str(tmp_path / "outputs"))
    started = time.monotonic()
    result = subprocess.run([sys.executable, str(REPO / "tools" / "run_notebook.py"), str(path),
                             "--out", str(tmp_path / "run")], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert ("lstm_text.ipynb stopped in cell 3/3 (1. Parameters): ParameterError: "
            "LSTM_BATCH_SIZE=0: must be an integer >= 1") in result.stderr
    assert "Traceback" not in result.stderr and "compiling" not in result.stdout
    assert time.monotonic() - started < 100


# ---------------------------------------------------------------- text files

TEXT = "The first sentence.\nA second one, with café.\n"


@pytest.mark.parametrize("data, what, convert", [
    (TEXT.encode("utf-16"), "is UTF-16 text (it starts with the byte-order mark FF FE)",
     "iconv -f UTF-16 -t UTF-8"),
    (codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"),
     "is UTF-16 text (it starts with the byte-order mark FE FF)", "iconv -f UTF-16 -t UTF-8"),
    (TEXT.encode("utf-32"), "is UTF-32 text (it starts with the byte-order mark FF FE 00 00)",
     "iconv -f UTF-32 -t UTF-8"),
    (TEXT.encode("utf-16-le"), "line 1: a NUL byte (0x00) at byte 1 of the line (1 of the "
     "file), which text never has: the file is probably UTF-16", "iconv -f UTF-16LE -t UTF-8"),
    (gzip.compress(TEXT.encode()), "is gzip-compressed", "decompress it first (gunzip)"),
    (b"PK\x03\x04rest of a zip", "is a zip archive", "extract the text file"),
    (b"%PDF-1.4\n...", "is a PDF document", "export it as plain text"),
], ids=["utf-16 le", "utf-16 be", "utf-32", "utf-16 without bom", "gzip", "zip", "pdf"])
@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
def test_not_a_text_file_says_what_it_is_in_any_encoding(tmp_path, data, what, convert,
                                                         encoding):
    path = tmp_path / "book.txt"
    path.write_bytes(data)
    with pytest.raises(DataError) as error:
        corpora.check_text_file(path, encoding=encoding)
    message = str(error.value)
    assert message.startswith(str(path)) and what in message and convert in message
    assert "latin-1" not in message  # the hint that read UTF-16 as garbage is gone


@pytest.mark.parametrize("data, what", [
    (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "is a PNG image"),
    (b"\xff\xd8\xff\xe0\0\x10JFIF", "is a JPEG image"),
    (b"\x7fELF\x02\x01\x01\0", "is a program (ELF)"),
    (b"ab\n\x01\x02\x03\xfe\xff\n", "line 2: holds 3 control bytes that text never has: this "
     "is binary data"),
], ids=["png", "jpeg", "elf", "other binary"])
def test_a_binary_file_is_called_binary_not_a_wrong_encoding(tmp_path, data, what):
    path = tmp_path / "picture.txt"
    path.write_bytes(data)
    with pytest.raises(DataError) as error:
        corpora.check_text_file(path)
    assert str(error.value).startswith(str(path)) and what in str(error.value)
    assert "iconv" not in str(error.value) and "WINDOWS-1252" not in str(error.value)


def test_a_symbolic_link_loop_or_to_nothing_is_named_as_such(tmp_path):
    loop = tmp_path / "loop.txt"
    loop.symlink_to(tmp_path / "loop.txt")
    with pytest.raises(DataError, match=r"loop.txt: a loop of symbolic links"):
        corpora.check_text_file(loop)
    dangling = tmp_path / "dangling.txt"
    dangling.symlink_to(tmp_path / "gone.txt")
    with pytest.raises(DataError, match=r"dangling.txt: a symbolic link to \S+gone.txt, which "
                       r"does not exist"):
        corpora.check_text_file(dangling)
    with pytest.raises(DataError, match=r"missing.txt: file not found"):
        corpora.check_text_file(tmp_path / "missing.txt")


def test_the_unknown_character_warning_names_the_users_file(tmp_path):
    train, valid = tmp_path / "mine.txt", tmp_path / "my_valid.txt"
    train.write_text("plain sentence here.\n")
    valid.write_text("with a new character: zq!\n")
    with pytest.warns(UserWarning) as caught:
        corpora.load_corpus(train=train, valid=valid, work_dir=tmp_path / "work")
    unknown = [str(w.message) for w in caught if "not in the dictionary" in str(w.message)]
    assert len(unknown) == 1 and unknown[0].startswith(str(valid) + ": "), unknown
    assert str(tmp_path / "work") not in unknown[0]


def test_user_files_in_utf16_are_refused_and_nothing_is_written(tmp_path):
    train = tmp_path / "train.txt"
    train.write_bytes(TEXT.encode("utf-16"))
    valid = tmp_path / "valid.txt"
    valid.write_text("Fine text.\n")
    with pytest.raises(DataError, match="train.txt: is UTF-16 text"):
        corpora.load_corpus(train=train, valid=valid, work_dir=tmp_path / "work")
    assert not (tmp_path / "work" / "files" / "train.txt").exists()


def test_windows_1252_gets_a_conversion_hint(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes("It’s here.\n".encode("cp1252"))
    with pytest.raises(DataError, match=r"line 1: not valid utf-8: byte 0x92 .* convert it to "
                       r"UTF-8 \(e.g. `iconv -f WINDOWS-1252 -t UTF-8`\)"):
        corpora.check_text_file(path)


def test_validation_text_that_is_the_training_text_is_warned_about(tmp_path):
    train = tmp_path / "train.txt"
    train.write_text(TEXT)
    copy = tmp_path / "copy.txt"
    copy.write_text(TEXT)
    other = tmp_path / "other.txt"
    other.write_text("Another sentence.\n")
    with pytest.warns(UserWarning, match=r"train.txt: the validation text is the same file "
                      r"as the training text .*train.txt: its score then measures how well "
                      r"the model memorised"):
        corpora.load_corpus(train=train, valid=train, work_dir=tmp_path / "w")
    with pytest.warns(UserWarning, match=r"copy.txt: the test text is identical to the "
                      r"training text"):
        corpora.load_corpus(train=train, valid=other, test=copy, work_dir=tmp_path / "w")


# ---------------------------------------------------------------- downloads

PORTAL = (b"<!DOCTYPE html>\n<html><head><title>Hotel WiFi - please log in</title></head>"
          b"<body>Accept the terms to continue.</body></html>\n")
PY2_DICTIONARY = b"(dp0\nS' '\nI0\nsS'a'\nI1\nsS'b'\nI2\ns."


def original_routes(server, monkeypatch, dictionary=PY2_DICTIONARY):
    """Point ORIGINAL_SOURCE at the server and serve the three files of the 2015 corpus."""
    for key, name in ltd.ORIGINAL_FILES.items():
        suffix = ".gz" if key != "dictionary" else ""
        monkeypatch.setitem(ltd.ORIGINAL_SOURCE, key, "%s/%s%s" % (server.url, name, suffix))
    server.routes.update({"/traindata.txt.gz": answer(gzip.compress(b"ab ba\nbab\n")),
                          "/valdata.txt.gz": answer(gzip.compress(b"ab\n")),
                          "/dictionary.pkl": answer(dictionary)})


def test_html_page_for_the_dictionary_is_refused_kept_and_fetched_again(server, monkeypatch,
                                                                       tmp_path):
    original_routes(server, monkeypatch, dictionary=PORTAL)
    folder = tmp_path / "original"
    with pytest.raises(DataError) as error:
        corpora.load_corpus("original", work_dir=tmp_path)
    message = str(error.value)
    assert "/dictionary.pkl sent a file that is not usable as %s" % (folder / "dictionary.pkl") \
        in message
    assert "it is an HTML page titled 'Hotel WiFi - please log in'" in message
    assert "kept as %s for inspection" % (folder / "dictionary.pkl.rejected") in message
    assert "the next run downloads it again" in message and "LSTM_CORPUS=original" in message
    assert names(folder) == ["dictionary.pkl.rejected", "traindata.txt", "valdata.txt"]
    assert (folder / "dictionary.pkl.rejected").read_bytes() == PORTAL
    # Once the network lets us through, the next run fetches the dictionary again.
    server.routes["/dictionary.pkl"] = answer(PY2_DICTIONARY)
    corpus = corpora.load_corpus("original", work_dir=tmp_path)
    assert corpus.dictionary == {" ": 0, "a": 1, "b": 2, "~": 3}
    assert server.hits.count("/dictionary.pkl") == 2 and server.hits.count("/valdata.txt.gz") == 1


def test_a_cached_html_page_from_an_earlier_run_is_moved_aside(server, monkeypatch, tmp_path):
    original_routes(server, monkeypatch)
    folder = tmp_path / "original"
    folder.mkdir()
    (folder / "dictionary.pkl").write_bytes(PORTAL)  # what older versions cached for good
    with pytest.warns(UserWarning, match=r"dictionary.pkl: the cached copy is not usable: it "
                      r"is an HTML page .* Moved it to .*dictionary.pkl.rejected for "
                      r"inspection; downloading .*/dictionary.pkl again"):
        corpus = corpora.load_corpus("original", work_dir=tmp_path)
    assert len(corpus.dictionary) == 4
    assert (folder / "dictionary.pkl.rejected").read_bytes() == PORTAL


def test_a_rejected_file_is_never_replaced_and_the_users_own_file_is_kept(server, tmp_path):
    # The user's own dictionary (numpy ids: refused), then a login page instead of the file:
    # both are kept, numbered, and the message about the first one says what is wrong.
    import numpy
    dest = tmp_path / "dictionary.pkl"
    mine = pickle.dumps({"a": numpy.int64(0), "~": numpy.int64(1)})
    dest.write_bytes(mine)
    (tmp_path / "dictionary.pkl.rejected").write_bytes(b"rejected last week")
    server.routes["/dictionary.pkl"] = answer(PORTAL)
    with pytest.warns(UserWarning, match=r"it holds NumPy objects \(numpy\S*\), e.g. "
                      r"numpy.int64 ids; save it with plain Python values") as caught:
        with pytest.raises(DataError, match=r"kept as \S+dictionary.pkl.rejected.2 for "):
            dl.download(server.url + "/dictionary.pkl", dest, check=dl.dictionary_problem)
    assert "Moved it to %s" % (tmp_path / "dictionary.pkl.rejected.1") in str(caught[0].message)
    assert "malicious" not in str(caught[0].message)
    assert (tmp_path / "dictionary.pkl.rejected").read_bytes() == b"rejected last week"
    assert (tmp_path / "dictionary.pkl.rejected.1").read_bytes() == mine
    assert (tmp_path / "dictionary.pkl.rejected.2").read_bytes() == PORTAL
    assert not dest.exists()


def test_a_wrong_checksum_twice_keeps_both_files(server, tmp_path):
    dest = tmp_path / "t.txt"
    dest.write_bytes(b"the user's good file\n")
    server.routes["/t.txt"] = answer(b"served\n")
    with pytest.warns(UserWarning), pytest.raises(DataError, match="SHA-256"):
        dl.download(server.url + "/t.txt", dest, sha256="0" * 64)
    with pytest.raises(DataError, match="SHA-256"):
        dl.download(server.url + "/t.txt", dest, sha256="0" * 64)
    assert (tmp_path / "t.txt.rejected").read_bytes() == b"the user's good file\n"
    assert names(tmp_path) == ["t.txt.rejected"]


def test_html_page_instead_of_a_gz_file_is_named_as_such(server, tmp_path):
    server.routes["/traindata.txt.gz"] = answer(PORTAL, headers={"Content-Type": "text/html"})
    with pytest.raises(DataError, match="HTML page titled 'Hotel WiFi") as error:
        dl.download(server.url + "/traindata.txt.gz", tmp_path / "traindata.txt", gunzip=True)
    assert "gzip" not in str(error.value)
    assert names(tmp_path) == ["traindata.txt.rejected"]


def test_a_server_that_never_answers_is_given_up_on_quickly(silent_url, tmp_path):
    started = time.monotonic()
    with pytest.raises(DataError) as error:
        dl.download(silent_url, tmp_path / "t.txt", timeout=(1, 1), retries=3, backoff=0)
    assert time.monotonic() - started < 6  # two tries of 1 s, not four
    message = str(error.value)
    assert silent_url in message and "no answer within the timeout" in message
    assert "(tried 2 times)" in message and names(tmp_path) == []
    # With the defaults the same server holds a user well under a minute.
    assert ltd.CONNECT_TIMEOUT <= 10 and 2 * ltd.READ_TIMEOUT + 1 < 60


def test_a_trickling_server_of_known_size_is_given_up_on_early(server, tmp_path):
    server.routes["/big.txt"] = trickle(b"x" * 100_000, every=0.05)
    started = time.monotonic()
    with pytest.raises(DataError) as error:
        dl.download(server.url + "/big.txt", tmp_path / "big.txt", deadline=3)
    assert time.monotonic() - started < 3
    message = str(error.value)
    assert message.startswith("gave up on %s/big.txt (downloading to %s)"
                              % (server.url, tmp_path / "big.txt"))
    assert "would take" in message and "the limit is 3 s per file" in message
    assert "try again later" in message and names(tmp_path) == []


def test_a_trickling_server_of_unknown_size_is_stopped_at_the_deadline(server, tmp_path):
    server.routes["/big.txt"] = trickle(b"x" * 1000, every=0.05, length=False)
    started = time.monotonic()
    with pytest.raises(DataError, match=r"after \d+ s: .* received, and it was still "
                       r"unfinished; the limit is 1.5 s per file"):
        dl.download(server.url + "/big.txt", tmp_path / "big.txt", deadline=1.5)
    assert time.monotonic() - started < 4 and names(tmp_path) == []


def test_large_downloads_show_size_percentage_and_rate(server, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(dl, "PROGRESS_EVERY", 0.02)  # 0.2 s on a non-terminal
    body = os.urandom(1_500_000)
    server.routes["/big.bin"] = trickle(body, every=0.05, chunk=100_000)
    server.routes["/small.bin"] = answer(b"small")
    dl.download(server.url + "/big.bin", tmp_path / "big.bin")
    dl.download(server.url + "/small.bin", tmp_path / "small.bin")
    err = capsys.readouterr().err
    assert "\rdownloading big.bin: " in err and " of 1.5 MB (" in err and "B/s" in err
    assert "downloaded big.bin: 1.5 MB in " in err and err.endswith("B/s)\n")
    assert "small.bin" not in err
    assert (tmp_path / "big.bin").read_bytes() == body


def test_offline_the_hint_is_a_command_and_a_folder(dead_url, monkeypatch, tmp_path):
    for key, name in ltd.ORIGINAL_FILES.items():
        monkeypatch.setitem(ltd.ORIGINAL_SOURCE, key, "%s/%s" % (dead_url, name))
    monkeypatch.setattr(dl, "download", _no_retries(dl.download))
    with pytest.raises(DataError) as error:
        corpora.load_corpus("original", work_dir=tmp_path)
    message = str(error.value)
    assert "Connection refused" in message
    assert "Once online, run `LSTM_CORPUS=original make run` again" in message
    assert "put them into %s" % (tmp_path / "original") in message
    assert all(url in message for url in ltd.ORIGINAL_SOURCE.values())
    assert "load_corpus" not in message


def _no_retries(function):
    def call(*args, **kwargs):
        return function(*args, **{**kwargs, "retries": 0, "backoff": 0})
    return call


def test_files_put_in_place_by_hand_are_used_offline(dead_url, monkeypatch, tmp_path):
    for key, name in ltd.ORIGINAL_FILES.items():
        monkeypatch.setitem(ltd.ORIGINAL_SOURCE, key, "%s/%s" % (dead_url, name))
    folder = tmp_path / "original"
    folder.mkdir()
    (folder / "traindata.txt.gz").write_bytes(gzip.compress(b"ab ba\n"))
    (folder / "valdata.txt.gz").write_bytes(gzip.compress(b"ba\n"))
    (folder / "dictionary.pkl").write_bytes(pickle.dumps({" ": 0, "a": 1, "b": 2}, protocol=2))
    corpus = corpora.load_corpus("original", work_dir=tmp_path)
    assert Path(corpus.train_file).read_bytes() == b"ab ba\n"
    assert corpus.dictionary == {" ": 0, "a": 1, "b": 2, "~": 3}


KILLED_DOWNLOAD = textwrap.dedent("""
    import sys
    from lstm_text.download import download
    download(sys.argv[1], sys.argv[2], deadline=60)
""")


def test_a_killed_download_leaves_a_temporary_that_the_next_one_removes(server, tmp_path):
    server.routes["/slow.txt"] = trickle(b"x" * 10_000, every=0.05, chunk=100)
    server.routes["/t.txt"] = answer(TEXT.encode())
    dest = tmp_path / "t.txt"
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    process = subprocess.Popen([sys.executable, "-c", KILLED_DOWNLOAD, server.url + "/slow.txt",
                                str(dest)], env=env)
    deadline = time.monotonic() + 30
    while not any(n.startswith(".t.txt.%d-" % process.pid) for n in names(tmp_path)):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    left = names(tmp_path)
    assert len(left) == 1 and left[0].endswith(".tmp")  # what kill -9 leaves
    old_style = tmp_path / ".t.txt.0123456789ab.tmp"     # and an older version's, an hour old
    old_style.write_bytes(b"x")
    os.utime(old_style, (time.time() - 3600, time.time() - 3600))
    recent_old_style = tmp_path / ".t.txt.abcdefabcdef.tmp"
    recent_old_style.write_bytes(b"x")
    dl.download(server.url + "/t.txt", dest)
    assert names(tmp_path) == [recent_old_style.name, "t.txt"]


# ---------------------------------------------------------------- a full disk

FULL_DISK = textwrap.dedent("""
    import resource, signal, sys
    from lstm_text import corpus as corpora
    from lstm_text.files import DataError
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # a write past the limit fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
    try:
        corpora.load_corpus(train=sys.argv[1], valid=sys.argv[2], work_dir=sys.argv[3])
    except DataError as error:
        print(error)
""")


def test_a_full_disk_is_one_error_and_leaves_no_half_file(tmp_path):
    """RLIMIT_FSIZE makes writes fail as on a full disk (EFBIG instead of ENOSPC)."""
    train = tmp_path / "train.txt"
    train.write_text("A sentence of the training text.\n" * 1000)  # 33 kB: over the limit
    valid = tmp_path / "valid.txt"
    valid.write_text("A validation sentence.\n")
    work = tmp_path / "work"
    result = subprocess.run([sys.executable, "-c", FULL_DISK, str(train), str(valid), str(work)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    message = result.stdout.strip()
    assert message.startswith(str(work / "files")) and "File too large" in message, message
    assert "a file-size limit was reached" in message and "nothing half-written" in message
    assert names(work / "files") == []  # no half copy, no temporary
