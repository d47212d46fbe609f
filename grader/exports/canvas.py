"""Canvas: fill one assignment column of the gradebook CSV exported from Canvas.

Canvas's export has a header (`Student,ID,SIS User ID,SIS Login ID,Section,` then a column per
assignment, `Name (assignment id)`, then read-only totals), a "Points Possible" row (its text in
the Student column, often indented), sometimes a row of "Manual Posting" or "Muted" markers,
then a row per student. Canvas imports the file back as it is, matching rows by `ID`, the
Canvas user id, which the grader reads from Canvas's download as the student id.
"""

from __future__ import annotations

import re
from pathlib import Path

from grader.exports import ExportError
from grader.exports.results import ClassResults, nothing_matched
from grader.exports.table import CsvText, FillReport, on_scale, parse_points, points

_ASSIGNMENT_COLUMN = re.compile(r"\(\d+\)$")
# Who a row is: never a column to fill.
_IDENTITY_COLUMNS = frozenset(
    {"Student", "ID", "SIS User ID", "SIS Login ID", "Integration ID", "Root Account", "Section"}
)


def fill_canvas(results: ClassResults, gradebook: Path, column: str, output: Path) -> FillReport:
    """Write `gradebook` to `output` with each graded student's score in `column`."""
    table = CsvText(gradebook)
    target = table.column(column.strip())
    if target is None:
        raise ExportError(f"{gradebook} has no column {column!r}; {_columns_hint(table)}")
    if column.strip() in _IDENTITY_COLUMNS:
        raise ExportError(
            f"{column!r} says who a student is, it holds no grade; {_columns_hint(table)}"
        )
    id_column = table.column("ID")
    if id_column is None:
        raise ExportError(
            f"{gradebook} has no ID column: give the gradebook CSV exported from Canvas "
            "(Grades, Export)"
        )
    name_column = table.column("Student")
    if name_column is None:
        name_column = 0  # where Canvas puts it
    points_row = next(
        (
            i
            for i, row in enumerate(table.rows)
            if row.value(name_column).strip().casefold() == "points possible"
        ),
        None,
    )
    possible = None
    if points_row is not None:
        marker = table.rows[points_row].value(target).strip()
        if marker.casefold() == "(read only)":
            raise ExportError(
                f"{column!r} is computed by Canvas (read only) and ignored on import; "
                f"{_columns_hint(table)}"
            )
        possible = parse_points(marker)
    cells: dict[tuple[int, int], str] = {}
    seen: set[str] = set()
    without_result = 0
    notes = set()
    for i, row in enumerate(table.rows):
        student_id = row.value(id_column).strip()
        if i == points_row or not student_id:
            continue
        result = results.students.get(student_id)
        if result is None:
            without_result += 1
            continue
        seen.add(student_id)
        score, scaled = on_scale(result.score, result.max_score, possible)
        if scaled:
            notes.add(
                f"scores out of {points(result.max_score)} scaled to Canvas's points possible, "
                f"{points(possible)}"
            )
        cells[i, target] = points(score)
    if not cells:
        raise nothing_matched(results, gradebook, "canvas")
    table.write_filled(cells, output)
    missing = tuple(results.label(s) for s in results.students if s not in seen)
    return FillReport(len(cells), without_result, missing, tuple(sorted(notes)))


def _columns_hint(table: CsvText) -> str:
    """Name the assignment columns, which are the ones Canvas imports."""
    names = [name for name in table.header if _ASSIGNMENT_COLUMN.search(name)]
    if not names:
        return "is it the gradebook exported from Canvas?"
    shown = ", ".join(repr(name) for name in names[:8])
    more = f" and {len(names) - 8} more" if len(names) > 8 else ""
    return f"its assignment columns: {shown}{more}"
