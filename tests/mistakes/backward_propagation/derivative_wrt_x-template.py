# Mistake: dtheta = theta, the derivative with respect to x.
# GRADED FUNCTION: backward_propagation

def backward_propagation(x, theta):
    """
    Computes the derivative of J with respect to theta (see Figure 1).
    """

    ### START CODE HERE ### (approx. 1 line)
    dtheta = theta
    ### END CODE HERE ###

    return dtheta
