"""Moodle: fill the assignment's offline grading worksheet (Grade, and Feedback comments).

The worksheet is the CSV Moodle's assignment downloads under "Download grading worksheet":
`Identifier,Full name,Email address,Status,Grade,Maximum Grade,Grade can be changed,...`, with
`Feedback comments` when that feedback type is on. `Identifier` is "Participant N" (the word
is translated with Moodle's language; N is the participant id the grader reads from Moodle's
download as the student id). Moodle's upload matches rows by it and skips a row whose
`Last modified (grade)` is older than the grade it holds, so that cell is never touched.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from grader.exports import ExportError
from grader.exports.results import ClassResults, FunctionOutcome, StudentResult, nothing_matched
from grader.exports.table import (
    CsvText,
    FillReport,
    guarded,
    on_scale,
    parse_points,
    points,
    status_in_words,
)
from grader.i18n import ENGLISH, _, language

IDENTIFIER = "Identifier"
GRADE = "Grade"
MAXIMUM = "Maximum Grade"
FEEDBACK = "Feedback comments"
_PARTICIPANT = re.compile(r"(\d+)\s*$")


def fill_moodle(
    results: ClassResults, worksheet: Path, output: Path, lang: str = ENGLISH
) -> FillReport:
    """Write `worksheet` to `output` with each graded participant's grade and feedback, the
    feedback's words in `lang` (the results' own texts are in the language they were graded
    in)."""
    table = CsvText(worksheet)
    identifier, grade = table.column(IDENTIFIER), table.column(GRADE)
    if identifier is None or grade is None:
        absent = " and ".join(
            repr(c) for c, at in ((IDENTIFIER, identifier), (GRADE, grade)) if at is None
        )
        raise ExportError(
            f"{worksheet} has no {absent} column: give the offline grading worksheet Moodle's "
            "assignment downloads (View all submissions, Download grading worksheet), in English"
        )
    maximum, feedback = table.column(MAXIMUM), table.column(FEEDBACK)
    cells: dict[tuple[int, int], str] = {}
    seen: set[str] = set()
    without_result = 0
    notes = set()
    for i, row in enumerate(table.rows):
        found = _PARTICIPANT.search(row.value(identifier))
        if not found:
            continue
        result = results.students.get(found.group(1))
        if result is None:
            without_result += 1
            continue
        seen.add(result.student_id)
        out_of = row.value(maximum) if maximum is not None else ""
        possible = parse_points(out_of)
        score, scaled = on_scale(result.score, result.max_score, possible)
        if scaled:
            notes.add(
                f"scores out of {points(result.max_score)} scaled to Moodle's maximum grade, "
                f"{points(possible)}"
            )
        decimal_comma = "," in out_of and "." not in out_of
        cells[i, grade] = points(score).replace(".", ",") if decimal_comma else points(score)
        if feedback is not None:
            with language(lang):
                said = summary(result)
            cells[i, feedback] = guarded(html.escape(said, quote=False))
    if not cells:
        raise nothing_matched(results, worksheet, "moodle")
    table.write_filled(cells, output)
    if feedback is None:
        notes.add(
            f"no {FEEDBACK!r} column, so grades only: turn on feedback comments in the "
            "assignment's settings to send the summaries"
        )
    missing = tuple(results.label(s) for s in results.students if s not in seen)
    filled = len({row for row, _ in cells})
    return FillReport(filled, without_result, missing, tuple(sorted(notes)))


def summary(result: StudentResult) -> str:
    """A line of feedback: the score, then each function's status and points, and the mistake
    named in it."""
    head = _("{score}/{max_score} points").format(
        score=points(result.score), max_score=points(result.max_score)
    )
    if result.error:
        return _("{head}: {error}").format(head=head, error=result.error)
    functions = "; ".join(_function_summary(f) for f in result.functions)
    return _("{head}. {functions}").format(head=head, functions=functions) if functions else head


def _function_summary(function: FunctionOutcome) -> str:
    said = {
        "function": function.name,
        "status": status_in_words(function.status),
        "points": f"{points(function.score)}/{points(function.max_score)}",
    }
    if function.mistake:
        return _("{function}: {status} ({points}), likely mistake: {mistake}").format(
            mistake=function.mistake, **said
        )
    return _("{function}: {status} ({points})").format(**said)
