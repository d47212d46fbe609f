"""Grading spec of Gradient Checking: points, public cases from the notebook, hidden cases.

Expected values are computed here, in the grader's process, by the reference solution.
"""

from pathlib import Path

import numpy as np
import provided
import solution
from testCases import gradient_check_n_test_case

from grader.compare import Close, Within
from grader.spec import Assignment, Case, read_support

POINTS = {
    "forward_propagation": 10,
    "backward_propagation": 10,
    "gradient_check": 40,
    "gradient_check_n": 40,
}
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


def _network(rng: np.random.Generator, m: int) -> tuple[np.ndarray, np.ndarray, dict]:
    shapes = {"W1": (5, 4), "b1": (5, 1), "W2": (3, 5), "b2": (3, 1), "W3": (1, 3), "b3": (1, 1)}
    parameters = {name: rng.standard_normal(shape) for name, shape in shapes.items()}
    return rng.standard_normal((4, m)), rng.integers(0, 2, (1, m)), parameters


def _gradients(X: np.ndarray, Y: np.ndarray, parameters: dict, shipped: bool = False) -> dict:
    _, cache = provided.forward_propagation_n(X, Y, parameters)
    if shipped:
        return provided.backward_propagation_n_shipped(X, Y, cache)
    return provided.backward_propagation_n(X, Y, cache)


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
    cases = [
        _exact("gradient_check", (2, 4), "gradient_check(2, 4) is 2.919e-10", rtol=1e-4),
        _exact("gradient_check", (3, 4), "gradient_check(3, 4) is 7.814e-11", rtol=1e-4),
    ]
    draws = [(float(rng.uniform(-5, 5)), float(rng.uniform(-5, 5)))]
    draws.append((rng.uniform(-3, 3, 4), float(rng.uniform(0.5, 5))))
    for x, theta in draws:
        if solution.gradient_check(x, theta) > 0:
            kind = "an array x" if isinstance(x, np.ndarray) else "other scalar (x, θ)"
            cases.append(
                _exact("gradient_check", (x, theta), kind, hidden=True, rtol=1e-4, weight=1.5)
            )
    return cases


def build(folder: Path) -> Assignment:
    """The Gradient Checking assignment, with hidden cases drawn from a fixed seed."""
    rng = np.random.default_rng(HIDDEN_SEED)
    x_hidden = (float(rng.uniform(-5, 5)), float(rng.uniform(-5, 5)))
    x_array = (rng.uniform(-3, 3, (2, 3)), float(rng.uniform(-3, 3)))
    cases = [
        _exact("forward_propagation", (2, 4), "forward_propagation(2, 4) is 8", weight=2),
        _exact("forward_propagation", x_hidden, "other scalar (x, θ)", hidden=True),
        _exact("forward_propagation", x_array, "an array x", hidden=True),
        _exact("backward_propagation", (2, 4), "backward_propagation(2, 4) is 2", weight=2),
        _exact("backward_propagation", x_hidden, "other scalar (x, θ)", hidden=True),
        _exact("backward_propagation", x_array, "an array x", hidden=True),
        *_gradient_check_cases(rng),
        *_gradient_check_n_cases(rng),
    ]
    return Assignment(
        name="gradient_checking",
        title="Gradient Checking",
        points=POINTS,
        cases=tuple(cases),
        solution=solution,
        folder=folder,
        **read_support(folder, ("gc_utils", "testCases"), "provided.py"),
    )
