"""The worker loop: threads take queued submissions from SQLite and grade them as `grader grade`
does, with the same reading, pipeline, sandbox pool and report writer.

A submission is marked running before it is graded and done after its results.json is written,
each in its own transaction. One whose results.json already matches it (the service stopped
between writing and marking) is marked done without being graded again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from grader.grade import fingerprint
from grader.i18n import N_, _, language
from grader.intake.identity import Layout, student
from grader.pipeline import grade_one
from grader.read import read_submission
from grader.report import read_results, write_submission
from grader.run import sandbox_setup
from grader.sandbox.pool import WorkerPool
from grader.score import unreadable_result
from grader.service.layout import DataLayout
from grader.service.records import Callback, SubmissionRecord, timestamp
from grader.service.store import Store
from grader.spec import Assignment

logger = logging.getLogger(__name__)
# A submission whose grading was started this many times and never finished (the grader failed
# on it, or the service died while grading it) is given up, so it cannot stop the queue.
MAX_ATTEMPTS = 3
GAVE_UP = N_(
    "The grader itself failed on this submission, through no fault of the file, each time it "
    "tried; the details are in the service's log. Ask your instructor to look at it."
)
IDLE_POLL_SECONDS = 5.0  # a wake-up is sent on every upload; this only bounds a missed one
FAILURE_PAUSE_SECONDS = 1.0  # after a failure of ours, say a full disk: no loop of retries


class AssignmentQueue:
    """The grading of one assignment: a pool of sandbox workers fed by two threads per worker,
    so that one writes a report while the other keeps its worker busy."""

    def __init__(
        self,
        store: Store,
        layout: DataLayout,
        assignment: Assignment,
        jobs: int,
        on_done: Callable[[SubmissionRecord, dict[str, Any], list[Callback]], None],
    ) -> None:
        self.store, self.layout, self.assignment, self.jobs = store, layout, assignment, jobs
        self.on_done = on_done
        self.out = layout.reports(assignment.name)
        self._fingerprint = assignment.fingerprint
        self._pool: WorkerPool | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._wakeup = threading.Condition()
        self._uploads = 0  # counts wake-ups, so one between a claim and a wait is not missed

    def start(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        self._pool = WorkerPool(sandbox_setup(self.assignment), self.jobs)
        for index in range(2 * self.jobs):
            thread = threading.Thread(
                target=self._loop, name=f"grade-{self.assignment.name}-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def wake(self) -> None:
        """A submission was queued."""
        with self._wakeup:
            self._uploads += 1
            self._wakeup.notify()

    def stop(self) -> None:
        """Let each thread finish the submission it is grading, then end the workers."""
        self._stopping.set()
        with self._wakeup:
            self._wakeup.notify_all()
        for thread in self._threads:
            thread.join()
        if self._pool is not None:
            self._pool.close()

    @property
    def protections(self) -> dict[str, str]:
        return self._pool.host_protections if self._pool else {}

    def _loop(self) -> None:
        while not self._stopping.is_set():
            with self._wakeup:
                seen = self._uploads
            record = self.store.claim(self.assignment.name)
            if record is None:
                with self._wakeup:
                    if self._uploads == seen and not self._stopping.is_set():
                        self._wakeup.wait(IDLE_POLL_SECONDS)
                continue
            try:
                results = self._grade(record)
            except Exception:  # a fault of ours costs this attempt only; it is tried again
                logger.exception("grading %s failed (attempt %d)", record.id, record.attempts)
                self.store.requeue(record.id)
                self._stopping.wait(FAILURE_PAUSE_SECONDS)
                continue
            callbacks = self.store.finish(record.id, timestamp())
            if callbacks is not None:
                self.on_done(record, results, callbacks)

    def _grade(self, record: SubmissionRecord) -> dict[str, Any]:
        """Write results.json and report.html for `record`, in its language, unless they are
        already written; returns what results.json holds."""
        with language(record.lang, self.assignment.folder):
            return self._grade_in_language(record)

    def _grade_in_language(self, record: SubmissionRecord) -> dict[str, Any]:
        # The LMS names the student: as `grader grade` names one by a file's or folder's name.
        who = student(Layout.FILES, record.student)
        path = self.layout.upload(record)
        submission = read_submission(record.id, record.filename, path, who)
        stamp = fingerprint(submission, self._fingerprint, lang=record.lang)
        previous = read_results(self.out, record.id)
        if previous and previous.get("fingerprint") == stamp:
            return previous
        graded_at = timestamp()
        if record.attempts > MAX_ATTEMPTS:
            logger.error("giving up on %s after %d attempts", record.id, MAX_ATTEMPTS)
            failed = unreadable_result(self.assignment, record.id, record.filename, _(GAVE_UP))
            result = replace(failed, student=who)
        else:
            result = grade_one(self._pool, self.assignment, submission)
        document = write_submission(self.out, result, self.assignment, stamp, graded_at)
        logger.info(
            "graded %s (%s, %s): %g / %g",
            record.id,
            record.assignment,
            record.student,
            result.score,
            result.max_score,
        )
        return document
