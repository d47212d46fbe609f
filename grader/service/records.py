"""The values that cross the service's modules: roles, statuses and the rows of its tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from grader.i18n import ENGLISH
from grader.read import Format, format_of


def stored_suffix(filename: str) -> str:
    """An upload is read as a script if its name says so (as `grader grade` reads a file), and
    as a notebook otherwise: an LMS may name a notebook `submission` or `hw.ipynb.txt`."""
    return ".py" if format_of(filename) is Format.SCRIPT else ".ipynb"


def timestamp() -> str:
    """Now, as the tables and results.json write it."""
    return datetime.now(UTC).isoformat(timespec="seconds")


class Role(StrEnum):
    """What a token may do: a submitter sees only its own uploads, an instructor everything."""

    INSTRUCTOR = "instructor"
    SUBMITTER = "submitter"


class Status(StrEnum):
    """Where a submission is; `done` is final and never redone."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"


class CallbackState(StrEnum):
    WAITING = "waiting"  # its submission is not graded yet
    PENDING = "pending"  # due for a (next) delivery attempt
    DELIVERED = "delivered"
    ABANDONED = "abandoned"  # every attempt failed, or its host is no longer allowed


@dataclass(frozen=True)
class Token:
    """A token as the database keeps it: never the secret, only its hash."""

    id: str
    role: Role
    name: str
    created_at: str
    revoked_at: str | None = None


@dataclass(frozen=True)
class SubmissionRecord:
    id: str
    assignment: str
    student: str
    filename: str  # as uploaded: results.json's `source`
    digest: str  # SHA-256 of the uploaded bytes
    owner: str  # the id of the token that uploaded it
    status: Status
    attempts: int  # how many times grading was started
    uploaded_at: str
    finished_at: str | None = None
    lang: str = ENGLISH  # of its report and results.json's texts, as the upload asked

    @property
    def suffix(self) -> str:
        """The suffix the upload is stored with, which says how it is read."""
        return stored_suffix(self.filename)


@dataclass(frozen=True)
class Callback:
    seq: int
    submission_id: str
    url: str
    attempts: int
