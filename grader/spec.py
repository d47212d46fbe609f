"""An assignment's grading spec: graded functions, their points, and the cases they are run on.

An assignment is a folder under `reference_solutions/` holding `assignment.py` (whose
`build()` returns an `Assignment`), the reference solution and the support modules the
notebook imports. Only the support modules and the prelude ever reach a sandbox.
A released bundle (see `grader.release`) holds only the public part: `public_cases.json`.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import re
import sys
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from types import ModuleType
from typing import Any

from grader.compare import Close, Expectation, Within
from grader.i18n import _
from grader.sandbox.protocol import ProtocolError, compact, decode, encode

RELEASED_CASES = "public_cases.json"
RELEASE_FORMAT = 1


@dataclass(frozen=True)
class Case:
    """One call of a graded function and what its result must satisfy.

    A case with a `model` has the student's calls of other graded functions answered by that
    model instead of the reference. What it expects then depends on which of those functions
    the student's code really called (a correct function may compute J inline): `expect_when`
    maps each set of called model functions to its expectation; `expect` is for all of them.
    """

    function: str
    args: tuple[Any, ...]
    expect: Expectation
    name: str
    hidden: bool = False
    weight: float = 1.0
    model: str | None = None
    expect_when: Mapping[frozenset[str], Expectation] = field(default_factory=dict)

    def expectation(self, called: frozenset[str]) -> Expectation:
        """What the result must satisfy, given the graded functions the student's code called."""
        if not self.expect_when:
            return self.expect
        answered = frozenset().union(*self.expect_when)
        return self.expect_when.get(called & answered, self.expect)


@dataclass(frozen=True)
class Probe:
    """A call made only to tell mistakes apart: it earns nothing and its result is not shown.

    Probes are public: `grader check` runs them too. With a `model`, the student's calls of
    other graded functions are answered by that model, as in a model case.
    """

    function: str
    args: tuple[Any, ...]
    model: str | None = None
    # Made only when the hidden cases are not run (`grader check`, --public-only): for a
    # probe the hidden cases make needless, which would cost every graded submission a call.
    instead_of_hidden: bool = False


@dataclass(frozen=True)
class RecordedMutant:
    """A mutant as a released bundle carries it: what it returned on each public call, as the
    instructor's grader recorded it, since a bundle has no reference solution to run it with.

    By call (`released_key` of its arguments): the value and whether the mutant called
    another graded function; None where it raised.
    """

    outcomes: Mapping[str, tuple[Any, bool] | None]


def released_key(args: tuple[Any, ...]) -> str:
    """The key of a call's arguments in a `RecordedMutant`: a digest, as the arguments of a
    network are kilobytes."""
    return hashlib.sha256(compact(encode(list(args))).encode()).hexdigest()[:24]


@dataclass(frozen=True)
class Mistake:
    """A known mistake, named to a student whose function behaves like one of its mutants.

    `mutants` are implementations of the mistake, by graded function; they run in the grader's
    process on the student's calls, with the student's calls of other graded functions
    answered the same way (a mutant calls them by name). `formula` is what should be computed.
    """

    id: str
    title: str
    explanation: str
    formula: str
    mutants: Mapping[str, tuple[Callable[..., Any] | RecordedMutant, ...]]


@dataclass(frozen=True)
class Inspection:
    """An ungraded look at a function the notebook may redefine, such as a provided one the
    exercise asks students to fix: its result on `args`, run like any student code, is compared
    entry by entry with `expected`, and the report says which entries are right. No points.
    """

    function: str
    args: tuple[Any, ...]
    # The reference's value of each entry to compare, in the order the report lists them.
    expected: Mapping[str, Any]
    about: str = ""  # one sentence for the report: what the student was asked to do
    # Below this relative difference, ||a - b|| / (||a|| + ||b||), an entry is right.
    tolerance: float = 1e-7


@dataclass(frozen=True)
class Assignment:
    name: str
    title: str
    points: dict[str, float]
    cases: tuple[Case, ...]
    support_modules: dict[str, str]
    prelude: str
    solution: ModuleType | None  # None in a released bundle
    provided: frozenset[str]
    time_limit: float = 5.0
    folder: Path = field(default=Path("."))
    # By name: the functions that answer a model case's calls instead of the references. They
    # run in the grader's process, like the references.
    models: Mapping[str, Mapping[str, Callable[..., Any]]] = field(default_factory=dict)
    mistakes: tuple[Mistake, ...] = ()
    probes: tuple[Probe, ...] = ()
    # By function, how far apart two results may be and still count as the same behaviour in
    # a diagnosis: rounding noise differs between correct ways of writing a function.
    noise: Mapping[str, float] = field(default_factory=dict)
    # Ungraded functions the report compares with the reference when the notebook defines them.
    inspections: tuple[Inspection, ...] = ()

    @property
    def functions(self) -> tuple[str, ...]:
        return tuple(self.points)

    @property
    def max_score(self) -> float:
        return float(sum(self.points.values()))

    def cases_of(self, function: str, public_only: bool = False) -> list[Case]:
        return [
            case
            for case in self.cases
            if case.function == function and not (public_only and case.hidden)
        ]

    def probes_of(self, function: str, public_only: bool = False) -> list[Probe]:
        return [
            probe
            for probe in self.probes
            if probe.function == function and (public_only or not probe.instead_of_hidden)
        ]

    def case_points(self, case: Case, public_only: bool = False) -> Fraction:
        """The points a case is worth: its function's points shared by weight, exactly, so a
        function whose cases all pass earns exactly its points."""
        return self._case_points[public_only][id(case)]

    @functools.cached_property
    def _case_points(self) -> dict[bool, dict[int, Fraction]]:
        """Every case's points, with and without the hidden cases, by the case's id (the
        assignment holds its cases, so their ids stay theirs): worked out once, not per
        submission."""
        shares: dict[bool, dict[int, Fraction]] = {}
        for public_only in (False, True):
            shares[public_only] = {}
            for function, points in self.points.items():
                cases = self.cases_of(function, public_only)
                total = sum((Fraction(c.weight) for c in cases), Fraction(0))
                for case in cases:
                    share = Fraction(points) * Fraction(case.weight) / total
                    shares[public_only][id(case)] = share
        return shares

    def texts(self) -> list[str]:
        """The student-facing texts the assignment itself defines (its title, case names, the
        reasons of its ranges, its mistakes' titles and explanations, what its inspections are
        about), in order: what its catalogs translate. Formulas are notation, shown as they are
        in every language."""
        found = [self.title]
        for mistake in self.mistakes:
            found += [mistake.title, mistake.explanation]
        found += [inspection.about for inspection in self.inspections if inspection.about]
        for case in self.cases:
            found.append(case.name)
            for expectation in (case.expect, *case.expect_when.values()):
                if isinstance(expectation, Within) and expectation.why:
                    found.append(expectation.why)
        return list(dict.fromkeys(found))

    @property
    def fingerprint(self) -> str:
        """Changes whenever anything that can change a grade or its texts changes."""
        digest = hashlib.sha256()
        paths = [
            *self.folder.rglob("*.py"),
            *self.folder.rglob("*.json"),
            *self.folder.rglob("*.po"),
        ]
        for path in sorted(p for p in paths if "__pycache__" not in p.parts):
            digest.update(str(path.relative_to(self.folder)).encode())
            digest.update(path.read_bytes())
        return digest.hexdigest()[:16]


def substituted(function: types.FunctionType, names: Mapping[str, Any]) -> types.FunctionType:
    """`function` with some of its global names bound to other values; its module is untouched."""
    copy = types.FunctionType(
        function.__code__,
        {**function.__globals__, **names},
        function.__name__,
        function.__defaults__,
        function.__closure__,
    )
    copy.__kwdefaults__ = function.__kwdefaults__
    return copy


def read_support(folder: Path, modules: tuple[str, ...], prelude: str) -> dict[str, Any]:
    """The public code of an assignment: support module sources, the prelude and its names."""
    sources = {name: (folder / f"{name}.py").read_text(encoding="utf-8") for name in modules}
    prelude_source = (folder / prelude).read_text(encoding="utf-8")
    namespace: dict[str, Any] = {"__name__": "__prelude__"}
    exec(compile(prelude_source, str(folder / prelude), "exec"), namespace)
    return {
        "support_modules": sources,
        "prelude": prelude_source,
        "provided": frozenset(name for name in namespace if not name.startswith("__")),
    }


class AssignmentError(ValueError):
    """An assignment folder that cannot be graded with; the message says what to fix."""


def load_assignment(folder: str | Path) -> Assignment:
    """Import `folder/assignment.py` in the grader's process, build its spec and check it.

    A released bundle (no assignment.py, but public_cases.json) is loaded by `load_released`.
    The folder's own modules (`solution`, `provided`, ...) are imported for this load only:
    a module of the same name loaded before, by the user or another assignment, is set aside
    meanwhile and put back after.
    """
    folder = Path(folder).resolve()
    entry = folder / "assignment.py"
    if not entry.is_file() and (folder / RELEASED_CASES).is_file():
        return load_released(folder)
    if not entry.is_file():
        raise FileNotFoundError(
            _("{folder} has no assignment.py or {cases}: is it an assignment folder?").format(
                folder=folder, cases=RELEASED_CASES
            )
        )
    own = {path.stem for path in folder.glob("*.py")}
    set_aside = {name: sys.modules.pop(name) for name in list(sys.modules) if name in own}
    before = set(sys.modules)
    sys.path.insert(0, str(folder))
    unique = hashlib.sha256(str(folder).encode()).hexdigest()[:12]
    try:
        spec = importlib.util.spec_from_file_location(f"_assignment_{unique}", entry)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        build = getattr(module, "build", None)
        if not callable(build):
            raise AssignmentError(f"{entry} defines no build(folder) returning the Assignment.")
        assignment = build(folder)
    finally:
        sys.path.remove(str(folder))
        for name in set(sys.modules) - before:
            origin = getattr(sys.modules[name], "__file__", None) or ""
            if origin.startswith(str(folder)):
                del sys.modules[name]
        sys.modules.update(set_aside)
    if not isinstance(assignment, Assignment):
        raise AssignmentError(
            f"{entry}: build() returned {type(assignment).__name__}, not an Assignment."
        )
    validate(assignment)
    return assignment


def validate(assignment: Assignment) -> None:
    """Raise `AssignmentError` listing every problem that would make grading wrong or fail."""
    problems = []
    if not _IDENTIFIER.fullmatch(assignment.name or ""):
        problems.append(f"name {assignment.name!r} must be a plain identifier (letters, digits, _)")
    if not assignment.points:
        problems.append("points is empty: name at least one graded function and its points")
    for function, points in assignment.points.items():
        if not _IDENTIFIER.fullmatch(function):
            problems.append(f"graded function {function!r} is not a Python identifier")
        if isinstance(points, bool) or not isinstance(points, int | float) or not points > 0:
            problems.append(f"{function}: points must be a positive number, not {points!r}")
        if not assignment.cases_of(function):
            problems.append(f"{function}: has points but no case")
        elif all(case.hidden for case in assignment.cases_of(function)):
            problems.append(f"{function}: every case is hidden; give students one public case")
        if assignment.solution is not None and not callable(
            getattr(assignment.solution, function, None)
        ):
            problems.append(f"{function}: the reference solution does not define it")
    for case in assignment.cases:
        where = f"case {case.name!r} of {case.function}"
        if case.function not in assignment.points:
            problems.append(f"{where}: {case.function} is not a graded function (add its points)")
        if not case.weight > 0:
            problems.append(f"{where}: weight must be positive, not {case.weight!r}")
        if not isinstance(case.expect, Close | Within):
            problems.append(f"{where}: expect must be Close or Within")
        if case.model is not None and case.model not in assignment.models:
            problems.append(f"{where}: model {case.model!r} is not in the assignment's models")
        answered = set(assignment.models.get(case.model, {})) if case.model else set()
        if any(not called <= answered for called in case.expect_when):
            problems.append(f"{where}: expect_when names functions its model does not answer")
    for probe in assignment.probes:
        if probe.function not in assignment.points:
            problems.append(f"a probe calls {probe.function}, which is not graded")
        if probe.model is not None and probe.model not in assignment.models:
            problems.append(f"a probe of {probe.function} names an unknown model {probe.model!r}")
    ids = [mistake.id for mistake in assignment.mistakes]
    for mistake in assignment.mistakes:
        if ids.count(mistake.id) > 1:
            problems.append(f"mistake {mistake.id!r} is in the catalog twice")
        for function in set(mistake.mutants) - set(assignment.points):
            problems.append(f"mistake {mistake.id!r} has a mutant of {function}, not graded")
    for model, functions in assignment.models.items():
        for function in set(functions) - set(assignment.points):
            problems.append(f"model {model!r} answers {function}, which is not graded")
    problems.extend(_inspection_problems(assignment))
    if not assignment.time_limit > 0:
        problems.append(f"time_limit must be positive, not {assignment.time_limit!r}")
    if problems:
        listed = "\n".join(f"  - {problem}" for problem in problems)
        raise AssignmentError(f"the assignment {assignment.name!r} cannot be used:\n{listed}")


_IDENTIFIER = re.compile(r"[^\W\d]\w*")


def _inspection_problems(assignment: Assignment) -> list[str]:
    """What would keep an inspection from running or from being judged."""
    problems = []
    names = [inspection.function for inspection in assignment.inspections]
    for inspection in assignment.inspections:
        where = f"inspection of {inspection.function!r}"
        if not _IDENTIFIER.fullmatch(inspection.function):
            problems.append(f"{where}: the function's name is not a Python identifier")
        if inspection.function in assignment.points:
            problems.append(f"{where}: it is a graded function; inspect only ungraded ones")
        if names.count(inspection.function) > 1:
            problems.append(f"{where}: declared more than once")
        if not inspection.expected:
            problems.append(f"{where}: expected is empty: name the entries to compare")
        if not inspection.tolerance > 0:
            problems.append(f"{where}: tolerance must be positive, not {inspection.tolerance!r}")
    return problems


def load_released(folder: str | Path) -> Assignment:
    """A released bundle's public spec: public cases only, and no reference solution."""
    folder = Path(folder).resolve()
    path = folder / RELEASED_CASES
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != RELEASE_FORMAT:
            raise ValueError(f"format {data.get('format')!r} is not {RELEASE_FORMAT}")
        cases = tuple(
            Case(
                function=c["function"],
                args=tuple(decode(c["args"])),
                expect=_expectation(c["expect"]),
                name=c["name"],
                weight=float(c["weight"]),
            )
            for c in data["cases"]
        )
        modules = {
            name: (folder / f"{name}.py").read_text(encoding="utf-8")
            for name in data["support_modules"]
        }
        assignment = Assignment(
            name=data["name"],
            title=data["title"],
            points={name: float(points) for name, points in data["points"].items()},
            cases=cases,
            probes=tuple(
                Probe(p["function"], tuple(decode(p["args"]))) for p in data.get("probes", [])
            ),
            mistakes=tuple(map(_released_mistake, data.get("mistakes", []))),
            noise={name: float(margin) for name, margin in data.get("noise", {}).items()},
            support_modules=modules,
            prelude=(folder / data["prelude"]).read_text(encoding="utf-8"),
            solution=None,
            provided=frozenset(data["provided"]),
            time_limit=float(data["time_limit"]),
            folder=folder,
            inspections=tuple(map(_released_inspection, data.get("inspections", []))),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError, ProtocolError) as problem:
        reason = f"{type(problem).__name__}: {problem}"
        raise AssignmentError(f"{path} is not a readable released assignment ({reason})") from None
    validate(assignment)
    return assignment


def _released_mistake(data: dict) -> Mistake:
    mutants = {
        function: tuple(
            RecordedMutant(
                {
                    key: None if outcome is None else (decode(outcome[0]), bool(outcome[1]))
                    for key, outcome in variant.items()
                }
            )
            for variant in variants
        )
        for function, variants in data["mutants"].items()
    }
    return Mistake(data["id"], data["title"], data["explanation"], data["formula"], mutants)


def _released_inspection(data: dict) -> Inspection:
    expected = decode(data["expected"])
    if type(expected) is not dict:
        raise ValueError("an inspection's expected entries are not a dict")
    return Inspection(
        function=data["function"],
        args=tuple(decode(data["args"])),
        expected=expected,
        about=data["about"],
        tolerance=float(data["tolerance"]),
    )


def _expectation(data: dict) -> Expectation:
    if data["kind"] == "Close":
        return Close(decode(data["expected"]), rtol=data["rtol"], atol=data["atol"])
    if data["kind"] == "Within":
        return Within(data["low"], data["high"], data["why"])
    raise ValueError(f"unknown expectation kind {data['kind']!r}")


# Names the assignment folder used when a command is given none: set it where the grader is
# installed with pip, away from a source checkout.
ASSIGNMENT_VARIABLE = "GRADER_ASSIGNMENT"


def default_assignment_dir() -> Path:
    """The folder in $GRADER_ASSIGNMENT, else the bundled Gradient Checking assignment next to
    the package in a source checkout; a clear error where neither exists."""
    configured = os.environ.get(ASSIGNMENT_VARIABLE)
    if configured:
        return Path(configured)
    bundled = Path(__file__).resolve().parent.parent / "reference_solutions" / "gradient_checking"
    if not bundled.is_dir():
        raise FileNotFoundError(
            _(
                "no assignment given: pass --assignment DIR (an instructor folder or a released "
                "bundle), or set {variable} to one"
            ).format(variable=ASSIGNMENT_VARIABLE)
        )
    return bundled
