# Wrong, not in the catalog: returns grad, the gradient itself.
# GRADED FUNCTION: gradient_check_n
def gradient_check_n(parameters, gradients, X, Y, epsilon=1e-7, print_msg=False):
    theta, _ = dictionary_to_vector(parameters)
    grad = gradients_to_vector(gradients)
    n = len(theta)
    shifts = np.eye(n) * epsilon
    cost = lambda v: forward_propagation_n(X, Y, vector_to_dictionary(v))[0]
    J_plus = np.array([cost(theta + shifts[:, [i]]) for i in range(n)]).reshape(-1, 1)
    J_minus = np.array([cost(theta - shifts[:, [i]]) for i in range(n)]).reshape(-1, 1)
    gradapprox = (J_plus - J_minus) / (2 * epsilon)
    difference = grad
    if print_msg:
        print(f"{difference = }")
    return difference
