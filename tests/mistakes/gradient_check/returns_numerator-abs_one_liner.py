# Mistake: returns |grad - gradapprox|, not divided by the norms.
# GRADED FUNCTION: gradient_check
def gradient_check(x, theta, epsilon=1e-7):
    grad = backward_propagation(x, theta)
    gradapprox = (forward_propagation(x, theta + epsilon) - forward_propagation(x, theta - epsilon)) / (2 * epsilon)
    return abs(grad - gradapprox)
