# Mistake: returns 8.0 whatever x and theta are.
# GRADED FUNCTION: forward_propagation
def forward_propagation(x, theta):
    return 8.0
