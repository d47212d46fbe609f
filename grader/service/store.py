"""The service's durable state in one SQLite file (WAL): tokens, submissions and callbacks.

Every change is one transaction. What a client is told (an upload accepted, a callback to
make, a token made or revoked) is committed with a full sync, so it survives even a power cut;
the service's own bookkeeping (running, done, a delivery attempt) is committed without one,
which survives the process being killed, and the next full sync writes it too. Each thread
uses its own connection: readers never wait for the writer. Writers of this process queue on a
lock rather than on SQLite's busy handler, which sleeps for milliseconds between tries.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from grader.service.records import (
    Callback,
    CallbackState,
    Role,
    Status,
    SubmissionRecord,
    Token,
)

SCHEMA_VERSION = 2
_SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY,
    digest TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS submissions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    assignment TEXT NOT NULL,
    student TEXT NOT NULL,
    filename TEXT NOT NULL,
    digest TEXT NOT NULL,
    owner TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    uploaded_at TEXT NOT NULL,
    finished_at TEXT,
    lang TEXT NOT NULL DEFAULT 'en',
    -- raised when the same bytes are uploaded again: the gradebook takes the latest upload
    upload_order INTEGER NOT NULL,
    UNIQUE (assignment, student, digest, owner)
);
CREATE INDEX IF NOT EXISTS submissions_queue ON submissions (status, assignment, seq);
CREATE INDEX IF NOT EXISTS submissions_latest
    ON submissions (assignment, student, status, upload_order);
CREATE INDEX IF NOT EXISTS submissions_order ON submissions (upload_order);
CREATE TABLE IF NOT EXISTS callbacks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    submission_id TEXT NOT NULL REFERENCES submissions (id),
    url TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    due_at REAL,
    last_error TEXT,
    UNIQUE (submission_id, url)
);
CREATE INDEX IF NOT EXISTS callbacks_due ON callbacks (state, due_at);
"""
_SUBMISSION_COLUMNS = (
    "id, assignment, student, filename, digest, owner, status, attempts, uploaded_at, finished_at, "
    "lang"
)
# What a database of an earlier schema is brought up to date with, by the version it gets.
_MIGRATIONS = {2: "ALTER TABLE submissions ADD COLUMN lang TEXT NOT NULL DEFAULT 'en';"}


class SchemaTooNew(RuntimeError):
    """The database was written by a newer version of the service."""


class Store:
    """The database at `path`, created on first use."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._writing = threading.Lock()
        connection = self._connection()
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise SchemaTooNew(
                f"{path} was written by a newer grader (schema {version}); upgrade the grader"
            )
        connection.execute("PRAGMA journal_mode=WAL")
        upgrades = "".join(
            _MIGRATIONS[step] for step in range(version + 1, SCHEMA_VERSION + 1) if version
        )
        connection.executescript(
            f"BEGIN IMMEDIATE;\n{upgrades}\n{_SCHEMA}\n"
            f"PRAGMA user_version = {SCHEMA_VERSION};\nCOMMIT;"
        )

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            # Autocommit: transactions are opened explicitly, as BEGIN IMMEDIATE for writes.
            connection = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=60
            )
            connection.execute("PRAGMA foreign_keys=ON")
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    @contextmanager
    def _transaction(self, promised: bool = True) -> Iterator[sqlite3.Connection]:
        """A write transaction; `promised` ones (what a client was told) survive a power cut."""
        connection = self._connection()
        with self._writing:
            connection.execute(f"PRAGMA synchronous={'FULL' if promised else 'NORMAL'}")
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()
        self._local = threading.local()

    # Tokens

    def add_token(self, token: Token, digest: str) -> None:
        with self._transaction() as writer:
            writer.execute(
                "INSERT INTO tokens (id, digest, role, name, created_at) VALUES (?, ?, ?, ?, ?)",
                (token.id, digest, token.role.value, token.name, token.created_at),
            )

    def token_by_digest(self, digest: str) -> tuple[Token, str] | None:
        """The token whose hash is `digest`, and that hash as stored."""
        row = (
            self._connection()
            .execute(
                "SELECT id, role, name, created_at, revoked_at, digest FROM tokens "
                "WHERE digest = ?",
                (digest,),
            )
            .fetchone()
        )
        return (_token(row), row[5]) if row else None

    def tokens(self) -> list[Token]:
        rows = self._connection().execute(
            "SELECT id, role, name, created_at, revoked_at FROM tokens ORDER BY created_at, id"
        )
        return [_token(row) for row in rows]

    def revoke_token(self, token_id: str, at: str) -> bool:
        """Revoke a token; False if there is no such token or it was already revoked."""
        with self._transaction() as writer:
            changed = writer.execute(
                "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (at, token_id),
            ).rowcount
        return changed == 1

    # Submissions

    def find_upload(
        self, assignment: str, student: str, digest: str, owner: str, callback_url: str | None
    ) -> SubmissionRecord | None:
        """The submission these same bytes made before, now counted as the student's latest
        upload; a new callback URL is added to it."""
        query = (
            f"SELECT {_SUBMISSION_COLUMNS} FROM submissions "
            "WHERE assignment = ? AND student = ? AND digest = ? AND owner = ?"
        )
        key = (assignment, student, digest, owner)
        if self._connection().execute(query, key).fetchone() is None:  # the usual case
            return None
        with self._transaction() as writer:
            record = _submission(writer.execute(query, key).fetchone())
            writer.execute(
                "UPDATE submissions SET upload_order = ? WHERE id = ?",
                (_next_upload_order(writer), record.id),
            )
            if callback_url is not None:
                _add_callback(writer, record, callback_url)
        return record

    def add_submission(
        self, record: SubmissionRecord, callback_url: str | None
    ) -> tuple[SubmissionRecord, bool]:
        """Insert a queued submission and its callback in one transaction.

        Returns the stored submission and whether it is new: the same upload racing this one
        may have been stored first, and then that one is returned."""
        with self._transaction() as writer:
            inserted = writer.execute(
                "INSERT INTO submissions (id, assignment, student, filename, digest, owner, "
                "status, uploaded_at, upload_order, lang) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (assignment, student, digest, owner) DO NOTHING",
                (
                    record.id,
                    record.assignment,
                    record.student,
                    record.filename,
                    record.digest,
                    record.owner,
                    Status.QUEUED.value,
                    record.uploaded_at,
                    _next_upload_order(writer),
                    record.lang,
                ),
            ).rowcount
            stored = _submission(
                writer.execute(
                    f"SELECT {_SUBMISSION_COLUMNS} FROM submissions "
                    "WHERE assignment = ? AND student = ? AND digest = ? AND owner = ?",
                    (record.assignment, record.student, record.digest, record.owner),
                ).fetchone()
            )
            if callback_url is not None:
                _add_callback(writer, stored, callback_url)
        return stored, inserted == 1

    def submission(self, submission_id: str) -> SubmissionRecord | None:
        row = (
            self._connection()
            .execute(
                f"SELECT {_SUBMISSION_COLUMNS} FROM submissions WHERE id = ?", (submission_id,)
            )
            .fetchone()
        )
        return _submission(row) if row else None

    def upload_ids(self) -> set[str]:
        return {row[0] for row in self._connection().execute("SELECT id FROM submissions")}

    def claim(self, assignment: str) -> SubmissionRecord | None:
        """Mark the oldest queued submission of `assignment` running, and count the attempt."""
        with self._transaction(promised=False) as writer:
            row = writer.execute(
                "UPDATE submissions SET status = ?, attempts = attempts + 1 WHERE seq = "
                "(SELECT seq FROM submissions WHERE status = ? AND assignment = ? "
                f"ORDER BY seq LIMIT 1) RETURNING {_SUBMISSION_COLUMNS}",
                (Status.RUNNING.value, Status.QUEUED.value, assignment),
            ).fetchone()
        return _submission(row) if row else None

    def finish(self, submission_id: str, at: str) -> list[Callback] | None:
        """Mark a running submission done and its callbacks due now, in one transaction.

        Returns those callbacks, or None if it was not running: a submission is finished once."""
        with self._transaction(promised=False) as writer:
            changed = writer.execute(
                "UPDATE submissions SET status = ?, finished_at = ? WHERE id = ? AND status = ?",
                (Status.DONE.value, at, submission_id, Status.RUNNING.value),
            ).rowcount
            if changed != 1:
                return None
            rows = writer.execute(
                "UPDATE callbacks SET state = ?, due_at = ? WHERE submission_id = ? AND state = ? "
                "RETURNING seq, submission_id, url, attempts",
                (
                    CallbackState.PENDING.value,
                    time.time(),
                    submission_id,
                    CallbackState.WAITING.value,
                ),
            ).fetchall()
        return [Callback(*row) for row in rows]

    def requeue(self, submission_id: str) -> None:
        """Put a running submission back in the queue (its grading failed, or was cut short)."""
        with self._transaction(promised=False) as writer:
            writer.execute(
                "UPDATE submissions SET status = ? WHERE id = ? AND status = ?",
                (Status.QUEUED.value, submission_id, Status.RUNNING.value),
            )

    def requeue_running(self) -> int:
        """At start-up: what was running when the service stopped is queued again."""
        with self._transaction(promised=False) as writer:
            return writer.execute(
                "UPDATE submissions SET status = ? WHERE status = ?",
                (Status.QUEUED.value, Status.RUNNING.value),
            ).rowcount

    def queued_assignments(self) -> set[str]:
        rows = self._connection().execute(
            "SELECT DISTINCT assignment FROM submissions WHERE status = ?", (Status.QUEUED.value,)
        )
        return {row[0] for row in rows}

    def latest_graded(self, assignment: str) -> list[SubmissionRecord]:
        """Per student, the graded submission uploaded last, ordered by student."""
        rows = self._connection().execute(
            f"SELECT {_SUBMISSION_COLUMNS} FROM submissions AS s "
            "WHERE assignment = ? AND status = ? AND upload_order = ("
            "  SELECT MAX(upload_order) FROM submissions "
            "  WHERE assignment = s.assignment AND student = s.student AND status = s.status) "
            "ORDER BY student",
            (assignment, Status.DONE.value),
        )
        return [_submission(row) for row in rows]

    # Callbacks

    def add_callback(self, submission_id: str, url: str) -> None:
        with self._transaction() as writer:
            row = writer.execute(
                f"SELECT {_SUBMISSION_COLUMNS} FROM submissions WHERE id = ?", (submission_id,)
            ).fetchone()
            _add_callback(writer, _submission(row), url)

    def due_callbacks(self, now: float, limit: int) -> list[Callback]:
        rows = self._connection().execute(
            "SELECT seq, submission_id, url, attempts FROM callbacks "
            "WHERE state = ? AND due_at <= ? ORDER BY due_at LIMIT ?",
            (CallbackState.PENDING.value, now, limit),
        )
        return [Callback(*row) for row in rows]

    def next_callback_due(self) -> float | None:
        row = (
            self._connection()
            .execute(
                "SELECT MIN(due_at) FROM callbacks WHERE state = ?", (CallbackState.PENDING.value,)
            )
            .fetchone()
        )
        return row[0]

    def callback_delivered(self, seq: int) -> None:
        with self._transaction(promised=False) as writer:
            writer.execute(
                "UPDATE callbacks SET state = ?, attempts = attempts + 1, last_error = NULL "
                "WHERE seq = ?",
                (CallbackState.DELIVERED.value, seq),
            )

    def callback_failed(self, seq: int, error: str, retry_at: float | None) -> None:
        """Count a failed attempt; with no `retry_at`, the callback is abandoned."""
        state = CallbackState.ABANDONED if retry_at is None else CallbackState.PENDING
        with self._transaction(promised=False) as writer:
            writer.execute(
                "UPDATE callbacks SET state = ?, attempts = attempts + 1, due_at = ?, "
                "last_error = ? WHERE seq = ?",
                (state.value, retry_at, error[:500], seq),
            )

    def callback_states(self, submission_id: str) -> dict[str, tuple[CallbackState, int]]:
        """By URL: each callback's state and how many attempts it took."""
        rows = self._connection().execute(
            "SELECT url, state, attempts FROM callbacks WHERE submission_id = ?", (submission_id,)
        )
        return {url: (CallbackState(state), attempts) for url, state, attempts in rows}


def _next_upload_order(writer: sqlite3.Connection) -> int:
    query = "SELECT COALESCE(MAX(upload_order), 0) + 1 FROM submissions"
    return writer.execute(query).fetchone()[0]


def _add_callback(writer: sqlite3.Connection, submission: SubmissionRecord, url: str) -> None:
    """Register a callback; for a submission already graded it is due at once."""
    done = submission.status is Status.DONE
    state = CallbackState.PENDING if done else CallbackState.WAITING
    writer.execute(
        "INSERT INTO callbacks (submission_id, url, state, due_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (submission_id, url) DO NOTHING",
        (submission.id, url, state.value, time.time() if done else None),
    )


def _token(row: tuple) -> Token:
    return Token(row[0], Role(row[1]), row[2], row[3], row[4])


def _submission(row: tuple) -> SubmissionRecord:
    return SubmissionRecord(
        id=row[0],
        assignment=row[1],
        student=row[2],
        filename=row[3],
        digest=row[4],
        owner=row[5],
        status=Status(row[6]),
        attempts=row[7],
        uploaded_at=row[8],
        finished_at=row[9],
        lang=row[10],
    )
