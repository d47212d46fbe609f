# Wrong, not in the catalog: J = 2θx (an extra factor 2).
# GRADED FUNCTION: forward_propagation
def forward_propagation(x, theta):
    J = 2 * theta * x
    return J
