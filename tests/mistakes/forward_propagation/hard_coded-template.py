# Mistake: the expected output (J = 8) written in.
# GRADED FUNCTION: forward_propagation
def forward_propagation(x, theta):
    ### START CODE HERE ### (approx. 1 line)
    J = 8
    ### END CODE HERE ###
    return J
