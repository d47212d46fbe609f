"""Report stage: results.json, the student's HTML report, the class summary and the gradebook.

Files are written atomically. The class summary and gradebook are built in one pass over the
results.json files on disk, one at a time; the figures above the summary's table are gathered
as each result is written or found. Memory stays flat however large the batch.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.highlight import highlight
from grader.pages import STATUS_LABELS, student_page, summary_page
from grader.score import HIDDEN_HINT, FunctionResult, SubmissionResult, TestResult
from grader.spec import Assignment

_PLACE = re.compile(r"\bcell (\d+), line (\d+)")


def write_atomic(path: Path, text: str, made: bool = False) -> None:
    """Write a file so that readers see the old content or the new, never a torn one.

    Its folder is created unless the caller `made` it.
    """
    if not made:
        path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")  # one writer per file: no random name
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def results_document(
    result: SubmissionResult, fingerprint: str, graded_at: str, public_only: bool = False
) -> dict:
    """What results.json holds; `public_only` only when true, so a normal result is unchanged."""
    marked = {"public_only": True} if public_only else {}
    return {**result.to_json(), **marked, "fingerprint": fingerprint, "graded_at": graded_at}


def readable_json(document: dict[str, Any]) -> str:
    """JSON with a line per field and per item of a field's list or dict: easy to read and diff,
    and each line is made by the C encoder (indent= would use the pure Python one)."""

    def dump(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)

    fields = []
    for key, value in document.items():
        if isinstance(value, dict) and value:
            items = ",\n".join(f"    {dump(k)}: {dump(v)}" for k, v in value.items())
            fields.append(f"  {dump(key)}: {{\n{items}\n  }}")
        elif isinstance(value, list) and value:
            items = ",\n".join(f"    {dump(v)}" for v in value)
            fields.append(f"  {dump(key)}: [\n{items}\n  ]")
        else:
            fields.append(f"  {dump(key)}: {dump(value)}")
    return "{\n" + ",\n".join(fields) + "\n}\n"


@dataclass(frozen=True)
class DisplayedCase:
    """A case as its report shows it."""

    test: TestResult
    label: str
    hidden: bool
    output: str


@dataclass(frozen=True)
class DisplayedFunction:
    """A function as its report shows it: its cases, and its code as highlighted HTML."""

    result: FunctionResult
    cases: list[DisplayedCase]
    code: str
    marked: list[int]


def _case(test: TestResult, message: str) -> DisplayedCase:
    """A case's display: its label without the function's name, and what happened unless the
    function's message already says it (a case that never ran repeats that message)."""
    label = test.name.split(": ", 1)[-1]
    hidden = test.visibility != "visible"
    output = "" if test.output == message else test.output.replace(" " + HIDDEN_HINT, "")
    shown = label.removeprefix("hidden case, ") if hidden else label
    return DisplayedCase(test, shown, hidden, output)


def _function(function: FunctionResult, tests: list[TestResult]) -> DisplayedFunction:
    """A function's cases and its code, with the lines its messages point at marked."""
    messages = [function.message, *(t.output for t in tests)]
    marked = sorted(
        {
            int(line)
            for text in messages
            for cell, line in _PLACE.findall(text)
            if int(cell) == function.cell
        }
    )
    code = highlight(function.code, set(marked)) if function.code else ""
    return DisplayedFunction(function, [_case(t, function.message) for t in tests], code, marked)


def student_report(
    result: SubmissionResult, assignment: Assignment, public_only: bool = False
) -> str:
    """The self-contained HTML report a student reads."""
    tests: dict[str, list[TestResult]] = {name: [] for name in result.functions}
    for test in result.tests:
        tests.setdefault(test.function, []).append(test)
    functions = [_function(f, tests[name]) for name, f in result.functions.items()]
    return student_page(result, functions, assignment.title, public_only)


def write_submission(
    out: Path,
    result: SubmissionResult,
    assignment: Assignment,
    fingerprint: str,
    graded_at: str,
    public_only: bool = False,
) -> dict:
    """Write the report first and results.json last: results.json marks a finished grading.

    Returns what results.json holds."""
    folder = out / result.submission
    folder.mkdir(parents=True, exist_ok=True)
    report = student_report(result, assignment, public_only)
    write_atomic(folder / "report.html", report, made=True)
    document = results_document(result, fingerprint, graded_at, public_only)
    write_atomic(folder / "results.json", readable_json(document), made=True)
    return document


def read_results(out: Path, submission: str) -> dict[str, Any] | None:
    try:
        return json.loads((out / submission / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@dataclass(frozen=True)
class Bucket:
    """One bar of the score distribution: a range of percentages and how many fell in it."""

    label: str
    count: int
    height: float


@dataclass(frozen=True)
class CaseRate:
    label: str
    hidden: bool
    passed: int
    seen: int


@dataclass
class ClassStatistics:
    """Aggregates over the batch, accumulated one result at a time.

    Memory grows with the number of distinct scores and cases, never with the class size.
    """

    functions: tuple[str, ...]
    max_score: float = 0.0
    count: int = 0
    unreadable: int = 0
    public_only: int = 0
    total: float = 0.0
    histogram: Counter = field(default_factory=Counter)
    scores: Counter = field(default_factory=Counter)
    function_passed: Counter = field(default_factory=Counter)
    function_points: Counter = field(default_factory=Counter)
    function_max: dict[str, float] = field(default_factory=dict)
    function_status: Counter = field(default_factory=Counter)
    case_passed: Counter = field(default_factory=Counter)
    case_seen: Counter = field(default_factory=Counter)
    case_hidden: set[str] = field(default_factory=set)

    def add(self, document: dict[str, Any]) -> None:
        self.count += 1
        self.max_score = document["max_score"] or self.max_score
        self.total += document["score"]
        self.scores[document["score"]] += 1
        self.unreadable += document["error"] is not None
        self.public_only += document.get("public_only") is True
        fraction = document["score"] / document["max_score"] if document["max_score"] else 0
        self.histogram[min(9, int(fraction * 10))] += 1
        for name, function in document["functions"].items():
            self.function_passed[name] += function["status"] == "passed"
            self.function_points[name] += function["score"]
            self.function_max[name] = function["max_score"]
            self.function_status[name, function["status"]] += 1
        for test in document["tests"]:
            self.case_seen[test["name"]] += 1
            self.case_passed[test["name"]] += test["status"] == "passed"
            if test["visibility"] != "visible":
                self.case_hidden.add(test["name"])

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0

    @property
    def median(self) -> float:
        """The median score, from the count of each distinct score."""
        if not self.count:
            return 0.0
        ranked = sorted(self.scores.items())

        def nth(n: int) -> float:
            for score, times in ranked:
                if n < times:
                    return score
                n -= times
            raise IndexError(n)

        return (nth((self.count - 1) // 2) + nth(self.count // 2)) / 2

    @property
    def full_marks(self) -> int:
        return self.scores[self.max_score] if self.max_score else 0

    @property
    def distribution(self) -> list[Bucket]:
        """Ten buckets of 10 percentage points; heights are relative to the fullest bucket."""
        tallest = max(self.histogram.values(), default=0) or 1
        return [
            Bucket(
                f"{10 * b}–{100 if b == 9 else 10 * b + 9}",
                self.histogram[b],
                100 * self.histogram[b] / tallest,
            )
            for b in range(10)
        ]

    def statuses(self, function: str) -> list[tuple[str, int]]:
        """How many submissions ended in each status for a function, most common first."""
        found = [(s, n) for (f, s), n in self.function_status.items() if f == function]
        order = list(STATUS_LABELS)  # ties: passed first, as the report lists statuses
        return sorted(found, key=lambda item: (-item[1], _rank(order, item[0])))

    @property
    def case_rates(self) -> dict[str, list[CaseRate]]:
        """Pass counts per case, grouped by function in the order cases were first seen."""
        groups: dict[str, list[CaseRate]] = {}
        for name, seen in self.case_seen.items():
            function, _, label = name.partition(": ")
            hidden = name in self.case_hidden
            groups.setdefault(function, []).append(
                CaseRate(
                    label.removeprefix("hidden case, ") if hidden else label,
                    hidden,
                    self.case_passed[name],
                    seen,
                )
            )
        return groups


def write_class_files(
    out: Path, submissions: list[str], assignment: Assignment, stats: ClassStatistics
) -> None:
    """gradebook.csv (a row a student) and index.html (distribution, pass rates per function and
    case, a link to every report), in one pass over the results on disk.

    `stats` already holds every result: the page's figures come before its rows.
    """
    gradebook, summary = out / ".gradebook.csv.tmp", out / ".index.html.tmp"
    with (
        gradebook.open("w", newline="", encoding="utf-8") as table,
        summary.open("w", encoding="utf-8") as page,
    ):
        writer = csv.writer(table)
        writer.writerow(
            ["submission", "source", "score", "max_score", *assignment.functions, "error"]
        )

        def rows() -> Iterator[dict]:
            for submission in submissions:
                document = read_results(out, submission)
                if document is None:
                    continue
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
                yield document

        for piece in summary_page(stats, rows(), assignment.title):
            page.write(piece)
    os.replace(gradebook, out / "gradebook.csv")
    os.replace(summary, out / "index.html")


def _rank(order: list[str], item: str) -> int:
    return order.index(item) if item in order else len(order)


def _safe_cell(text: str) -> str:
    """Keep spreadsheet programs from reading a student-controlled cell as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
