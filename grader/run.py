"""Run stage: turn a submission's extracted functions into sandbox jobs and run them."""

from __future__ import annotations

from grader.extract import Extraction
from grader.sandbox.pool import FunctionJob, FunctionRun, Setup, WorkerPool
from grader.score import ordered_cases
from grader.spec import Assignment


def referenced(assignment: Assignment) -> tuple[str, ...]:
    """The graded functions a reference answers when another graded function calls them.

    None in a released bundle: there, a graded function calls the student's own version.
    """
    return assignment.functions if assignment.solution is not None else ()


def sandbox_setup(assignment: Assignment) -> Setup:
    """What every worker gets: public support code only, and the reference functions to call."""
    references = {name: getattr(assignment.solution, name) for name in referenced(assignment)}
    limits = {"cpu_seconds": (int(assignment.time_limit) + 1) * len(assignment.functions)}
    return Setup(assignment.support_modules, assignment.prelude, references, limits)


def function_jobs(
    assignment: Assignment, extractions: dict[str, Extraction], public_only: bool = False
) -> list[FunctionJob]:
    """One job per function that was found; the others have nothing to run."""
    jobs = []
    for name, extraction in extractions.items():
        if extraction.status != "found":
            continue
        chunks = tuple(
            {"cell": c.cell, "first_line": c.first_line, "code": c.code, "optional": c.optional}
            for c in extraction.chunks
        )
        cases = ordered_cases(assignment, name, public_only)
        calls = tuple(case.args for case in cases)
        public = sum(not case.hidden for case in cases)
        rpc = tuple(other for other in referenced(assignment) if other != name)
        jobs.append(FunctionJob(name, chunks, calls, public, rpc, assignment.time_limit))
    return jobs


def run_functions(
    pool: WorkerPool,
    assignment: Assignment,
    extractions: dict[str, Extraction],
    public_only: bool = False,
) -> tuple[dict[str, FunctionRun], tuple[str, ...]]:
    """Run every found function in one worker; returns runs by name and the protections used."""
    jobs = function_jobs(assignment, extractions, public_only)
    if not jobs:
        return {}, ()
    runs, protections = pool.run(jobs)
    return {run.name: run for run in runs}, protections
