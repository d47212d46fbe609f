"""The gradebook an instructor downloads: per student, the latest graded upload, read from its
results.json as the batch's gradebook is."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from grader.service.layout import DataLayout
from grader.service.store import Store
from grader.spec import Assignment

# A spreadsheet program reads a cell that starts with one of these as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def gradebook_lines(store: Store, layout: DataLayout, assignment: Assignment) -> Iterator[str]:
    """CSV lines, header first: student, submission, source, scores, error, graded_at."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(row: list) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(row)
        return buffer.getvalue()

    functions = assignment.functions
    yield line(
        ["student", "submission", "source", "score", "max_score", *functions, "error", "graded_at"]
    )
    for record in store.latest_graded(assignment.name):
        document = layout.results(record)
        if document is None:
            continue
        scores = document["functions"]
        yield line(
            [
                _inert(record.student),
                record.id,
                _inert(record.filename),
                document["score"],
                document["max_score"],
                *(scores[name]["score"] if name in scores else "" for name in functions),
                _inert(document["error"] or ""),
                document["graded_at"],
            ]
        )


def _inert(text: str) -> str:
    """A student-controlled cell that a spreadsheet shows as text, never runs as a formula."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text
