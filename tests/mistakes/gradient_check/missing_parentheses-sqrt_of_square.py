# Mistake: J_plus - J_minus / 2 / epsilon; norms as ((v) ** 2) ** 0.5 for scalars.
# GRADED FUNCTION: gradient_check
def gradient_check(x, theta, epsilon=1e-7):
    J_plus = forward_propagation(x, theta + epsilon)
    J_minus = forward_propagation(x, theta - epsilon)
    gradapprox = J_plus - J_minus / 2 / epsilon
    grad = backward_propagation(x, theta)
    numerator = ((grad - gradapprox) ** 2) ** 0.5
    denominator = (grad ** 2) ** 0.5 + (gradapprox ** 2) ** 0.5
    difference = numerator / denominator
    if difference < 1e-7:
        print("The gradient is correct!")
    else:
        print("The gradient is wrong!")
    return difference
