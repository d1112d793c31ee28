"""Shared test set-up: the notebooks' short schedule for nbval, which compares stdout only.

Theano and the old libraries write warnings and progress bars to stderr; they differ from
machine to machine, so nbval does not compare stderr (the MDAnalysis UserGuide approach).
The code under test is installed (editable) into the environment by make: lstm_text from
src/, and notebooks/lstm_text_data.py; nothing is added to sys.path here.
"""
import os
from pathlib import Path

from lstm_text import blas_library

# Before any test module imports numpy: its OpenBLAS then runs the kernel the processor calls
# for, as in the notebooks (lstm_text.environment does the same there).
blas_library.load_numpy()

REPO = Path(__file__).resolve().parent

# nbval runs the notebooks on a short schedule: the kernels inherit these variables, and
# the notebooks' parameters cells read them. Cells whose output depends on the schedule
# carry the cell tag nbval-ignore-output; everything before training is compared strictly.
# LSTM_TEXT_HEADLESS: nobody sees these kernels, so the progress bar is text, not a widget.
NBVAL_SCHEDULE = {
    "LSTM_MAX_MINIBATCHES": "4",
    "LSTM_REPORT_EVERY": "2",
    "LSTM_OUTPUT_DIR": str(REPO / "build" / "nbval" / "lstm_text"),
    "LSTM_EXPERIMENT_MINIBATCHES": "2",
    "LSTM_EXPERIMENTS": "adam,best-bucketed",
    "LSTM_EXPERIMENTS_DIR": str(REPO / "build" / "nbval" / "experiments"),
    "LSTM_INSIDE_CHARS": "1500",
    "LSTM_TEXT_HEADLESS": "1",
}
for _name, _value in NBVAL_SCHEDULE.items():
    os.environ.setdefault(_name, _value)


# The student copy (tools/make_student_copy.py) has no outputs to compare: nbval would only
# recompile Theano and train for nothing. tests/test_student_copy.py checks it instead.
collect_ignore = ["notebooks/lstm_text_student.ipynb"]


def pytest_collectstart(collector):
    """Drop stderr from nbval's comparison of notebook cells."""
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("stderr",)
