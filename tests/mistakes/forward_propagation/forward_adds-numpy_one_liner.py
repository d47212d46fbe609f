# Mistake: np.add instead of a product, in a one-liner.
#GRADED FUNCTION: forward_propagation
def forward_propagation(x, theta):
    return np.add(x, theta)  # 前向传播: J(θ) = θx
