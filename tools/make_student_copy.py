"""Write notebooks/lstm_text_student.ipynb: the main notebook without outputs, with exercises.

The student copy is notebooks/lstm_text.ipynb with every output, execution count and
execution timestamp removed, a first markdown cell saying so (and where the outputs of the
real run are), and, after the closing "Things to try" list, one empty code cell per suggestion, headed `# Exercise N: ...` with the suggestion's text. Everything else
(the cells' sources, their order, ids and tags, the notebook's metadata) is the main
notebook's, so the copy is regenerated, never edited: `make student-copy`.
tests/test_student_copy.py checks that the committed copy is what this script writes now.

The output is deterministic (no time stamps, no random cell ids): a cell without an id is
given one made from its position.

Usage: python tools/make_student_copy.py [--source notebooks/lstm_text.ipynb]
                                         [--out notebooks/lstm_text_student.ipynb]
"""
import argparse
import copy
import json
import re
import sys
import textwrap
from pathlib import Path

import nbformat

from lstm_text.files import atomic_write_bytes
from lstm_text.paths import REPO as ROOT
SOURCE = ROOT / "notebooks" / "lstm_text.ipynb"
OUT = ROOT / "notebooks" / "lstm_text_student.ipynb"
EXERCISES_HEADING = "Things to try"
# Cell metadata from a run (nbclient's timestamps) or a view of outputs, left out of the copy.
RUN_METADATA = ("execution", "ExecuteTime", "collapsed", "scrolled")
WIDTH = 92  # the notebook's code cells stay within this many characters
# The copy's first cell: why it has no outputs, and where the outputs of a real run are.
BANNER = ("*Student copy, without outputs on purpose: run the cells yourself. The same notebook "
          "with the outputs of a real run is [`lstm_text.ipynb`](lstm_text.ipynb); this copy is "
          "generated from it (`make student-copy`), with the closing suggestions as exercise "
          "cells at the end.*")


class StudentCopyError(RuntimeError):
    """The main notebook does not have the shape this script expects."""


def suggestions(markdown):
    """The top-level bullet items of a markdown cell, each as one line of plain text."""
    items, current = [], None
    for line in markdown.splitlines():
        if line.startswith(("- ", "* ")):
            current = [line[2:].strip()]
            items.append(current)
        elif current is not None and line.startswith("  ") and line.strip():
            current.append(line.strip())
        else:
            current = None
    return [re.sub(r"\*\*(.+?)\*\*", r"\1", " ".join(item)) for item in items]


def exercise_source(number, text):
    """The source of an exercise cell: the suggestion as comments, then nothing to run."""
    lines = textwrap.wrap("Exercise %d: %s" % (number, text), width=WIDTH - 2,
                          break_long_words=False, break_on_hyphens=False)
    return "\n".join("# " + line for line in lines) + "\n"


def _cell_id(index):
    """The id of a cell that has none in the main notebook: from its position only, so that
    editing its source does not change it."""
    return "cell-%d" % index


def student_copy(notebook):
    """The student copy of a notebook (an nbformat NotebookNode), as a new NotebookNode."""
    nb = copy.deepcopy(notebook)
    for index, cell in enumerate(nb.cells):
        if "id" not in cell:
            cell["id"] = _cell_id(index)
        for key in RUN_METADATA:
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    headings = [index for index, cell in enumerate(nb.cells)
                if cell.cell_type == "markdown" and re.match(
                    r"#+ .*%s" % re.escape(EXERCISES_HEADING), cell.source)]
    if len(headings) != 1:
        raise StudentCopyError("expected one markdown cell headed %r, found %d"
                               % (EXERCISES_HEADING, len(headings)))
    where = headings[0]
    items = suggestions(nb.cells[where].source)
    if not items:
        raise StudentCopyError("the %r cell has no bulleted suggestions" % EXERCISES_HEADING)
    exercises = []
    for number, text in enumerate(items, start=1):
        cell = nbformat.v4.new_code_cell(exercise_source(number, text))
        cell["id"] = "exercise-%d" % number
        exercises.append(cell)
    nb.cells[where + 1:where + 1] = exercises
    nb.cells.insert(0, nbformat.v4.new_markdown_cell(BANNER))
    nb.cells[0]["id"] = "student-copy-note"
    nb.metadata["lstm_text"] = {
        "student_copy_of": "lstm_text.ipynb",
        "generated_by": "tools/make_student_copy.py (make student-copy); do not edit"}
    nbformat.validate(nb)
    return nb


def student_copy_text(source=SOURCE):
    """The text of the student copy of the notebook at `source`, as this script writes it."""
    # nbformat's validation would give cells without an id random ones: give them ours first.
    raw = json.loads(Path(source).read_text(encoding="utf-8"))
    for index, cell in enumerate(raw.get("cells", [])):
        if "id" not in cell:
            cell["id"] = _cell_id(index)
    notebook = nbformat.reads(json.dumps(raw), as_version=nbformat.NO_CONVERT)
    if notebook.nbformat != 4:
        raise StudentCopyError("%s is nbformat %d, expected 4" % (source, notebook.nbformat))
    return nbformat.writes(student_copy(notebook)) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=str(SOURCE))
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args(argv)
    try:
        text = student_copy_text(args.source)
    except StudentCopyError as error:
        sys.exit("make_student_copy: %s: %s" % (args.source, error))
    out = Path(args.out)
    if out.exists() and out.read_text(encoding="utf-8") == text:
        print("make_student_copy: %s is up to date" % out)
        return
    atomic_write_bytes(out, text.encode("utf-8"))  # whole or not at all
    print("make_student_copy: wrote %s" % out)


if __name__ == "__main__":
    main()
