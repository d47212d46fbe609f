"""Calls to reference functions: answered in the child when the reference solution makes the same
call itself on the case, by the grader otherwise; never with a case's expected value."""

from __future__ import annotations

import dataclasses
from collections import Counter

from grader.extract import extract
from grader.read import Cell
from grader.run import reference_answers, referenced, run_functions, sandbox_setup
from grader.sandbox import protocol
from grader.sandbox.pool import WorkerPool
from grader.score import ordered_calls, score_submission
from tests.conftest import CHECK, IMPORTS


def grade_check(assignment, code: str) -> tuple[float, Counter]:
    """gradient_check's score for `code`, and the reference calls that reached the grader."""
    reached: Counter = Counter()
    setup = sandbox_setup(assignment)

    def counting(name, function):
        def call(*args, **kwargs):
            reached[name] += 1
            return function(*args, **kwargs)

        return call

    setup = dataclasses.replace(
        setup, references={name: counting(name, f) for name, f in setup.references.items()}
    )
    cells = (Cell(1, IMPORTS), Cell(2, code))
    extractions = extract(cells, assignment.functions, assignment.provided, referenced(assignment))
    with WorkerPool(setup, 1) as pool:
        runs, _ = run_functions(pool, assignment, extractions)
    result = score_submission(assignment, "s", "s.py", extractions, runs)
    return result.functions["gradient_check"].score, reached


def test_calls_the_reference_makes_are_answered_in_the_child(assignment):
    score, reached = grade_check(assignment, CHECK)
    assert score == 40
    # Only backward_propagation(2, 4), a case of its own, is left to the grader.
    assert reached == Counter({"backward_propagation": 1})


def test_other_calls_are_answered_by_the_grader(assignment):
    by_keyword = CHECK.replace(
        "forward_propagation(x, thetaplus)", "forward_propagation(x=x, theta=thetaplus)"
    )
    score, reached = grade_check(assignment, by_keyword)
    assert score == 40
    calls = ordered_calls(assignment, "gradient_check")
    # A model answers the calls of its own case in place of the reference.
    by_reference = [
        c for c in calls if "forward_propagation" not in assignment.models.get(c.model, {})
    ]
    assert reached == Counter(
        {"forward_propagation": len(by_reference), "backward_propagation": 1}
    )


def test_no_answer_is_the_expected_value_of_a_case(assignment):
    own = {
        protocol.call_key(c.function, protocol.encode(list(c.args)), protocol.encode({}))
        for c in assignment.cases
    }
    expected = {
        protocol.call_key(c.function, protocol.encode(list(c.args)), protocol.encode({})): c.expect
        for c in assignment.cases
    }
    answered = Counter()
    for case in assignment.cases:
        answers = reference_answers(assignment, case)
        if case.model is None:
            assert not own & answers.keys()
        for key in own & answers.keys():  # a model's answer to a case's own call
            assert not expected[key].judge(protocol.decode(answers[key])).passed
        answered[case.function, case.hidden] += len(answers)
    # backward_propagation(2, 4) is a case of its own: of the public (2, 4), only the two
    # calls to forward_propagation are answered.
    public = next(c for c in assignment.cases if c.function == "gradient_check" and not c.hidden)
    assert [key.split(",")[0] for key in reference_answers(assignment, public)] == [
        '["forward_propagation"'
    ] * 2
    assert answered["gradient_check", True] > 0 and answered["gradient_check_n", False] == 0
