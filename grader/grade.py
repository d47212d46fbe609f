"""Grade a batch: intake → read → extract → run → score → report, per student, in parallel.

Results stream to disk as they finish. A submission already graded for the same student with
the same content and assignment is skipped, so an interrupted batch resumes where it stopped.
The class files then cover every result in the output folder, this run's and earlier ones.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import subprocess
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager, nullcontext
from contextvars import copy_context
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import grader
from grader.i18n import ENGLISH, N_, _, language
from grader.intake.choose import choose
from grader.intake.gather import Intake, Planned, Skipped, gather
from grader.intake.roster import Roster
from grader.pipeline import grade_one
from grader.read import Submission
from grader.report import (
    ClassStatistics,
    read_results,
    readable_json,
    result_folders,
    results_document,
    write_atomic,
    write_class_files,
    write_submission,
)
from grader.run import sandbox_setup
from grader.sandbox.launch import default_size
from grader.sandbox.pool import WorkerPool
from grader.score import SubmissionResult, unreadable_result
from grader.spec import Assignment

logger = logging.getLogger(__name__)
PACKAGE = Path(grader.__file__).resolve().parent
_HASHING = threading.Lock()
INTERNAL_ERROR = N_(
    "The grader itself failed on this submission, through no fault of the file; the details "
    "are in the grader's log and the next run will try again."
)


class NoHiddenCases(Exception):
    """A released bundle to grade without --public-only: hard-coded answers would pass."""


class OutputUnusable(Exception):
    """The output folder cannot be one: a file is there, or it cannot be made."""


@dataclass(frozen=True)
class BatchOutcome:
    graded: int
    skipped: int  # unchanged since their stored result, so not graded again
    submissions: int  # students in this run's inputs
    mean: float  # over the class: every result in the output folder
    max_score: float
    host_protections: dict[str, str]
    class_size: int = 0  # results in the output folder
    not_graded: tuple[Skipped, ...] = ()  # this run's inputs that are not graded, and why


def sources_hash(package: Path) -> str:
    """A digest of a package's modules and templates, by relative path."""
    paths = [*package.rglob("*.py"), *package.rglob("*.po"), *(package / "templates").glob("*")]
    relative = sorted(
        (path.relative_to(package).as_posix(), path)
        for path in paths
        if path.is_file() and "__pycache__" not in path.relative_to(package).parts
    )
    digest = hashlib.sha256()
    for name, path in relative:
        content = path.read_bytes()
        digest.update(f"{name}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()


def grader_sources_hash() -> str:
    """The grader's own code, hashed once per process: a fix to the grader regrades the results
    it stored."""
    with _HASHING:  # a batch's threads all ask at its start: one of them hashes
        return _package_sources_hash()


@functools.cache
def _package_sources_hash() -> str:
    return sources_hash(PACKAGE)


def fingerprint(
    submission: Submission,
    assignment_fingerprint: str,
    public_only: bool = False,
    provenance: dict[str, Any] | None = None,
    lang: str = ENGLISH,
) -> str:
    """What decides whether a stored result is still valid: also who it is for, how the file
    was chosen and the language of its texts, so a result is reused only for the same student,
    the same files and the same language."""
    digest = hashlib.sha256(submission.digest)
    digest.update((submission.error or "").encode())
    digest.update(assignment_fingerprint.encode())
    digest.update(grader_sources_hash().encode())
    if public_only:
        digest.update(b"public cases only")
    if lang != ENGLISH:
        digest.update(f"language {lang}".encode())
    if submission.student is not None:
        digest.update(json.dumps(submission.student.to_json(), sort_keys=True).encode())
    if provenance:
        digest.update(json.dumps(provenance, sort_keys=True).encode())
    return digest.hexdigest()[:24]


def remove_leftovers(out: Path) -> None:
    """Delete temporary files an interrupted batch may have left half-written."""
    for leftover in (*out.glob(".*.tmp"), *out.glob("*/.*.tmp")):
        leftover.unlink(missing_ok=True)


class Executor(Protocol):
    """Grades read submissions into results: the local pool, or a cluster (`grader.cluster`).

    The batch reads, resumes and writes; it does not know where the grading runs.
    """

    # How many submissions it can grade at once: the batch keeps about that many in flight.
    concurrency: int
    host_protections: dict[str, str]

    def grade(self, submission: Submission) -> SubmissionResult:
        """Grade one submission; called from many threads at once."""
        ...


@dataclass
class LocalExecutor:
    """Grading on this machine's warm sandbox workers."""

    pool: WorkerPool
    assignment: Assignment
    public_only: bool
    concurrency: int

    @property
    def host_protections(self) -> dict[str, str]:
        return self.pool.host_protections

    def grade(self, submission: Submission) -> SubmissionResult:
        return grade_one(self.pool, self.assignment, submission, self.public_only)


@contextmanager
def local_executor(
    assignment: Assignment,
    jobs: int | None = None,
    require_isolation: bool = False,
    started: Sequence[subprocess.Popen] = (),
    public_only: bool = False,
) -> Iterator[LocalExecutor]:
    """A pool of `jobs` sandbox workers (all cores unless told), closed on leaving."""
    jobs = jobs or default_size()
    with WorkerPool(sandbox_setup(assignment), jobs, require_isolation, started) as pool:
        yield LocalExecutor(pool, assignment, public_only, jobs)


def grade_batch(
    paths: list[str],
    assignment: Assignment,
    out: Path,
    jobs: int | None = None,
    force: bool = False,
    require_isolation: bool = False,
    progress: Callable[[int, int], None] | None = None,
    started: Sequence[subprocess.Popen] = (),
    public_only: bool = False,
    roster: Roster | None = None,
    executor: Executor | None = None,
    lang: str = ENGLISH,
) -> BatchOutcome:
    """Grade every student's submission under `paths` into `out`, then write the class files
    over every result in `out`; returns counts and the class mean. With no paths, only the
    class files are written.

    `started`: workers from `start_worker()` for the pool to adopt (at most `jobs`).
    `public_only`: grade on the public cases alone, and mark every result so; a released
    bundle, which has no other cases, is refused without it (`NoHiddenCases`).
    `roster`: names for students, by id. `executor`: where to grade (a cluster); by default a
    local pool of `jobs` workers, made only if there is something to grade. `lang`: the
    language of the reports, the summary and the texts of results.json. Raises
    `MissingInput` for a path that does not exist and `OutputUnusable` for an output folder
    that cannot be one.
    """
    if assignment.solution is None and not public_only:
        raise NoHiddenCases(
            f"{assignment.folder} is a released bundle: it has the public cases only, so answers "
            "hard-coded from them would earn full marks. Grade with the instructor's folder "
            "(with assignment.py), or pass --public-only to grade on the public cases and mark "
            "every result as such."
        )
    prepare_output(out)
    with language(lang, assignment.folder):
        return _grade_batch(
            paths, assignment, out, jobs, force, require_isolation, progress, started,
            public_only, roster, executor, lang,
        )  # fmt: skip


def _grade_batch(
    paths: list[str],
    assignment: Assignment,
    out: Path,
    jobs: int | None,
    force: bool,
    require_isolation: bool,
    progress: Callable[[int, int], None] | None,
    started: Sequence[subprocess.Popen],
    public_only: bool,
    roster: Roster | None,
    executor: Executor | None,
    lang: str,
) -> BatchOutcome:
    stats = ClassStatistics(assignment.functions, assignment.max_score)
    with gather(paths, assignment.support_modules, roster, out) as intake:
        graded, unchanged, not_graded, protections = _grade_students(
            intake, assignment, out, stats, jobs, force, require_isolation, progress, started,
            public_only, executor, lang,
        )  # fmt: skip
    skipped = sorted((*intake.skipped, *not_graded), key=lambda item: (item.input, item.reason))
    if stats.count or any(True for _ in result_folders(out)):
        write_class_files(
            out,
            assignment,
            stats,
            [{**item.to_json(), "origin": item.origin} for item in skipped],
            intake.examined,
        )
    return BatchOutcome(
        graded,
        unchanged,
        len(intake.planned),
        stats.mean,
        assignment.max_score,
        protections,
        stats.count,
        tuple(skipped),
    )


def prepare_output(out: Path) -> None:
    """Make the output folder, or say in words why it cannot be one."""
    if out.exists() and not out.is_dir():
        raise OutputUnusable(f"--out {out} is a file, not a folder: name a folder for the class.")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as problem:
        raise OutputUnusable(f"--out {out} could not be made ({problem.strerror}).") from None
    remove_leftovers(out)


def _grade_students(
    intake: Intake,
    assignment: Assignment,
    out: Path,
    stats: ClassStatistics,
    jobs: int | None,
    force: bool,
    require_isolation: bool,
    progress: Callable[[int, int], None] | None,
    started: Sequence[subprocess.Popen],
    public_only: bool,
    executor: Executor | None,
    lang: str,
) -> tuple[int, int, list[Skipped], dict[str, str]]:
    """Grade each planned student, in the language of the calling context; returns how many
    were graded and unchanged, the students' files not chosen, and the host's sandbox
    protections."""
    if not intake.planned:
        return 0, 0, [], {}
    assignment_print = assignment.fingerprint
    graded = unchanged = 0
    passed_over: list[Skipped] = []
    counting = threading.Lock()

    def count(document: dict, others: tuple[Skipped, ...]) -> None:
        with counting:
            stats.add(document)
            passed_over.extend(others)

    def work(planned: Planned) -> bool:
        graded_at = datetime.now(UTC).isoformat(timespec="seconds")
        source, provenance, others = planned.candidates[-1].found.source, {}, ()
        try:
            chosen = choose(planned, assignment.functions)
            source, provenance, others = (
                chosen.submission.source,
                chosen.provenance(),
                chosen.skipped,
            )
            stamp = fingerprint(chosen.submission, assignment_print, public_only, provenance, lang)
            if not force:
                previous = read_results(out, planned.folder)
                if previous and previous.get("fingerprint") == stamp:
                    count(previous, others)
                    return False
            result = grading.grade(chosen.submission)
            document = write_submission(
                out, result, assignment, stamp, graded_at, public_only, provenance
            )
        except Exception:  # a fault of ours costs this submission only, never the batch
            logger.exception("internal error while grading %s", source)
            failed = unreadable_result(
                assignment, planned.folder, source, _(INTERNAL_ERROR), public_only
            )
            failed = dataclasses.replace(failed, student=planned.student)
            document = results_document(failed, "", graded_at, public_only, provenance)
            write_atomic(out / planned.folder / "results.json", readable_json(document))
        count(document, others)
        return True

    chosen_executor = (
        nullcontext(executor)
        if executor is not None
        else local_executor(assignment, jobs, require_isolation, started, public_only)
    )
    with chosen_executor as grading:
        # Two threads per submission in grading: while one writes a report, the other keeps
        # the grading busy.
        with ThreadPoolExecutor(2 * grading.concurrency) as threads:
            pending: set[Future] = set()
            done_count = 0
            items = iter(intake.planned)
            while True:
                in_flight = 4 * grading.concurrency
                while len(pending) < in_flight and (planned := next(items, None)) is not None:
                    # Each in a copy of this context: it carries the language.
                    pending.add(threads.submit(copy_context().run, work, planned))
                if not pending:
                    break
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    if future.result():
                        graded += 1
                    else:
                        unchanged += 1
                    done_count += 1
                    if progress:
                        progress(done_count, len(intake.planned))
    return graded, unchanged, passed_over, grading.host_protections
