# Wrong, not in the catalog: returns 1 (the derivative of theta itself), whatever the input.
# GRADED FUNCTION: backward_propagation
def backward_propagation(x, theta):
    dtheta = 1
    return dtheta
