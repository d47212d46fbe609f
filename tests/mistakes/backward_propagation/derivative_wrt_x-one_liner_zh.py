# Mistake: returns theta (dJ/dx) in a one-liner with a Chinese comment.
# GRADED FUNCTION: backward_propagation
def backward_propagation(x, theta):
    # J = θ·x 对 θ 求导 (其实是对 x 求导了)
    return theta
