"""Where the repository and its folders are: the one place that works it out.

The package is installed editable from src/, so the repository is two folders above this file.
`shown(path)` is how the notebooks print a path: relative to the repository when it is inside
it, so that committed outputs carry no machine's folder names.
"""
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]   # src/lstm_text/ in the repository
DATA = REPO / "data"
BUILD = REPO / "build"
NOTEBOOKS = REPO / "notebooks"


def shown(path):
    """`path` relative to the repository when it is inside it (e.g. build/run/lstm_text),
    else absolute."""
    absolute = Path(os.path.abspath(path))
    try:
        return str(absolute.relative_to(REPO))
    except ValueError:
        return str(absolute)
