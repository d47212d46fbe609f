# Mistake: thetaplus and thetaminus swapped (θ−ε and θ+ε), so gradapprox has the wrong sign.
# GRADED FUNCTION: gradient_check
def gradient_check(x, theta, epsilon=1e-7):
    # 第一步: 计算 θ+ε 和 θ-ε
    thetaplus = theta - epsilon
    thetaminus = theta + epsilon
    # 第二步: 前向传播
    J_plus = forward_propagation(x, thetaplus)
    J_minus = forward_propagation(x, thetaminus)
    # 第三步: 梯度近似
    gradapprox = (J_plus - J_minus) / (2 * epsilon)
    # 反向传播得到的梯度
    grad = backward_propagation(x, theta)
    # 相对差值
    numerator = np.linalg.norm(grad - gradapprox)
    denominator = np.linalg.norm(grad) + np.linalg.norm(gradapprox)
    difference = numerator / denominator
    if difference < 1e-7:
        print("梯度检验正确!")
    else:
        print("梯度检验错误!")
    return difference
