"""Run stage: turn a submission's extracted functions into sandbox jobs and run them."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Sequence
from typing import Any

from grader.extract import Extraction
from grader.sandbox import protocol
from grader.sandbox.pool import FunctionJob, FunctionRun, Setup, WorkerPool
from grader.score import ordered_calls
from grader.spec import Assignment, Case, Probe, substituted


def referenced(assignment: Assignment) -> tuple[str, ...]:
    """The graded functions a reference answers when another graded function calls them.

    None in a released bundle: there, a graded function calls the student's own version.
    """
    return assignment.functions if assignment.solution is not None else ()


def sandbox_setup(assignment: Assignment) -> Setup:
    """What every worker gets: public support code and the public cases' arguments only, and
    the reference functions to call."""
    references = {name: getattr(assignment.solution, name) for name in referenced(assignment)}
    # A child may run every graded and inspected function: each within its time limit.
    functions = len(assignment.functions) + len(assignment.inspections)
    limits = {"cpu_seconds": (int(assignment.time_limit) + 1) * functions}
    public = [call.args for call in _public_calls(assignment)]
    return Setup(
        assignment.support_modules,
        assignment.prelude,
        references,
        assignment.models,
        limits,
        public,
    )


def _public_calls(assignment: Assignment) -> list[Case | Probe]:
    return [case for case in assignment.cases if not case.hidden] + list(assignment.probes)


def function_jobs(
    assignment: Assignment, extractions: dict[str, Extraction], public_only: bool = False
) -> list[FunctionJob]:
    """One job per function that was found; the others have nothing to run."""
    jobs = []
    shared = {id(call): index for index, call in enumerate(_public_calls(assignment))}
    for name, extraction in extractions.items():
        if extraction.status != "found":
            continue
        chunks = tuple(
            {"cell": c.cell, "first_line": c.first_line, "code": c.code, "optional": c.optional}
            for c in extraction.chunks
        )
        ordered = ordered_calls(assignment, name, public_only)
        calls = tuple(call.args for call in ordered)
        public = sum(not (isinstance(call, Case) and call.hidden) for call in ordered)
        rpc = tuple(other for other in referenced(assignment) if other != name)
        answers = tuple(reference_answers(assignment, call) for call in ordered)
        where = tuple(shared.get(id(call)) for call in ordered)
        models = tuple(call.model for call in ordered)
        jobs.append(
            FunctionJob(
                name, chunks, calls, public, rpc, assignment.time_limit, answers, where, models
            )
        )
    return jobs


_ANSWERS: dict[int, tuple[Case | Probe, dict[str, Any]]] = {}
_TRACING = threading.Lock()


def reference_answers(assignment: Assignment, case: Case | Probe) -> dict[str, Any]:
    """The calls the reference solution makes to other graded functions on `case`, answered.

    A student's function that makes the same calls is answered in its child, without a round
    trip to the grader. The answers are those of the case's own inputs, sent with its calls
    (hidden ones only in the hidden phase), and never the expected value of any case.
    """
    hit = _ANSWERS.get(id(case))
    if hit is None or hit[0] is not case:
        with _TRACING:  # the batch's threads ask at once; each case is traced once
            hit = _ANSWERS.get(id(case))
            if hit is None or hit[0] is not case:
                hit = _ANSWERS[id(case)] = (case, _traced_answers(assignment, case))
    return hit[1]


def _traced_answers(assignment: Assignment, case: Case | Probe) -> dict[str, Any]:
    if assignment.solution is None:  # a released bundle: no reference to trace or call
        return {}
    graded = getattr(assignment.solution, case.function)
    # Only the calls the function makes itself are traced: none, unless it names another
    # graded function (calls through a helper of the solution are left to round trips).
    others = [
        name
        for name in referenced(assignment)
        if name != case.function and name in graded.__code__.co_names
    ]
    if not others:
        return {}
    answers: dict[str, Any] = {}
    modelled: set[str] = set()

    def recording(name: str, function: Callable[..., Any], model: bool) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            value = function(*args, **kwargs)
            key = _call_key(name, args, kwargs)
            answers[key] = protocol.encode(value)
            if model:
                modelled.add(key)
            return value

        return call

    model = assignment.models.get(case.model, {}) if case.model else {}
    names = {
        name: recording(name, model.get(name) or getattr(assignment.solution, name), name in model)
        for name in others
    }
    traced = substituted(graded, names)
    try:
        traced(*copy.deepcopy(case.args))
    except Exception:  # noqa: BLE001 - without answers, every call makes its round trip
        return {}
    # A model's answer to a case's own call is not that case's expected value: it may go.
    own = {_call_key(c.function, c.args, {}) for c in assignment.cases} - modelled
    return {key: value for key, value in answers.items() if key not in own}


def _call_key(name: str, args: tuple, kwargs: dict) -> str:
    """The key under which a child looks up a call (see `harness._stub`)."""
    return protocol.call_key(name, protocol.encode(list(args)), protocol.encode(kwargs))


def run_functions(
    pool: WorkerPool,
    assignment: Assignment,
    extractions: dict[str, Extraction],
    public_only: bool = False,
    also: Sequence[FunctionJob] = (),
) -> tuple[dict[str, FunctionRun], tuple[str, ...]]:
    """Run every found function, and the jobs `also` given (ungraded inspections), in one
    worker; returns runs by name and the protections used."""
    jobs = [*function_jobs(assignment, extractions, public_only), *also]
    if not jobs:
        return {}, ()
    runs, protections = pool.run(jobs)
    return {run.name: run for run in runs}, protections
