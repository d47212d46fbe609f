"""A class's results as the exports see them: one per student, read from results documents.

Only the documents' public shape is used (README "Output", docs/lms.md), so an output folder
written by any version of the grader can be exported. A result without a `student` field
(folders graded before identities existed) is filed under its `submission` id.

Ids are compared within one LMS only: a Canvas user id and a Moodle participant id may be the
same number for two different students, so results read from another LMS's download are left
out of an export (results from plain folders are kept: their ids are whatever the folders say).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from grader.exports import ExportError

# The layouts whose ids belong to one LMS (docs/lms.md); any other layout's ids are the folders'.
LMS_LAYOUTS = ("canvas", "moodle", "gradescope")


@dataclass(frozen=True)
class FunctionOutcome:
    name: str
    score: float
    max_score: float
    status: str
    mistake: str = ""  # the title of the mistake named in it, if any


@dataclass(frozen=True)
class StudentResult:
    """The result an export hands back for one student."""

    student_id: str
    name: str | None
    layout: str
    assignment: str
    score: float
    max_score: float
    functions: tuple[FunctionOutcome, ...]
    error: str | None
    graded_at: str
    folder: str  # the result's folder in OUT, for messages


@dataclass(frozen=True)
class ClassResults:
    """One result per student, by student id, and the results documents that could not be used."""

    students: dict[str, StudentResult]
    unusable: tuple[str, ...]  # "folder: reason", one per document left out

    def label(self, student_id: str) -> str:
        """How messages name a student: the id, and the name when there is one."""
        name = self.students[student_id].name
        return f"{student_id} ({name})" if name else student_id


def read_class(out: Path, lms: str) -> ClassResults:
    """Every usable `OUT/*/results.json` of the class's assignment, one per student, whose ids
    can be `lms`'s ids."""
    if not out.is_dir():
        raise ExportError(f"{out} is not a folder: give the --out folder of `grader grade`")
    found: dict[str, list[StudentResult]] = {}
    unusable: list[str] = []
    results = []
    for path in sorted(out.glob("*/results.json")):
        try:
            results.append(_student_result(path))
        except (OSError, ValueError, KeyError, TypeError) as problem:
            unusable.append(f"{path.parent.name}: {_reason(problem)}")
    if not results and not unusable:
        raise ExportError(f"{out} holds no results (no */results.json): grade into it first")
    assignment = _class_assignment(out, results)
    for result in results:
        if result.assignment and assignment and result.assignment != assignment:
            unusable.append(f"{result.folder}: graded for {result.assignment}, not {assignment}")
        elif result.layout in LMS_LAYOUTS and result.layout != lms:
            unusable.append(
                f"{result.folder}: graded from a {result.layout.title()} download, so its id "
                f"is not a {lms.title()} id"
            )
        else:
            found.setdefault(result.student_id, []).append(result)
    if not found:
        more = f" (and {len(unusable) - 1} more like it)" if len(unusable) > 1 else ""
        raise ExportError(f"no result in {out} can be used: {unusable[0]}{more}")
    students = {student: _counting_result(found[student]) for student in found}
    return ClassResults(students, tuple(unusable))


def nothing_matched(results: ClassResults, lms_file: Path, lms: str) -> ExportError:
    """The error for an LMS file in which no student with a result has a row: the wrong file,
    or results whose ids are file names rather than the LMS's ids."""
    examples = ", ".join(repr(student) for student in list(results.students)[:3])
    return ExportError(
        f"none of the {len(results.students)} student(s) with a result has a row in {lms_file} "
        f"(their ids: {examples}): grade the submissions as {lms.title()} downloads them, so "
        f"that results carry {lms.title()}'s ids"
    )


def _class_assignment(out: Path, results: list[StudentResult]) -> str:
    """The class's assignment: summary.json says it; without one, the results must agree."""
    try:
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
        return _text(summary["assignment"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    named = sorted({result.assignment for result in results if result.assignment})
    if len(named) > 1:
        raise ExportError(
            f"{out} holds results of several assignments ({', '.join(named)}) and no "
            "summary.json says which is the class's: grade each assignment into its own folder"
        )
    return named[0] if named else ""


def _student_result(path: Path) -> StudentResult:
    document = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    student = document.get("student") or {}
    if not isinstance(student, dict):
        raise TypeError("its student field is not an object")
    student_id = _text(student.get("id")) or _text(document["submission"])
    if not student_id:
        raise ValueError("no student id and no submission id")
    functions = tuple(
        FunctionOutcome(
            name,
            _number(f["score"]),
            _number(f["max_score"]),
            _text(f["status"]) or "unknown",
            _mistake(f.get("diagnosis")),
        )
        for name, f in document.get("functions", {}).items()
    )
    return StudentResult(
        student_id=student_id,
        name=_text(student.get("name")) or None,
        layout=_text(student.get("layout")) or "files",
        assignment=_text(document.get("assignment")),
        score=_number(document["score"]),
        max_score=_number(document["max_score"]),
        functions=functions,
        error=_text(document.get("error")) or None,
        graded_at=_text(document.get("graded_at")),
        folder=path.parent.name,
    )


def _counting_result(results: list[StudentResult]) -> StudentResult:
    """The result that counts when a student has several (attempts are resolved inside one
    results.json; several come from separate gradings): the latest graded, then by folder."""
    return max(results, key=lambda result: (_moment(result.graded_at), result.folder))


def _moment(stamp: str) -> float:
    """When a result was graded, as a timestamp; a missing or garbled stamp counts as oldest."""
    try:
        return datetime.fromisoformat(stamp).timestamp()
    except ValueError:
        return float("-inf")


def _mistake(diagnosis: Any) -> str:
    """A diagnosis's title; empty for none, or for a results.json older than diagnoses."""
    return _text(diagnosis.get("title")) if isinstance(diagnosis, dict) else ""


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TypeError(f"expected text, found {type(value).__name__}")
    return str(value).strip()


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, found {type(value).__name__}")
    return float(value)


def _reason(problem: Exception) -> str:
    if isinstance(problem, KeyError):
        return f"no {problem.args[0]!r} field"
    return f"{type(problem).__name__}: {problem}" if isinstance(problem, OSError) else str(problem)
