"""Reference solutions of the four graded functions of the Gradient Checking assignment."""

import numpy as np
import provided
from gc_utils import dictionary_to_vector, gradients_to_vector, vector_to_dictionary
from provided import Cache, forward_propagation_n


def forward_propagation(x: float, theta: float) -> float:
    """Return J(theta) = theta * x."""
    J = theta * x
    return J


def backward_propagation(x: float, theta: float) -> float:
    """Return dJ/dtheta, which is x for J = theta * x."""
    dtheta = x
    return dtheta


def _relative_difference(grad: np.ndarray | float, gradapprox: np.ndarray | float) -> float:
    """Return ||grad - gradapprox|| / (||grad|| + ||gradapprox||)."""
    numerator = np.linalg.norm(grad - gradapprox)
    denominator = np.linalg.norm(grad) + np.linalg.norm(gradapprox)
    return numerator / denominator


def gradient_check(x: float, theta: float, epsilon: float = 1e-7, print_msg: bool = False) -> float:
    """Compare backward_propagation with a centred difference of forward_propagation.

    Returns the relative difference between the two gradients.
    """
    thetaplus = theta + epsilon
    thetaminus = theta - epsilon
    J_plus = forward_propagation(x, thetaplus)
    J_minus = forward_propagation(x, thetaminus)
    gradapprox = (J_plus - J_minus) / (2 * epsilon)

    grad = backward_propagation(x, theta)
    difference = _relative_difference(grad, gradapprox)

    if print_msg:
        if difference > 2e-7:
            print("The gradient is wrong!")
        else:
            print("The gradient is correct!")
    return difference


def gradient_check_n(
    parameters: dict[str, np.ndarray],
    gradients: dict[str, np.ndarray],
    X: np.ndarray,
    Y: np.ndarray,
    epsilon: float = 1e-7,
    print_msg: bool = False,
) -> float:
    """Check backprop gradients of the 3-layer net against centred differences of the cost.

    Perturbs one of the 47 parameters at a time; returns the relative difference.
    """
    parameters_values, _ = dictionary_to_vector(parameters)
    grad = gradients_to_vector(gradients)
    num_parameters = parameters_values.shape[0]
    J_plus = np.zeros((num_parameters, 1))
    J_minus = np.zeros((num_parameters, 1))
    gradapprox = np.zeros((num_parameters, 1))

    for i in range(num_parameters):
        thetaplus = np.copy(parameters_values)
        thetaplus[i][0] = thetaplus[i][0] + epsilon
        J_plus[i], _ = forward_propagation_n(X, Y, vector_to_dictionary(thetaplus))

        thetaminus = np.copy(parameters_values)
        thetaminus[i][0] = thetaminus[i][0] - epsilon
        J_minus[i], _ = forward_propagation_n(X, Y, vector_to_dictionary(thetaminus))

        gradapprox[i] = (J_plus[i] - J_minus[i]) / (2 * epsilon)

    difference = _relative_difference(grad, gradapprox)

    if print_msg:
        if difference > 2e-7:
            print(f"There is a mistake in the backward propagation! difference = {difference}")
        else:
            print(f"Your backward propagation works perfectly fine! difference = {difference}")
    return difference


def backward_propagation_n(X: np.ndarray, Y: np.ndarray, cache: Cache) -> dict[str, np.ndarray]:
    """The notebook's backward_propagation_n with its two planted bugs fixed (the answer to
    its last exercise): no factor 2 on dW2, and 1./m in db1. The same operations as the
    notebook's, so the same bits."""
    gradients = provided.backward_propagation_n(X, Y, cache)
    m, A1 = X.shape[1], cache[1]
    gradients["dW2"] = 1.0 / m * np.dot(gradients["dZ2"], A1.T)
    gradients["db1"] = 1.0 / m * np.sum(gradients["dZ1"], axis=1, keepdims=True)
    return gradients
