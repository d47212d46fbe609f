"""The class folder is the class: LMS downloads graded end to end, what results.json, the
gradebook, summary.json and the pages say of each student, late files adding rows, and
stored results reused only for the same student."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from grader.grade import grade_batch
from grader.intake.roster import load_roster
from tests.conftest import CORRECT, notebook
from tests.test_intake import DRAFT, FULL, GC_UTILS, write, zipped

HALF = notebook(*CORRECT[:3])  # forward and backward only: 20 of 100
FORMULA_NAME = "=1+2 Smith"
CLASS = {
    "chenalice_12345_987600_Gradient_Checking.ipynb": HALF,
    "chenalice_LATE_12345_987654_Gradient_Checking-1.ipynb": FULL,
    "chenalice_12345_987601_gc_utils.py": GC_UTILS,
    "王小明_23456_987700_submission.ipynb": FULL,
    "陈静_34567_987800_hw.ipynb": HALF,
    "陈静_34567_987801_draft.ipynb": DRAFT,
}


def gradebook(out: Path) -> list[dict[str, str]]:
    raw = (out / "gradebook.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM: spreadsheet programs read 王小明
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))


def summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def canvas_class(tmp_path_factory, assignment) -> Path:
    root = tmp_path_factory.mktemp("canvas")
    (root / "submissions.zip").write_bytes(zipped(CLASS))
    grade_batch([str(root / "submissions.zip")], assignment, root / "out", jobs=2)
    return root / "out"


def test_results_say_who_when_and_which_file(canvas_class):
    text = (canvas_class / "canvas-12345" / "results.json").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[1:7] == [
        '  "submission": "canvas-12345",',
        '  "student": {',
        '    "id": "12345",',
        '    "name": "chenalice",',
        '    "layout": "canvas"',
        "  },",
    ]
    result = json.loads(text)
    assert result["late"] is True and result["score"] == 100
    assert [Path(a["source"].split("!")[1]).name for a in result["attempts"]] == [
        "chenalice_12345_987600_Gradient_Checking.ipynb",
        "chenalice_LATE_12345_987654_Gradient_Checking-1.ipynb",
    ]
    assert [a["graded"] for a in result["attempts"]] == [False, True]
    assert "selection" not in result
    chen = json.loads((canvas_class / "canvas-34567" / "results.json").read_text())
    assert chen["late"] is False and chen["score"] == 20
    assert chen["selection"].startswith("Graded hw.ipynb, the file of yours that defines the most")


def test_gradebook_has_ids_and_names_and_summary_json_the_class(canvas_class):
    rows = gradebook(canvas_class)
    assert list(rows[0])[:6] == [
        "student_id", "student_name", "submission", "source", "score", "max_score",
    ]  # fmt: skip
    assert list(rows[0])[-2:] == ["late", "error"]
    assert [(r["student_id"], r["student_name"], r["score"], r["late"]) for r in rows] == [
        ("12345", "chenalice", "100.0", "true"),
        ("23456", "王小明", "100.0", "false"),
        ("34567", "陈静", "20.0", "false"),
    ]  # ordered by name
    document = summary(canvas_class)
    assert document["counts"] == {
        "results": 3, "unreadable": 0, "full_marks": 2, "public_only": 0, "skipped_inputs": 3,
    }  # fmt: skip
    assert document["mean"] == 73.33 and document["median"] == 100
    assert document["functions"]["forward_propagation"]["rate"] == 1.0
    assert document["functions"]["gradient_check"]["statuses"] == {"passed": 2, "missing": 1}
    assert [r["submission"] for r in document["results"]] == [
        "canvas-12345", "canvas-23456", "canvas-34567",
    ]  # fmt: skip
    reasons = {Path(s["input"].split("!")[1]).name: s["reason"] for s in document["skipped"]}
    assert set(reasons) == {
        "chenalice_12345_987600_Gradient_Checking.ipynb",
        "chenalice_12345_987601_gc_utils.py",
        "陈静_34567_987801_draft.ipynb",
    }
    assert all(s["student"]["layout"] == "canvas" for s in document["skipped"])
    text = (canvas_class / "summary.json").read_text(encoding="utf-8")
    assert '    {"submission": "canvas-12345", "student": {' in text  # a line per result


def test_pages_name_the_students(canvas_class):
    page = (canvas_class / "index.html").read_text(encoding="utf-8")
    for name in ("chenalice", "王小明", "陈静"):
        assert f">{name}</a>" in page
    assert '<span class="tag bad">late</span>' in page
    assert 'id="not-graded"><a href="#skipped">3</a>' in page
    assert "gc_utils.py" in page and "support module" in page
    report = (canvas_class / "canvas-12345" / "report.html").read_text(encoding="utf-8")
    assert '<h1 id="student">chenalice</h1>' in report
    assert "Student id: <code>12345</code>" in report
    assert 'id="attempts"' in report and "(graded)" in report
    chen = (canvas_class / "canvas-34567" / "report.html").read_text(encoding="utf-8")
    assert "<title>陈静: 20 / 100 · Gradient Checking</title>" in chen
    assert 'id="selection">Graded hw.ipynb' in chen


def test_a_late_file_adds_a_row_and_no_paths_rebuilds_the_class_files(
    tmp_path, canvas_class, assignment
):
    out = tmp_path / "out"
    shutil.copytree(canvas_class, out)
    late = write(tmp_path / "late", {"muellerzoe_LATE_45678_990000_hw.ipynb": FULL})
    outcome = grade_batch([str(late)], assignment, out, jobs=1)
    assert (outcome.graded, outcome.submissions, outcome.class_size) == (1, 1, 4)
    rows = gradebook(out)
    assert [r["student_id"] for r in rows] == ["12345", "45678", "23456", "34567"]
    assert summary(out)["counts"]["skipped_inputs"] == 3  # the first run's are kept
    files = {name: (out / name).read_bytes() for name in ("index.html", "gradebook.csv")}
    files["summary.json"] = (out / "summary.json").read_bytes()  # also what was not graded
    for name in ("index.html", "gradebook.csv"):
        (out / name).unlink()
    rebuilt = grade_batch([], assignment, out)
    assert (rebuilt.graded, rebuilt.class_size) == (0, 4)
    assert {name: (out / name).read_bytes() for name in files} == files


def test_a_stored_result_is_reused_only_for_the_same_student(tmp_path, assignment):
    same = {  # byte for byte the same notebook, from two students
        "Ana Costa_111_assignsubmission_file_/hw.ipynb": FULL,
        "Ben Fox_222_assignsubmission_file_/hw.ipynb": FULL,
    }
    write(tmp_path / "in", same)
    out = tmp_path / "out"
    first = grade_batch([str(tmp_path / "in")], assignment, out, jobs=2)
    assert (first.graded, first.skipped) == (2, 0)
    for folder, name in (("moodle-111", "Ana Costa"), ("moodle-222", "Ben Fox")):
        assert json.loads((out / folder / "results.json").read_text())["student"]["name"] == name
    again = grade_batch([str(tmp_path / "in")], assignment, out, jobs=2)
    assert (again.graded, again.skipped) == (0, 2)
    (tmp_path / "roster.csv").write_text("id,name\n222,Benjamin Fox\n", encoding="utf-8")
    renamed = grade_batch(
        [str(tmp_path / "in")], assignment, out, jobs=2, roster=load_roster(tmp_path / "roster.csv")
    )
    assert (renamed.graded, renamed.skipped) == (1, 1)  # a new name is a new result for Ben
    ben = json.loads((out / "moodle-222" / "results.json").read_text())
    assert ben["student"]["name"] == "Benjamin Fox"


def test_file_names_never_meet_the_class_files(tmp_path, assignment):
    write(
        tmp_path / "in",
        {
            "index.html.ipynb": FULL,
            "gradebook.csv.py": "x = 1\n",
            "summary.json.ipynb": HALF,
            "=cmd.ipynb": HALF,
            "Zoë Müller/hw.ipynb": FULL,
        },
    )
    out = tmp_path / "out"
    outcome = grade_batch([str(tmp_path / "in")], assignment, out, jobs=2)
    assert outcome.graded == outcome.class_size == 5
    assert all((out / name).is_file() for name in ("index.html", "gradebook.csv", "summary.json"))
    rows = {row["student_id"]: row for row in gradebook(out)}
    assert set(rows) == {"index.html", "gradebook.csv", "summary.json", "'=cmd", "Zoë Müller"}
    assert rows["'=cmd"]["submission"].startswith("cmd-")  # made safe, with a digest
    assert rows["Zoë Müller"]["submission"] == "Zoë Müller"


def test_every_text_cell_of_the_gradebook_is_guarded(tmp_path, assignment):
    write(tmp_path / "in", {f"{FORMULA_NAME}_5_assignsubmission_file_/-hw.ipynb": "{"})
    out = tmp_path / "out"
    grade_batch([str(tmp_path / "in")], assignment, out, jobs=1)
    (row,) = gradebook(out)
    assert row["student_name"] == "'" + FORMULA_NAME
    assert row["error"].startswith("The notebook is not valid JSON")
    for column in ("student_id", "student_name", "submission", "source", "error"):
        assert row[column][:1] not in ("=", "+", "-", "@", "\t", "\r"), column
