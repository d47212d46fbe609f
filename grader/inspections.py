"""Ungraded inspections: a function the notebook redefines, compared entry by entry with the
reference, such as the provided `backward_propagation_n` the exercise asks students to fix.

The function runs in the sandbox like any graded one, in the same job, on the inputs the
assignment declares; only its returned value comes back. It is judged here, in the grader's
process, against the reference's values. Nothing here changes a score.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from grader.extract import Chunk, Extraction, extract
from grader.i18n import N_, _, current_language, listing
from grader.read import Cell
from grader.run import referenced
from grader.sandbox.pool import FunctionJob, FunctionRun
from grader.score import said_where
from grader.spec import Assignment, Inspection

# The inspected function makes no call whose answer the grader knows in advance. One object
# for every job, so that the job's fixed part is encoded once (`pool._job_json`).
_NO_ANSWERS: dict[str, Any] = {}
# The verdict on a version of an inspected function, by the inspection, the language its words
# are in and the code that ran: a class submits few versions (the released cell untouched, the
# two lines fixed), so each runs and is judged once per process and language.
_VERDICTS: dict[tuple[int, str, tuple[Chunk, ...]], tuple[Inspection, InspectionResult]] = {}
MAX_REMEMBERED_VERDICTS = 4096


class InspectionStatus(StrEnum):
    """How running the inspected function ended; its value is what results.json holds."""

    COMPARED = "compared"  # it returned a dict: each entry is judged
    NOT_A_DICT = "not_a_dict"
    ERROR = "error"  # it raised, could not be defined, or its process ended
    TIMEOUT = "timeout"
    SYNTAX_ERROR = "syntax_error"


class EntryStatus(StrEnum):
    """What one entry of the returned dict is, next to the reference's."""

    RIGHT = "right"
    WRONG = "wrong"
    MISSING = "missing"
    WRONG_SHAPE = "wrong_shape"
    NOT_NUMBERS = "not_numbers"
    NOT_FINITE = "not_finite"


@dataclass(frozen=True)
class EntryResult:
    """One entry (a parameter block's gradient) judged against the reference's value."""

    name: str
    status: EntryStatus
    difference: float | None = None  # the relative difference, where both are numbers
    shape: tuple[int, ...] | None = None  # what the student's has, when the shape is wrong
    expected_shape: tuple[int, ...] | None = None

    @property
    def right(self) -> bool:
        return self.status is EntryStatus.RIGHT

    @property
    def verdict(self) -> str:
        """The entry's verdict in words, as the report's table and the summary sentence say it,
        in the active language."""
        if self.status is EntryStatus.WRONG_SHAPE:
            return _(ENTRY_VERDICTS[self.status]).format(
                shape=_shape(self.shape), expected=_shape(self.expected_shape)
            )
        return _(ENTRY_VERDICTS[self.status])

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": self.name,
            "status": self.status,
            "right": self.right,
            "difference": self.difference,
        }
        if self.status is EntryStatus.WRONG_SHAPE:
            entry.update(
                shape=list(self.shape or ()), expected_shape=list(self.expected_shape or ())
            )
        return entry


ENTRY_VERDICTS = {
    EntryStatus.RIGHT: N_("right"),
    EntryStatus.WRONG: N_("wrong"),
    EntryStatus.MISSING: N_("missing from the returned dict"),
    EntryStatus.WRONG_SHAPE: N_("shape {shape} instead of {expected}"),
    EntryStatus.NOT_NUMBERS: N_("not an array of numbers"),
    EntryStatus.NOT_FINITE: N_("holds NaN or infinity"),
}


@dataclass(frozen=True)
class InspectionResult:
    """What the report says of the student's version of an inspected function."""

    function: str
    status: InspectionStatus
    message: str
    about: str = ""
    cell: int | None = None
    entries: tuple[EntryResult, ...] = ()

    @property
    def right(self) -> bool:
        """Every entry matches the reference's."""
        return self.status is InspectionStatus.COMPARED and all(e.right for e in self.entries)

    def to_json(self) -> dict[str, Any]:
        """The inspection's entry under `inspections` in results.json."""
        return {
            "status": self.status,
            "right": self.right,
            "message": self.message,
            "cell": self.cell,
            "blocks": [entry.to_json() for entry in self.entries],
        }


def relative_difference(value: np.ndarray, expected: np.ndarray) -> float:
    """||a - b|| / (||a|| + ||b||), the exercise's own measure; 0 when both are zero.

    It does not change with the scale, so both are scaled to at most 1 first: huge finite
    values cannot overflow the norms into a difference that is not a number."""
    scale = max(np.abs(value).max(initial=0.0), np.abs(expected).max(initial=0.0))
    if not scale:
        return 0.0
    value, expected = value / scale, expected / scale
    denominator = np.linalg.norm(value) + np.linalg.norm(expected)
    return float(np.linalg.norm(value - expected) / denominator)


def inspected_extractions(assignment: Assignment, cells: tuple[Cell, ...]) -> dict[str, Extraction]:
    """The inspected functions the notebook defines, extracted as graded ones are: a function
    the notebook leaves to the assignment's prelude has nothing to report."""
    if not assignment.inspections:
        return {}
    names = tuple(inspection.function for inspection in assignment.inspections)
    found = extract(cells, names, assignment.provided, referenced(assignment))
    return {
        name: extraction for name, extraction in found.items() if extraction.status != "missing"
    }


def inspection_jobs(
    assignment: Assignment, extractions: Mapping[str, Extraction]
) -> list[FunctionJob]:
    """A sandbox job per inspected function to run with the graded functions': one the notebook
    defines, in a version that has not run before."""
    jobs = []
    for inspection in assignment.inspections:
        extraction = extractions.get(inspection.function)
        if extraction is None or extraction.status != "found":
            continue
        if _remembered(inspection, extraction) is not None:
            continue
        chunks = tuple(
            {"cell": c.cell, "first_line": c.first_line, "code": c.code, "optional": c.optional}
            for c in extraction.chunks
        )
        jobs.append(
            FunctionJob(
                name=inspection.function,
                chunks=chunks,
                calls=(inspection.args,),
                public=1,  # the assignment's public inputs: the student sees what it raised
                rpc=referenced(assignment),
                time_limit=assignment.time_limit,
                answers=(_NO_ANSWERS,),
                shared=(None,),
                models=(None,),
            )
        )
    return jobs


def judge_inspections(
    assignment: Assignment,
    extractions: Mapping[str, Extraction],
    runs: Mapping[str, FunctionRun],
) -> dict[str, InspectionResult]:
    """Each inspected function the notebook defines, judged entry by entry on its run in
    `runs`; a version judged before keeps that verdict."""
    judged = {}
    for inspection in assignment.inspections:
        extraction = extractions.get(inspection.function)
        if extraction is None:
            continue
        run = runs.get(inspection.function)
        verdict = _remembered(inspection, extraction) if run is None else None
        if verdict is None:
            verdict = _judge(inspection, extraction, run, assignment.time_limit)
            if run is not None and run.status == "ok":  # a timeout may come from load
                _remember(inspection, extraction, verdict)
        judged[inspection.function] = verdict
    return judged


def _remembered(inspection: Inspection, extraction: Extraction) -> InspectionResult | None:
    hit = _VERDICTS.get((id(inspection), current_language(), extraction.chunks))
    return hit[1] if hit is not None and hit[0] is inspection else None


def _remember(inspection: Inspection, extraction: Extraction, verdict: InspectionResult) -> None:
    if len(_VERDICTS) >= MAX_REMEMBERED_VERDICTS:
        _VERDICTS.clear()
    # The entry keeps the inspection alive, so its id stays its own.
    _VERDICTS[id(inspection), current_language(), extraction.chunks] = (inspection, verdict)


def _judge(
    inspection: Inspection, extraction: Extraction, run: FunctionRun | None, time_limit: float
) -> InspectionResult:
    about = _(inspection.about) if inspection.about else ""

    def said(status: InspectionStatus, message: str) -> InspectionResult:
        return InspectionResult(inspection.function, status, message, about, extraction.cell)

    if extraction.status == "syntax_error":
        return said(InspectionStatus.SYNTAX_ERROR, extraction.message)
    if run is not None and run.status == "timeout" and not run.results:
        return said(InspectionStatus.TIMEOUT, _(TIMED_OUT).format(seconds=f"{time_limit:g}"))
    if run is not None and run.status == "define_error":
        error = _error_text(run.define_error)
        return said(InspectionStatus.ERROR, _(NOT_DEFINED).format(error=error))
    if run is None or not run.results:
        ended = run.detail if run is not None and run.detail else None
        detail = ended or _("the process running it ended")
        return said(InspectionStatus.ERROR, _(NOT_RUN).format(detail=detail))
    result = run.results[0]  # a value it returned counts, even if its process ended after
    if result.error is not None:
        return said(InspectionStatus.ERROR, _(RAISED).format(error=_error_text(result.error)))
    if not isinstance(result.value, dict):
        kind = type(result.value).__name__
        names = listing(inspection.expected)
        return said(InspectionStatus.NOT_A_DICT, _(NOT_A_DICT).format(kind=kind, names=names))
    entries = tuple(
        _entry(name, result.value, expected, inspection.tolerance)
        for name, expected in inspection.expected.items()
    )
    return InspectionResult(
        inspection.function,
        InspectionStatus.COMPARED,
        _summary(entries),
        about,
        extraction.cell,
        entries,
    )


NOT_RUN = N_("It did not run to the end: {detail}.")
TIMED_OUT = N_(
    "It did not return within the time limit of {seconds} s: look for a loop that never ends."
)
NOT_DEFINED = N_("It could not be defined: {error}")
RAISED = N_("It raised {error}")
NOT_A_DICT = N_("It returned a {kind}, not a dict with the entries {names}.")
ALL_RIGHT = N_("All right: {right}.")
SOME_WRONG = N_("Not right yet: {wrong}.")
SOME_WRONG_OTHERS_RIGHT = N_("Not right yet: {wrong}. Right: {right}.")
WRONG_BY = N_("{name} (relative difference {difference})")
WRONG_HOW = N_("{name} ({verdict})")


def _entry(name: str, returned: dict, expected: Any, tolerance: float) -> EntryResult:
    if name not in returned:
        return EntryResult(name, EntryStatus.MISSING)
    reference = np.asarray(expected, dtype=float)
    try:
        value = np.asarray(returned[name])
    except ValueError:  # nested lists of different lengths
        return EntryResult(name, EntryStatus.NOT_NUMBERS)
    if value.dtype.kind not in "biuf":
        return EntryResult(name, EntryStatus.NOT_NUMBERS)
    if value.shape != reference.shape:
        return EntryResult(name, EntryStatus.WRONG_SHAPE, None, value.shape, reference.shape)
    if not np.isfinite(value).all():
        return EntryResult(name, EntryStatus.NOT_FINITE)
    difference = relative_difference(value.astype(float), reference)
    status = EntryStatus.RIGHT if difference < tolerance else EntryStatus.WRONG
    return EntryResult(name, status, difference)


def _summary(entries: tuple[EntryResult, ...]) -> str:
    """One sentence: which entries are wrong, and how, then which are right."""
    right = listing(entry.name for entry in entries if entry.right)
    wrong = listing(
        _(WRONG_BY).format(name=entry.name, difference=difference_text(entry.difference))
        if entry.status is EntryStatus.WRONG
        else _(WRONG_HOW).format(name=entry.name, verdict=entry.verdict)
        for entry in entries
        if not entry.right
    )
    if not wrong:
        return _(ALL_RIGHT).format(right=right)
    if not right:
        return _(SOME_WRONG).format(wrong=wrong)
    return _(SOME_WRONG_OTHERS_RIGHT).format(wrong=wrong, right=right)


def difference_text(difference: float | None) -> str:
    """A relative difference as a report shows it: two significant digits; empty if none."""
    return "" if difference is None else f"{difference:.2g}"


def _shape(shape: tuple[int, ...] | None) -> str:
    return str(tuple(shape or ()))


def _error_text(error: Mapping[str, Any] | None) -> str:
    """An error the sandbox reported: its kind, message and where it was raised."""
    error = error or {}
    text = f"{error.get('type', 'Error')}: {error.get('message', '')}"
    if error.get("where"):
        return _("{error} ({where}).").format(error=text, where=said_where(error["where"]))
    return _("{error}.").format(error=text)
