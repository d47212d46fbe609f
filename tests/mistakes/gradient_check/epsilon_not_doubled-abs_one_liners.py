# Mistake: gradapprox divided by epsilon, not 2 * epsilon; Python abs() as the 1-D norm.
# GRADED FUNCTION: gradient_check
def gradient_check(x, theta, epsilon=1e-7):
    gradapprox = (forward_propagation(x, theta + epsilon) - forward_propagation(x, theta - epsilon)) / epsilon
    grad = backward_propagation(x, theta)
    return abs(grad - gradapprox) / (abs(grad) + abs(gradapprox))
