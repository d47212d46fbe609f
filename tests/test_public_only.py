"""Grading on public cases only is never silent: refused for a released bundle unless asked for
with --public-only, and then said in every result, report and the class summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.grade import grade_batch
from grader.report import readable_json, results_document
from grader.score import unreadable_result
from grader.spec import Assignment, default_assignment_dir
from tests.conftest import CORRECT, notebook, run_grader


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("release") / "bundle"
    run = run_grader("release", str(default_assignment_dir()), "--out", str(out))
    assert run.returncode == 0, run.stderr
    return out


def test_a_released_bundle_is_refused_without_the_flag(tmp_path: Path, bundle: Path) -> None:
    (tmp_path / "a.ipynb").write_text(notebook(*CORRECT))
    out = tmp_path / "out"
    run = run_grader(
        "grade", str(tmp_path / "a.ipynb"), "--assignment", str(bundle), "--out", str(out)
    )
    assert run.returncode == 2 and run.stdout == ""
    assert len(run.stderr.splitlines()) == 1, run.stderr
    assert "released bundle" in run.stderr and "--public-only" in run.stderr
    assert not out.exists()


def test_with_the_flag_a_bundle_is_graded_and_every_result_says_so(
    tmp_path: Path, bundle: Path
) -> None:
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    (folder / "correct.ipynb").write_text(notebook(*CORRECT))
    (folder / "unreadable.ipynb").write_text("not a notebook")
    run = run_grader(
        "grade", str(folder), "--assignment", str(bundle), "--public-only", "--out", str(out)
    )
    assert run.returncode == 0, run.stderr
    for name in ("correct", "unreadable"):
        document = json.loads((out / name / "results.json").read_text())
        assert document["public_only"] is True
        assert all(test["visibility"] == "visible" for test in document["tests"])
        report = (out / name / "report.html").read_text()
        assert 'id="public-only"' in report and "Graded on public cases only" in report
        assert "(public cases only)" in report.split("</title>")[0]
    assert json.loads((out / "correct" / "results.json").read_text())["score"] == 100
    summary = (out / "index.html").read_text()
    assert "Every result here left out the hidden cases (--public-only)" in summary
    assert summary.count("public cases only</span>") == 2  # a tag on each student's row


def test_the_flag_grades_an_instructor_folder_on_public_cases_and_switching_regrades(
    tmp_path: Path, assignment: Assignment
) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.ipynb").write_text(notebook(*CORRECT))
    out = tmp_path / "out"

    def graded(public_only: bool) -> tuple[int, dict]:
        outcome = grade_batch([str(tmp_path / "in")], assignment, out, 1, public_only=public_only)
        return outcome.graded, json.loads((out / "a" / "results.json").read_text())

    count, full = graded(public_only=False)
    assert count == 1 and "public_only" not in full
    assert any(test["visibility"] != "visible" for test in full["tests"])
    count, public = graded(public_only=True)
    assert count == 1 and public["public_only"] is True  # a stored result of the other kind
    visible = [test["name"] for test in full["tests"] if test["visibility"] == "visible"]
    assert [test["name"] for test in public["tests"]] == visible
    assert public["score"] == public["max_score"] == full["max_score"]
    assert graded(public_only=True)[0] == 0
    count, again = graded(public_only=False)
    assert count == 1 and {**again, "graded_at": ""} == {**full, "graded_at": ""}


def test_a_normal_results_json_is_unchanged(assignment: Assignment) -> None:
    result = unreadable_result(assignment, "a", "a.ipynb", "The file is empty.")
    document = results_document(result, "f", "2026-11-26T10:00:00+00:00")
    expected = {**result.to_json(), "fingerprint": "f", "graded_at": "2026-11-26T10:00:00+00:00"}
    assert readable_json(document) == readable_json(expected)
    marked = results_document(result, "f", "2026-11-26T10:00:00+00:00", public_only=True)
    assert list(marked) == [*result.to_json(), "public_only", "fingerprint", "graded_at"]
