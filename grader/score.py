"""Score: judge each case's returned value and turn a submission's runs into its results.

Every function is scored on its own cases only. A hidden case's failure names its kind, never
its input, its expected value or what the student's code printed or raised.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction
from typing import TYPE_CHECKING, Any, NamedTuple

from grader.compare import Verdict, describe
from grader.diagnose import Diagnosis, diagnose
from grader.extract import Extraction, strip_magics
from grader.i18n import N_, _, ngettext, sentences
from grader.intake.identity import Student
from grader.sandbox import protocol
from grader.sandbox.pool import CallResult, FunctionRun
from grader.spec import Assignment, Case, Probe

if TYPE_CHECKING:
    from grader.inspections import InspectionResult


class Status(StrEnum):
    """How a function or a case ended. Its value is what results.json holds; members are in
    the order reports list them, best first."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    TIMEOUT = "timeout"
    MISSING = "missing"
    SYNTAX_ERROR = "syntax_error"

    @property
    def label(self) -> str:
        """The status in words, as reports show it, in the active language."""
        return _(_STATUS_LABELS[self])

    @property
    def symbol(self) -> str:
        """The one-character mark reports put beside the label."""
        return _STATUS_SYMBOLS[self]

    @property
    def tag(self) -> str:
        """The short capitalised word `grader check` prints in its column of statuses."""
        return _(_STATUS_TAGS[self])

    @classmethod
    def known(cls, value: str) -> Status | None:
        """The member for a value read back from results.json; None for a status this version
        does not know (an older or newer results.json), which is shown as it is."""
        try:
            return cls(value)
        except ValueError:
            return None


_STATUS_LABELS = {
    Status.PASSED: N_("passed"),
    Status.FAILED: N_("wrong result"),
    Status.ERROR: N_("error"),
    Status.TIMEOUT: N_("time limit"),
    Status.MISSING: N_("missing"),
    Status.SYNTAX_ERROR: N_("syntax error"),
}
_STATUS_SYMBOLS = {
    Status.PASSED: "✓",
    Status.FAILED: "✗",
    Status.ERROR: "!",
    Status.TIMEOUT: "◷",
    Status.MISSING: "–",
    Status.SYNTAX_ERROR: "!",
}
_STATUS_TAGS = {
    Status.PASSED: N_("PASS"),
    Status.FAILED: N_("FAIL"),
    Status.ERROR: N_("ERROR"),
    Status.TIMEOUT: N_("TIMEOUT"),
    Status.MISSING: N_("MISSING"),
    Status.SYNTAX_ERROR: N_("SYNTAX"),
}

HIDDEN_HINT = N_(
    "Hidden cases use inputs you have not seen: make sure nothing is hard-coded and the "
    "formula is exactly the one asked for."
)
HIDDEN_CASE = N_("hidden case, {case}")


def qualified_case_name(function: str, case: str, hidden: bool) -> str:
    """A case's name in results.json, in the active language: the function, then the case."""
    label = _(case)
    return f"{function}: {_(HIDDEN_CASE).format(case=label) if hidden else label}"


def case_label(name: str, hidden: bool) -> str:
    """The case of a test's name, without its function and, if hidden, the words saying so
    (in English or the active language: a class folder may hold results of either)."""
    label = name.split(": ", 1)[-1]
    if hidden:
        for template in dict.fromkeys((_(HIDDEN_CASE), HIDDEN_CASE)):
            before, _placeholder, after = template.partition("{case}")
            if label.startswith(before) and label.endswith(after):
                return label[len(before) : len(label) - len(after)]
    return label


class Place(NamedTuple):
    """A line of a notebook cell where an error was raised, so a report can mark it."""

    cell: int
    line: int


# The sandbox's `where` of an error: "cell N, line M: code" (grader.sandbox.harness._where).
_WHERE = re.compile(r"cell (\d+), line (\d+)")


def error_place(error: Mapping[str, Any] | None) -> Place | None:
    """The place of an error the sandbox reported, read once here where the error arrives."""
    found = _WHERE.match(str((error or {}).get("where") or ""))
    return Place(int(found[1]), int(found[2])) if found else None


def said_where(where: str) -> str:
    """The sandbox's `where` of an error in the active language (English as it comes)."""
    found = _WHERE.match(where)
    if found is None:
        return where
    code = where[found.end() :].removeprefix(": ")
    if not code:
        return _("cell {cell}, line {line}").format(cell=found[1], line=found[2])
    return _("cell {cell}, line {line}: {code}").format(cell=found[1], line=found[2], code=code)


def syntax_error_place(extraction: Extraction) -> Place | None:
    """Where a graded cell that does not parse goes wrong; the extraction keeps only its cell,
    so the cell is parsed again (only for this status, which is rare)."""
    if extraction.cell is None:
        return None
    try:
        ast.parse(strip_magics(extraction.code))
    except SyntaxError as error:
        return Place(extraction.cell, error.lineno) if error.lineno else None
    except (ValueError, RecursionError, MemoryError):
        return None
    return None


@dataclass(frozen=True)
class TestResult:
    """One case, in the shape of a Gradescope test."""

    name: str
    score: float
    max_score: float
    status: Status  # passed or failed
    detail: str  # what happened to the case
    visibility: str
    function: str = field(default="", compare=False)
    stdout: str = field(default="", compare=False)
    raised: bool = field(default=False, compare=False)
    # The hint for hidden cases follows the detail; a report shows it once, not per case.
    hinted: bool = field(default=False, compare=False)
    place: Place | None = field(default=None, compare=False)  # where the case raised

    @property
    def output(self) -> str:
        """What results.json says of the case: the detail, then the hidden-case hint if any."""
        return sentences(self.detail, _(HIDDEN_HINT)) if self.hinted else self.detail

    def to_json(self) -> dict[str, Any]:
        keys = ("name", "score", "max_score", "status", "output", "visibility")
        return {key: getattr(self, key) for key in keys}


@dataclass(frozen=True)
class FunctionResult:
    name: str
    score: float
    max_score: float
    status: Status
    message: str
    cell: int | None = None
    code: str = ""
    # Which of several definitions of the function was graded, and why; empty if only one.
    note: str = ""
    place: Place | None = None  # the line that does not parse, or that raised on definition
    diagnosis: Diagnosis | None = None  # the known mistake its wrong results show, if any

    def to_json(self) -> dict[str, Any]:
        """The function's entry in results.json."""
        return {
            "score": self.score,
            "max_score": self.max_score,
            "status": self.status,
            "message": self.message,
            "note": self.note or None,
            "diagnosis": self.diagnosis.to_json() if self.diagnosis else None,
        }


@dataclass(frozen=True)
class SubmissionResult:
    submission: str
    source: str
    assignment: str
    score: float
    max_score: float
    functions: dict[str, FunctionResult]
    tests: tuple[TestResult, ...]
    error: str | None = None
    protections: tuple[str, ...] = ()
    student: Student | None = None  # who it belongs to, where intake says
    # Ungraded: the inspected functions the notebook redefines, by name (grader.inspections).
    inspections: Mapping[str, InspectionResult] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The results.json contract; `student` only where known, `inspections` null when
        there is none."""
        who = {"student": self.student.to_json()} if self.student is not None else {}
        return {
            "submission": self.submission,
            **who,
            "source": self.source,
            "assignment": self.assignment,
            "score": self.score,
            "max_score": self.max_score,
            "functions": {name: f.to_json() for name, f in self.functions.items()},
            "tests": [test.to_json() for test in self.tests],
            "error": self.error,
            "inspections": {name: i.to_json() for name, i in self.inspections.items()} or None,
        }


def ordered_calls(
    assignment: Assignment, function: str, public_only: bool = False
) -> list[Case | Probe]:
    """A function's calls in the order they run: public cases, then the probes that tell
    mistakes apart, then hidden cases, so hidden inputs come last."""
    cases = assignment.cases_of(function, public_only)
    public = [c for c in cases if not c.hidden]
    return public + assignment.probes_of(function, public_only) + [c for c in cases if c.hidden]


def score_submission(
    assignment: Assignment,
    submission: str,
    source: str,
    extractions: dict[str, Extraction],
    runs: dict[str, FunctionRun],
    public_only: bool = False,
    protections: tuple[str, ...] = (),
) -> SubmissionResult:
    """Judge every case of every graded function and total the points."""
    functions, tests = {}, []
    earned = most = Fraction(0)
    for name in assignment.functions:
        calls = ordered_calls(assignment, name, public_only)
        run = runs.get(name)
        returned = list(run.results) if run and run.status in ("ok", "timeout", "crashed") else []
        cases = [call for call in calls if isinstance(call, Case)]
        results = [r for call, r in zip(calls, returned, strict=False) if isinstance(call, Case)]
        points = [assignment.case_points(c, public_only) for c in cases]
        extraction = extractions[name]
        judged = _judge(name, cases, points, extraction, run, results, assignment.time_limit)
        tests.extend(test for test, _ in judged)
        result = _function_result(
            name, extraction, run, judged, sum(points, Fraction(0)), assignment.time_limit
        )
        # On public cases only, a function that passes them may still behave like a known
        # mistake on the probes: saying so before the hidden cases do is the point of a check.
        if result.status is Status.FAILED or (public_only and result.status is Status.PASSED):
            diagnosis = diagnose(assignment, name, calls, returned)
            result = dataclasses.replace(result, diagnosis=diagnosis)
        functions[name] = result
        earned += sum((share for _, share in judged), Fraction(0))
        most += sum(points, Fraction(0))
    return SubmissionResult(
        submission=submission,
        source=source,
        assignment=assignment.name,
        score=_round(earned),
        max_score=_round(most),
        functions=functions,
        tests=tuple(tests),
        protections=protections,
    )


def unreadable_result(
    assignment: Assignment, submission: str, source: str, error: str, public_only: bool = False
) -> SubmissionResult:
    """A file that could not be read: every function scores 0 and the reason is said once."""
    missing = {
        name: Extraction(
            name, "missing", message=_("The file could not be read: {error}").format(error=error)
        )
        for name in assignment.functions
    }
    result = score_submission(assignment, submission, source, missing, {}, public_only)
    return SubmissionResult(**{**result.__dict__, "error": error})


def _judge(
    name: str,
    cases: list[Case],
    points: list[Fraction],
    extraction: Extraction,
    run: FunctionRun | None,
    results: list[CallResult],
    time_limit: float,
) -> list[tuple[TestResult, Fraction]]:
    """Each case's test and the exact points it earns; `results` are the cases' results, in
    order, as far as the run went."""
    verdicts: list[_CaseVerdict] = []
    for index, case in enumerate(cases):
        if extraction.status != "found":
            verdicts.append(_CaseVerdict(Verdict(False, extraction.message)))
        elif run is None or run.status == "define_error" or index >= len(results):
            verdicts.append(_CaseVerdict(Verdict(False, _not_run_message(run, time_limit))))
        else:
            verdicts.append(_judge_case(case, results[index]))
    constant = _constant_value(cases, results)
    pinned = any(v.pins for v in verdicts)
    pin_passed = any(v.pins and v.verdict.passed for v in verdicts)
    judged = []
    for index, (case, worth, judgement) in enumerate(zip(cases, points, verdicts, strict=True)):
        passed, message = judgement.verdict.passed, judgement.verdict.message
        hinted = judgement.hinted
        if constant is not None:
            passed, message, hinted = False, _constant_message(constant, case.hidden), False
        elif passed and pinned and not judgement.pins and not pin_passed:
            passed, message = False, sentences(message, _(UNPINNED))
        stdout = "" if case.hidden or index >= len(results) else results[index].stdout
        share = worth if passed else Fraction(0)
        test = TestResult(
            name=qualified_case_name(name, case.name, case.hidden),
            score=_round(share),
            max_score=_round(worth),
            status=Status.PASSED if passed else Status.FAILED,
            detail=message,
            visibility="after_published" if case.hidden else "visible",
            function=name,
            stdout=stdout,
            raised=judgement.raised,
            hinted=hinted,
            place=judgement.place,
        )
        judged.append((test, share))
    return judged


UNPINNED = N_(
    "A range of values is also met by code that ignores its input, so this case counts only "
    "once a case that needs the exact value passes."
)


def _constant_value(cases: list[Case], results: list[CallResult]) -> Any | None:
    """The value a function returned for every case, if it returned one value for inputs that
    differ: it ignores its input, and earns nothing. None otherwise."""
    if len(results) < len(cases) or len(cases) < 2 or any(r.error for r in results):
        return None
    first = protocol.compact(protocol.encode(results[0].value))
    if any(protocol.compact(protocol.encode(r.value)) != first for r in results[1:]):
        return None
    inputs = {protocol.compact(protocol.encode(list(case.args))) for case in cases}
    return results[0].value if len(inputs) > 1 else None


def _constant_message(value: Any, hidden: bool) -> str:
    if hidden:
        return _(
            "Returned the same value for every input it was given: the result must be "
            "computed from the arguments, not written in."
        )
    return _(
        "Returned the same value, {value}, for every input it was given: the result must be "
        "computed from the arguments, not written in."
    ).format(value=describe(value))


class _CaseVerdict(NamedTuple):
    """The verdict on one case and what a report needs to know of it besides the message."""

    verdict: Verdict
    raised: bool = False
    pins: bool = False  # the case needs the exact value (a range is also met by a constant)
    hinted: bool = False  # the hidden-case hint applies
    place: Place | None = None  # where it raised


def _judge_case(case: Case, result: CallResult) -> _CaseVerdict:
    """The verdict on one result, whether it raised, and whether the case pins the value."""
    if result.error is not None:
        kind = str(result.error.get("type", "Exception"))
        if case.hidden:
            hidden = Verdict(False, _("Raised {error} on a hidden case.").format(error=kind))
            return _CaseVerdict(hidden, raised=True, hinted=True)
        raised = f"{kind}: {result.error.get('message', '')}"
        text = _("Raised {error}").format(error=raised)
        if result.error.get("where"):
            text += _(" ({where})").format(where=said_where(result.error["where"]))
        if "NoneType" in raised or "NoneType" in str(result.error.get("where")):
            text += _(". Is a `None` placeholder from the template still in your code?")
        return _CaseVerdict(Verdict(False, text), raised=True, place=error_place(result.error))
    expectation = case.expectation(result.called)
    verdict = expectation.judge(result.value)
    if not case.hidden:
        return _CaseVerdict(verdict, pins=expectation.pins)
    if verdict.passed:
        return _CaseVerdict(Verdict(True, _("Passed.")), pins=expectation.pins)
    failed = _("Wrong result on a hidden case ({case}).").format(case=_(case.name))
    return _CaseVerdict(Verdict(False, failed), pins=expectation.pins, hinted=True)


def _not_run_message(run: FunctionRun | None, time_limit: float) -> str:
    if run is None:
        return _("Not run.")
    if run.status == "define_error":
        error = run.define_error or {}
        where = (
            _(" ({where})").format(where=said_where(error["where"])) if error.get("where") else ""
        )
        return _("The function could not be defined: {error}{where}").format(
            error=f"{error.get('type', 'Error')}: {error.get('message', '')}", where=where
        )
    if run.status == "timeout":
        return _(
            "Not run: the function's time limit of {seconds} s ran out. "
            "Look for a loop that never ends."
        ).format(seconds=f"{time_limit:g}")
    return _(
        "Not run: {reason}. sys.exit(), os._exit() or a crash in native code end the run."
    ).format(reason=run.detail or _("the process running the function ended"))


def _function_result(
    name: str,
    extraction: Extraction,
    run: FunctionRun | None,
    judged: list[tuple[TestResult, Fraction]],
    max_score: Fraction,
    time_limit: float,
) -> FunctionResult:
    tests = [test for test, _ in judged]
    base = {
        "name": name,
        "score": _round(sum((share for _, share in judged), Fraction(0))),
        "max_score": _round(max_score),
        "cell": extraction.cell,
        "code": extraction.code,
        "note": extraction.note,
    }
    if extraction.status != "found":
        status = Status(extraction.status)  # missing or syntax_error
        place = syntax_error_place(extraction) if status is Status.SYNTAX_ERROR else None
        return FunctionResult(status=status, message=extraction.message, place=place, **base)
    failed = [t for t in tests if t.status is Status.FAILED]
    if run is not None and run.status == "timeout":
        status, message = Status.TIMEOUT, _not_run_message(run, time_limit)
    elif run is None or run.status in ("define_error", "crashed"):
        status, message = Status.ERROR, _not_run_message(run, time_limit)
        if run is not None and run.status == "define_error":
            base["place"] = error_place(run.define_error)
    elif not failed:
        status = Status.PASSED
        message = ngettext(
            "The {count} case passed.", "All {count} cases passed.", len(tests)
        ).format(count=len(tests))
    else:
        status = Status.ERROR if any(t.raised for t in failed) else Status.FAILED
        message = ngettext(
            "Passed {passed} of {count} case.", "Passed {passed} of {count} cases.", len(tests)
        ).format(passed=len(tests) - len(failed), count=len(tests))
        message = sentences(message, failed[0].output)
    return FunctionResult(status=status, message=message, **base)


def _round(points: Fraction) -> float:
    """Exact points as the float shown: rounded once, so full marks are exactly the maximum."""
    return round(float(points), 4) + 0.0
