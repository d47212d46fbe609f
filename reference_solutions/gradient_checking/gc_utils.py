"""Helpers shipped with the Gradient Checking assignment (activations and vector packing)."""

import numpy as np

# Parameter names, their shapes and the matching gradient names, in stacking order.
_LAYOUT: tuple[tuple[str, tuple[int, int]], ...] = (
    ("W1", (5, 4)),
    ("b1", (5, 1)),
    ("W2", (3, 5)),
    ("b2", (3, 1)),
    ("W3", (1, 3)),
    ("b3", (1, 1)),
)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Return the logistic sigmoid of x, elementwise."""
    return 1.0 / (1.0 + np.exp(-x))  # float constants: the same values, found faster


def relu(x: np.ndarray) -> np.ndarray:
    """Return max(0, x), elementwise."""
    return np.maximum(0.0, x)


def dictionary_to_vector(parameters: dict[str, np.ndarray]) -> tuple[np.ndarray, list[str]]:
    """Stack W1, b1, W2, b2, W3, b3 into one (47, 1) column.

    Also returns the list of parameter names, one entry per element of the column.
    """
    columns = []
    keys: list[str] = []
    for name, _ in _LAYOUT:
        column = np.reshape(parameters[name], (-1, 1))
        columns.append(column)
        keys.extend([name] * column.shape[0])
    return np.concatenate(columns, axis=0), keys


def vector_to_dictionary(theta: np.ndarray) -> dict[str, np.ndarray]:
    """Unroll a (47, 1) column back into the parameters dict (inverse of dictionary_to_vector)."""
    parameters = {}
    start = 0
    for name, shape in _LAYOUT:
        stop = start + shape[0] * shape[1]
        parameters[name] = theta[start:stop].reshape(shape)
        start = stop
    return parameters


def gradients_to_vector(gradients: dict[str, np.ndarray]) -> np.ndarray:
    """Stack dW1, db1, dW2, db2, dW3, db3 into one (47, 1) column."""
    columns = [np.reshape(gradients["d" + name], (-1, 1)) for name, _ in _LAYOUT]
    return np.concatenate(columns, axis=0)
