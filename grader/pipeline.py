"""One read submission through the pipeline: extract, run, score, and the ungraded
inspections. The batch, `grader check`, the service, the cluster and `grader release` all
grade a submission with it; it imports nothing of the reports, for `grader check`'s sake."""

from __future__ import annotations

import dataclasses

from grader.extract import extract
from grader.inspections import inspected_extractions, inspection_jobs, judge_inspections
from grader.read import Submission
from grader.run import referenced, run_functions
from grader.sandbox.pool import WorkerPool
from grader.score import SubmissionResult, score_submission, unreadable_result
from grader.spec import Assignment


def grade_one(
    pool: WorkerPool, assignment: Assignment, submission: Submission, public_only: bool = False
) -> SubmissionResult:
    """Grade one submission that has been read."""
    if submission.error is not None:
        result = unreadable_result(
            assignment, submission.id, submission.source, submission.error, public_only
        )
    else:
        extractions = extract(
            submission.cells, assignment.functions, assignment.provided, referenced(assignment)
        )
        inspected = inspected_extractions(assignment, submission.cells)
        also = inspection_jobs(assignment, inspected)
        runs, protections = run_functions(pool, assignment, extractions, public_only, also)
        result = score_submission(
            assignment,
            submission.id,
            submission.source,
            extractions,
            runs,
            public_only,
            protections,
        )
        inspections = judge_inspections(assignment, inspected, runs)
        result = dataclasses.replace(result, inspections=inspections)
    return dataclasses.replace(result, student=submission.student)
