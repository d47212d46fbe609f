# Mistake: gradapprox divided by epsilon; J and grad computed inline (no calls).
# GRADED FUNCTION: gradient_check
def gradient_check(x, theta, epsilon=1e-7):
    gradapprox = (x * (theta + epsilon) - x * (theta - epsilon)) / epsilon
    grad = x
    difference = np.linalg.norm(grad - gradapprox) / (np.linalg.norm(grad) + np.linalg.norm(gradapprox))
    return difference
