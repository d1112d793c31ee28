#!/usr/bin/env bash
# Prints the Python interpreter the Makefile (and .ci/run) use: one that actually runs.
#   tools/find_python.sh            the newest of python3.13, python3.12, python3.11 on PATH
#                                   that runs, else python3 (a pyenv shim for a version that
#                                   is installed but not active fails to run: passed over)
#   tools/find_python.sh NAME       NAME (python3.12, or a path) if it runs; else, for a
#                                   pythonX.Y that is such a shim, pyenv's own copy of X.Y
#   tools/find_python.sh --any X.Y  python X.Y from PATH or pyenv; nothing if there is none
runs() { [[ -n "$1" ]] && "$1" -c 'import sys' >/dev/null 2>&1; }
from_pyenv() {
  command -v pyenv >/dev/null 2>&1 || return 0
  local q
  for q in "$(pyenv root)"/versions/"$1".*/bin/python"$1"; do
    runs "$q" && { echo "$q"; return 0; }
  done
}
case "${1:-}" in
  "")
    for v in 3.13 3.12 3.11; do
      p="$(command -v "python$v" 2>/dev/null)"
      runs "$p" && { echo "$p"; exit 0; }
    done
    command -v python3 ;;
  --any)
    p="$(command -v "python$2" 2>/dev/null)"
    if runs "$p"; then echo "$p"; else from_pyenv "$2"; fi ;;
  *)
    if runs "$1"; then echo "$1"; exit 0; fi
    v="${1##*python}"
    found=""
    [[ "$v" =~ ^3\.1[1-3]$ ]] && found="$(from_pyenv "$v")"
    echo "${found:-$1}" ;;
esac
