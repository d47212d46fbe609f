# Wrong, not in the catalog: returns the gradient itself instead of the difference.
# GRADED FUNCTION: gradient_check
def gradient_check(x, theta, epsilon=1e-7):
    grad = backward_propagation(x, theta)
    gradapprox = (forward_propagation(x, theta + epsilon) - forward_propagation(x, theta - epsilon)) / (2 * epsilon)
    print(gradapprox)
    return grad
