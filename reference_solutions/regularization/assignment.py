"""Grading spec of Regularization: points, the notebook's own test calls as public cases, and
hidden cases on other networks, lambd, keep_prob and seeds.

Expected values are computed here, in the grader's process, by the reference solution. Every
result of this assignment is determined by its inputs (dropout's masks too: they come from the
`seed` argument), so every case pins its value; none accepts a range.
"""

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import solution
from reg_test_cases import (
    backward_propagation_with_dropout_test_case,
    backward_propagation_with_regularization_test_case,
    compute_cost_with_regularization_test_case,
    forward_propagation_with_dropout_test_case,
)
from reg_utils import forward_propagation, relu, sigmoid

from grader.compare import Close
from grader.spec import Assignment, Case, read_support

# Dropout is worth more: its masks have to be drawn, applied, scaled and reused in the right way.
POINTS = {
    "compute_cost_with_regularization": 20,
    "backward_propagation_with_regularization": 20,
    "forward_propagation_with_dropout": 30,
    "backward_propagation_with_dropout": 30,
}
# Correct implementations differ only by rounding (np.sum(W**2) or a squared norm, A1 / keep_prob
# or A1 * (1 / keep_prob), bool or int masks): about 1e-16 relative. Every mistake the exercise
# is about (1/m for 1/(2m), a missing W3, no scaling, fresh masks, a term on db) changes some
# value by more than 1e-3. The absolute part covers gradients that cancel to almost nothing.
RTOL = 1e-7
ATOL = 1e-12
HIDDEN_SEED = 20171103
# Two networks unlike the notebook's 3-4-3-1 with 5 examples: (layer sizes, examples).
HIDDEN_NETWORKS = (((5, 6, 4, 1), 8), ((4, 8, 5, 1), 6))

Network = tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]


@contextlib.contextmanager
def _global_generator_kept() -> Iterator[None]:
    """The test-case builders and the reference seed NumPy's global generator: the grader's
    process gets its state back, so building the spec changes nothing else."""
    state = np.random.get_state()
    try:
        yield
    finally:
        np.random.set_state(state)


def _pinned(function: str, args: tuple, name: str, hidden: bool = False) -> Case:
    """A case whose expected value is the reference's result on `args`."""
    expected = getattr(solution, function)(*args)
    return Case(function, args, Close(expected, rtol=RTOL, atol=ATOL), name, hidden)


def _network(rng: np.random.Generator, layer_dims: tuple[int, ...], m: int) -> Network:
    """X, Y and parameters of a random network; biases are non-zero so a term on db shows."""
    parameters = {}
    for layer in range(1, len(layer_dims)):
        shape = (layer_dims[layer], layer_dims[layer - 1])
        parameters[f"W{layer}"] = rng.standard_normal(shape)
        parameters[f"b{layer}"] = rng.standard_normal((layer_dims[layer], 1))
    X = rng.standard_normal((layer_dims[0], m))
    Y = rng.integers(0, 2, (1, m))
    return X, Y, parameters


def _dropout_cache(
    rng: np.random.Generator, X: np.ndarray, parameters: dict[str, np.ndarray], keep_prob: float
) -> tuple:
    """The cache of a real dropout forward pass whose masks come from `rng`, not from a seed a
    student could draw again: a backward pass that redraws its masks instead of reusing the
    cache's cannot meet these."""
    W1, b1 = parameters["W1"], parameters["b1"]
    W2, b2 = parameters["W2"], parameters["b2"]
    W3, b3 = parameters["W3"], parameters["b3"]
    Z1 = W1 @ X + b1
    D1 = (rng.random(Z1.shape) < keep_prob).astype(int)
    A1 = relu(Z1) * D1 / keep_prob
    Z2 = W2 @ A1 + b2
    D2 = (rng.random(Z2.shape) < keep_prob).astype(int)
    A2 = relu(Z2) * D2 / keep_prob
    Z3 = W3 @ A2 + b3
    A3 = sigmoid(Z3)
    return (Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3)


def _public_cases() -> list[Case]:
    """The notebook's test cells, with the arguments they pass."""
    A3, Y, parameters = compute_cost_with_regularization_test_case()
    X_reg, Y_reg, cache_reg = backward_propagation_with_regularization_test_case()
    X_fwd, parameters_fwd = forward_propagation_with_dropout_test_case()
    X_drop, Y_drop, cache_drop = backward_propagation_with_dropout_test_case()
    return [
        _pinned(
            "compute_cost_with_regularization",
            (A3, Y, parameters, 0.1),
            "notebook test: compute_cost_with_regularization_test_case(), lambd=0.1",
        ),
        _pinned(
            "backward_propagation_with_regularization",
            (X_reg, Y_reg, cache_reg, 0.7),
            "notebook test: backward_propagation_with_regularization_test_case(), lambd=0.7",
        ),
        _pinned(
            "forward_propagation_with_dropout",
            (X_fwd, parameters_fwd, 0.7),
            "notebook test: forward_propagation_with_dropout_test_case(), keep_prob=0.7, "
            "seed=1: A3 and the cache, masks included",
        ),
        _pinned(
            "backward_propagation_with_dropout",
            (X_drop, Y_drop, cache_drop, 0.8),
            "notebook test: backward_propagation_with_dropout_test_case(), keep_prob=0.8",
        ),
    ]


def _hidden_cases(rng: np.random.Generator) -> list[Case]:
    """Each function on two other networks, with other lambd, keep_prob and seeds."""
    cases = []
    settings = zip(HIDDEN_NETWORKS, (0.7, 1.5), (0.6, 0.85), (5, 42), strict=True)
    for (layer_dims, m), lambd, keep_prob, seed in settings:
        X, Y, parameters = _network(rng, layer_dims, m)
        A3, cache = forward_propagation(X, parameters)
        network = f"another network ({m} examples, layers {'-'.join(map(str, layer_dims))})"
        cases += [
            _pinned(
                "compute_cost_with_regularization",
                (A3, Y, parameters, lambd),
                f"{network}, lambd={lambd}",
                hidden=True,
            ),
            _pinned(
                "backward_propagation_with_regularization",
                (X, Y, cache, lambd),
                f"{network}, lambd={lambd}",
                hidden=True,
            ),
            _pinned(
                "forward_propagation_with_dropout",
                (X, parameters, keep_prob, seed),
                f"{network}, keep_prob={keep_prob}, seed={seed}",
                hidden=True,
            ),
            _pinned(
                "backward_propagation_with_dropout",
                (X, Y, _dropout_cache(rng, X, parameters, keep_prob), keep_prob),
                f"{network}, keep_prob={keep_prob}, the masks of its cache (not a seed's)",
                hidden=True,
            ),
        ]
    return cases


def build(folder: Path) -> Assignment:
    """The Regularization assignment, with hidden cases drawn from a fixed seed."""
    with _global_generator_kept():
        cases = [*_public_cases(), *_hidden_cases(np.random.default_rng(HIDDEN_SEED))]
    return Assignment(
        name="regularization",
        title="Regularization",
        points=POINTS,
        cases=tuple(cases),
        solution=solution,
        folder=folder,
        **read_support(folder, ("reg_utils", "reg_test_cases"), "provided.py"),
    )
