"""A class roster (CSV with id, name and optionally email columns) that names students."""

from __future__ import annotations

import csv
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from grader.intake.identity import Student

_COLUMNS = {
    "id": ("id", "student_id", "student id", "sis user id", "sid"),
    "name": ("name", "student_name", "student name", "full name"),
    "email": ("email", "e-mail", "email address"),
}
MAX_ROSTER_BYTES = 64 * 2**20


class RosterError(Exception):
    """The roster could not be used; the message says why."""


@dataclass(frozen=True)
class Roster:
    by_id: dict[str, str] = field(default_factory=dict)
    by_email: dict[str, str] = field(default_factory=dict)

    def named(self, student: Student, email: str | None = None) -> Student:
        """The student with the roster's name for its id (or email), if the roster has one."""
        name = self.by_id.get(student.id) or (email and self.by_email.get(email.casefold()))
        return Student(student.id, name, student.layout) if name else student


def load_roster(path: Path) -> Roster:
    """The roster's names by id and by email; raises `RosterError`."""
    try:
        if path.stat().st_size > MAX_ROSTER_BYTES:
            raise RosterError(f"{path} is larger than {MAX_ROSTER_BYTES >> 20} MiB: not a roster.")
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as problem:
        raise RosterError(f"the roster {path} could not be read ({problem}).") from None
    rows = csv.reader(text.splitlines())
    header = [cell.strip().casefold() for cell in next(rows, [])]
    where = {
        column: next((header.index(name) for name in names if name in header), None)
        for column, names in _COLUMNS.items()
    }
    if where["id"] is None or where["name"] is None:
        raise RosterError(
            f"the roster {path} needs a header with an `id` and a `name` column "
            f"(it has: {', '.join(header) or 'nothing'})."
        )
    by_id: dict[str, str] = {}
    by_email: dict[str, str] = {}
    for row in rows:
        cells = {
            column: _clean(row[index]) if index is not None and index < len(row) else ""
            for column, index in where.items()
        }
        if cells["name"] and cells["id"]:
            by_id[cells["id"]] = cells["name"]
        if cells["name"] and cells["email"]:
            by_email[cells["email"].casefold()] = cells["name"]
    return Roster(by_id, by_email)


def _clean(cell: str) -> str:
    return unicodedata.normalize("NFC", cell).strip()
