# Mistake: one-sided difference from J(theta); keyword calls and np.abs, print_msg ignored.
# GRADED FUNCTION: gradient_check
def gradient_check(x, theta, epsilon=1e-7, print_msg=False):
    J_plus = forward_propagation(x=x, theta=theta + epsilon)
    J = forward_propagation(x=x, theta=theta)
    gradapprox = (J_plus - J) / epsilon
    grad = backward_propagation(x=x, theta=theta)
    difference = np.abs(grad - gradapprox) / (np.abs(grad) + np.abs(gradapprox))
    return difference
