"""Grade a batch: read → extract → run → score → report, per submission, in parallel.

Results stream to disk as they finish. A submission already graded with the same content
and assignment is skipped, so an interrupted batch resumes where it stopped.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import subprocess
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import grader
from grader.extract import extract
from grader.read import Submission, find_files, read_submission, unique_ids
from grader.report import (
    ClassStatistics,
    read_results,
    readable_json,
    results_document,
    write_atomic,
    write_class_files,
    write_submission,
)
from grader.run import referenced, run_functions, sandbox_setup
from grader.sandbox.launch import default_size
from grader.sandbox.pool import WorkerPool
from grader.score import SubmissionResult, score_submission, unreadable_result
from grader.spec import Assignment

logger = logging.getLogger(__name__)
PACKAGE = Path(grader.__file__).resolve().parent
_HASHING = threading.Lock()
INTERNAL_ERROR = (
    "The grader itself failed on this submission, through no fault of the file; the details "
    "are in the grader's log and the next run will try again."
)


class NoHiddenCases(Exception):
    """A released bundle to grade without --public-only: hard-coded answers would pass."""


@dataclass(frozen=True)
class BatchOutcome:
    graded: int
    skipped: int
    submissions: int
    mean: float
    max_score: float
    host_protections: dict[str, str]


def sources_hash(package: Path) -> str:
    """A digest of a package's modules and templates, by relative path."""
    paths = [*package.rglob("*.py"), *(package / "templates").glob("*")]
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
    submission: Submission, assignment_fingerprint: str, public_only: bool = False
) -> str:
    """What decides whether a stored result is still valid."""
    digest = hashlib.sha256(submission.digest)
    digest.update((submission.error or "").encode())
    digest.update(assignment_fingerprint.encode())
    digest.update(grader_sources_hash().encode())
    if public_only:
        digest.update(b"public cases only")
    return digest.hexdigest()[:24]


def remove_leftovers(out: Path) -> None:
    """Delete temporary files an interrupted batch may have left half-written."""
    for leftover in (*out.glob(".*.tmp"), *out.glob("*/.*.tmp")):
        leftover.unlink(missing_ok=True)


def grade_one(
    pool: WorkerPool, assignment: Assignment, submission: Submission, public_only: bool = False
) -> SubmissionResult:
    """Grade one submission that has been read."""
    if submission.error is not None:
        return unreadable_result(
            assignment, submission.id, submission.source, submission.error, public_only
        )
    extractions = extract(
        submission.cells, assignment.functions, assignment.provided, referenced(assignment)
    )
    runs, protections = run_functions(pool, assignment, extractions, public_only)
    return score_submission(
        assignment, submission.id, submission.source, extractions, runs, public_only, protections
    )


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
) -> BatchOutcome:
    """Grade every submission under `paths` into `out`; returns counts and the class mean.

    `started`: workers from `start_worker()` for the pool to adopt (at most `jobs`).
    `public_only`: grade on the public cases alone, and mark every result so; a released
    bundle, which has no other cases, is refused without it (`NoHiddenCases`).
    """
    if assignment.solution is None and not public_only:
        raise NoHiddenCases(
            f"{assignment.folder} is a released bundle: it has the public cases only, so answers "
            "hard-coded from them would earn full marks. Grade with the instructor's folder "
            "(with assignment.py), or pass --public-only to grade on the public cases and mark "
            "every result as such."
        )
    out.mkdir(parents=True, exist_ok=True)
    remove_leftovers(out)
    files = find_files(paths)
    ids = list(unique_ids(source for source, _ in files))
    jobs = jobs or default_size()
    assignment_print = assignment.fingerprint
    graded = skipped = 0
    stats = ClassStatistics(assignment.functions, assignment.max_score)
    counting = threading.Lock()

    def count(document: dict) -> None:
        with counting:
            stats.add(document)

    def work(submission_id: str, source: str, path: Path) -> bool:
        submission = read_submission(submission_id, source, path)
        stamp = fingerprint(submission, assignment_print, public_only)
        if not force:
            previous = read_results(out, submission_id)
            if previous and previous.get("fingerprint") == stamp:
                count(previous)
                return False
        graded_at = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            result = grade_one(pool, assignment, submission, public_only)
            count(write_submission(out, result, assignment, stamp, graded_at, public_only))
        except Exception:  # a fault of ours costs this submission only, never the batch
            logger.exception("internal error while grading %s", source)
            failed = unreadable_result(
                assignment, submission_id, source, INTERNAL_ERROR, public_only
            )
            document = results_document(failed, "", graded_at, public_only)
            write_atomic(out / submission_id / "results.json", readable_json(document))
            count(document)
        return True

    # Two threads per worker: while one writes a report, the other keeps the worker busy.
    with (
        WorkerPool(sandbox_setup(assignment), jobs, require_isolation, started) as pool,
        ThreadPoolExecutor(2 * jobs) as executor,
    ):
        pending: set[Future] = set()
        done_count = 0
        items = iter(zip(ids, files, strict=True))
        while True:
            while len(pending) < 4 * jobs and (item := next(items, None)) is not None:
                submission_id, (source, path) = item
                pending.add(executor.submit(work, submission_id, source, path))
            if not pending:
                break
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                if future.result():
                    graded += 1
                else:
                    skipped += 1
                done_count += 1
                if progress:
                    progress(done_count, len(ids))
    write_class_files(out, ids, assignment, stats)
    return BatchOutcome(
        graded, skipped, len(ids), stats.mean, assignment.max_score, pool.host_protections
    )
