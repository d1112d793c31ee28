"""Shared test set-up: the notebooks folder on sys.path, and nbval comparing stdout only.

Theano and the old libraries write warnings and progress bars to stderr; they differ from
machine to machine, so nbval does not compare stderr (the MDAnalysis UserGuide approach).
"""
import sys
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
if str(NOTEBOOKS) not in sys.path:
    sys.path.insert(0, str(NOTEBOOKS))


def pytest_collectstart(collector):
    """Drop stderr from nbval's comparison of notebook cells."""
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("stderr",)
