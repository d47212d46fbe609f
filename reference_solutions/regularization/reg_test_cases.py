"""Inputs of the notebook's test cells: small 3-layer networks drawn from fixed seeds.

Every network has 3 inputs, hidden layers of 4 and 3 units, one output and 5 examples.
"""

import numpy as np
from reg_utils import forward_propagation, relu, sigmoid

__all__ = [
    "compute_cost_with_regularization_test_case",
    "backward_propagation_with_regularization_test_case",
    "forward_propagation_with_dropout_test_case",
    "backward_propagation_with_dropout_test_case",
]

LAYER_DIMS = (3, 4, 3, 1)
EXAMPLES = 5


def _parameters() -> dict[str, np.ndarray]:
    """W1..W3 and b1..b3 drawn from the current seed (biases too, so that no term is zero)."""
    parameters = {}
    for layer in range(1, len(LAYER_DIMS)):
        parameters[f"W{layer}"] = np.random.randn(LAYER_DIMS[layer], LAYER_DIMS[layer - 1])
        parameters[f"b{layer}"] = np.random.randn(LAYER_DIMS[layer], 1)
    return parameters


def _labels() -> np.ndarray:
    return np.array([[1, 0, 1, 1, 0]])


def compute_cost_with_regularization_test_case() -> tuple[np.ndarray, np.ndarray, dict]:
    """Return A3 (1, 5), Y (1, 5) and the parameters of the network that produced A3."""
    np.random.seed(21)
    parameters = _parameters()
    A3 = sigmoid(np.random.randn(1, EXAMPLES))
    return A3, _labels(), parameters


def backward_propagation_with_regularization_test_case() -> tuple[np.ndarray, np.ndarray, tuple]:
    """Return X (3, 5), Y (1, 5) and the cache of forward_propagation on X."""
    np.random.seed(22)
    X = np.random.randn(LAYER_DIMS[0], EXAMPLES)
    _, cache = forward_propagation(X, _parameters())
    return X, _labels(), cache


def forward_propagation_with_dropout_test_case() -> tuple[np.ndarray, dict]:
    """Return X (3, 5) and the parameters of the network."""
    np.random.seed(23)
    X = np.random.randn(LAYER_DIMS[0], EXAMPLES)
    return X, _parameters()


def backward_propagation_with_dropout_test_case() -> tuple[np.ndarray, np.ndarray, tuple]:
    """Return X (3, 5), Y (1, 5) and a dropout cache (Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2,
    Z3, A3, W3, b3) whose masks keep units with probability 0.8.

    Its numbers need not come from a real forward pass: backpropagation reads only the masks,
    the activations (zero wherever a unit was dropped or inactive) and the weights.
    """
    np.random.seed(24)
    X = np.random.randn(LAYER_DIMS[0], EXAMPLES)
    parameters = _parameters()
    Z1 = np.random.randn(LAYER_DIMS[1], EXAMPLES)
    D1 = (np.random.rand(*Z1.shape) < 0.8).astype(int)
    A1 = relu(Z1) * D1
    Z2 = np.random.randn(LAYER_DIMS[2], EXAMPLES)
    D2 = (np.random.rand(*Z2.shape) < 0.8).astype(int)
    A2 = relu(Z2) * D2
    Z3 = np.random.randn(1, EXAMPLES)
    A3 = sigmoid(Z3)
    W1, b1, W2, b2, W3, b3 = (parameters[name] for name in ("W1", "b1", "W2", "b2", "W3", "b3"))
    cache = (Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3)
    return X, _labels(), cache
