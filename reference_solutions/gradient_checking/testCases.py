"""Test-case builders for the Gradient Checking assignment."""

import numpy as np

__all__ = ["np", "gradient_check_n_test_case"]


def gradient_check_n_test_case() -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Return X (4, 3), Y (3,) and the parameters of the 3-layer net, seeded with 1."""
    np.random.seed(1)
    x = np.random.randn(4, 3)
    y = np.array([1, 1, 0])
    W1 = np.random.randn(5, 4)
    b1 = np.random.randn(5, 1)
    W2 = np.random.randn(3, 5)
    b2 = np.random.randn(3, 1)
    W3 = np.random.randn(1, 3)
    b3 = np.random.randn(1, 1)
    parameters = {"W1": W1, "b1": b1, "W2": W2, "b2": b2, "W3": W3, "b3": b3}
    return x, y, parameters
