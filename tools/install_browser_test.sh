#!/usr/bin/env bash
# Installs what tests/test_browser.py needs, and does nothing that is already done:
#   Debian's chromium (apt-get, as root, only when no chromium is on PATH), and
#   requirements-browser.txt (Playwright's Python package) into the virtual environment $1
#   (default .venv, relative to the repository root).
# Playwright's own browser download (`playwright install`) is not used: the test launches
# Debian's chromium. Exits non-zero with one line saying why when it cannot install.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${1:-.venv}"
fail() { echo "tools/install_browser_test.sh: $*" >&2; exit 1; }
[[ -x "$venv/bin/python" ]] || fail "no virtual environment at $venv (make venv creates .venv)"
if ! command -v chromium >/dev/null 2>&1; then
  [[ "$(id -u)" == 0 ]] || fail "chromium is missing and only root can apt-get install it"
  command -v apt-get >/dev/null 2>&1 || fail "chromium is missing and there is no apt-get"
  log="$(mktemp)"
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
           -o Dpkg::Use-Pty=0 chromium; } >"$log" 2>&1; then
    tail -n 15 "$log" >&2; rm -f "$log"
    fail "apt-get install chromium failed (its last lines are above)"
  fi
  rm -f "$log"
  command -v chromium >/dev/null 2>&1 || fail "apt-get installed chromium but it is not on PATH"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r requirements-browser.txt \
  || fail "pip install -r requirements-browser.txt into $venv failed"
