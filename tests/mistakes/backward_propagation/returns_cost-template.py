# Mistake: dtheta is the cost theta * x itself.
# GRADED FUNCTION: backward_propagation
def backward_propagation(x, theta):
    ### START CODE HERE ### (approx. 1 line)
    dtheta = theta * x
    ### END CODE HERE ###
    return dtheta
