"""Grading spec of Gradient Checking: points, public cases from the notebook, hidden cases.

Expected values are computed here, in the grader's process, by the reference solution.
"""

import dataclasses
import itertools
import math
from pathlib import Path

import numpy as np
import provided
import solution
from mistakes import catalog
from testCases import gradient_check_n_test_case

from grader.compare import Close, Expectation, Within
from grader.spec import Assignment, Case, Inspection, Probe, read_support, substituted

POINTS = {
    "forward_propagation": 10,
    "backward_propagation": 10,
    "gradient_check": 40,
    "gradient_check_n": 40,
}
# The exercise's own rule for gradient_check: with J = θx the true difference is 0, and what a
# correct implementation returns is rounding noise whose bits depend on how it is written.
CHECK_LIMIT = 1e-7
CHECK_WHY = (
    "For J = θx the centred difference is exact, so a correct gradient_check returns only "
    "rounding noise, below 1e-7; a larger value means gradapprox or the difference is wrong."
)
NOISE_LIMIT = 2e-7
NOISE_WHY = (
    "With correct gradients the difference is only rounding noise (about 1.2e-7 on the test "
    "case); a larger value means gradapprox or the difference is computed wrongly."
)
HIDDEN_SEED = 20171102
# Hidden network cases use a larger epsilon: the centred difference's truncation error then
# dominates rounding noise, so every correct implementation returns the same value to ~1e-7
# relative, while a one-sided difference or a halved denominator is off by orders of magnitude.
HIDDEN_EPSILON = 1e-3
# For J = xθ³ the centred difference's truncation error is x·ε², the one-sided one 3xθ·ε: with
# ε = 1e-2 the correct difference (about ε²/6θ²) is far above rounding noise and a one-sided
# difference is a thousand times larger.
CUBIC_EPSILON = 1e-2


def _derivative_wrt_x(x: float, theta: float) -> float:
    """A wrong backward_propagation: the derivative of θx with respect to x, not θ."""
    return theta


def _cubic_forward(x: float, theta: float) -> float:
    """J = xθ³: a model whose centred difference has a known truncation error."""
    return x * theta**3


def _cubic_backward(x: float, theta: float) -> float:
    return 3 * x * theta**2


# Answers to the student's own calls of forward_propagation and backward_propagation, so that
# the formula of gradient_check shows in its result: with a wrong gradient the difference is
# large and exact; with J = xθ³ and a larger epsilon a one-sided difference is far off.
MODELS = {
    "wrong_gradient": {"backward_propagation": _derivative_wrt_x},
    "cubic": {"forward_propagation": _cubic_forward, "backward_propagation": _cubic_backward},
}


def _exact(
    function: str,
    args: tuple,
    name: str,
    hidden: bool = False,
    rtol: float = 1e-9,
    weight: float = 1.0,
) -> Case:
    expected = getattr(solution, function)(*args)
    return Case(function, args, Close(expected, rtol=rtol), name, hidden, weight)


def _checked(value: float, rtol: float) -> Expectation:
    """A gradient_check result: rounding noise is judged by the exercise's rule, anything
    larger must be the value itself."""
    if value < CHECK_LIMIT:
        return Within(0.0, CHECK_LIMIT, CHECK_WHY)
    return Close(value, rtol=rtol)


def _gradient_check_case(
    args: tuple,
    name: str,
    model: str | None = None,
    hidden: bool = False,
    weight: float = 1.0,
    rtol: float = 1e-6,
) -> Case:
    """A gradient_check case; with a model, what it expects for each set of the model's
    functions the student's code calls (the others it computes inline, with J = θx)."""
    if model is None:
        expect = _checked(solution.gradient_check(*args), rtol)
        return Case("gradient_check", args, expect, name, hidden, weight)
    answers = MODELS[model]
    expect_when = {
        frozenset(called): _checked(
            substituted(solution.gradient_check, {n: answers[n] for n in called})(*args), rtol
        )
        for size in range(len(answers) + 1)
        for called in itertools.combinations(sorted(answers), size)
    }
    every = expect_when[frozenset(answers)]
    return Case("gradient_check", args, every, name, hidden, weight, model, expect_when)


def _network(rng: np.random.Generator, m: int) -> tuple[np.ndarray, np.ndarray, dict]:
    shapes = {"W1": (5, 4), "b1": (5, 1), "W2": (3, 5), "b2": (3, 1), "W3": (1, 3), "b3": (1, 1)}
    parameters = {name: rng.standard_normal(shape) for name, shape in shapes.items()}
    return rng.standard_normal((4, m)), rng.integers(0, 2, (1, m)), parameters


def _gradients(X: np.ndarray, Y: np.ndarray, parameters: dict, shipped: bool = False) -> dict:
    _, cache = provided.forward_propagation_n(X, Y, parameters)
    if shipped:
        return provided.backward_propagation_n(X, Y, cache)
    return solution.backward_propagation_n(X, Y, cache)


def _gradient_check_n_cases(rng: np.random.Generator) -> list[Case]:
    X, Y, parameters = gradient_check_n_test_case()
    right, shipped = _gradients(X, Y, parameters), _gradients(X, Y, parameters, shipped=True)
    cases = [
        Case(
            "gradient_check_n",
            (parameters, right, X, Y),
            Within(0.0, NOISE_LIMIT, NOISE_WHY),
            "test case, corrected backward_propagation_n: difference below 2e-7",
        ),
        Case(
            "gradient_check_n",
            (parameters, shipped, X, Y),
            Close(solution.gradient_check_n(parameters, shipped, X, Y), rtol=5e-8),
            "test case, shipped backward_propagation_n (dW2 and db1 wrong)",
        ),
    ]
    X, Y, parameters = _network(rng, m=5)
    args = (parameters, _gradients(X, Y, parameters), X, Y, HIDDEN_EPSILON)
    expected = Close(solution.gradient_check_n(*args), rtol=1e-5)
    name = f"another network and epsilon={HIDDEN_EPSILON:g}"
    cases.append(Case("gradient_check_n", args, expected, name, hidden=True, weight=2))
    return cases


def _gradient_check_cases(rng: np.random.Generator) -> list[Case]:
    # x and θ of one sign: with opposite signs, |θ - x| / (|θ| + |x|) is 1 whatever the factor
    # on x, and a gradapprox missing its 2 would pass.
    x = _scalar(rng)
    theta = math.copysign(_scalar(rng), x)
    x_cubic, theta_cubic = _scalar(rng), _scalar(rng)
    return [
        _gradient_check_case((2, 4), "gradient_check(2, 4): difference below 1e-7"),
        _gradient_check_case(
            (2, 4),
            "gradient_check(2, 4) with a wrong backward_propagation (it returns θ): "
            "the difference is 1/3",
            model="wrong_gradient",
        ),
        _gradient_check_case((x, theta), "other scalar (x, θ)", hidden=True),
        _gradient_check_case(
            (x, theta), "other scalar (x, θ), wrong gradient", "wrong_gradient", hidden=True
        ),
        _gradient_check_case(
            (x_cubic, theta_cubic, CUBIC_EPSILON),
            f"another J(θ) and epsilon={CUBIC_EPSILON:g}",
            "cubic",
            hidden=True,
            rtol=1e-4,
        ),
    ]


def _scalar(rng: np.random.Generator) -> float:
    """A real number away from 0, of either sign: inside the 1-D functions' domain."""
    return float(rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 4))


def _probes() -> tuple[Probe, ...]:
    """Calls that tell the catalog's mistakes apart (see mistakes.py): inputs of other sizes
    and signs, the models' answers, and epsilons large enough that the ways of getting
    gradapprox wrong give different values.

    The hidden cases tell the same mistakes apart but one: most probes serve `grader check`
    only, sparing every graded submission their calls.
    """
    X, Y, parameters = gradient_check_n_test_case()
    check_only = [
        Probe("forward_propagation", (3, -1.5)),
        Probe("backward_propagation", (3, -1.5)),
        Probe("gradient_check", (3, 1.5)),
        Probe("gradient_check", (2, 3, 1.0)),
        Probe("gradient_check", (3, 1.5), "wrong_gradient"),
        Probe("gradient_check", (1.5, 3, CUBIC_EPSILON), "cubic"),
        Probe("gradient_check_n", (parameters, _gradients(X, Y, parameters), X, Y, 2e-2)),
    ]
    return (
        *(dataclasses.replace(probe, instead_of_hidden=True) for probe in check_only),
        # x and θ of opposite signs: a gradapprox of the wrong sign then agrees in sign with
        # the wrong gradient (difference 1/3), while a gradapprox of 0 still gives 1.
        Probe("gradient_check", (3, -1.5), "wrong_gradient"),
    )


def _public_values(cases: list[Case]) -> dict[str, tuple[object, ...]]:
    """What the notebook shows for each public case a student could copy into a function."""
    values: dict[str, tuple[object, ...]] = {}
    for case in cases:
        if not case.hidden and case.model is None:
            value = getattr(solution, case.function)(*case.args)
            values[case.function] = (*values.get(case.function, ()), value)
    return values


# The parameter blocks of backward_propagation_n's gradients, as gradients_to_vector stacks them.
GRADIENT_BLOCKS = ("dW1", "db1", "dW2", "db2", "dW3", "db3")
FIX_BACKWARD_ABOUT = (
    "The exercise ends by asking you to find and fix the two mistakes in "
    "backward_propagation_n. Your version is compared with the corrected one on the notebook's "
    "test case, gradient by gradient."
)


def _backward_propagation_n_inspection() -> Inspection:
    """The last step of the exercise, ungraded: which gradients of the student's
    backward_propagation_n match the corrected one's, on the notebook's own test case."""
    X, Y, parameters = gradient_check_n_test_case()
    _, cache = provided.forward_propagation_n(X, Y, parameters)
    right = solution.backward_propagation_n(X, Y, cache)
    expected = {name: right[name] for name in GRADIENT_BLOCKS}
    return Inspection("backward_propagation_n", (X, Y, cache), expected, FIX_BACKWARD_ABOUT)


def build(folder: Path) -> Assignment:
    """The Gradient Checking assignment, with hidden cases drawn from a fixed seed."""
    rng = np.random.default_rng(HIDDEN_SEED)
    scalars = [(_scalar(rng), _scalar(rng)) for _ in range(2)]
    cases = [
        _exact("forward_propagation", (2, 4), "forward_propagation(2, 4) is 8", weight=2),
        *(_exact("forward_propagation", args, "other scalar (x, θ)", True) for args in scalars),
        _exact("backward_propagation", (2, 4), "backward_propagation(2, 4) is 2", weight=2),
        *(_exact("backward_propagation", args, "other scalar (x, θ)", True) for args in scalars),
        *_gradient_check_cases(rng),
        *_gradient_check_n_cases(rng),
    ]
    return Assignment(
        name="gradient_checking",
        mistakes=catalog(_public_values(cases)),
        probes=_probes(),
        noise={"gradient_check": CHECK_LIMIT, "gradient_check_n": NOISE_LIMIT},
        title="Gradient Checking",
        points=POINTS,
        cases=tuple(cases),
        solution=solution,
        folder=folder,
        models=MODELS,
        inspections=(_backward_propagation_n_inspection(),),
        **read_support(folder, ("gc_utils", "testCases"), "provided.py"),
    )
