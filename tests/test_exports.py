"""Exports: Canvas's gradebook and Moodle's worksheet filled in their real layouts, every cell
checked; a Gradescope autograder built, unpacked and run in a simulated /autograder."""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from grader.exports import ExportError
from grader.exports.cli import add_commands
from grader.exports.moodle import summary as moodle_summary
from grader.exports.results import read_class
from grader.exports.table import guarded, on_scale, points
from grader.grade import grade_batch
from tests.conftest import BACKWARD, CHECK, CHECK_N, CORRECT, FORWARD, IMPORTS, ROOT, notebook

FUNCTIONS = {
    "forward_propagation": 10.0,
    "backward_propagation": 10.0,
    "gradient_check": 40.0,
    "gradient_check_n": 40.0,
}
BOM = "\ufeff"


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    """`grader export ...` as grader/cli.py will run it, with the exports' commands added."""
    parser = argparse.ArgumentParser(prog="grader")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["export", *argv])
    code = args.handler(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write_result(
    out: Path,
    folder: str,
    student: dict | None,
    scores: dict[str, float],
    graded_at: str = "2026-12-01T10:00:00+00:00",
    error: str | None = None,
    assignment: str = "gradient_checking",
) -> None:
    """A results.json in the documented shape (README "Output", docs/lms.md)."""
    document = {
        "submission": folder,
        **({"student": student} if student is not None else {}),
        "source": f"submissions/{folder}.ipynb",
        "assignment": assignment,
        "score": sum(scores.values()),
        "max_score": sum(FUNCTIONS.values()),
        "functions": {
            name: {
                "score": scores[name],
                "max_score": most,
                "status": "passed" if scores[name] == most else "syntax_error",
                "message": "…",
                "note": None,
            }
            for name, most in FUNCTIONS.items()
        },
        "tests": [],
        "error": error,
        "fingerprint": "0" * 24,
        "graded_at": graded_at,
    }
    (out / folder).mkdir(parents=True)
    (out / folder / "results.json").write_text(json.dumps(document), encoding="utf-8")


def student(student_id: str, name: str | None, layout: str = "canvas") -> dict:
    return {"id": student_id, "name": name, "layout": layout}


def write_class(out: Path, layout: str) -> Path:
    """A class folder written by hand: attempts, a legacy result, an extra student, debris."""
    full = dict(FUNCTIONS)
    write_result(out, f"{layout}-1001", student("1001", "Chen, Alice", layout), full)
    # Graded twice into the folder; the later grading counts.
    write_result(
        out,
        f"{layout}-1002-old",
        student("1002", "王小明", layout),
        {**full, "gradient_check": 0.0, "gradient_check_n": 0.0},
        graded_at="2026-11-30T09:00:00+00:00",
    )
    write_result(
        out,
        f"{layout}-1002",
        student("1002", "王小明", layout),
        {**full, "backward_propagation": 7.5, "gradient_check": 20.0, "gradient_check_n": 0.0},
        graded_at="2026-12-01T11:00:00+01:00",
    )
    write_result(
        out,
        f"{layout}-1003",
        student("1003", "Zoë Müller", layout),
        dict.fromkeys(FUNCTIONS, 0.0),
        error="The file is empty: nothing was saved in it.",
    )
    write_result(out, f"{layout}-9999", student("9999", "Extra, Ghost", layout), full)
    write_result(out, "legacy_upload", None, full)  # graded before results had a student
    (out / "torn").mkdir()
    (out / "torn" / "results.json").write_text('{"submission": "torn", "sco', encoding="utf-8")
    return out


@pytest.fixture
def class_out(tmp_path) -> Path:
    """A class graded from Canvas's download."""
    return write_class(tmp_path / "out", "canvas")


@pytest.fixture
def moodle_out(tmp_path) -> Path:
    """A class graded from Moodle's download."""
    return write_class(tmp_path / "out", "moodle")


def test_results_are_read_one_per_student(class_out):
    results = read_class(class_out, "canvas")
    assert set(results.students) == {"1001", "1002", "1003", "9999", "legacy_upload"}
    assert results.students["1002"].score == 37.5  # the later of two gradings
    assert results.students["1002"].name == "王小明"
    assert results.students["legacy_upload"].name is None
    assert results.label("1003") == "1003 (Zoë Müller)"
    assert [u.split(":")[0] for u in results.unusable] == ["torn"]


def test_results_of_another_assignment_are_left_out(tmp_path):
    out = tmp_path / "out"
    write_result(out, "a", student("1", None), FUNCTIONS, assignment="gradient_checking")
    write_result(out, "b", student("2", None), FUNCTIONS, assignment="other")
    with pytest.raises(ExportError, match="several assignments"):
        read_class(out, "canvas")
    (out / "summary.json").write_text('{"assignment": "other"}', encoding="utf-8")
    results = read_class(out, "canvas")
    assert set(results.students) == {"2"}
    assert results.unusable == ("a: graded for gradient_checking, not other",)


# Canvas's gradebook export, as cells in the file's own text (quotes included): a header with
# identity columns, two assignments and read-only totals; a "Manual Posting" row; the indented
# "Points Possible" row; students with commas, quotes and a line break in their cells, one
# with a score Canvas already holds, one without a submission; the test student.
CANVAS_HEADER = (
    "Student,ID,SIS User ID,SIS Login ID,Section,Gradient Checking (4242),Quiz 1 (4243),"
    "Current Points,Final Points,Current Score,Unposted Current Score,Final Score,"
    "Unposted Final Score"
).split(",")
READ_ONLY = ["(read only)"] * 6


def canvas_rows(possible: str = "100.00") -> list[list[str]]:
    return [
        CANVAS_HEADER,
        ["", "", "", "", "", "Manual Posting", "", *READ_ONLY],
        ["    Points Possible", "", "", "", "", possible, "10.00", *READ_ONLY],
        ['"Chen, Alice"', "1001", "S1001", "achen", '"Section A, evening"', "", "9.00",
         "9.00", "9.00", "90.00", "90.00", "90.00", "90.00"],
        ["王小明", "1002", "S1002", "wxm", "Section A", "55.00", "", "55.00", "55.00",
         "50.00", "50.00", "50.00", "50.00"],
        ['"Müller, Zoë"', "1003", "", "zmueller", '"Section B\n(remote)"', "", "8.50", "8.50",
         "8.50", "85.00", "85.00", "85.00", "85.00"],
        ['"O\'Brien, ""Kev"""', "1004", "S1004", "kobrien", "Section B", "", "7.00", "7.00",
         "7.00", "70.00", "70.00", "70.00", "70.00"],
        ['"Student, Test"', "1005", "", "", "Section A", "", "", "", "", "", "", "", ""],
    ]


def canvas_file(rows: list[list[str]]) -> bytes:
    """The file as Canvas writes it: UTF-8 with a BOM, CRLF; a blank line at the end."""
    return (BOM + "".join(",".join(row) + "\r\n" for row in rows) + "\r\n").encode("utf-8")


def raw(cell: str) -> str:
    """A cell as a CSV writer writes it, quoted only when it must be."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([cell])
    return buffer.getvalue().removesuffix("\n")


def parsed(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8").removeprefix(BOM), newline="")))


def test_canvas_gradebook_is_filled_and_every_other_byte_kept(tmp_path, class_out, capsys):
    gradebook, filled = tmp_path / "export.csv", tmp_path / "filled.csv"
    gradebook.write_bytes(canvas_file(canvas_rows()))
    code, out, err = run_cli(
        capsys, "canvas", str(class_out), "--gradebook", str(gradebook),
        "--column", "Gradient Checking (4242)", "--output", str(filled),
    )  # fmt: skip
    assert code == 0
    expected = canvas_rows()
    expected[3][5], expected[4][5], expected[5][5] = "100", "37.5", "0"
    assert filled.read_bytes() == canvas_file(expected)
    # Cell by cell, as a CSV reader sees the two files.
    before, after = parsed(gradebook.read_bytes()), parsed(filled.read_bytes())
    assert len(before) == len(after) == 9
    changed = {(r, c) for r, row in enumerate(after) for c, cell in enumerate(row)
               if cell != before[r][c]}  # fmt: skip
    assert changed == {(3, 5), (4, 5), (5, 5)}
    assert [after[r][5] for r in (3, 4, 5, 6, 7)] == ["100", "37.5", "0", "", ""]
    assert after[5][4] == "Section B\n(remote)" and after[6][0] == "O'Brien, \"Kev\""
    assert "Wrote" in out and "3 student(s) filled, 2 without a result" in out
    assert "2 student(s) with a result are not in Canvas's file" in err
    assert "9999 (Extra, Ghost)" in err and "legacy_upload" in err
    assert "warning: left out torn" in err


def test_canvas_scores_are_scaled_to_the_points_possible(tmp_path, class_out, capsys):
    gradebook, filled = tmp_path / "export.csv", tmp_path / "filled.csv"
    gradebook.write_bytes(canvas_file(canvas_rows(possible="10.00")))
    code, _, err = run_cli(
        capsys, "canvas", str(class_out), "--gradebook", str(gradebook),
        "--column", "Gradient Checking (4242)", "--output", str(filled),
    )  # fmt: skip
    assert code == 0
    assert [row[5] for row in parsed(filled.read_bytes())[3:6]] == ["10", "3.75", "0"]
    assert "scaled to Canvas's points possible, 10" in err


@pytest.mark.parametrize(
    ("column", "says"),
    [
        ("Gradient Checking", "no column 'Gradient Checking'; its assignment columns: "
                              "'Gradient Checking (4242)', 'Quiz 1 (4243)'"),
        ("Current Score", "computed by Canvas (read only)"),
        ("ID", "says who a student is"),
    ],
)  # fmt: skip
def test_canvas_refuses_a_column_it_cannot_fill(tmp_path, class_out, capsys, column, says):
    gradebook, filled = tmp_path / "export.csv", tmp_path / "filled.csv"
    gradebook.write_bytes(canvas_file(canvas_rows()))
    code, out, err = run_cli(
        capsys, "canvas", str(class_out), "--gradebook", str(gradebook),
        "--column", column, "--output", str(filled),
    )  # fmt: skip
    assert (code, out) == (2, "")
    assert err.startswith("grader export canvas: ") and says in err
    assert err.count("\n") == 1
    assert not filled.exists()


def test_unusable_inputs_are_one_line_and_exit_2(tmp_path, class_out, capsys):
    gradebook = tmp_path / "export.csv"
    gradebook.write_bytes(canvas_file(canvas_rows()).decode("utf-8").encode("utf-16"))
    cases = [
        ([str(class_out), "--gradebook", str(gradebook)], "is not UTF-8 text"),
        ([str(class_out), "--gradebook", str(tmp_path / "none.csv")], "cannot read"),
        ([str(tmp_path / "nowhere"), "--gradebook", str(gradebook)], "is not a folder"),
        ([str(tmp_path), "--gradebook", str(gradebook)], "holds no results"),
    ]
    for arguments, says in cases:
        code, _, err = run_cli(
            capsys, "canvas", *arguments, "--column", "Quiz 1 (4243)",
            "--output", str(tmp_path / "filled.csv"),
        )  # fmt: skip
        assert code == 2 and says in err and err.count("\n") == 1, err
    gradebook.write_bytes(canvas_file(canvas_rows()))
    code, _, err = run_cli(
        capsys, "canvas", str(class_out), "--gradebook", str(gradebook),
        "--column", "Quiz 1 (4243)", "--output", str(tmp_path / "no" / "filled.csv"),
    )  # fmt: skip
    assert code == 2 and "does not exist" in err
    gradebook.write_bytes(b'Student,ID\n"Chen, Alice,1001\n')
    code, _, err = run_cli(
        capsys, "canvas", str(class_out), "--gradebook", str(gradebook),
        "--column", "ID", "--output", str(tmp_path / "filled.csv"),
    )  # fmt: skip
    assert code == 2 and "line 2: a quoted field is never closed" in err


# Moodle's offline grading worksheet: dates with commas, online text with a line break and
# markup, feedback already written for one student, a participant without a submission.
MOODLE_HEADER = (
    "Identifier,Full name,Email address,Status,Grade,Maximum Grade,Grade can be changed,"
    "Last modified (submission),Online text,Last modified (grade),Feedback comments"
).split(",")


def moodle_rows(maximum: str = "100.00") -> list[list[str]]:
    return [
        MOODLE_HEADER,
        ["Participant 1001", "Alice Chen", "alice@example.edu", "Submitted for grading", "",
         maximum, "Yes", '"Monday, 30 November 2026, 10:00 AM"', "", "-", ""],
        ["Participant 1002", "王小明", "wxm@example.edu",
         '"Submitted for grading, Graded"', "55.00", maximum, "Yes",
         '"Monday, 30 November 2026, 9:12 AM"', '"<p>My notes, in short:\nnone</p>"',
         '"Tuesday, 1 December 2026, 8:00 AM"', '"Needs work, see me"'],
        ["Participant 1003", "Zoë Müller", "zoe@example.edu", "Submitted for grading", "",
         maximum, "Yes", '"Monday, 30 November 2026, 11:40 PM"', "", "-", ""],
        ["Participant 1004", "Kevin O'Brien", "kob@example.edu", "No submission", "",
         maximum, "Yes", "-", "", "-", ""],
    ]


def moodle_file(rows: list[list[str]], delimiter: str = ",") -> bytes:
    return "".join(delimiter.join(row) + "\n" for row in rows).encode("utf-8")


def test_moodle_worksheet_gets_grades_and_feedback(tmp_path, moodle_out, capsys):
    worksheet, filled = tmp_path / "worksheet.csv", tmp_path / "filled.csv"
    worksheet.write_bytes(moodle_file(moodle_rows()))
    code, out, err = run_cli(
        capsys, "moodle", str(moodle_out), "--worksheet", str(worksheet), "--output", str(filled)
    )
    assert code == 0
    feedback = {
        1: "100/100 points. forward_propagation: passed (10/10); backward_propagation: passed "
        "(10/10); gradient_check: passed (40/40); gradient_check_n: passed (40/40)",
        2: "37.5/100 points. forward_propagation: passed (10/10); backward_propagation: syntax "
        "error (7.5/10); gradient_check: syntax error (20/40); gradient_check_n: syntax error "
        "(0/40)",
        3: "0/100 points: The file is empty: nothing was saved in it.",
    }
    expected = moodle_rows()
    for row, grade in ((1, "100"), (2, "37.5"), (3, "0")):
        expected[row][4] = grade
        expected[row][10] = raw(feedback[row])
    assert filled.read_bytes() == moodle_file(expected)
    after = parsed(filled.read_bytes())
    assert [(row[4], row[10]) for row in after[1:]] == [
        ("100", feedback[1]), ("37.5", feedback[2]), ("0", feedback[3]), ("", "")
    ]  # fmt: skip
    assert after[2][8] == "<p>My notes, in short:\nnone</p>"
    assert "3 student(s) filled, 1 without a result" in out
    assert "9999 (Extra, Ghost)" in err


def test_moodle_worksheet_resaved_by_a_spreadsheet_keeps_its_separators(tmp_path, moodle_out):
    """Semicolons and decimal commas, as a spreadsheet in a German locale saves it; a worksheet
    without feedback comments gets grades only, and says so."""
    from grader.exports.moodle import fill_moodle

    rows = [row[:10] for row in moodle_rows(maximum="10,00")]
    worksheet, filled = tmp_path / "worksheet.csv", tmp_path / "filled.csv"
    worksheet.write_bytes(BOM.encode() + moodle_file(rows, ";").replace(b"\n", b"\r\n"))
    report = fill_moodle(read_class(moodle_out, "moodle"), worksheet, filled)
    for row, grade in ((1, "10"), (2, "3,75"), (3, "0")):
        rows[row][4] = grade
    assert filled.read_bytes() == BOM.encode() + moodle_file(rows, ";").replace(b"\n", b"\r\n")
    assert (report.filled, report.without_result) == (3, 1)
    assert any("no 'Feedback comments' column" in note for note in report.notes)
    assert any("scaled to Moodle's maximum grade, 10" in note for note in report.notes)


def test_moodle_refuses_a_file_that_is_not_a_worksheet(tmp_path, moodle_out, capsys):
    worksheet = tmp_path / "grades.csv"
    worksheet.write_bytes(canvas_file(canvas_rows()))
    code, _, err = run_cli(
        capsys, "moodle", str(moodle_out), "--worksheet", str(worksheet),
        "--output", str(tmp_path / "filled.csv"),
    )  # fmt: skip
    assert code == 2 and "no 'Identifier' and 'Grade' column" in err and err.count("\n") == 1


def test_ids_of_another_lms_are_never_matched(tmp_path, moodle_out, capsys):
    """Participant 1001 in Moodle and user 1001 in Canvas are two students."""
    gradebook = tmp_path / "export.csv"
    gradebook.write_bytes(canvas_file(canvas_rows()))
    code, _, err = run_cli(
        capsys, "canvas", str(moodle_out), "--gradebook", str(gradebook),
        "--column", "Gradient Checking (4242)", "--output", str(tmp_path / "filled.csv"),
    )  # fmt: skip
    assert code == 2 and err.count("\n") == 1
    assert "none of the 1 student(s) with a result has a row" in err
    assert "'legacy_upload'" in err and "grade the submissions as Canvas downloads them" in err
    assert not (tmp_path / "filled.csv").exists()
    results = read_class(moodle_out, "canvas")
    assert "moodle-1001: graded from a Moodle download, so its id is not a Canvas id" in (
        results.unusable
    )


def test_a_row_cut_short_gets_its_cell_and_nothing_else_moves(tmp_path):
    """Rows a spreadsheet saved without their trailing empty cells, a blank line, a line break
    inside quotes: filling changes only the cell written."""
    from grader.exports.table import CsvText

    source = tmp_path / "in.csv"
    source.write_bytes(b'a,b,c\r\n\r\n1\r\n"x\r\ny",2,\r\n3,,"="\r\n')
    table = CsvText(source)
    assert [[f.value for f in row.fields] for row in table.rows] == [
        [""], ["1"], ["x\r\ny", "2", ""], ["3", "", "="]
    ]  # fmt: skip
    table.write_filled({(1, 2): "9", (2, 2): "a, b", (3, 1): "8"}, tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_bytes() == (
        b'a,b,c\r\n\r\n1,,9\r\n"x\r\ny",2,"a, b"\r\n3,8,"="\r\n'
    )


def test_cells_written_are_plain_numbers_on_the_lms_scale_and_never_formulas():
    assert [points(v) for v in (100.0, 37.5, 0.0, 33.3333, 2 / 3, -0.0)] == [
        "100", "37.5", "0", "33.3333", "0.6667", "0"
    ]  # fmt: skip
    # Scaled only to another positive maximum: a 0-point or unnamed one keeps the points.
    assert [on_scale(37.5, 100, possible) for possible in (10, 100, 0, None)] == [
        (3.75, True), (37.5, False), (37.5, False), (37.5, False)
    ]  # fmt: skip
    assert [guarded(t) for t in ("=1+1", "+1", "-1", "@SUM(A1)", "1 point")] == [
        "'=1+1", "'+1", "'-1", "'@SUM(A1)", "1 point"
    ]  # fmt: skip


CORRECT_NOTEBOOK = notebook(*CORRECT)
BROKEN_NOTEBOOK = notebook(IMPORTS, FORWARD, BACKWARD, CHECK, CHECK_N + "\n  )")  # 60 points


@pytest.fixture(scope="module")
def canvas_graded(tmp_path_factory, assignment) -> Path:
    """Canvas's "Download Submissions" zip, really graded: a resubmission (late, and broken),
    a support module, an empty file, a student not in the gradebook."""
    folder = tmp_path_factory.mktemp("canvas")
    members = {
        "chenalice_1001_9001_Gradient_Checking.ipynb": CORRECT_NOTEBOOK,
        "chenalice_1001_9004_gc_utils.py": (
            ROOT / "reference_solutions/gradient_checking/gc_utils.py"
        ).read_text(),
        "wangxiaoming_1002_9002_Gradient_Checking.ipynb": CORRECT_NOTEBOOK,
        "wangxiaoming_LATE_1002_9010_Gradient_Checking-1.ipynb": BROKEN_NOTEBOOK,
        "mullerzoe_1003_9003_Gradient_Checking.ipynb": "",
        "ghost_9999_9005_Gradient_Checking.ipynb": CORRECT_NOTEBOOK,
    }
    with zipfile.ZipFile(folder / "submissions.zip", "w") as download:
        for name, text in members.items():
            download.writestr(name, text)
    grade_batch([str(folder / "submissions.zip")], assignment, folder / "out", jobs=2)
    return folder / "out"


@pytest.fixture(scope="module")
def moodle_graded(tmp_path_factory, assignment) -> Path:
    """Moodle's "Download all submissions", unpacked, really graded: names in any script."""
    folder = tmp_path_factory.mktemp("moodle")
    files = {
        "Alice Chen_1001_assignsubmission_file_": CORRECT_NOTEBOOK,
        "王小明_1002_assignsubmission_file_": BROKEN_NOTEBOOK,
        "Zoë Müller_1003_assignsubmission_file_": "",
    }
    for student_folder, text in files.items():
        (folder / "in" / student_folder).mkdir(parents=True)
        (folder / "in" / student_folder / "Gradient_Checking.ipynb").write_text(text)
    grade_batch([str(folder / "in")], assignment, folder / "out", jobs=2)
    return folder / "out"


def test_a_canvas_download_graded_fills_canvas_gradebook(tmp_path, canvas_graded, capsys):
    gradebook, filled = tmp_path / "export.csv", tmp_path / "filled.csv"
    gradebook.write_bytes(canvas_file(canvas_rows()))
    code, out, err = run_cli(
        capsys, "canvas", str(canvas_graded), "--gradebook", str(gradebook),
        "--column", "Gradient Checking (4242)", "--output", str(filled),
    )  # fmt: skip
    assert code == 0
    # The late resubmission counts; the support module is nobody's result.
    assert [row[5] for row in parsed(filled.read_bytes())[3:8]] == ["100", "60", "0", "", ""]
    assert "3 student(s) filled, 2 without a result" in out
    assert "1 student(s) with a result are not in Canvas's file" in err and "9999" in err


def test_a_moodle_download_graded_fills_the_worksheet(tmp_path, moodle_graded, capsys):
    worksheet, filled = tmp_path / "worksheet.csv", tmp_path / "filled.csv"
    worksheet.write_bytes(moodle_file(moodle_rows()))
    code, out, err = run_cli(
        capsys, "moodle", str(moodle_graded), "--worksheet", str(worksheet),
        "--output", str(filled),
    )  # fmt: skip
    assert (code, err) == (0, "")
    rows = parsed(filled.read_bytes())
    assert [row[4] for row in rows[1:]] == ["100", "60", "0", ""]
    assert rows[2][10].startswith("60/100 points. forward_propagation: passed (10/10)")
    assert "gradient_check_n: syntax error (0/40)" in rows[2][10]
    assert rows[3][10].startswith("0/100 points: ")
    assert "3 student(s) filled, 1 without a result" in out


# Gradescope: the bundle, unpacked where Gradescope puts it, run as Gradescope runs it.


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("gradescope")
    zipped = folder / "autograder.zip"
    assignment = ROOT / "reference_solutions" / "gradient_checking"
    parser = argparse.ArgumentParser(prog="grader")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["export", "gradescope", str(assignment), "--output", str(zipped)])
    assert args.handler(args) == 0
    return zipped


def test_the_bundle_carries_the_grader_and_the_assignment(bundle):
    with zipfile.ZipFile(bundle) as archive:
        names = archive.namelist()
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
        setup = archive.read("setup.sh").decode()
        run = archive.read("run_autograder").decode()
        requirements = archive.read("requirements.txt").decode().split()
    assert {"setup.sh", "run_autograder", "requirements.txt"} <= set(names)
    assert modes["setup.sh"] & 0o777 == modes["run_autograder"] & 0o777 == 0o755
    assert "grader/__init__.py" in names and "grader/templates/base.css" in names
    assert "grader/exports/gradescope.py" in names
    for support in ("assignment.py", "solution.py", "gc_utils.py", "testCases.py"):
        assert f"assignment/gradient_checking/{support}" in names
    assert not [n for n in names if "__pycache__" in n or "/." in n or n.startswith(".")]
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert requirements == declared
    assert 'pip install --no-cache-dir -r "$ROOT/source/requirements.txt"' in setup
    assert "sys.version_info < (3, 11)" in setup and "-m venv" in setup
    assert "assignment/gradient_checking" in run
    for script in ("setup.sh", "run_autograder"):
        check = subprocess.run(["bash", "-n"], input=setup if script == "setup.sh" else run,
                               text=True, capture_output=True)  # fmt: skip
        assert check.returncode == 0, check.stderr


def test_the_same_sources_give_the_same_bundle(bundle, tmp_path):
    again = tmp_path / "again.zip"
    parser = argparse.ArgumentParser(prog="grader")
    add_commands(parser.add_subparsers(dest="command", required=True))
    assignment = ROOT / "reference_solutions" / "gradient_checking"
    args = parser.parse_args(["export", "gradescope", str(assignment), "--output", str(again)])
    assert args.handler(args) == 0
    assert again.read_bytes() == bundle.read_bytes()


def autograde(bundle: Path, root: Path, files: dict[str, str]) -> dict:
    """Gradescope's steps: the zip unpacked into source/, run_autograder copied beside it, the
    upload in submission/; run with this test's Python instead of setup.sh's venv."""
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(root / "source")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir(parents=True)
    for name, text in files.items():
        (root / "submission" / name).write_text(text, encoding="utf-8")
    environment = {**os.environ, "AUTOGRADER_ROOT": str(root), "GRADER_PYTHON": sys.executable}
    ran = subprocess.run(["bash", str(root / "run_autograder")], env=environment, cwd=root,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    return json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))


def test_run_autograder_grades_a_correct_notebook(bundle, tmp_path):
    results = autograde(bundle, tmp_path, {"Gradient_Checking.ipynb": notebook(*CORRECT)})
    assert results["score"] == 100
    assert results["output"].startswith("Score: 100/100, for Gradient_Checking.ipynb.")
    assert "gradient_check_n: passed, 40/40." in results["output"]
    tests = results["tests"]
    assert tests and all(t["status"] == "passed" for t in tests)
    assert sum(t["score"] for t in tests) == pytest.approx(100)
    assert {t["visibility"] for t in tests} == {"visible", "after_published"}
    for test in tests:
        assert set(test) == {"name", "score", "max_score", "status", "output", "visibility"}
    # The grader that ran is the bundle's own.
    where = subprocess.run(
        [sys.executable, "-c", "import grader; print(grader.__file__)"],
        env={**os.environ, "PYTHONPATH": str(tmp_path / "source")},
        capture_output=True, text=True, cwd="/",
    )  # fmt: skip
    assert where.stdout.strip() == str(tmp_path / "source" / "grader" / "__init__.py")


def test_run_autograder_grades_a_broken_notebook_beside_support_files(bundle, tmp_path):
    broken_backward = BACKWARD.replace("dtheta = x", "dtheta = theta")
    files = {
        "Gradient_Checking.ipynb": notebook(IMPORTS, FORWARD, broken_backward, CHECK + "\n  )"),
        "gc_utils.py": (ROOT / "reference_solutions/gradient_checking/gc_utils.py").read_text(),
    }
    results = autograde(bundle, tmp_path, files)
    assert results["score"] == 10  # forward only
    output = results["output"]
    assert output.startswith("Score: 10/100, for Gradient_Checking.ipynb.")
    assert "Not graded: gc_utils.py (a support module the assignment provides" in output
    assert "backward_propagation: failed, 0/10." in output
    assert "\n  Likely mistake: dθ is the derivative with respect to x. " in output
    assert "gradient_check: syntax error, 0/40." in output
    assert "gradient_check_n: missing, 0/40." in output
    assert any(t["status"] == "failed" for t in results["tests"])


def test_an_assignment_folder_named_with_spaces_and_dollars_runs(tmp_path, capsys):
    folder = tmp_path / "Gradient Checking $HOME 'v2'"
    shutil.copytree(ROOT / "reference_solutions" / "gradient_checking", folder,
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    code, _, _ = run_cli(capsys, "gradescope", str(folder), "--output", str(tmp_path / "a.zip"))
    assert code == 0
    results = autograde(tmp_path / "a.zip", tmp_path / "root", {"hw.ipynb": notebook(*CORRECT)})
    assert results["score"] == 100


def test_run_autograder_says_when_nothing_was_uploaded(bundle, tmp_path):
    results = autograde(bundle, tmp_path, {"notes.txt": "my answers are in my head"})
    assert results["score"] == 0 and results["tests"] == []
    assert results["output"] == (
        "No notebook (.ipynb) or Python script (.py) was found in your submission: upload your "
        "notebook.\nNot graded: notes.txt (not a notebook (.ipynb), a script (.py) or a zip)."
    )


def test_gradescope_refuses_what_is_not_an_instructor_folder(tmp_path, capsys):
    released = tmp_path / "released"
    from grader.release import release

    release(ROOT / "reference_solutions" / "gradient_checking", released)
    for folder, says in ((released, "released bundle"), (tmp_path / "no", "is not a folder"),
                         (tmp_path, "cannot load the assignment")):  # fmt: skip
        code, _, err = run_cli(capsys, "gradescope", str(folder), "--output",
                               str(tmp_path / "a.zip"))  # fmt: skip
        assert code == 2 and says in err and err.count("\n") == 1, err
    assert not (tmp_path / "a.zip").exists()


def test_moodle_feedback_names_the_mistake_a_function_makes(tmp_path):
    out = tmp_path / "out"
    write_result(out, "a", student("1", "Alice", "moodle"), {**FUNCTIONS, "gradient_check": 0.0})
    path = out / "a" / "results.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    document["functions"]["gradient_check"]["diagnosis"] = {
        "id": "epsilon_not_doubled", "title": "gradapprox divides by ε, not 2ε", "explanation": "…"
    }  # fmt: skip
    path.write_text(json.dumps(document), encoding="utf-8")
    line = moodle_summary(read_class(out, "moodle").students["1"])
    named = "gradient_check: syntax error (0/40), likely mistake: gradapprox divides by ε, not 2ε;"
    assert named in line
    assert line.count("likely mistake") == 1
