"""The service's parts composed: the store, one grading queue per assignment, the callbacks,
and the few decisions the HTTP handlers delegate (who may see what, accepting an upload)."""

from __future__ import annotations

import logging
import secrets
import unicodedata
from dataclasses import replace
from pathlib import Path
from typing import Any

from grader.i18n import ENGLISH, LANGUAGES, N_, _, language, sentences
from grader.read import read_submission, stem_of
from grader.sandbox.launch import default_size
from grader.service import tokens
from grader.service.callbacks import CallbackDispatcher, CallbackPolicy
from grader.service.errors import ApiError
from grader.service.grading import AssignmentQueue
from grader.service.layout import DataLayout, document_of, status_document, sync_file
from grader.service.limits import RateLimiter
from grader.service.records import Callback, Role, Status, SubmissionRecord, Token, timestamp
from grader.service.settings import Settings
from grader.service.store import Store
from grader.service.upload import ReceivedForm
from grader.spec import Assignment, default_assignment_dir, load_assignment

logger = logging.getLogger(__name__)
MAX_STUDENT_CHARS = 200


class ConfigurationError(Exception):
    """The service cannot start as configured; the message says what to change."""


class Service:
    """Everything but HTTP. `start` before serving requests, `stop` after."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.assignments: dict[str, Assignment] = {}
        for folder in settings.assignment_dirs or (default_assignment_dir(),):
            assignment = load_assignment(folder)
            if assignment.name in self.assignments:
                raise ConfigurationError(
                    f"two assignments are named {assignment.name!r}; serve each name once"
                )
            self.assignments[assignment.name] = assignment
        try:
            self.policy = CallbackPolicy(settings.callback_allow)
        except ValueError as problem:
            raise ConfigurationError(str(problem)) from None
        if settings.callback_allow and not settings.callback_secret:
            raise ConfigurationError(
                "--callback-allow is set but GRADER_CALLBACK_SECRET is not: callbacks are "
                "signed with it, so set it in the service's environment"
            )
        self.layout = DataLayout(settings.data)
        self.layout.root.mkdir(parents=True, exist_ok=True)
        self.store = Store(self.layout.database)
        self.limiter = RateLimiter(settings.rate, settings.burst)
        self.callbacks = CallbackDispatcher(
            self.store, self.document, settings.callback_secret, self.policy, settings.retry
        )
        jobs = settings.jobs or default_size()
        self.queues = {
            name: AssignmentQueue(self.store, self.layout, assignment, jobs, self._graded)
            for name, assignment in self.assignments.items()
        }
        self.accepting = False

    def start(self) -> None:
        """Recover from any stop, start the sandbox workers, then take work."""
        self.layout.prepare()
        requeued = self.store.requeue_running()
        removed = self.layout.remove_leftovers(self.store.upload_ids())
        if requeued or removed:
            logger.info(
                "recovered: %d submission(s) requeued, %d unacknowledged upload(s) removed",
                requeued,
                removed,
            )
        unserved = self.store.queued_assignments() - set(self.assignments)
        if unserved:
            logger.warning(
                "submissions wait for assignments not served now: %s", ", ".join(sorted(unserved))
            )
        for queue in self.queues.values():
            queue.start()
        self.callbacks.start()
        self.accepting = True
        protections = next(iter(self.queues.values())).protections
        off = {name: state for name, state in protections.items() if state != "on"}
        if off:
            reasons = "; ".join(f"{name} ({state})" for name, state in off.items())
            logger.warning("sandbox protections off on this host: %s", reasons)

    def stop(self) -> None:
        """Stop taking work; submissions being graded finish, queued ones wait for a restart."""
        self.accepting = False
        for queue in self.queues.values():
            queue.stop()
        self.callbacks.stop()
        self.store.close()

    def authenticate(self, secret: str) -> Token | None:
        return tokens.authenticate(self.store, secret)

    def visible_submission(self, caller: Token, submission_id: str) -> SubmissionRecord:
        """The submission if `caller` may see it; a submitter is told others' do not exist."""
        record = self.store.submission(submission_id)
        if record is None or (caller.role is Role.SUBMITTER and record.owner != caller.id):
            raise ApiError(
                404,
                "unknown_submission",
                f"No submission {submission_id!r} was uploaded with this token: use the id "
                "(or the Location header) that the upload answered.",
            )
        return record

    def assignment(self, name: str) -> Assignment:
        assignment = self.assignments.get(name)
        if assignment is None:
            served = ", ".join(sorted(self.assignments))
            raise ApiError(
                404,
                "unknown_assignment",
                f"No assignment {name!r} is served here; the served ones are: {served}.",
            )
        return assignment

    def document(self, submission_id: str) -> dict[str, Any]:
        record = self.store.submission(submission_id)
        if record is None:
            raise KeyError(submission_id)
        return status_document(self.layout, record)

    def accept(
        self, assignment: str, form: ReceivedForm, owner: Token
    ) -> tuple[SubmissionRecord, bool]:
        """Store an upload and queue it, durably, or say why it cannot be graded.

        Returns the submission and whether it is new: the same bytes uploaded again for the
        same student and assignment return the first one. The file is on disk before the row
        that points at it commits, and the row commits before the caller answers."""
        try:
            student = _student(form)
            lang = _language(form)
            callback_url = form.fields.get("callback_url") or None
            if callback_url is not None and (refusal := self.policy.refusal(callback_url)):
                raise ApiError(422, "callback_not_allowed", refusal)
            earlier = self.store.find_upload(
                assignment, student, form.digest, owner.id, callback_url
            )
            if earlier is not None:
                self.callbacks.wake()
                return earlier, False
            record = SubmissionRecord(
                id=secrets.token_hex(8),
                assignment=assignment,
                student=student,
                filename=form.filename,
                digest=form.digest,
                owner=owner.id,
                status=Status.QUEUED,
                attempts=0,
                uploaded_at=timestamp(),
                lang=lang,
            )
            with language(lang, self.assignments[assignment].folder):
                self._check_readable(record, form.path)
            sync_file(form.path)
            final = self.layout.upload(record)
            form.path.rename(final)
            form.path = final
            sync_file(final.parent)
            stored, created = self.store.add_submission(record, callback_url)
        except BaseException:
            form.discard()
            raise
        if created:
            self.queues[assignment].wake()
        else:  # the same upload, racing this one, was stored first
            form.discard()
            self.callbacks.wake()
        return stored, created

    def _check_readable(self, record: SubmissionRecord, path: Path) -> None:
        """Refuse what `grader grade` could not read (empty, binary, truncated, not a notebook),
        with its reason in the upload's language, read the way the grading will read it."""
        submission = read_submission(record.id, record.filename, path)
        if submission.error is not None:
            raise ApiError(422, "unreadable_file", sentences(submission.error, _(UPLOAD_AS_SAVED)))

    def _graded(
        self, record: SubmissionRecord, results: dict[str, Any], callbacks: list[Callback]
    ) -> None:
        if callbacks:
            done = document_of(replace(record, status=Status.DONE), results)
            self.callbacks.send(callbacks, done)


UPLOAD_AS_SAVED = N_(
    "Upload the notebook (.ipynb) or its exported script (.py) as Jupyter saves it."
)


def _language(form: ReceivedForm) -> str:
    """The `lang` field: the language of the report and of results.json's texts."""
    lang = form.fields.get("lang", "").strip() or ENGLISH
    if lang not in LANGUAGES:
        raise ApiError(
            422,
            "invalid_lang",
            f"`lang` must be one of {', '.join(LANGUAGES)} (default {ENGLISH}), not {lang!r}.",
        )
    return lang


def _student(form: ReceivedForm) -> str:
    """The `student` field, or the file's name without its suffix (as `grader grade` names
    a submission) when there is none."""
    given = form.fields.get("student", "").strip()
    student = given or stem_of(form.filename) or "submission"
    if len(student) > MAX_STUDENT_CHARS or any(
        unicodedata.category(character) in ("Cc", "Cf", "Cs") for character in student
    ):
        raise ApiError(
            422,
            "invalid_student",
            f"`student` must be printable text of at most {MAX_STUDENT_CHARS} characters: "
            "send the LMS's id or login for the student.",
        )
    return student
