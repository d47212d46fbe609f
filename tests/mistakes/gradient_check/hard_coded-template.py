# Mistake: the expected output written in, messages kept.
# GRADED FUNCTION: gradient_check
def gradient_check(x, theta, epsilon = 1e-7):
    ### START CODE HERE ### (approx. 1 line)
    difference = 2.919335883291695e-10
    ### END CODE HERE ###
    if difference < 1e-7:
        print ("The gradient is correct!")
    else:
        print ("The gradient is wrong!")
    return difference
