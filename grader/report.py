"""Report stage: results.json, the student's HTML report, and the class files: the summary
page, the gradebook and summary.json.

Files are written atomically. The class files cover every results.json in the output folder,
graded in this run or an earlier one. They are built in one pass over the results on disk,
one at a time, in the order of students' names; the figures above the summary's table are
gathered as each result is written or found. Memory grows by a name and a folder per student.
"""

from __future__ import annotations

import csv
import json
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.highlight import highlight
from grader.intake.identity import Student
from grader.pages import student_page, summary_page
from grader.score import FunctionResult, Status, SubmissionResult, TestResult
from grader.spec import Assignment

CLASS_FILES = ("index.html", "gradebook.csv", "summary.json")
MAX_LISTED_SKIPPED = 500  # on the summary page; summary.json lists them all


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
    result: SubmissionResult,
    fingerprint: str,
    graded_at: str,
    public_only: bool = False,
    provenance: dict[str, Any] | None = None,
) -> dict:
    """What results.json holds; `public_only` only when true, so a normal result is unchanged.

    `provenance`: how intake chose the file (late, selection, attempts), after `source`."""
    marked = {"public_only": True} if public_only else {}
    document: dict[str, Any] = {}
    for key, value in result.to_json().items():
        document[key] = value
        if key == "source" and provenance:
            document.update(provenance)
    return {**document, **marked, "fingerprint": fingerprint, "graded_at": graded_at}


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
    output = "" if test.output == message else test.detail
    shown = label.removeprefix("hidden case, ") if hidden else label
    return DisplayedCase(test, shown, hidden, output)


def _function(function: FunctionResult, tests: list[TestResult]) -> DisplayedFunction:
    """A function's cases and its code, with the lines its errors were raised at marked."""
    places = [function.place, *(t.place for t in tests)]
    marked = sorted({p.line for p in places if p is not None and p.cell == function.cell})
    code = highlight(function.code, set(marked)) if function.code else ""
    return DisplayedFunction(function, [_case(t, function.message) for t in tests], code, marked)


def student_report(
    result: SubmissionResult,
    assignment: Assignment,
    public_only: bool = False,
    provenance: dict[str, Any] | None = None,
) -> str:
    """The self-contained HTML report a student reads."""
    tests: dict[str, list[TestResult]] = {name: [] for name in result.functions}
    for test in result.tests:
        tests.setdefault(test.function, []).append(test)
    functions = [_function(f, tests[name]) for name, f in result.functions.items()]
    return student_page(result, functions, assignment.title, public_only, provenance or {})


def write_submission(
    out: Path,
    result: SubmissionResult,
    assignment: Assignment,
    fingerprint: str,
    graded_at: str,
    public_only: bool = False,
    provenance: dict[str, Any] | None = None,
) -> dict:
    """Write the report first and results.json last: results.json marks a finished grading.

    Returns what results.json holds."""
    folder = out / result.submission
    folder.mkdir(parents=True, exist_ok=True)
    report = student_report(result, assignment, public_only, provenance)
    write_atomic(folder / "report.html", report, made=True)
    document = results_document(result, fingerprint, graded_at, public_only, provenance)
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
    """Aggregates over the class, accumulated one result at a time.

    Memory grows with the number of distinct scores and cases, and by a student's sort key per
    result (the rows are read back from disk in that order).
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
    # By output folder: the key that orders the rows (name, id, folder).
    members: dict[str, tuple[str, str, str]] = field(default_factory=dict)

    def add(self, document: dict[str, Any]) -> None:
        folder = document["submission"]
        who = Student.from_json(document.get("student"), folder)
        self.members[folder] = (who.shown.casefold(), who.id, folder)
        self.count += 1
        self.max_score = document["max_score"] or self.max_score
        self.total += document["score"]
        self.scores[document["score"]] += 1
        self.unreadable += document["error"] is not None
        self.public_only += document.get("public_only") is True
        fraction = document["score"] / document["max_score"] if document["max_score"] else 0
        self.histogram[min(9, int(fraction * 10))] += 1
        for name, function in document["functions"].items():
            self.function_passed[name] += function["status"] == Status.PASSED
            self.function_points[name] += function["score"]
            self.function_max[name] = function["max_score"]
            self.function_status[name, function["status"]] += 1
        for test in document["tests"]:
            self.case_seen[test["name"]] += 1
            self.case_passed[test["name"]] += test["status"] == Status.PASSED
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
        return sorted(found, key=lambda item: (-item[1], _rank(item[0])))

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
    out: Path,
    assignment: Assignment,
    stats: ClassStatistics,
    skipped: list[dict[str, Any]] | None = None,
    examined: list[str] | None = None,
) -> None:
    """index.html (distribution, pass rates per function and case, a row per student, what
    was not graded), gradebook.csv and summary.json, over every result in `out`.

    `stats` holds the results of this run; those of earlier runs are found and added first,
    since the page's figures come before its rows. `skipped`: this run's skipped inputs, as
    `Skipped.to_json()` with their `origin`; they replace the entries of earlier runs that
    came from what this run `examined`."""
    class_skipped = _find_earlier_results(out, assignment, stats)
    ledger = _skipped_ledger(out, skipped or [], examined or [])
    listed = ledger + class_skipped
    order = sorted(stats.members.values())
    results: list[dict[str, Any]] = []
    gradebook, page_file = out / ".gradebook.csv.tmp", out / ".index.html.tmp"
    with (
        gradebook.open("w", newline="", encoding="utf-8-sig") as table,
        page_file.open("w", encoding="utf-8") as page,
    ):
        writer = csv.writer(table)
        writer.writerow(
            [
                "student_id", "student_name", "submission", "source", "score", "max_score",
                *assignment.functions, "late", "error",
            ]
        )  # fmt: skip

        def rows() -> Iterator[dict]:
            for _, _, folder in order:
                document = read_results(out, folder)
                if document is None:  # removed since it was counted
                    continue
                who = Student.from_json(document.get("student"), folder)
                functions = document["functions"]
                late = document.get("late")
                writer.writerow(
                    [
                        _safe_cell(who.id),
                        _safe_cell(who.name or ""),
                        _safe_cell(document["submission"]),
                        _safe_cell(document["source"]),
                        document["score"],
                        document["max_score"],
                        *(_function_score(functions, name) for name in assignment.functions),
                        "" if late is None else str(bool(late)).lower(),
                        _safe_cell(document["error"] or ""),
                    ]
                )
                results.append(
                    {
                        "submission": document["submission"],
                        "student": who.to_json(),
                        "score": document["score"],
                        "max_score": document["max_score"],
                        "late": late if isinstance(late, bool) else None,
                        "unreadable": document["error"] is not None,
                    }
                )
                yield document

        pieces = summary_page(
            stats, rows(), assignment.title, listed[:MAX_LISTED_SKIPPED], len(listed)
        )
        for piece in pieces:
            page.write(piece)
    results.sort(key=lambda entry: entry["submission"])
    summary = summary_document(stats, assignment, results, listed)
    write_atomic(out / "summary.json", readable_json(summary), made=True)
    os.replace(gradebook, out / "gradebook.csv")
    os.replace(page_file, out / "index.html")


def result_folders(out: Path) -> Iterator[str]:
    """The folders of `out` that hold a results.json, hidden ones and links aside."""
    try:
        entries = list(os.scandir(out))
    except OSError:
        return
    for entry in entries:
        if (
            not entry.name.startswith(".")
            and entry.is_dir(follow_symlinks=False)
            and os.path.isfile(os.path.join(entry.path, "results.json"))
        ):
            yield entry.name


def _find_earlier_results(
    out: Path, assignment: Assignment, stats: ClassStatistics
) -> list[dict[str, Any]]:
    """Add to `stats` the results in `out` not graded in this run; those that cannot be
    counted are returned as skipped entries, with why."""
    skipped = []
    for folder in sorted(result_folders(out)):
        if folder in stats.members:
            continue
        document = read_results(out, folder)
        where = str(out / folder / "results.json")
        reason = None
        if document is None or not _is_result(document):
            reason = "a results.json that could not be read: grade the student again"
        elif document["assignment"] != assignment.name:
            reason = f"a result of the assignment {document['assignment']}, not {assignment.name}"
        elif document["submission"] != folder:
            reason = f"a result moved from the folder {document['submission']}: grade again"
        if reason is not None:
            skipped.append({"input": where, "reason": reason, "student": None, "origin": where})
            continue
        stats.add(document)
    return skipped


def _is_result(document: object) -> bool:
    keys = ("submission", "source", "assignment", "score", "max_score", "functions", "tests")
    return isinstance(document, dict) and all(key in document for key in (*keys, "error"))


def _skipped_ledger(
    out: Path, skipped: list[dict[str, Any]], examined: list[str]
) -> list[dict[str, Any]]:
    """What was not graded, over the runs that built this class folder: the earlier entries
    whose file still exists and was not looked at again in this run, and this run's."""
    earlier = read_summary(out).get("skipped", [])
    kept = [
        entry
        for entry in earlier if isinstance(entry, dict)
        and isinstance(entry.get("origin"), str)
        and isinstance(entry.get("input"), str)
        and isinstance(entry.get("reason"), str)
        and not _under(entry["origin"], [str(out.resolve()), *examined])
        and os.path.lexists(entry["origin"])
    ]  # fmt: skip
    unique = {(entry["input"], entry["reason"]): entry for entry in (*kept, *skipped)}
    return [unique[key] for key in sorted(unique)]


def _under(path: str, roots: list[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


def read_summary(out: Path) -> dict[str, Any]:
    """The summary.json in `out`, or an empty one."""
    try:
        document = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}


def summary_document(
    stats: ClassStatistics,
    assignment: Assignment,
    results: list[dict[str, Any]],
    skipped: list[dict[str, Any]],
) -> dict[str, Any]:
    """summary.json: the class's figures, a line per result and per skipped input."""
    functions = {}
    for name in assignment.functions:
        passed = stats.function_passed[name]
        functions[name] = {
            "max_score": stats.function_max.get(name, assignment.points[name]),
            "mean": round(stats.function_points[name] / stats.count, 2) if stats.count else 0.0,
            "passed": passed,
            "rate": _rate(passed, stats.count),
            "statuses": dict(stats.statuses(name)),
        }
    cases = [
        {
            "name": name,
            "function": name.partition(": ")[0],
            "hidden": name in stats.case_hidden,
            "passed": stats.case_passed[name],
            "seen": seen,
            "rate": _rate(stats.case_passed[name], seen),
        }
        for function in assignment.functions
        for name, seen in stats.case_seen.items()
        if name.partition(": ")[0] == function
    ]
    return {
        "assignment": assignment.name,
        "title": assignment.title,
        "max_score": assignment.max_score,
        "counts": {
            "results": stats.count,
            "unreadable": stats.unreadable,
            "full_marks": stats.full_marks,
            "public_only": stats.public_only,
            "skipped_inputs": len(skipped),
        },
        "mean": round(stats.mean, 2),
        "median": round(stats.median, 2),
        "distribution": [
            {"band": bucket.label, "count": bucket.count} for bucket in stats.distribution
        ],
        "functions": functions,
        "cases": cases,
        "results": results,
        "skipped": skipped,
    }


def _rate(passed: int, seen: int) -> float:
    return round(passed / seen, 4) if seen else 0.0


def _function_score(functions: dict[str, Any], name: str) -> float | str:
    """A function's points; empty for a result graded before the function was added."""
    return functions[name]["score"] if name in functions else ""


def _rank(status: str) -> int:
    """A status's place in the order reports list statuses (ties: passed first); one this
    version does not know comes last."""
    order = list(Status)
    known = Status.known(status)
    return order.index(known) if known else len(order)


def _safe_cell(text: str) -> str:
    """Keep spreadsheet programs from reading a student-controlled cell as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
