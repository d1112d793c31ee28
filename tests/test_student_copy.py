"""The student copy (notebooks/lstm_text_student.ipynb) is what tools/make_student_copy.py
writes from the committed notebook now: no outputs, one exercise cell per suggestion."""
import json
import re

from repo_tools import load_tool
from lstm_text.paths import REPO  # the one place that knows the repository
STUDENT = REPO / "notebooks" / "lstm_text_student.ipynb"
ORIGINAL = REPO / "notebooks" / "lstm_text.ipynb"


def _tool():
    return load_tool("make_student_copy")


def test_student_copy_is_in_sync_with_the_notebook():
    expected = _tool().student_copy_text(ORIGINAL)
    committed = STUDENT.read_text(encoding="utf-8") if STUDENT.exists() else None
    assert committed == expected, (
        "notebooks/lstm_text_student.ipynb is not what tools/make_student_copy.py makes of "
        "notebooks/lstm_text.ipynb now: run `make student-copy` and commit the result.")


def test_the_tool_writes_the_copy_then_finds_it_up_to_date(tmp_path, capsys):
    out = tmp_path / "student.ipynb"
    _tool().main(["--out", str(out)])
    assert capsys.readouterr().out.strip() == "make_student_copy: wrote %s" % out
    assert out.read_text(encoding="utf-8") == STUDENT.read_text(encoding="utf-8")
    _tool().main(["--out", str(out)])
    assert capsys.readouterr().out.strip() == "make_student_copy: %s is up to date" % out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["student.ipynb"]  # no temporary


def test_student_copy_has_no_outputs_and_one_exercise_per_suggestion():
    tool = _tool()
    student = json.loads(STUDENT.read_text(encoding="utf-8"))
    original = json.loads(ORIGINAL.read_text(encoding="utf-8"))
    code = [cell for cell in student["cells"] if cell["cell_type"] == "code"]
    assert all(cell["outputs"] == [] and cell["execution_count"] is None for cell in code)
    assert not any("execution" in cell["metadata"] for cell in student["cells"])
    # first a note that the outputs are left out on purpose, naming the notebook that has them
    note = student["cells"][0]
    assert note["cell_type"] == "markdown" and note["id"] == "student-copy-note"
    assert "without outputs" in "".join(note["source"]) and "lstm_text.ipynb" in "".join(
        note["source"])
    # the original's cells, in order and with the same sources, then the exercises
    exercises = [cell for cell in code if cell["id"].startswith("exercise-")]
    rest = [cell for cell in student["cells"][1:] if cell not in exercises]
    assert ["".join(c["source"]) for c in rest] == ["".join(c["source"]) for c in original["cells"]]
    assert [c["cell_type"] for c in rest] == [c["cell_type"] for c in original["cells"]]
    # The exercises: one per top-level bullet of the original's "Things to try" cell, read here
    # with a regex (not with the tool's own parser), each opening with the bullet's bold title.
    things = next("".join(cell["source"]) for cell in original["cells"]
                  if cell["cell_type"] == "markdown"
                  and "Things to try" in "".join(cell["source"]).splitlines()[0])
    bullets = re.findall(r"^- (.*)$", things, re.M)
    assert len(bullets) >= 5 and len(exercises) == len(bullets)
    position = student["cells"].index(exercises[0])
    assert student["cells"][position:position + len(bullets)] == exercises
    for number, (cell, bullet) in enumerate(zip(exercises, bullets), start=1):
        lines = "".join(cell["source"]).splitlines()
        assert all(line.startswith("# ") for line in lines)      # nothing to run yet
        text = " ".join(line[2:] for line in lines)
        title = re.match(r"\*\*(.+?)\*\*", bullet)
        first_words = title.group(1) if title else " ".join(bullet.split()[:3])
        assert text.startswith("Exercise %d: %s" % (number, first_words)), (text, bullet)


def test_suggestions_are_the_top_level_bullets():
    tool = _tool()
    markdown = ("## Things to try\n\nIntro:\n\n- **One.** first\n  continued\n"
                "- Two `code`\n\nAfter the list.\n")
    assert tool.suggestions(markdown) == ["One. first continued", "Two `code`"]
