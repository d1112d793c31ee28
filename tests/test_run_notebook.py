"""Tests of tools/run_notebook.py (what `make run` calls) on tiny notebooks made here.

Each runs the tool as `make run` does, in a subprocess with a real kernel: its progress is
streamed while cells run, a --timeout and a Ctrl-C stop it with one line, the kernel is
gone afterwards and the partly executed copy is kept. No Theano: a few seconds each.
"""
import os
import signal
import subprocess
import sys
import threading
import time

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from lstm_text.paths import REPO  # the one place that knows the repository
TOOL = REPO / "tools" / "run_notebook.py"
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def make_notebook(path, *cells):
    """Write a notebook of cells given as markdown strings ('# ...') or (source, tags)."""
    notebook = new_notebook(metadata={"kernelspec": KERNELSPEC})
    for cell in cells:
        if isinstance(cell, str) and cell.startswith("#"):
            notebook.cells.append(new_markdown_cell(cell))
        else:
            source, tags = cell if isinstance(cell, tuple) else (cell, [])
            notebook.cells.append(new_code_cell(source, metadata={"tags": tags}))
    nbformat.write(notebook, path)
    return path


class Run:
    """The tool running in its own session (as under a terminal), its lines timestamped."""

    def __init__(self, tmp_path, notebook, *args, env=None):
        self.out = tmp_path / "out"
        self.lines = []  # (seconds since start, stream, line)
        environment = {k: v for k, v in os.environ.items() if k != "MAKELEVEL"}
        environment.update({"LSTM_OUTPUT_DIR": str(self.out / "outputs"),
                            "PYTHONUNBUFFERED": "1"}, **(env or {}))
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, str(TOOL), str(notebook), "--out", str(self.out), *args],
            cwd=tmp_path, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, start_new_session=True)
        self.readers = [threading.Thread(target=self._read, args=(stream, name), daemon=True)
                        for stream, name in ((self.process.stdout, "out"),
                                             (self.process.stderr, "err"))]
        for reader in self.readers:
            reader.start()

    def _read(self, stream, name):
        for line in stream:
            self.lines.append((time.monotonic() - self.started, name, line.rstrip("\n")))

    def wait_for(self, text, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for _, _, line in self.lines):
                return
            assert self.process.poll() is None, self.text()
            time.sleep(0.05)
        raise AssertionError("no %r within %s s:\n%s" % (text, timeout, self.text()))

    def finish(self, timeout=60):
        code = self.process.wait(timeout)
        for reader in self.readers:
            reader.join(5)
        return code

    def text(self, name=None):
        return "\n".join(line for _, stream, line in self.lines if name in (None, stream))

    def at(self, text):
        return next(t for t, _, line in self.lines if text in line)


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_streams_cells_and_output_lines_as_they_arrive(tmp_path):
    notebook = make_notebook(
        tmp_path / "stream.ipynb",
        "# A title\n\n## 1. Counting",
        "import sys, time\nprint('first line', flush=True)\ntime.sleep(3)\nprint('second line')",
        "# 2. Writing\n\nSome text.",
        "import os, sys\n"
        "os.makedirs(os.environ['LSTM_OUTPUT_DIR'], exist_ok=True)\n"
        "open(os.path.join(os.environ['LSTM_OUTPUT_DIR'], 'result.txt'), 'w').write('x')\n"
        "sys.stderr.write('\\r 50%|#####     | 1/2')\nsys.stderr.flush()\n"
        "print('done', end='')")
    run = Run(tmp_path, notebook)
    assert run.finish() == 0, run.text()
    out = run.text("out")
    assert "[cell 2/4] 1. Counting" in out and "[cell 4/4] 2. Writing" in out
    assert "    first line" in out and "    second line" in out and "    done" in out
    assert "50%|#####     | 1/2" in run.text("err")          # a progress bar update
    # Streamed: the first line came out while the cell was still sleeping.
    assert run.at("second line") - run.at("first line") > 2
    assert "executed stream.ipynb in" in out
    assert "outputs in %s: result.txt" % (run.out / "outputs") in out
    assert (run.out / "stream.ipynb").is_file()
    assert "Traceback" not in run.text()


def test_says_whether_the_theano_compile_is_cold(tmp_path):
    cache = tmp_path / "theano-cache"
    notebook = make_notebook(tmp_path / "compile.ipynb", "## 5. The graph",
                             ("x = 1", ["graph"]), ("y = 2", ["graph"]))
    notes = []
    for _ in range(2):
        run = Run(tmp_path, notebook, env={"LSTM_TEXT_COMPILEDIR": str(cache)})
        assert run.finish() == 0, run.text()
        notes.append([line for line in run.text("out").splitlines() if "compiling" in line])
        module = cache / "compiledir_Linux-x86_64" / "tmpabc123" / "mod.so"  # as Theano does
        module.parent.mkdir(parents=True, exist_ok=True)
        module.touch()
    cold, warm = notes
    assert len(cold) == 1 and len(warm) == 1  # once, though the graph spans two cells
    assert "the compile cache %s is empty: this first compile takes 2-3 minutes" % cache \
        in cold[0]
    assert "1 compiled modules in %s: about 20 s" % cache in warm[0]


def test_timeout_stops_with_one_line_and_keeps_the_partial_copy(tmp_path):
    notebook = make_notebook(
        tmp_path / "slow.ipynb",
        "## Slow part",
        "import time\nprint('before the sleep', flush=True)\ntime.sleep(120)")
    run = Run(tmp_path, notebook, "--timeout", "2")
    assert run.finish(timeout=60) == 124, run.text()
    assert time.monotonic() - run.started < 45
    err = [line for line in run.text("err").splitlines() if line.strip()]
    assert len(err) == 1, err
    assert err[0].startswith("stopped: cell 2/2 (Slow part) ran longer than --timeout 2 s; "
                             "the partly executed copy is %s;" % (run.out / "slow.partial.ipynb"))
    assert "rerun with a larger --timeout" in err[0]
    assert "Traceback" not in run.text()
    partial = nbformat.read(run.out / "slow.partial.ipynb", as_version=4)
    assert "before the sleep" in partial.cells[1].outputs[0]["text"]


def test_ctrl_c_interrupts_the_kernel_and_says_what_was_saved(tmp_path):
    notebook = make_notebook(
        tmp_path / "train.ipynb",
        "## 8. Training",
        "import os, time\n"
        "folder = os.environ['LSTM_OUTPUT_DIR']\n"
        "os.makedirs(folder, exist_ok=True)\n"
        "print('KERNEL-PID', os.getpid(), flush=True)\n"
        "try:\n"
        "    time.sleep(120)\n"
        "except KeyboardInterrupt:\n"
        "    open(os.path.join(folder, 'checkpoint.npz'), 'w').close()  # the notebook saves\n"
        "    raise",
        "print('never reached')")
    # A complete run's notebook is already there: the interrupted run must not replace it.
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "train.ipynb").write_text("the complete run of yesterday")
    run = Run(tmp_path, notebook)
    run.wait_for("KERNEL-PID ")
    kernel = int(next(line.split()[1] for _, _, line in run.lines if "KERNEL-PID " in line))
    os.killpg(run.process.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends
    assert run.finish(timeout=30) == 130, run.text()
    err = [line for line in run.text("err").splitlines() if line.strip()]
    assert len(err) == 1, err
    assert err[0].startswith("interrupted in cell 2/3 (8. Training) after ")
    assert ("the partly executed copy is %s (the complete train.ipynb of an earlier run is "
            "untouched)" % (run.out / "train.partial.ipynb")) in err[0]
    assert (run.out / "train.ipynb").read_text() == "the complete run of yesterday"
    assert "written to %s: checkpoint.npz" % (run.out / "outputs") in err[0]
    assert "rerun: " in err[0] and "train.ipynb --out" in err[0]
    assert "Traceback" not in run.text() and "never reached" not in run.text()
    partial = nbformat.read(run.out / "train.partial.ipynb", as_version=4)
    assert partial.cells[1].outputs[-1]["ename"] == "KeyboardInterrupt"
    deadline = time.monotonic() + 10
    while alive(kernel) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(kernel), "the kernel outlived the run"


def test_named_errors_are_one_line_and_bugs_keep_their_traceback(tmp_path):
    notebook = make_notebook(
        tmp_path / "bad.ipynb",
        "## 1. Parameters",
        "class ParameterError(ValueError):\n    pass\n"
        "raise ParameterError('LSTM_BATCH_SIZE=0: must be an integer >= 1')")
    run = Run(tmp_path, notebook)
    assert run.finish() == 1
    err = run.text("err")
    assert ("bad.ipynb stopped in cell 2/2 (1. Parameters): ParameterError: "
            "LSTM_BATCH_SIZE=0: must be an integer >= 1") in err
    assert "Traceback" not in err and "the partly executed copy is" in err

    buggy = make_notebook(tmp_path / "bug.ipynb", "x = 1 / 0")
    run = Run(tmp_path, buggy)
    assert run.finish() == 1
    assert "ZeroDivisionError" in run.text("err") and "bug.ipynb failed in cell 1/1" in run.text()


def test_cells_are_named_by_the_heading_above_them_not_by_code_in_markdown():
    from repo_tools import load_tool
    tool = load_tool("run_notebook")
    notebook = new_notebook()
    notebook.cells = [new_code_cell("# NBVAL_IGNORE_OUTPUT\nimport os"),
                      new_markdown_cell("## 3. The data\n\n```python\n# a comment in code\n```"),
                      new_code_cell("x = 1"),
                      new_markdown_cell("Some prose, no heading."),
                      new_code_cell("y = 2")]
    assert tool.headings(notebook) == {0: "import os", 2: "3. The data", 4: "3. The data"}


def test_a_second_ctrl_c_stops_a_kernel_that_ignores_the_first(tmp_path):
    notebook = make_notebook(
        tmp_path / "stubborn.ipynb",
        "import os, time\nprint('KERNEL-PID', os.getpid(), flush=True)\n"
        "while True:\n    try:\n        time.sleep(1)\n    except KeyboardInterrupt:\n"
        "        print('ignored', flush=True)")
    run = Run(tmp_path, notebook)
    run.wait_for("KERNEL-PID ")
    kernel = int(next(line.split()[1] for _, _, line in run.lines if "KERNEL-PID " in line))
    os.killpg(run.process.pid, signal.SIGINT)
    run.wait_for("ignored")
    os.killpg(run.process.pid, signal.SIGINT)
    assert run.finish(timeout=30) == 130, run.text()
    err = [line for line in run.text("err").splitlines() if line.strip()
           and "IPKernelApp" not in line]
    assert len(err) == 1 and err[0].startswith("interrupted in cell 1/1"), err
    deadline = time.monotonic() + 10
    while alive(kernel) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(kernel)


def test_a_relative_output_folder_is_relative_to_where_the_command_runs(tmp_path):
    (tmp_path / "notebooks").mkdir()
    notebook = make_notebook(
        tmp_path / "notebooks" / "rel.ipynb",
        "import json, os\nfolder = os.environ['LSTM_OUTPUT_DIR']\nprint('OUTPUT', folder)\n"
        "os.makedirs(folder, exist_ok=True)\n"
        "with open(os.path.join(folder, 'metrics.json'), 'w') as out:\n"
        "    json.dump({'final_valid_bpc': 2.5, 'minibatches': 7}, out)")
    run = Run(tmp_path, notebook, env={"LSTM_OUTPUT_DIR": "build/relrun"})
    assert run.finish() == 0, run.text()
    assert (tmp_path / "build" / "relrun" / "metrics.json").is_file()
    assert not (tmp_path / "notebooks" / "build").exists()
    out = run.text("out")
    assert "OUTPUT %s" % (tmp_path / "build" / "relrun") in out      # absolute in the kernel
    assert "(outputs in %s)" % (tmp_path / "build" / "relrun") in out
    assert "final validation: 2.500 bits per character after 7 minibatches" in out
    assert "outputs in %s: metrics.json" % (tmp_path / "build" / "relrun") in out


def test_the_kernel_uses_private_ipc_sockets_removed_even_when_it_is_killed(tmp_path):
    notebook = make_notebook(
        tmp_path / "killed.ipynb",
        "import json, os\nfrom ipykernel import get_connection_file\n"
        "info = json.load(open(get_connection_file()))\n"
        "print('CONNECTION', get_connection_file(), info['transport'], flush=True)\n"
        "import time; time.sleep(1)  # the line reaches the runner before the kernel dies\n"
        "os.kill(os.getpid(), 9)")
    run = Run(tmp_path, notebook)
    assert run.finish() == 1, run.text()
    assert "the kernel died in cell 1/1" in run.text("err")
    line = next(line for _, _, line in run.lines if line.strip().startswith("CONNECTION"))
    connection_file, transport = line.split()[1:3]
    # IPC sockets need a short path (a long TMPDIR falls back to TCP on 127.0.0.1).
    assert transport == ("ipc" if len(connection_file) <= 90 else "tcp")
    assert not os.path.exists(connection_file)
    assert not os.path.exists(os.path.dirname(connection_file))   # sockets and key: all gone
    if transport == "ipc":
        assert "without encryption" not in run.text()


def test_a_progress_bar_is_committed_once_as_its_final_line(tmp_path):
    notebook = make_notebook(
        tmp_path / "bar.ipynb",
        "import sys, time\n"
        "for step in (10, 50, 90):\n"
        "    sys.stderr.write('\\r%3d%%|bar' % step); sys.stderr.flush(); time.sleep(0.2)\n"
        "    print('sample after', step, flush=True); time.sleep(0.2)\n"
        "sys.stderr.write('\\r100%|bar done'); sys.stderr.flush(); time.sleep(0.2)\n"
        "sys.stderr.write('\\n'); sys.stderr.flush()\n"
        "print('the end')")
    run = Run(tmp_path, notebook)
    assert run.finish() == 0, run.text()
    assert "50%|bar" in run.text("err")              # shown live while it ran
    cell = nbformat.read(run.out / "bar.ipynb", as_version=4).cells[0]
    stderr = [o.text for o in cell.outputs if o.get("name") == "stderr"]
    stdout = "".join(o.text for o in cell.outputs if o.get("name") == "stdout")
    assert stderr == ["100%|bar done\n"]
    assert stdout == "sample after 10\nsample after 50\nsample after 90\nthe end\n"
