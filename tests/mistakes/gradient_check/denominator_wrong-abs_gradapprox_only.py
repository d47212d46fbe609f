# Mistake: the difference divided by |gradapprox| alone; abs() one-liners.
# GRADED FUNCTION: gradient_check
def gradient_check(x, theta, epsilon=1e-7):
    gradapprox = (forward_propagation(x, theta + epsilon) - forward_propagation(x, theta - epsilon)) / (2 * epsilon)
    grad = backward_propagation(x, theta)
    return abs(grad - gradapprox) / abs(gradapprox)
