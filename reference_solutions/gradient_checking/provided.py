"""Code the Gradient Checking notebook hands to students, as it runs in their namespace."""

import numpy as np
from gc_utils import (  # noqa: F401
    dictionary_to_vector,
    gradients_to_vector,
    relu,
    sigmoid,
    vector_to_dictionary,
)
from testCases import *  # noqa: F403

Cache = tuple[np.ndarray, ...]


def forward_propagation_n(
    X: np.ndarray, Y: np.ndarray, parameters: dict[str, np.ndarray]
) -> tuple[float, Cache]:
    """Run LINEAR->RELU->LINEAR->RELU->LINEAR->SIGMOID and return (logistic cost, cache)."""
    m = X.shape[1]
    W1, b1 = parameters["W1"], parameters["b1"]
    W2, b2 = parameters["W2"], parameters["b2"]
    W3, b3 = parameters["W3"], parameters["b3"]

    Z1 = np.dot(W1, X) + b1
    A1 = relu(Z1)
    Z2 = np.dot(W2, A1) + b2
    A2 = relu(Z2)
    Z3 = np.dot(W3, A2) + b3
    A3 = sigmoid(Z3)

    # The notebook's cost, 1/m * sum(-y log(a) - (1 - y) log(1 - a)), bit for bit. For fewer
    # than 8 examples numpy sums one by one, so the same operations on Python floats give the
    # same bits, a third faster than nine ufunc calls on arrays of three numbers: this runs 94
    # times in each case of gradient_check_n. From 8 on, numpy sums pairwise.
    if m < 8:
        total = 0.0
        logs, logs_not = np.log(A3).ravel().tolist(), np.log(1.0 - A3).ravel().tolist()
        for log_a, log_not_a, y in zip(logs, logs_not, Y.ravel().tolist(), strict=True):
            total += -log_a * y + -log_not_a * (1 - y)
        cost = np.float64(1.0 / m * total)
    else:
        logprobs = np.multiply(-np.log(A3), Y) + np.multiply(-np.log(1 - A3), 1 - Y)
        cost = 1.0 / m * logprobs.sum()
    cache = (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3)
    return cost, cache


def backward_propagation_n(X: np.ndarray, Y: np.ndarray, cache: Cache) -> dict[str, np.ndarray]:
    """Return the gradients of the cost, as the notebook gives them to students to check."""
    m = X.shape[1]
    (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3) = cache

    dZ3 = A3 - Y
    dW3 = 1.0 / m * np.dot(dZ3, A2.T)
    db3 = 1.0 / m * np.sum(dZ3, axis=1, keepdims=True)

    dA2 = np.dot(W3.T, dZ3)
    dZ2 = np.multiply(dA2, np.int64(A2 > 0))
    dW2 = 1.0 / m * np.dot(dZ2, A1.T) * 2
    db2 = 1.0 / m * np.sum(dZ2, axis=1, keepdims=True)

    dA1 = np.dot(W2.T, dZ2)
    dZ1 = np.multiply(dA1, np.int64(A1 > 0))
    dW1 = 1.0 / m * np.dot(dZ1, X.T)
    db1 = 4.0 / m * np.sum(dZ1, axis=1, keepdims=True)

    return {
        "dZ3": dZ3, "dW3": dW3, "db3": db3,
        "dA2": dA2, "dZ2": dZ2, "dW2": dW2, "db2": db2,
        "dA1": dA1, "dZ1": dZ1, "dW1": dW1, "db1": db1,
    }  # fmt: skip
