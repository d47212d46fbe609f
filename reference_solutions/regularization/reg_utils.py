"""Helpers shipped with the Regularization assignment: activations, the unregularized 3-layer
network, training steps and a small noisy 2-D data set that a large network overfits."""

import numpy as np

__all__ = [
    "sigmoid",
    "relu",
    "initialize_parameters",
    "forward_propagation",
    "compute_cost",
    "backward_propagation",
    "update_parameters",
    "predict",
    "load_2D_dataset",
]

Parameters = dict[str, np.ndarray]
Cache = tuple[np.ndarray, ...]


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Return the logistic sigmoid of z, elementwise."""
    return 1 / (1 + np.exp(-z))


def relu(z: np.ndarray) -> np.ndarray:
    """Return max(0, z), elementwise."""
    return np.maximum(0, z)


def initialize_parameters(layer_dims: list[int]) -> Parameters:
    """He initialization of W1..WL (scaled by sqrt(2 / fan-in)) and zero biases, seeded with 3
    so that every run of the notebook trains the same network."""
    np.random.seed(3)
    parameters = {}
    for layer in range(1, len(layer_dims)):
        fan_in = layer_dims[layer - 1]
        weights = np.random.randn(layer_dims[layer], fan_in) * np.sqrt(2 / fan_in)
        parameters[f"W{layer}"] = weights
        parameters[f"b{layer}"] = np.zeros((layer_dims[layer], 1))
    return parameters


def forward_propagation(X: np.ndarray, parameters: Parameters) -> tuple[np.ndarray, Cache]:
    """LINEAR->RELU->LINEAR->RELU->LINEAR->SIGMOID; returns A3 and the cache backprop needs."""
    W1, b1 = parameters["W1"], parameters["b1"]
    W2, b2 = parameters["W2"], parameters["b2"]
    W3, b3 = parameters["W3"], parameters["b3"]

    Z1 = np.dot(W1, X) + b1
    A1 = relu(Z1)
    Z2 = np.dot(W2, A1) + b2
    A2 = relu(Z2)
    Z3 = np.dot(W3, A2) + b3
    A3 = sigmoid(Z3)

    cache = (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3)
    return A3, cache


def compute_cost(A3: np.ndarray, Y: np.ndarray) -> float:
    """The cross-entropy cost -1/m * sum(y log(a) + (1 - y) log(1 - a)), without regularization.

    An output rounded to exactly 0 or 1 costs nothing where it is right (0 * log(0) is taken
    as 0) and infinity where it is wrong.
    """
    m = Y.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        log_likelihood = np.multiply(Y, np.log(A3)) + np.multiply(1 - Y, np.log(1 - A3))
    return float(-np.nansum(log_likelihood) / m)


def backward_propagation(X: np.ndarray, Y: np.ndarray, cache: Cache) -> dict[str, np.ndarray]:
    """Gradients of the cross-entropy cost with respect to every parameter and activation."""
    m = X.shape[1]
    (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3) = cache

    dZ3 = A3 - Y
    dW3 = 1.0 / m * np.dot(dZ3, A2.T)
    db3 = 1.0 / m * np.sum(dZ3, axis=1, keepdims=True)

    dA2 = np.dot(W3.T, dZ3)
    dZ2 = np.multiply(dA2, np.int64(A2 > 0))
    dW2 = 1.0 / m * np.dot(dZ2, A1.T)
    db2 = 1.0 / m * np.sum(dZ2, axis=1, keepdims=True)

    dA1 = np.dot(W2.T, dZ2)
    dZ1 = np.multiply(dA1, np.int64(A1 > 0))
    dW1 = 1.0 / m * np.dot(dZ1, X.T)
    db1 = 1.0 / m * np.sum(dZ1, axis=1, keepdims=True)

    return {
        "dZ3": dZ3, "dW3": dW3, "db3": db3,
        "dA2": dA2, "dZ2": dZ2, "dW2": dW2, "db2": db2,
        "dA1": dA1, "dZ1": dZ1, "dW1": dW1, "db1": db1,
    }  # fmt: skip


def update_parameters(
    parameters: Parameters, grads: dict[str, np.ndarray], learning_rate: float
) -> Parameters:
    """One step of gradient descent on every W and b."""
    layers = len(parameters) // 2
    return {
        f"{kind}{layer}": parameters[f"{kind}{layer}"] - learning_rate * grads[f"d{kind}{layer}"]
        for layer in range(1, layers + 1)
        for kind in ("W", "b")
    }


def predict(X: np.ndarray, parameters: Parameters) -> np.ndarray:
    """Labels 0 or 1 for each column of X: 1 where the network's output is above 0.5."""
    A3, _ = forward_propagation(X, parameters)
    return (A3 > 0.5).astype(int)


def load_2D_dataset() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Points of the square [-1, 1]², labelled by the side of a wavy curve they lie on, with a
    tenth of the labels flipped: a network that fits the flipped labels has overfit.

    Returns train_X (2, 200), train_Y (1, 200), test_X (2, 200), test_Y (1, 200).
    """
    rng = np.random.default_rng(2017)

    def sample(m: int) -> tuple[np.ndarray, np.ndarray]:
        X = rng.uniform(-1, 1, (2, m))
        Y = (X[1:2] > 0.4 * np.sin(3 * X[0:1])).astype(int)
        flipped = rng.random((1, m)) < 0.1
        return X, np.where(flipped, 1 - Y, Y)

    train_X, train_Y = sample(200)
    test_X, test_Y = sample(200)
    return train_X, train_Y, test_X, test_Y
