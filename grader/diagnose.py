"""Diagnose: name the known mistake a wrong function makes, from what it returns.

A mistake is named only when the student's results agree with one of its mutants on every
call the function was given (its cases and the assignment's probes), and with no other
mistake's: a wrong name is worse than none. Mutants run here, in the grader's process, with
the student's calls of other graded functions answered as they were in the sandbox.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from grader.compare import Close
from grader.i18n import _
from grader.sandbox import protocol
from grader.sandbox.pool import CallResult
from grader.spec import Assignment, Case, Probe, RecordedMutant, released_key, substituted

# How close, relatively, a student's result must be to a mutant's to count as its behaviour;
# the assignment's `noise` adds an absolute margin per function.
MATCH_RTOL = 1e-6


@dataclass(frozen=True)
class Diagnosis:
    """A mistake named to a student: what it is, why it is wrong, and what to compute."""

    id: str
    title: str
    explanation: str
    formula: str

    def to_json(self) -> dict[str, str]:
        return {"id": self.id, "title": self.title, "explanation": self.explanation}


def diagnose(
    assignment: Assignment,
    function: str,
    calls: Sequence[Case | Probe],
    results: Sequence[CallResult],
) -> Diagnosis | None:
    """The one mistake of the catalog whose behaviour `results` show, or None.

    A function that returned one value for every input without calling anything shows no
    formula: it can only be matched with a mistake that ignores its input, and the other way
    round.
    """
    if len(results) != len(calls) or any(result.error is not None for result in results):
        return None
    ignores_input = _ignores_input([r.value for r in results], any(r.called for r in results))
    atol = assignment.noise.get(function, 0.0)
    found = [
        mistake
        for mistake in assignment.mistakes
        if any(
            _behaves_like(assignment, variant, calls, results, ignores_input, atol)
            for variant in mistake.mutants.get(function, ())
        )
    ]
    if len(found) != 1:
        return None
    mistake = found[0]
    # Its words in the active language; the formula is notation, the same in every language.
    return Diagnosis(mistake.id, _(mistake.title), _(mistake.explanation), mistake.formula)


def _ignores_input(values: list[Any], made_calls: bool) -> bool:
    if made_calls or len(values) < 2:
        return False
    first = protocol.compact(protocol.encode(values[0]))
    return all(protocol.compact(protocol.encode(v)) == first for v in values[1:])


def _behaves_like(
    assignment: Assignment,
    variant: Callable[..., Any] | RecordedMutant,
    calls: Sequence[Case | Probe],
    results: Sequence[CallResult],
    ignores_input: bool,
    atol: float,
) -> bool:
    # A value written in is the very value copied, not one within rounding noise of it.
    margin = 0.0 if ignores_input else atol
    outcomes = []
    for call, result in zip(calls, results, strict=True):
        # Call by call, so that a mutant stops running at its first disagreement.
        outcome = _mutant_outcome(assignment, variant, call, result.called)
        if outcome is None or not _agrees(outcome[0], result.value, margin):
            return False
        outcomes.append(outcome)
    values = [value for value, _ in outcomes]
    return _ignores_input(values, any(called for _, called in outcomes)) == ignores_input


def _agrees(mutant: Any, student: Any, atol: float) -> bool:
    """Whether two results are the same behaviour: numbers and arrays equal within the margins,
    nan where the other has nan (0/0 in an element-wise mistake); anything else part by part."""
    if student is None or isinstance(student, str):
        return False
    if type(mutant) is float and type(student) in (float, int):
        # Most results are one number: compared here without building arrays.
        if mutant != mutant:
            return student != student
        return abs(student - mutant) <= atol + MATCH_RTOL * abs(mutant)
    try:
        expected, got = np.asarray(mutant, dtype=float), np.asarray(student, dtype=float)
    except (TypeError, ValueError):
        return Close(mutant, rtol=MATCH_RTOL, atol=atol).judge(student).passed
    return expected.shape == got.shape and bool(
        np.allclose(got, expected, rtol=MATCH_RTOL, atol=atol, equal_nan=True)
    )


_OUTCOMES: dict[tuple, tuple[Callable[..., Any], Case | Probe, tuple[Any, bool] | None]] = {}
_COMPUTING = threading.Lock()


def _mutant_outcome(
    assignment: Assignment,
    variant: Callable[..., Any] | RecordedMutant,
    call: Case | Probe,
    called: frozenset[str],
) -> tuple[Any, bool] | None:
    """What a mutant returns on a call, and whether it called another graded function; None
    if it raised. Worked out once per call and set of answered functions, for every student."""
    if isinstance(variant, RecordedMutant):
        return variant.outcomes.get(released_key(call.args))
    model = assignment.models.get(call.model, {}) if call.model else {}
    answered = called & frozenset(model)
    key = (id(variant), id(call), answered)
    hit = _OUTCOMES.get(key)
    if hit is None or hit[0] is not variant or hit[1] is not call:
        with _COMPUTING:  # the batch's threads ask at once; each outcome is computed once
            hit = _OUTCOMES.get(key)
            if hit is None or hit[0] is not variant or hit[1] is not call:
                outcome = _run_mutant(assignment, variant, call, answered, model)
                hit = _OUTCOMES[key] = (variant, call, outcome)
    return hit[2]


def _run_mutant(
    assignment: Assignment,
    variant: Callable[..., Any],
    call: Case | Probe,
    answered: frozenset[str],
    model: dict[str, Callable[..., Any]],
) -> tuple[Any, bool] | None:
    made: list[str] = []

    def recording(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def answer(*args: Any, **kwargs: Any) -> Any:
            made.append(name)
            return function(*args, **kwargs)

        return answer

    names = getattr(getattr(variant, "__code__", None), "co_names", ())
    others = {
        name: recording(name, _answering(assignment, model, answered, name))
        for name in assignment.functions
        if name in names and name != call.function
    }
    runnable = substituted(variant, others) if others else variant
    try:
        with np.errstate(all="ignore"):  # 0/0 is a mistake's own behaviour, not a warning
            value = runnable(*copy.deepcopy(call.args))
        # What the student's value went through: the same encoding, so both compare alike.
        value = protocol.decode(protocol.encode(value))
    except Exception:  # noqa: BLE001 - a mutant that cannot run on a call matches nobody
        return None
    return value, bool(made)


def _answering(
    assignment: Assignment,
    model: dict[str, Callable[..., Any]],
    answered: frozenset[str],
    name: str,
) -> Callable[..., Any]:
    """What answered the student's call of `name`: the model where it did, else the reference."""
    return model[name] if name in answered else getattr(assignment.solution, name)


def recorded(
    assignment: Assignment, variant: Callable[..., Any], calls: Sequence[Case | Probe]
) -> dict[str, tuple[Any, bool] | None]:
    """A mutant's outcomes on calls no model answers, by `released_key`: what a released
    bundle carries in place of the mutant (`grader.release`)."""
    return {
        released_key(call.args): _mutant_outcome(assignment, variant, call, frozenset())
        for call in calls
    }
