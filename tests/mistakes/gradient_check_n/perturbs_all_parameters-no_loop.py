# Mistake: no loop at all: J(θ+ε) and J(θ−ε) with ε added to every parameter, one number.
# GRADED FUNCTION: gradient_check_n
def gradient_check_n(parameters, gradients, X, Y, epsilon=1e-7, print_msg=False):
    parameters_values, _ = dictionary_to_vector(parameters)
    grad = gradients_to_vector(gradients)
    J_plus, _ = forward_propagation_n(X, Y, vector_to_dictionary(parameters_values + epsilon))
    J_minus, _ = forward_propagation_n(X, Y, vector_to_dictionary(parameters_values - epsilon))
    gradapprox = (J_plus - J_minus) / (2 * epsilon)
    numerator = np.linalg.norm(grad - gradapprox)
    denominator = np.linalg.norm(grad) + np.linalg.norm(gradapprox)
    difference = numerator / denominator
    return difference
