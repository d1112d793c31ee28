"""Execute a notebook headless, top to bottom, and write the executed copy outside the tree.

Usage: python tools/run_notebook.py notebooks/lstm_text.ipynb [--out build/run] [--in-place]
                                    [--timeout SECONDS]

The kernel runs in the notebook's folder and inherits this environment, so LSTM_* variables
set the run's size. The notebook writes its outputs (model, metrics.json, plot) into
LSTM_OUTPUT_DIR, which we point at --out. A relative LSTM_OUTPUT_DIR, LSTM_EXPERIMENTS_DIR or
LSTM_EXPERIMENTS_DOCS_DIR is relative to the folder this command runs in (made absolute before
the kernel starts in the notebook's folder). --in-place also writes the executed notebook back
over the tracked one: that is how the committed outputs are produced, from a real run.

While it runs it shows each cell as it starts ("[cell 19/37] 5. The computation graph"),
the notebook's own output lines as they arrive, and how long the Theano compile will take;
it ends with a summary and where the outputs are. A failure, Ctrl-C or --timeout stops the
kernel, keeps the partly executed copy as NAME.partial.ipynb beside the last complete one
(which it never replaces) and says so in one line. The kernel talks to this process over
local (IPC) sockets in a private temporary folder, removed at the end whatever happens. Exit status: 0 done, 1 a
cell failed, 124 a cell ran past --timeout, 130 interrupted.
"""
import argparse
import asyncio
import atexit
import json
import os
import re
import shlex
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

from lstm_text import paths
from lstm_text.files import atomic_write_bytes

REPO = paths.REPO
# Errors whose message says all a user needs: shown in one line, without the traceback.
NAMED_ERRORS = {"ParameterError", "DataError", "CheckpointError", "EnvironmentProblem",
                "FloatingPointError"}
KILL_AFTER = 10  # seconds an interrupted kernel gets to stop before it is shut down
# Parameters that name folders: made absolute against the folder the user runs this in.
FOLDER_VARIABLES = ("LSTM_OUTPUT_DIR", "LSTM_EXPERIMENTS_DIR", "LSTM_EXPERIMENTS_DOCS_DIR")
MAX_IPC_PATH = 90  # a Unix socket path must be short (108 bytes); else the kernel uses TCP


class Stopped(Exception):
    """Ctrl-C arrived between cells: execute no more."""


def compiled_modules(base=None):
    """How many compiled Theano modules the project's compile cache holds (0: a cold compile)."""
    base = Path(base or os.environ.get("LSTM_TEXT_COMPILEDIR") or REPO / ".cache" / "theano")
    return sum(1 for _ in base.glob("compiledir_*/tmp*/*.so")), base


def headings(notebook):
    """{cell index: the title of the section it is in}: the last markdown heading before it."""
    titles, current = {}, None
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "markdown":
            prose = re.sub(r"^```.*?^```", "", cell.source, flags=re.M | re.S)  # not code
            found = re.findall(r"^#+\s+(.+?)\s*#*\s*$", prose, re.M)
            current = found[-1] if found else current
        else:
            first = next((line for line in cell.source.splitlines()
                          if line.strip() and not line.startswith("# NBVAL")), "")
            titles[index] = current or first.strip()[:60]
    return titles


class ProgressClient(NotebookClient):
    """A NotebookClient that prints cells, output lines and compile notes as they happen,
    and turns Ctrl-C into a clean stop (the kernel is interrupted, then shut down)."""

    def __init__(self, notebook, kernel_dir=None, **kwargs):
        super().__init__(notebook, **kwargs)
        self.kernel_dir = kernel_dir  # the connection file and IPC sockets go here
        self.titles = headings(notebook)
        self.current = None           # index of the cell executing now
        self.cell_started = None
        self.interrupted = 0          # Ctrl-C count
        self.timed_out = False
        self.compile_noted = False
        self.pending = {}             # stream name -> text after its last line break
        self.on_notebook_start = self._install_interrupt
        self.on_cell_execute = self._cell_starts
        self.on_cell_executed = self._cell_done

    def where(self):
        """'cell 19/37 (5. The computation graph)' for the cell executing now."""
        if self.current is None:
            return "before the first cell"
        return "cell %d/%d (%s)" % (self.current + 1, len(self.nb.cells),
                                    self.titles.get(self.current, ""))

    def create_kernel_manager(self):
        """The kernel's connection file in our private folder, and IPC sockets beside it (no
        TCP port, no 'running over TCP without encryption' warning) when the path is short."""
        km = super().create_kernel_manager()
        if self.kernel_dir is not None:
            km.connection_file = os.path.join(self.kernel_dir, "kernel.json")
            if len(km.connection_file) <= MAX_IPC_PATH:
                km.transport = "ipc"
                km.ip = os.path.join(self.kernel_dir, "ipc")
        return km

    # -- Ctrl-C (and SIGTERM, as a stop request from a process manager)
    def _install_interrupt(self, notebook):
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, self._interrupt)
        loop.add_signal_handler(signal.SIGTERM, self._interrupt)

    def _interrupt(self):
        self.interrupted += 1
        if self.interrupted == 1 and self.km is not None:
            asyncio.ensure_future(self.km.interrupt_kernel())
            asyncio.get_running_loop().call_later(KILL_AFTER, self._shut_down)
        else:
            self._shut_down()

    def _shut_down(self):
        """Kill the kernel; nbclient then sees it dead and cleans up as usual."""
        if self.km is not None:
            self.shutdown_kernel = "immediate"
            asyncio.ensure_future(self.km.shutdown_kernel(now=True))

    async def _async_handle_timeout(self, timeout, cell=None):
        self.timed_out, self.shutdown_kernel = True, "immediate"
        return await super()._async_handle_timeout(timeout, cell)

    # -- progress
    def _cell_starts(self, cell, cell_index):
        if self.interrupted:
            raise Stopped()
        self.current, self.cell_started = cell_index, time.perf_counter()
        print("[%s] %s" % (self.where().split(" (")[0], self.titles.get(cell_index, "")),
              flush=True)
        if "graph" in cell.metadata.get("tags", []) and not self.compile_noted:
            self.compile_noted = True  # once: the graph may span several tagged cells
            count, base = compiled_modules()
            if count:
                note = ("%d compiled modules in %s: about 20 s if this graph was compiled "
                        "before, 2-3 minutes if not" % (count, base))
            else:
                note = ("the compile cache %s is empty: this first compile takes 2-3 minutes "
                        "on 2 cores (about 20 s on later runs)" % base)
            print("    compiling the Theano functions; " + note, flush=True)

    def _cell_done(self, cell, cell_index, execute_reply):
        self.flush_output()
        seconds = time.perf_counter() - self.cell_started
        if seconds >= 10:
            print("    (cell %d took %s)" % (cell_index + 1, duration(seconds)), flush=True)
        if self.interrupted:
            raise Stopped()

    def output(self, outs, msg, display_id, cell_index):
        if msg["msg_type"] == "stream":
            self._stream(msg["content"]["name"], msg["content"]["text"])
        return super().output(outs, msg, display_id, cell_index)

    def _stream(self, name, text):
        """Print complete lines of a stream; progress bars (\\r updates) as they come."""
        parts = re.split(r"\r\n|\n|\r", self.pending.get(name, "") + text)
        self.pending[name] = "" if (name == "stderr" and "\r" in text) else parts.pop()
        for line in parts:
            if line.strip():
                print("    " + line.rstrip(), file=sys.stderr if name == "stderr" else sys.stdout,
                      flush=True)

    def flush_output(self):
        for name in list(self.pending):
            self._stream(name, "\n")


def tidy_progress(notebook):
    """One line per cell for a progress bar: its final state. tqdm redraws its bar with \\r on
    stderr; each redraw arrives as a piece of output (70 pieces in a 4-epoch training cell),
    shown live while the run goes on, but committed they would be 70 pink bars between the
    samples. The pieces are replaced by the last bar, where the last piece was."""
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        bars = [index for index, output in enumerate(cell.outputs)
                if output.get("output_type") == "stream" and output.get("name") == "stderr"
                and "\r" in output.get("text", "")]
        if not bars:
            continue
        pieces = re.split(r"[\r\n]", "".join(cell.outputs[index].text for index in bars))
        final = next((piece for piece in reversed(pieces) if piece.strip()), "")
        cell.outputs[bars[-1]].text = final + "\n"
        blank = [index for index, output in enumerate(cell.outputs)   # the bar's closing "\n"
                 if output.get("name") == "stderr" and not output.get("text", "").strip()]
        cell.outputs = [output for index, output in enumerate(cell.outputs)
                        if index not in bars[:-1] and index not in blank]


def write_notebook(notebook, path):
    """nbformat.write through the atomic writer (the whole notebook or the old file), with
    each progress bar reduced to its final line."""
    tidy_progress(notebook)
    atomic_write_bytes(path, nbformat.writes(notebook).encode("utf-8"))


def duration(seconds):
    return "%.0f s" % seconds if seconds < 120 else "%.1f minutes" % (seconds / 60)


def written_since(folder, started):
    """Names of the files in `folder` written after `started` (a time.time())."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*")
                  if path.is_file() and path.stat().st_mtime >= started - 1)


def _short(path):
    """`path` relative to the current folder when it is inside it, else absolute."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def rerun_hint(argv):
    """How to run this again: the make command a user typed, or this command line."""
    if "MAKELEVEL" in os.environ:
        return "rerun the same make command"
    return "rerun: " + shlex.join([_short(sys.executable), _short(__file__)] + list(argv))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook")
    parser.add_argument("--out", default="build/run")
    parser.add_argument("--in-place", action="store_true")
    parser.add_argument("--timeout", type=int, default=None, help="seconds per cell")
    args = parser.parse_args(argv)

    source = Path(args.notebook).resolve()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("LSTM_OUTPUT_DIR", str(out / source.stem))
    for name in FOLDER_VARIABLES:   # relative to here, not to the kernel's folder
        if os.environ.get(name):
            os.environ[name] = os.path.abspath(os.environ[name])
    os.environ["LSTM_TEXT_HEADLESS"] = "1"  # no browser shows a widget: text progress bars
    outputs = os.environ["LSTM_OUTPUT_DIR"]
    executed_path = out / source.name
    partial_path = out / (source.stem + ".partial.ipynb")
    notebook = nbformat.read(source, as_version=4)
    print("running %s (outputs in %s) ..." % (source.name, outputs), flush=True)
    started, wall_started = time.perf_counter(), time.time()
    # shutdown_kernel="immediate": once every cell has run, the kernel is stopped without a
    # shutdown request. ipykernel 7.4's answer to that request races with its own IOPub thread
    # closing and now and then prints a ZMQError traceback ("Socket operation on non-socket")
    # after a run that succeeded; nothing of the run is lost by not asking.
    kernel_dir = tempfile.mkdtemp(prefix="lstm-text-kernel-")   # mode 0700: holds the key
    client = ProgressClient(notebook, kernel_dir=kernel_dir, timeout=args.timeout,
                            kernel_name="python3", shutdown_kernel="immediate",
                            resources={"metadata": {"path": str(source.parent)}})
    try:
        return _execute(client, args, argv, source, notebook, outputs, executed_path,
                        partial_path, started, wall_started)
    finally:
        shutil.rmtree(kernel_dir, ignore_errors=True)   # whatever happened to the kernel


def _execute(client, args, argv, source, notebook, outputs, executed_path, partial_path,
             started, wall_started):
    """Run the notebook; write the executed copy (or the partial one); return the exit status."""
    try:
        client.execute()
    except BaseException as error:  # noqa: BLE001 - every way a run stops gets one clear line
        atexit.unregister(client._cleanup_kernel)  # the kernel is gone: nothing left to clean
        client.flush_output()
        write_notebook(notebook, partial_path)
        saved = written_since(outputs, wall_started)
        kept = "the partly executed copy is %s%s; %s" % (
            partial_path, (" (the complete %s of an earlier run is untouched)"
                           % executed_path.name if executed_path.exists() else ""),
            ("written to %s: %s" % (outputs, ", ".join(saved)) if saved
             else "nothing was written to %s" % outputs))
        minutes = duration(time.perf_counter() - started)
        if client.interrupted or isinstance(error, KeyboardInterrupt):
            print("\ninterrupted in %s after %s: %s; %s"
                  % (client.where(), minutes, kept, rerun_hint(argv)), file=sys.stderr)
            return 130
        if client.timed_out or isinstance(error, CellTimeoutError):
            print("\nstopped: %s ran longer than --timeout %s s; %s; rerun with a larger "
                  "--timeout, or without one" % (client.where(), args.timeout, kept),
                  file=sys.stderr)
            return 124
        if isinstance(error, CellExecutionError) and error.ename in NAMED_ERRORS:
            print("\n%s stopped in %s: %s: %s\n%s" % (source.name, client.where(),
                                                    error.ename, error.evalue, kept),
                  file=sys.stderr)
            return 1
        if isinstance(error, DeadKernelError):
            print("\nthe kernel died in %s (out of memory, or a crash in compiled code); %s"
                  % (client.where(), kept), file=sys.stderr)
            return 1
        if not isinstance(error, Exception):
            raise
        print("\n%s failed in %s; %s\n%s" % (source.name, client.where(), kept, error),
              file=sys.stderr)
        return 1
    write_notebook(notebook, executed_path)
    if partial_path.exists():
        partial_path.unlink()           # an earlier interrupted run's: this one is complete
    print("executed %s in %s: %s" % (source.name, duration(time.perf_counter() - started),
                                     executed_path))
    metrics = Path(outputs) / "metrics.json"
    if metrics.exists():
        summary = json.loads(metrics.read_text())
        if "final_valid_bpc" in summary:
            print("final validation: %.3f bits per character after %d minibatches"
                  % (summary["final_valid_bpc"], summary["minibatches"]))
    saved = written_since(outputs, wall_started)
    if saved:
        print("outputs in %s: %s" % (outputs, ", ".join(saved)))
    if args.in_place:
        atomic_write_bytes(source, executed_path.read_bytes())
        print("wrote the outputs into %s" % source)
    return 0


if __name__ == "__main__":
    sys.exit(main())
