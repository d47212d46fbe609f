"""Judging that follows the mathematics: exact points, models answering a student's calls,
constants earning nothing, and every common correct form of gradient_check accepted."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from grader.compare import Close, Within
from grader.extract import Extraction
from grader.sandbox.pool import CallResult, FunctionRun
from grader.score import score_submission
from grader.spec import Assignment, Case
from tests.conftest import BACKWARD, CHECK, CHECK_N, FORWARD, IMPORTS, notebook
from tests.test_grade import grade


def _assignment(cases: list[Case], points: float = 10) -> Assignment:
    return Assignment(
        name="tiny",
        title="Tiny",
        points={"f": points},
        cases=tuple(cases),
        support_modules={},
        prelude="",
        solution=None,
        provided=frozenset(),
    )


def _score(assignment: Assignment, *values: object, called: frozenset[str] = frozenset()):
    found = {"f": Extraction("f", "found", cell=1)}
    results = tuple(CallResult(value=v, called=called) for v in values)
    run = FunctionRun("f", "ok", results)
    return score_submission(assignment, "s", "s.py", found, {"f": run})


def test_a_perfect_submission_scores_exactly_the_maximum():
    cases = [Case("f", (i,), Close(float(i)), f"f({i})") for i in range(3)]
    result = _score(_assignment(cases), 0.0, 1.0, 2.0)
    assert result.functions["f"].score == result.score == result.max_score == 10.0
    assert _assignment(cases).case_points(cases[0]) == Fraction(10, 3)


def test_one_value_for_every_input_earns_nothing():
    cases = [Case("f", (i,), Close(8.0), f"f({i})") for i in range(2)]
    cases.append(Case("f", (5,), Close(40.0), "f(5)", hidden=True))
    result = _score(_assignment(cases), 8.0, 8.0, 8.0)
    assert result.functions["f"].score == 0
    assert "same value" in result.functions["f"].message
    hidden = [t for t in result.tests if t.visibility != "visible"]
    assert hidden and "8.0" not in hidden[0].output  # not even the constant is echoed there


def test_one_value_for_one_input_is_not_a_constant():
    cases = [Case("f", (1,), Close(8.0), "f(1)"), Case("f", (1,), Within(0, 9), "f(1) again")]
    assert _score(_assignment(cases), 8.0, 8.0).score == 10


def test_a_range_counts_only_once_a_case_that_pins_the_value_passes():
    cases = [Case("f", (1,), Within(0, 1e-7), "small"), Case("f", (2,), Close(0.5), "exact")]
    assert _score(_assignment(cases), 1e-9, 0.5).score == 10
    wrong = _score(_assignment(cases), 1e-9, 0.25)
    assert wrong.score == 0 and "counts only once" in wrong.tests[0].output
    # With nothing that pins the value, the range counts on its own.
    alone = [cases[0], Case("f", (3,), Within(0, 1e-7), "small too")]
    assert _score(_assignment(alone), 1e-9, 2e-9).score == 10


def test_a_model_case_expects_what_the_calls_the_student_made_imply():
    case = Case(
        "f", (1,), Close(0.5), "model", model="m",
        expect_when={frozenset(): Within(0, 1e-7), frozenset({"g"}): Close(0.5)},
    )  # fmt: skip
    other = Case("f", (2,), Close(0.25), "plain")
    assignment = _assignment([case, other])
    assert _score(assignment, 0.5, 0.25, called=frozenset({"g"})).score == 10
    assert _score(assignment, 1e-9, 0.25).score == 10  # computed inline: judged as inline
    assert _score(assignment, 1e-9, 0.25, called=frozenset({"g"})).score == 5


# --- gradient_check written every common way, through the real sandbox ------------------------

def _check(body: str) -> str:
    return (
        "# GRADED FUNCTION: gradient_check\n"
        "def gradient_check(x, theta, epsilon=1e-7, print_msg=False):\n"
        + "".join(f"    {line}\n" for line in body.strip().splitlines())
    )


PLUS, MINUS = "forward_propagation(x, theta + epsilon)", "forward_propagation(x, theta - epsilon)"
NORMS = (
    "return np.linalg.norm(grad - gradapprox) / "
    "(np.linalg.norm(grad) + np.linalg.norm(gradapprox))"
)
CORRECT_CHECKS = {
    "theta difference as the denominator": f"""
thetaplus, thetaminus = theta + epsilon, theta - epsilon
J_plus, J_minus = forward_propagation(x, thetaplus), forward_propagation(x, thetaminus)
gradapprox = (J_plus - J_minus) / (thetaplus - thetaminus)
grad = backward_propagation(x, theta)
{NORMS}""",
    "scalar arithmetic, a threshold message": f"""
gradapprox = ({PLUS} - {MINUS}) / 2 / epsilon
grad = backward_propagation(x, theta)
difference = ((grad - gradapprox) ** 2) ** 0.5 / (abs(grad) + abs(gradapprox))
if difference < 1e-7:
    print("The gradient is correct!")
return difference""",
    "keyword calls and np.divide": f"""
plus = forward_propagation(x=x, theta=np.copy(theta) + epsilon)
minus = forward_propagation(theta=theta - epsilon, x=x)
gradapprox = np.divide(plus - minus, 2.0 * epsilon)
grad = backward_propagation(theta=theta, x=x)
{NORMS}""",
    "J and grad computed inline": f"""
J_plus, J_minus = (theta + epsilon) * x, (theta - epsilon) * x
gradapprox = (J_plus - J_minus) / (2 * epsilon)
grad = x
{NORMS}""",
    "inline grad, forward called": f"""
gradapprox = ({PLUS} - {MINUS}) / (2 * epsilon)
grad = x
{NORMS}""",
}
WRONG_CHECKS = {  # name: (body, points kept)
    "one-sided difference": (f"""
gradapprox = ({PLUS} - forward_propagation(x, theta)) / epsilon
grad = backward_propagation(x, theta)
{NORMS}""", 32),
    "epsilon not doubled": (f"""
gradapprox = ({PLUS} - {MINUS}) / epsilon
grad = backward_propagation(x, theta)
{NORMS}""", 0),
    "grad taken from gradapprox": (f"""
gradapprox = ({PLUS} - {MINUS}) / (2 * epsilon)
grad = gradapprox
{NORMS}""", 0),
    "the numerator only": (f"""
gradapprox = ({PLUS} - {MINUS}) / (2 * epsilon)
return np.linalg.norm(backward_propagation(x, theta) - gradapprox)""", 0),
    "the seed's value written in": ("return 2.919335883291695e-10", 0),
    "zero written in": ("return 0.0", 0),
}


@pytest.fixture(scope="module")
def check_scores(tmp_path_factory, assignment) -> dict[str, dict]:
    files = {
        f"{index}.ipynb": notebook(IMPORTS, FORWARD, BACKWARD, _check(body), CHECK_N)
        for index, body in enumerate(
            [*CORRECT_CHECKS.values(), *(body for body, _ in WRONG_CHECKS.values())]
        )
    }
    results = grade(Path(tmp_path_factory.mktemp("checks")), assignment, files)
    names = [*CORRECT_CHECKS, *WRONG_CHECKS]
    return {names[int(key)]: found["functions"]["gradient_check"] for key, found in results.items()}


@pytest.mark.parametrize("style", CORRECT_CHECKS)
def test_every_correct_form_of_gradient_check_earns_full_marks(check_scores, style):
    assert check_scores[style]["score"] == 40, check_scores[style]["message"]


@pytest.mark.parametrize("mistake", WRONG_CHECKS)
def test_a_wrong_formula_loses_what_its_cases_show(check_scores, mistake):
    assert check_scores[mistake]["score"] == WRONG_CHECKS[mistake][1], check_scores[mistake]


def test_the_reference_notebook_cell_still_passes(tmp_path, assignment):
    result = grade(tmp_path, assignment, {"ok.ipynb": notebook(IMPORTS, FORWARD, BACKWARD, CHECK)})
    assert result["ok"]["functions"]["gradient_check"]["score"] == 40


# --- stubs of the other functions, and a module the sandbox lacks ------------------------------

def test_stubs_earn_nothing(tmp_path, assignment):
    stubs = {
        "forward_8": ("forward_propagation", FORWARD.replace("J = theta * x", "J = 8")),
        "backward_2": ("backward_propagation", BACKWARD.replace("dtheta = x", "dtheta = 2")),
        "check_n_zero": ("gradient_check_n", _stub_check_n("0.0")),
        "check_n_tiny": ("gradient_check_n", _stub_check_n("1e-8")),
        "check_n_noise": ("gradient_check_n", _stub_check_n("1e-9 * np.random.rand()")),
    }
    files = {}
    for name, (function, cell) in stubs.items():
        cells = [IMPORTS, FORWARD, BACKWARD, CHECK, CHECK_N]
        index = {"forward_propagation": 1, "backward_propagation": 2, "gradient_check_n": 4}
        cells[index[function]] = cell
        files[f"{name}.ipynb"] = notebook(*cells)
    results = grade(tmp_path, assignment, files)
    for name, (function, _) in stubs.items():
        functions = results[name]["functions"]
        assert functions[function]["score"] == 0, (name, functions[function])
        assert results[name]["score"] == 100 - functions[function]["max_score"], name


def _stub_check_n(value: str) -> str:
    return (
        "# GRADED FUNCTION: gradient_check_n\n"
        "def gradient_check_n(parameters, gradients, X, Y, epsilon=1e-7, print_msg=False):\n"
        f"    return {value}\n"
    )


def test_a_module_the_sandbox_lacks_is_named(tmp_path, assignment):
    cell = FORWARD.replace("def forward_propagation", "import torch\n\ndef forward_propagation")
    cell = cell.replace("J = theta * x", "J = torch.tensor(theta) * x")
    result = grade(tmp_path, assignment, {"t.ipynb": notebook(IMPORTS, cell)})["t"]
    message = result["functions"]["forward_propagation"]["message"]
    assert "ModuleNotFoundError" in message and "`torch` is not available" in message
    assert "numpy" in message and "NameError" not in message
