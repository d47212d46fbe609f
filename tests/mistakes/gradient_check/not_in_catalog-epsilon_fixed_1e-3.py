# Wrong, not in the catalog: epsilon fixed at 1e-3, the argument ignored.
# GRADED FUNCTION: gradient_check
def gradient_check(x, theta, epsilon=1e-7):
    eps = 1e-3
    J_plus = forward_propagation(x, theta + eps)
    J_minus = forward_propagation(x, theta - eps)
    gradapprox = (J_plus - J_minus) / (2 * eps)
    grad = backward_propagation(x, theta)
    return np.linalg.norm(grad - gradapprox) / (np.linalg.norm(grad) + np.linalg.norm(gradapprox))
