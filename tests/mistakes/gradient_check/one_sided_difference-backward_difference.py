# Mistake: one-sided difference taken backwards, (J(θ) − J(θ−ε)) / ε; helper for the norm.
# GRADED FUNCTION: gradient_check
def gradient_check(x, theta, epsilon=1e-7):
    def norm(v):
        return np.sqrt(np.sum(np.square(v)))

    J = forward_propagation(x, theta)
    J_minus = forward_propagation(x, theta - epsilon)
    gradapprox = (J - J_minus) / epsilon
    grad = backward_propagation(x, theta)
    difference = norm(grad - gradapprox) / (norm(grad) + norm(gradapprox))
    print("difference =", difference)
    return difference
