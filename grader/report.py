"""Report stage: results.json, the student's HTML report, the class summary and the gradebook.

Files are written atomically. The class summary and gradebook are built from what is on
disk, one results.json at a time, so memory stays flat however large the batch.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from grader.highlight import highlight
from grader.score import SubmissionResult
from grader.spec import Assignment

STATUS_LABELS = {
    "passed": "passed",
    "failed": "wrong result",
    "error": "error",
    "timeout": "time limit",
    "missing": "missing",
    "syntax_error": "syntax error",
}


def write_atomic(path: Path, text: str) -> None:
    """Write a file so that readers see the old content or the new, never a torn one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def results_json(result: SubmissionResult, fingerprint: str, graded_at: str) -> str:
    document = {**result.to_json(), "fingerprint": fingerprint, "graded_at": graded_at}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


@cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("grader", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals["labels"] = STATUS_LABELS
    environment.filters["points"] = lambda value: f"{value:g}"
    return environment


def student_report(result: SubmissionResult, assignment: Assignment) -> str:
    """The self-contained HTML report a student reads."""
    functions = [
        {
            "result": function,
            "tests": [t for t in result.tests if t.function == name],
            "code": highlight(function.code) if function.code else "",
        }
        for name, function in result.functions.items()
    ]
    template = _environment().get_template("report.html.j2")
    return template.render(result=result, functions=functions, title=assignment.title)


def write_submission(
    out: Path, result: SubmissionResult, assignment: Assignment, fingerprint: str, graded_at: str
) -> None:
    """Write the report first and results.json last: results.json marks a finished grading."""
    folder = out / result.submission
    write_atomic(folder / "report.html", student_report(result, assignment))
    write_atomic(folder / "results.json", results_json(result, fingerprint, graded_at))


def read_results(out: Path, submission: str) -> dict[str, Any] | None:
    try:
        return json.loads((out / submission / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@dataclass
class ClassStatistics:
    """Aggregates over the batch, accumulated one result at a time."""

    functions: tuple[str, ...]
    max_score: float = 0.0
    count: int = 0
    unreadable: int = 0
    total: float = 0.0
    histogram: Counter = field(default_factory=Counter)
    function_passed: Counter = field(default_factory=Counter)
    case_passed: Counter = field(default_factory=Counter)
    case_seen: Counter = field(default_factory=Counter)

    def add(self, document: dict[str, Any]) -> None:
        self.count += 1
        self.max_score = document["max_score"] or self.max_score
        self.total += document["score"]
        self.unreadable += document["error"] is not None
        fraction = document["score"] / document["max_score"] if document["max_score"] else 0
        self.histogram[min(9, int(fraction * 10))] += 1
        for name, function in document["functions"].items():
            self.function_passed[name] += function["status"] == "passed"
        for test in document["tests"]:
            self.case_seen[test["name"]] += 1
            self.case_passed[test["name"]] += test["status"] == "passed"

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0


def _rows(out: Path, submissions: Iterable[str], stats: ClassStatistics) -> Iterator[dict]:
    for submission in submissions:
        document = read_results(out, submission)
        if document is None:
            continue
        stats.add(document)
        yield document


def write_gradebook(out: Path, submissions: list[str], assignment: Assignment) -> ClassStatistics:
    """gradebook.csv, one row a student; returns the class statistics gathered on the way."""
    stats = ClassStatistics(assignment.functions, assignment.max_score)
    path = out / "gradebook.csv"
    temporary = path.with_name(".gradebook.csv.tmp")
    with temporary.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["submission", "source", "score", "max_score", *assignment.functions, "error"]
        )
        for document in _rows(out, submissions, stats):
            functions = document["functions"]
            writer.writerow(
                [
                    document["submission"],
                    _safe_cell(document["source"]),
                    document["score"],
                    document["max_score"],
                    *(functions[name]["score"] for name in assignment.functions),
                    _safe_cell(document["error"] or ""),
                ]
            )
    os.replace(temporary, path)
    return stats


def _safe_cell(text: str) -> str:
    """Keep spreadsheet programs from reading a student-controlled cell as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def write_summary(
    out: Path, submissions: list[str], assignment: Assignment, stats: ClassStatistics
) -> None:
    """index.html: distribution, pass rates per function and case, a link to every report."""
    template = _environment().get_template("summary.html.j2")
    rows = _summary_rows(out, submissions)
    temporary = out / ".index.html.tmp"
    with temporary.open("w", encoding="utf-8") as handle:
        for piece in template.generate(stats=stats, rows=rows, title=assignment.title):
            handle.write(piece)
    os.replace(temporary, out / "index.html")


def _summary_rows(out: Path, submissions: Iterable[str]) -> Iterator[dict]:
    for submission in submissions:
        document = read_results(out, submission)
        if document is not None:
            yield document
