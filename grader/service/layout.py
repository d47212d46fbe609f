"""Where the service keeps its files under `--data`, and the document a client is sent."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.report import read_results
from grader.service.records import Status, SubmissionRecord
from grader.service.upload import INCOMING_PREFIX


@dataclass(frozen=True)
class DataLayout:
    """`grader.db` (SQLite, WAL), `uploads/<id>.ipynb|.py`, `reports/<assignment>/<id>/`."""

    root: Path

    @property
    def database(self) -> Path:
        return self.root / "grader.db"

    @property
    def uploads(self) -> Path:
        return self.root / "uploads"

    def reports(self, assignment: str) -> Path:
        """The output folder of an assignment, laid out as `grader grade --out` lays it out."""
        return self.root / "reports" / assignment

    def upload(self, record: SubmissionRecord) -> Path:
        return self.uploads / f"{record.id}{record.suffix}"

    def report(self, record: SubmissionRecord) -> Path:
        return self.reports(record.assignment) / record.id / "report.html"

    def prepare(self) -> None:
        self.uploads.mkdir(parents=True, exist_ok=True)
        (self.root / "reports").mkdir(exist_ok=True)

    def remove_leftovers(self, known_ids: set[str]) -> int:
        """Delete what uploads cut short by a stop left: partial files, and files whose row
        was never committed (never acknowledged, so the client was not told they were kept)."""
        removed = 0
        for path in self.uploads.iterdir():
            if path.name.startswith(INCOMING_PREFIX) or path.stem not in known_ids:
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def results(self, record: SubmissionRecord) -> dict[str, Any] | None:
        return read_results(self.reports(record.assignment), record.id)


def status_document(layout: DataLayout, record: SubmissionRecord) -> dict[str, Any]:
    """What `GET /v1/submissions/{id}` answers and a callback posts."""
    results = layout.results(record) if record.status is Status.DONE else None
    return document_of(record, results)


def document_of(record: SubmissionRecord, results: dict[str, Any] | None) -> dict[str, Any]:
    """The status document of `record`, with `results` (results.json's content) once done."""
    return {
        "id": record.id,
        "status": record.status.value,
        "assignment": record.assignment,
        "student": record.student,
        "lang": record.lang,
        "results": results,
    }


def sync_file(path: Path) -> None:
    """Make a file's content, or a folder's entries, survive a power cut."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
