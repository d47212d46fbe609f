# Mistake: returns forward_propagation(x, theta), the cost, not its derivative.
# GRADED FUNCTION: backward_propagation
def backward_propagation(x, theta):
    dtheta = forward_propagation(x, theta)
    return dtheta
