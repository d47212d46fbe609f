# Mistake: the expected output (dtheta = 2) written in.
# GRADED FUNCTION: backward_propagation
def backward_propagation(x, theta):
    ### START CODE HERE ### (approx. 1 line)
    dtheta = 2
    ### END CODE HERE ###
    return dtheta
