# Mistake: `/ 2 * epsilon` multiplies by epsilon; 2021 signature, keyword calls, np.abs.
# UNQ_C3 (UNIQUE CELL IDENTIFIER, DO NOT EDIT)
# GRADED FUNCTION: gradient_check

def gradient_check(x, theta, epsilon=1e-7, print_msg=False):
    # YOUR CODE STARTS HERE
    theta_plus = theta + epsilon
    theta_minus = theta - epsilon
    J_plus = forward_propagation(x=x, theta=theta_plus)
    J_minus = forward_propagation(x=x, theta=theta_minus)
    gradapprox = (J_plus - J_minus) / 2 * epsilon
    grad = backward_propagation(x=x, theta=theta)
    difference = np.abs(grad - gradapprox) / (np.abs(grad) + np.abs(gradapprox))
    # YOUR CODE ENDS HERE
    if print_msg:
        if difference > 2e-7:
            print("\033[93m" + "There is a mistake in the backward propagation! difference = " + str(difference) + "\033[0m")
        else:
            print("\033[92m" + "Your backward propagation works perfectly fine! difference = " + str(difference) + "\033[0m")
    return difference
