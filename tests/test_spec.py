"""The assignment format is checked on load, and an assignment's modules never collide."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from grader.spec import AssignmentError, default_assignment_dir, load_assignment

SPEC = '''
from grader.compare import Close
from grader.spec import Assignment, Case
import solution


def build(folder):
    return Assignment(
        name={name!r},
        title="Tiny",
        points={points!r},
        cases=({cases}),
        support_modules={{}},
        prelude="",
        solution=solution,
        provided=frozenset(),
    )
'''


def _folder(tmp_path: Path, name: str = "tiny", points: dict | None = None, cases: str = "",
            solution: str = "def double(x):\n    return 2 * x\n") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    points = {"double": 10} if points is None else points
    cases = cases or 'Case("double", (2,), Close(4), "double(2) is 4"),'
    (folder / "assignment.py").write_text(SPEC.format(name=name, points=points, cases=cases))
    (folder / "solution.py").write_text(solution)
    return folder


def test_a_well_formed_assignment_loads(tmp_path):
    assignment = load_assignment(_folder(tmp_path))
    assert assignment.functions == ("double",) and assignment.solution.double(3) == 6


def test_every_problem_is_listed_with_what_to_fix(tmp_path):
    folder = _folder(
        tmp_path,
        name="bad-name",
        points={"double": 0, "triple": 5, "hidden_only": 5},
        cases='Case("double", (2,), Close(4), "ok", weight=0), '
        'Case("typo", (1,), Close(1), "a case of nothing"), '
        'Case("hidden_only", (1,), Close(1), "secret", hidden=True),',
    )
    with pytest.raises(AssignmentError) as raised:
        load_assignment(folder)
    message = str(raised.value)
    for expected in (
        "name 'bad-name' must be a plain identifier",
        "double: points must be a positive number, not 0",
        "triple: has points but no case",
        "triple: the reference solution does not define it",
        "hidden_only: every case is hidden",
        "case 'ok' of double: weight must be positive",
        "case 'a case of nothing' of typo: typo is not a graded function",
    ):
        assert expected in message, expected


def test_a_folder_without_build_says_so(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "assignment.py").write_text("TITLE = 'no build here'\n")
    with pytest.raises(AssignmentError, match="defines no build"):
        load_assignment(folder)


def test_modules_of_the_same_name_elsewhere_are_set_aside_and_put_back(tmp_path):
    theirs = types.ModuleType("solution")
    theirs.double = lambda x: "not ours"
    sys.modules["solution"] = theirs
    try:
        first = load_assignment(_folder(tmp_path, "first"))
        second = load_assignment(
            _folder(tmp_path, "second", solution="def double(x):\n    return x + x\n")
        )
        assert sys.modules["solution"] is theirs
    finally:
        del sys.modules["solution"]
    assert first.solution.double(4) == 8 and second.solution.double(4) == 8
    assert first.solution is not second.solution is not theirs
    assert load_assignment(default_assignment_dir()).solution.forward_propagation(2, 4) == 8


def test_the_default_assignment_can_be_configured(tmp_path, monkeypatch):
    folder = _folder(tmp_path)
    monkeypatch.setenv("GRADER_ASSIGNMENT", str(folder))
    assert default_assignment_dir() == folder
    assert load_assignment(default_assignment_dir()).name == "tiny"


def test_a_mistake_catalog_and_probes_that_cannot_be_used_are_listed(tmp_path):
    from dataclasses import replace

    from grader.spec import Mistake, Probe, validate

    assignment = load_assignment(_folder(tmp_path))
    mistake = Mistake("doubled", "doubled", "why", "2x", {"double": (lambda x: 4 * x,)})
    stray = Mistake("stray", "stray", "why", "", {"triple": (lambda x: x,)})
    broken = replace(
        assignment,
        mistakes=(mistake, mistake, stray),
        probes=(Probe("triple", (1,)), Probe("double", (1,), "nowhere")),
    )
    with pytest.raises(AssignmentError) as raised:
        validate(broken)
    message = str(raised.value)
    for expected in (
        "mistake 'doubled' is in the catalog twice",
        "mistake 'stray' has a mutant of triple, not graded",
        "a probe calls triple, which is not graded",
        "a probe of double names an unknown model 'nowhere'",
    ):
        assert expected in message, expected
    validate(replace(assignment, mistakes=(mistake,), probes=(Probe("double", (5,)),)))
