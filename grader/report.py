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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from grader.i18n import _
from grader.intake.identity import Student
from grader.pages import student_page, summary_page
from grader.pages import use_templates as use_templates  # for `grade --templates DIR`
from grader.score import SubmissionResult
from grader.spec import Assignment
from grader.statistics import ClassStatistics

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


def student_report(
    result: SubmissionResult,
    assignment: Assignment,
    public_only: bool = False,
    provenance: dict[str, Any] | None = None,
) -> str:
    """The self-contained HTML report a student reads, in the active language."""
    return student_page(result, _(assignment.title), public_only, provenance)


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
            stats, rows(), _(assignment.title), listed[:MAX_LISTED_SKIPPED], len(listed)
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
        "mistakes": [
            {
                "id": tally.id,
                "title": tally.title,
                "functions": tally.functions,
                "count": tally.count,
                "submissions": list(tally.students),
            }
            for tally in stats.mistakes
        ],
        "results": results,
        "skipped": skipped,
    }


def _rate(passed: int, seen: int) -> float:
    return round(passed / seen, 4) if seen else 0.0


def _function_score(functions: dict[str, Any], name: str) -> float | str:
    """A function's points; empty for a result graded before the function was added."""
    return functions[name]["score"] if name in functions else ""


def _safe_cell(text: str) -> str:
    """Keep spreadsheet programs from reading a student-controlled cell as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
