# Mistake: backward_propagation called as (theta, x); a helper for the relative difference.
# GRADED FUNCTION: gradient_check
def relative_difference(a, b):
    return np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b))


def gradient_check(x, theta, epsilon=1e-7, print_msg=False):
    J_plus, J_minus = forward_propagation(x, theta + epsilon), forward_propagation(x, theta - epsilon)
    gradapprox = (J_plus - J_minus) / (2 * epsilon)
    dtheta = backward_propagation(theta, x)
    return relative_difference(dtheta, gradapprox)
