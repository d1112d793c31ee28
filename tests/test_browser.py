"""notebooks/lstm_text.ipynb run by a person: JupyterLab on 127.0.0.1, driven by headless Chromium.

The browser is Debian's `chromium` (Playwright's own download cannot be fetched here), driven
by Playwright's Python package; tools/install_browser_test.sh installs both. Without them the
test is skipped, saying what to install.

JupyterLab serves a temporary copy of notebooks/ (the data/ folder beside it, read-only), with
its own config, runtime, settings and workspaces folders, so neither the user's Jupyter set-up
nor anything the test does can reach the committed files. The test opens the notebook, checks
that merely opening it and starting its kernel leaves it unmodified (a kernelspec that differs
from the installed kernel's makes JupyterLab rewrite the metadata), clears the committed
outputs, runs all cells on the tiny corpus (the kernel inherits the server's LSTM_* variables),
and checks what a reader sees: no error, nothing on stderr in the first code cell, the training
progress bar as a widget, the learning-curve plot as an image. It then closes the browser and
the server without saving, and checks that the notebook file's bytes are unchanged.
A second test runs notebooks/lstm_text_inside.ipynb the same way, types a prefix into its Play
box, moves its temperature slider, and waits for new text each time (about 35 s).

On 2 cores: 30 s to 2 minutes with a warm Theano compile cache (.cache/theano, which the other
tests share), about 5 minutes with a cold one.
"""
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="Playwright is not installed: run tools/install_browser_test.sh "
           "(or pip install -r requirements-browser.txt, with Debian's chromium)")

pytestmark = pytest.mark.browser

from lstm_text.paths import REPO  # the one place that knows the repository
NOTEBOOK = "lstm_text.ipynb"
SERVER_START_TIMEOUT = 90     # seconds until /api/status answers
PAGE_TIMEOUT = 120            # seconds to load JupyterLab and start the kernel
RUN_TIMEOUT = 600             # seconds for Run All Cells (compile included)
RENDER_TIMEOUT = 30           # seconds for the widget and the image to render once run
PROGRESS_SELECTOR = ".jp-OutputArea .widget-hprogress, .jp-OutputArea .widget-vprogress"
IMAGE_SELECTOR = ".jp-OutputArea .jp-RenderedImage img"   # the renderer is the output node
SCHEDULE = {                  # the kernel inherits these from the server
    "LSTM_CORPUS": "tiny",
    "LSTM_MAX_MINIBATCHES": "4",
    "LSTM_REPORT_EVERY": "2",
    "LSTM_SAMPLE_LENGTH": "50",
}
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--no-first-run"]

# The state of the notebook tab, read from the JupyterLab application object (exposed as
# window.jupyterapp by --LabApp.expose_app_in_browser). With {full: true} it includes every
# code cell's outputs, as nbformat JSON.
STATE_JS = """({path, full}) => {
  const app = window.jupyterapp;
  if (!app || !app.shell) return null;
  const panel = Array.from(app.shell.widgets('main')).find(
    w => w.context && w.context.path === path && w.content && w.content.model);
  if (!panel) return null;
  const sc = panel.sessionContext;
  const model = panel.content.model;
  const cells = [];
  for (let i = 0; i < model.cells.length; i++) {
    const cell = model.cells.get(i);
    if (cell.type !== 'code') continue;
    const widget = panel.content.widgets[i];
    const prompt = widget && widget.node.querySelector('.jp-InputPrompt');
    const entry = {index: i, count: cell.executionCount,
                   state: cell.executionState || null,
                   prompt: prompt ? prompt.textContent.trim() : null,
                   source: cell.sharedModel.getSource().split('\\n')[0].slice(0, 80)};
    if (full) entry.outputs = cell.outputs.toJSON();
    cells.push(entry);
  }
  const tab = Array.from(document.querySelectorAll('.lm-DockPanel-tabBar .lm-TabBar-tab'))
    .find(t => t.textContent.trim() === path.split('/').pop());
  return {
    id: panel.id,
    ready: panel.context.isReady && sc.isReady && !!(sc.session && sc.session.kernel),
    status: sc.kernelDisplayStatus,
    kernelName: sc.session && sc.session.kernel ? sc.session.kernel.name : null,
    kernelDisplayName: sc.kernelDisplayName,
    dirty: panel.context.model.dirty,
    tabDirty: tab ? tab.classList.contains('jp-mod-dirty') : null,
    metadata: full ? panel.content.model.metadata : null,
    runAll: window.__lstmRunAll || null,
    cells,
  };
}"""

# Start a JupyterLab command without waiting for it (Run All resolves only when it is done);
# its result or error is kept in window.__lstmRunAll for STATE_JS.
COMMAND_JS = """({id, command}) => {
  const app = window.jupyterapp;
  app.shell.activateById(id);
  window.__lstmRunAll = command === 'notebook:run-all-cells' ? {done: false} : window.__lstmRunAll;
  return app.commands.execute(command).then(
    result => { if (command === 'notebook:run-all-cells')
                  window.__lstmRunAll = {done: true, result: String(result)}; return true; },
    error => { window.__lstmRunAll = {done: true, error: String(error)}; return false; });
}"""


def find_chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_json(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1))


def serve_copy(tmp_path):
    """A copy of notebooks/ (notebooks, modules, C sources) with data/ beside it, as in the repo."""
    root = tmp_path / "repo"
    notebooks = root / "notebooks"
    notebooks.mkdir(parents=True)
    for pattern in ("*.ipynb", "*.py", "*.c"):
        for source in (REPO / "notebooks").glob(pattern):
            shutil.copy2(source, notebooks / source.name)
    # lstm_text_data (beside the notebook) finds the bundled corpora in ../data; only read.
    (root / "data").symlink_to(REPO / "data", target_is_directory=True)
    return notebooks


class LabServer:
    """JupyterLab on 127.0.0.1 with a random token, isolated from the user's Jupyter files."""

    def __init__(self, root_dir, tmp_path):
        self.root_dir = root_dir
        self.port = free_port()
        self.token = secrets.token_hex(24)
        self.url = "http://127.0.0.1:%d" % self.port
        home = tmp_path / "jupyter"
        settings = home / "settings"
        # Autosave off: JupyterLab would otherwise save the notebook (a copy, but the test
        # checks its bytes afterwards) every two minutes; nothing here may write a notebook.
        write_json(settings / "@jupyterlab" / "docmanager-extension" / "plugin.jupyterlab-settings",
                   {"autosave": False})
        # Every cell attached to the page, so that all outputs are in the DOM to inspect.
        write_json(settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings",
                   {"windowingMode": "none"})
        # No news or update checks (no network; no notification over the page).
        write_json(settings / "@jupyterlab" / "apputils-extension" /
                   "notification.jupyterlab-settings",
                   {"fetchNews": "false", "checkForUpdates": False})
        write_json(home / "config" / "jupyter_server_config.json", {"LabApp": {
            "news_url": None,
            "check_for_updates_class": "jupyterlab.handlers.announcements.NeverCheckForUpdate"}})
        self.output_dir = tmp_path / "out"
        env = {name: value for name, value in os.environ.items()
               if not name.startswith("LSTM_") or name in ("LSTM_TEXT_BLAS", "LSTM_TEXT_COMPILEDIR")}
        env.pop("LSTM_TEXT_HEADLESS", None)   # the notebook must draw its widgets here
        env.update(SCHEDULE, LSTM_OUTPUT_DIR=str(self.output_dir), PYTHONUNBUFFERED="1",
                   JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_DATA_DIR=str(home / "data"),
                   JUPYTER_RUNTIME_DIR=str(home / "runtime"), IPYTHONDIR=str(home / "ipython"))
        # The warm compile cache the other tests use (lstm_text.environment's default) unless one is set.
        env.setdefault("LSTM_TEXT_COMPILEDIR", str(REPO / ".cache" / "theano"))
        self.command = [
            sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
            "--port=%d" % self.port, "--ServerApp.port_retries=0",
            "--IdentityProvider.token=" + self.token, "--ServerApp.root_dir=" + str(root_dir),
            "--LabApp.user_settings_dir=" + str(settings),
            "--LabApp.workspaces_dir=" + str(home / "workspaces"),
            "--LabApp.expose_app_in_browser=True",
            # If the test itself is killed: the kernel is culled once idle and unwatched,
            # then the server stops.
            "--MappingKernelManager.cull_idle_timeout=600",
            "--MappingKernelManager.cull_interval=60",
            "--ServerApp.shutdown_no_activity_timeout=600",
        ] + (["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else [])
        self.log_path = tmp_path / "jupyterlab.log"
        self.env = env
        self.process = self.log = None

    def start(self):
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(self.command, env=self.env, cwd=self.root_dir,
                                        stdin=subprocess.DEVNULL, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return "JupyterLab exited with code %s before answering" % self.process.returncode
            try:
                self.api("GET", "/api/status", timeout=5)
                return None
            except (OSError, urllib.error.URLError):
                time.sleep(0.5)
        return "JupyterLab did not answer %s/api/status within %d s" % (self.url,
                                                                        SERVER_START_TIMEOUT)

    def api(self, method, path, timeout=10):
        request = urllib.request.Request(self.url + path, method=method,
                                         headers={"Authorization": "token " + self.token})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def stop(self):
        """Shut the kernels and the server down (nothing is saved); kill it if it hangs."""
        try:
            if self.process is not None and self.process.poll() is None:
                self._shut_down()
        finally:
            if self.log is not None:
                self.log.close()

    def _shut_down(self):
        try:
            for session in self.api("GET", "/api/sessions"):
                self.api("DELETE", "/api/sessions/" + session["id"], timeout=30)
            self.api("POST", "/api/shutdown", timeout=10)
            self.process.wait(30)
            return
        except (OSError, urllib.error.URLError, subprocess.TimeoutExpired, ValueError):
            pass
        for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
            if self.process.poll() is not None:
                return
            try:
                os.killpg(self.process.pid, sig)
                self.process.wait(wait)
            except (OSError, subprocess.TimeoutExpired):
                pass

    def log_tail(self, lines=50):
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def cell_label(cell):
    return "cell %d (%r)" % (cell["index"], cell["source"])


def text_of(output):
    if output["output_type"] == "stream":
        text = output.get("text", "")
        return text if isinstance(text, str) else "".join(text)
    if output["output_type"] == "error":
        return "%s: %s" % (output.get("ename"), output.get("evalue"))
    return ""


def wait_for_run_all(page, path):
    """Poll until Run All has finished and the kernel is idle; AssertionError after RUN_TIMEOUT."""
    started = time.monotonic()
    while True:
        state = page.evaluate(STATE_JS, {"path": path, "full": False})
        run_all = state["runAll"] or {}
        if run_all.get("done") and state["status"] == "idle":
            return state, time.monotonic() - started
        if time.monotonic() - started > RUN_TIMEOUT:
            busy = [c for c in state["cells"] if c["prompt"] == "[*]:" or c["state"] == "running"]
            raise AssertionError(
                "Run All Cells had not finished after %d s (kernel %s): %s was still running, "
                "%d more cells waiting" % (RUN_TIMEOUT, state["status"],
                                           cell_label(busy[0]) if busy else "no cell",
                                           max(len(busy) - 1, 0)))
        if state["status"] in ("dead", "autorestarting"):
            raise AssertionError("the kernel died during Run All Cells (status %s), in %s"
                                 % (state["status"], next((cell_label(c) for c in state["cells"]
                                                           if c["prompt"] == "[*]:"), "no cell")))
        time.sleep(1)


def test_notebook_runs_in_jupyterlab(tmp_path, request):
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no chromium on PATH: run tools/install_browser_test.sh "
                    "(as root it installs Debian's chromium)")
    notebooks = serve_copy(tmp_path)
    served = notebooks / NOTEBOOK
    before = served.read_bytes()
    committed_before = sha256(REPO / "notebooks" / NOTEBOOK)
    file_kernelspec = json.loads(before)["metadata"].get("kernelspec", {})
    server = LabServer(notebooks, tmp_path)
    problems = []       # what a reader would see wrong; all reported together at the end
    console = []        # the page's console errors, for the report
    timings = {}
    began = time.monotonic()
    try:
        failure = server.start()
        if failure:
            pytest.skip("JupyterLab cannot start here: %s. Its log:\n%s"
                        % (failure, server.log_tail()))
        timings["server"] = time.monotonic() - began
        # The settings the test relies on were read from the temporary settings folder.
        docmanager = server.api("GET", "/lab/api/settings/@jupyterlab/docmanager-extension:plugin")
        assert docmanager["settings"].get("autosave") is False, \
            "autosave is not off in JupyterLab's settings: %r" % docmanager["settings"]

        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, headless=True,
                                                 args=CHROMIUM_ARGS, timeout=60_000)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda error: console.append("page error: %s" % error))
                page.goto("%s/lab/tree/%s?token=%s" % (server.url, NOTEBOOK, server.token),
                          wait_until="domcontentloaded", timeout=PAGE_TIMEOUT * 1000)
                try:
                    page.wait_for_function(
                        "(arg) => { const s = (%s)(arg); return s && s.ready && s.status === 'idle'; }"
                        % STATE_JS, arg={"path": NOTEBOOK, "full": False},
                        timeout=PAGE_TIMEOUT * 1000, polling=500)
                except sync_api.TimeoutError:
                    state = page.evaluate(STATE_JS, {"path": NOTEBOOK, "full": False})
                    raise AssertionError(
                        "the notebook's kernel was not ready and idle %d s after opening %s: %s"
                        % (PAGE_TIMEOUT, NOTEBOOK, state and {k: state[k] for k in (
                            "ready", "status", "kernelName")})) from None
                timings["open"] = time.monotonic() - began

                # Opening the notebook and starting its kernel must not modify it: watch for 3 s
                # (JupyterLab updates the kernelspec and language_info just after the start).
                for _ in range(6):
                    state = page.evaluate(STATE_JS, {"path": NOTEBOOK, "full": True})
                    if state["dirty"] or state["tabDirty"]:
                        break
                    time.sleep(0.5)
                if state["kernelDisplayName"] != file_kernelspec.get("display_name"):
                    problems.append(
                        "the notebook's kernelspec display_name is %r but the kernel JupyterLab "
                        "started (%s) calls itself %r: opening the notebook changes it"
                        % (file_kernelspec.get("display_name"), state["kernelName"],
                           state["kernelDisplayName"]))
                if state["dirty"] or state["tabDirty"]:
                    on_disk = json.loads(before)["metadata"]
                    changed = sorted(key for key in set(on_disk) | set(state["metadata"])
                                     if on_disk.get(key) != state["metadata"].get(key))
                    problems.append(
                        "opening the notebook and starting its kernel marked it modified "
                        "(model dirty %s, tab jp-mod-dirty %s); metadata that changed: %s"
                        % (state["dirty"], state["tabDirty"],
                           "; ".join("%s %r -> %r" % (key, on_disk.get(key),
                                                      state["metadata"].get(key))
                                     for key in changed) or "none"))

                # Clear the committed outputs first, so every output inspected below is new.
                assert page.evaluate(COMMAND_JS, {"id": state["id"],
                                                  "command": "notebook:clear-all-cell-outputs"})
                page.evaluate("(arg) => { (%s)(arg); return true; }" % COMMAND_JS,
                              {"id": state["id"], "command": "notebook:run-all-cells"})
                state, timings["run_all"] = wait_for_run_all(page, NOTEBOOK)
                state = page.evaluate(STATE_JS, {"path": NOTEBOOK, "full": True})
                page.screenshot(path=str(tmp_path / "jupyterlab.png"), full_page=True)

                # Every code cell ran, in order, in this kernel.
                counts = [cell["count"] for cell in state["cells"]]
                not_run = [cell for cell in state["cells"] if cell["count"] is None]
                if not_run:
                    problems.append("%d code cells did not run, the first %s (Run All: %s)"
                                    % (len(not_run), cell_label(not_run[0]), state["runAll"]))
                elif counts != list(range(1, len(counts) + 1)):
                    problems.append("execution counts are %s, not 1..%d" % (counts, len(counts)))
                for cell in state["cells"]:
                    for output in cell["outputs"]:
                        if output["output_type"] == "error":
                            problems.append("%s raised %s" % (cell_label(cell), text_of(output)))
                first = state["cells"][0]
                stderr = "".join(text_of(o) for o in first["outputs"]
                                 if o["output_type"] == "stream" and o.get("name") == "stderr")
                if stderr:
                    problems.append("the first code cell, %s, wrote to stderr (a reader sees it "
                                    "in red): %r" % (cell_label(first), stderr[:300]))

                # The training loop's progress bar is a rendered ipywidgets progress widget
                # (ipywidgets 8 draws a horizontal IntProgress/FloatProgress as .widget-hprogress).
                widget_cells = [cell["index"] for cell in state["cells"]
                                if any("application/vnd.jupyter.widget-view+json"
                                       in o.get("data", {}) for o in cell["outputs"])]
                try:
                    page.wait_for_selector(PROGRESS_SELECTOR, state="attached",
                                           timeout=RENDER_TIMEOUT * 1000)
                except sync_api.TimeoutError:
                    problems.append(
                        "no progress widget (%s) was rendered in any output; code cells with "
                        "widget outputs: %s" % (PROGRESS_SELECTOR, widget_cells or
                                                "none (the progress bar is printed as text)"))
                broken = page.locator(".jp-OutputArea-output", has_text="Error displaying widget")
                if broken.count():
                    problems.append("%d outputs say 'Error displaying widget'" % broken.count())

                # The learning-curve plot is a loaded image.
                try:
                    page.wait_for_function(
                        """(selector) => Array.from(document.querySelectorAll(selector)).some(
                             img => img.complete && img.naturalWidth > 0)""",
                        arg=IMAGE_SELECTOR, timeout=RENDER_TIMEOUT * 1000, polling=500)
                except sync_api.TimeoutError:
                    problems.append("no plot image (%s with a non-zero naturalWidth) in any "
                                    "output" % IMAGE_SELECTOR)
                timings["checked"] = time.monotonic() - began
            finally:
                browser.close()     # closes the page without saving anything
    finally:
        server.stop()
        timings["total"] = time.monotonic() - began
        request.node.add_report_section(
            "call", "timings (s)", ", ".join("%s %.1f" % item for item in timings.items()))
        request.node.add_report_section("call", "JupyterLab log (last 50 lines)",
                                        server.log_tail())
        if console:
            request.node.add_report_section("call", "browser console errors",
                                            "\n".join(console[-30:]))
    if served.read_bytes() != before:
        problems.append("the served copy of %s changed on disk (saved by JupyterLab?)" % NOTEBOOK)
    if sha256(REPO / "notebooks" / NOTEBOOK) != committed_before:
        problems.append("notebooks/%s in the repository changed during the test" % NOTEBOOK)
    assert not problems, ("in JupyterLab (screenshot %s):\n  - " % (tmp_path / "jupyterlab.png")
                          + "\n  - ".join(problems))


INSIDE = "lstm_text_inside.ipynb"
OUTPUT_TEXT_JS = """() => Array.from(document.querySelectorAll('.jp-OutputArea .widget-output'))
                      .map(e => e.innerText).join('\\n')"""


def test_the_inside_notebook_plays_in_jupyterlab(tmp_path):
    """Open lstm_text_inside.ipynb, run it, type a prefix into its Play box and move the
    temperature slider: new text appears each time (ipywidgets, live kernel)."""
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no chromium on PATH: run tools/install_browser_test.sh")
    notebooks = serve_copy(tmp_path)
    # The notebook reads the study's kept model, ../docs/study/fast-best.npz; only read.
    (notebooks.parent / "docs").symlink_to(REPO / "docs", target_is_directory=True)
    server = LabServer(notebooks, tmp_path)
    try:
        failure = server.start()
        if failure:
            pytest.skip("JupyterLab cannot start here: %s" % failure)
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, headless=True,
                                                 args=CHROMIUM_ARGS, timeout=60_000)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto("%s/lab/tree/%s?token=%s" % (server.url, INSIDE, server.token),
                          wait_until="domcontentloaded", timeout=PAGE_TIMEOUT * 1000)
                page.wait_for_function(
                    "(arg) => { const s = (%s)(arg); return s && s.ready && s.status === 'idle'; }"
                    % STATE_JS, arg={"path": INSIDE, "full": False},
                    timeout=PAGE_TIMEOUT * 1000, polling=500)
                state = page.evaluate(STATE_JS, {"path": INSIDE, "full": False})
                page.evaluate("(arg) => { (%s)(arg); return true; }" % COMMAND_JS,
                              {"id": state["id"], "command": "notebook:run-all-cells"})
                state, _ = wait_for_run_all(page, INSIDE)
                errors = [text_of(o) for cell in page.evaluate(
                    STATE_JS, {"path": INSIDE, "full": True})["cells"]
                    for o in cell["outputs"] if o["output_type"] == "error"]
                assert not errors, errors

                prefix = page.locator(".jp-OutputArea .widget-text input").first
                prefix.wait_for(timeout=RENDER_TIMEOUT * 1000)
                prefix.fill("captain wentworth ")
                page.wait_for_function(
                    "() => (%s)().includes('captain wentworth ')" % OUTPUT_TEXT_JS,
                    timeout=RENDER_TIMEOUT * 1000, polling=250)
                before = page.evaluate(OUTPUT_TEXT_JS)
                handle = page.locator(".jp-OutputArea .widget-hslider .noUi-handle").first
                handle.focus()
                for _ in range(5):                        # temperature 0.5 -> 1.0
                    page.keyboard.press("ArrowRight")
                page.wait_for_function(
                    "(before) => { const now = (%s)(); return now.includes('captain wentworth ')"
                    " && now !== before; }" % OUTPUT_TEXT_JS, arg=before,
                    timeout=RENDER_TIMEOUT * 1000, polling=250)
                page.screenshot(path=str(tmp_path / "inside.png"), full_page=True)
            finally:
                browser.close()
    finally:
        server.stop()
