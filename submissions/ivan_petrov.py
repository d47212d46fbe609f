#!/usr/bin/env python
# coding: utf-8


# # Gradient Checking
# 
# Welcome to the last assignment of this week! Ivan Petrov


# In[1]:


# Packages
import numpy as np
from testCases import *
from gc_utils import sigmoid, relu, dictionary_to_vector, vector_to_dictionary, gradients_to_vector


# ## 1) 1-dimensional gradient checking


# In[2]:


# GRADED FUNCTION: forward_propagation

def forward_propagation(x, theta):
    """
    Compute J(theta) = theta * x for the 1-D linear model of Figure 1.

    Arguments:
    x -- a real-valued input
    theta -- the parameter, also a real number

    Returns:
    J -- the value of the function, J(theta) = theta * x
    """

    ### START CODE HERE ### (approx. 1 line)
    J = theta * x
    ### END CODE HERE ###

    return J



# In[3]:


x, theta = 2, 4
J = forward_propagation(x, theta)
print ("J = " + str(J))



# In[4]:


# GRADED FUNCTION: backward_propagation

def backward_propagation(x, theta):
    """
    Compute the derivative of J with respect to theta (Figure 1).

    Arguments:
    x -- a real-valued input
    theta -- the parameter, also a real number

    Returns:
    dtheta -- the gradient of J with respect to theta
    """

    ### START CODE HERE ### (approx. 1 line)
    dtheta = x
    ### END CODE HERE ###

    return dtheta



# In[5]:


x, theta = 2, 4
dtheta = backward_propagation(x, theta)
print ("dtheta = " + str(dtheta))



# In[6]:


# GRADED FUNCTION: gradient_check

def gradient_check(x, theta, epsilon=1e-7, print_msg=False):
    """
    Check backward_propagation() against a two-sided numerical estimate of dJ/dtheta.

    Arguments:
    x -- a real-valued input
    theta -- the parameter, also a real number
    epsilon -- small shift of theta used in formula (1)
    print_msg -- if True, print whether the gradient looks right

    Returns:
    difference -- the relative difference (2) between gradapprox and grad
    """

    # Compute gradapprox using left side of formula (1). epsilon is small enough, you don't
    # need to worry about the limit.
    ### START CODE HERE ### (approx. 5 lines)
    thetaplus = theta + epsilon
    thetaminus = theta - epsilon
    J_plus = thetaplus * x
    J_minus = thetaminus * x
    gradapprox = (J_plus - J_minus) / (2 * epsilon)
    ### END CODE HERE ###

    # Check if gradapprox is close enough to the output of backward_propagation()
    ### START CODE HERE ### (approx. 1 line)
    grad = x
    ### END CODE HERE ###

    ### START CODE HERE ### (approx. 3 lines)
    numerator = np.linalg.norm(grad - gradapprox)
    denominator = np.linalg.norm(grad) + np.linalg.norm(gradapprox)
    difference = numerator / denominator
    ### END CODE HERE ###

    if print_msg:
        if difference > 2e-7:
            print("\033[93m" + "The gradient is wrong!" + "\033[0m")
        else:
            print("\033[92m" + "The gradient is correct!" + "\033[0m")

    return difference



# In[7]:


x, theta = 2, 4
difference = gradient_check(2, 4, print_msg=True)
print("difference = " + str(difference))


# ## 3) N-dimensional gradient checking


# In[8]:


def forward_propagation_n(X, Y, parameters):
    """
    Forward pass of the 3-layer network of Figure 3, followed by the cost.

    Arguments:
    X -- training set of m examples, shape (4, m)
    Y -- labels of the m examples
    parameters -- python dictionary with the parameters "W1", "b1", "W2", "b2", "W3", "b3":
                    W1 -- weight matrix of shape (5, 4)
                    b1 -- bias vector of shape (5, 1)
                    W2 -- weight matrix of shape (3, 5)
                    b2 -- bias vector of shape (3, 1)
                    W3 -- weight matrix of shape (1, 3)
                    b3 -- bias vector of shape (1, 1)

    Returns:
    cost -- the logistic cost, averaged over the m examples
    cache -- values needed by backward_propagation_n
    """

    # retrieve parameters
    m = X.shape[1]
    W1 = parameters["W1"]
    b1 = parameters["b1"]
    W2 = parameters["W2"]
    b2 = parameters["b2"]
    W3 = parameters["W3"]
    b3 = parameters["b3"]

    # LINEAR -> RELU -> LINEAR -> RELU -> LINEAR -> SIGMOID
    Z1 = np.dot(W1, X) + b1
    A1 = relu(Z1)
    Z2 = np.dot(W2, A1) + b2
    A2 = relu(Z2)
    Z3 = np.dot(W3, A2) + b3
    A3 = sigmoid(Z3)

    # Cost
    logprobs = np.multiply(-np.log(A3), Y) + np.multiply(-np.log(1 - A3), 1 - Y)
    cost = 1. / m * np.sum(logprobs)

    cache = (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3)

    return cost, cache



# In[12]:


def backward_propagation_n(X, Y, cache):
    """
    Backward pass of the 3-layer network of Figure 2.

    Arguments:
    X -- input data, of shape (input size, m)
    Y -- true labels
    cache -- cache returned by forward_propagation_n()

    Returns:
    gradients -- dictionary with the gradients of the cost with respect to each parameter,
                 activation and pre-activation variable
    """

    m = X.shape[1]
    (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3) = cache

    dZ3 = A3 - Y
    dW3 = 1. / m * np.dot(dZ3, A2.T)
    db3 = 1. / m * np.sum(dZ3, axis=1, keepdims=True)

    dA2 = np.dot(W3.T, dZ3)
    dZ2 = np.multiply(dA2, np.int64(A2 > 0))
    dW2 = 1. / m * np.dot(dZ2, A1.T)  # fixed: removed "* 2"
    db2 = 1. / m * np.sum(dZ2, axis=1, keepdims=True)

    dA1 = np.dot(W2.T, dZ2)
    dZ1 = np.multiply(dA1, np.int64(A1 > 0))
    dW1 = 1. / m * np.dot(dZ1, X.T)
    db1 = 4. / m * np.sum(dZ1, axis=1, keepdims=True)

    gradients = {"dZ3": dZ3, "dW3": dW3, "db3": db3,
                 "dA2": dA2, "dZ2": dZ2, "dW2": dW2, "db2": db2,
                 "dA1": dA1, "dZ1": dZ1, "dW1": dW1, "db1": db1}

    return gradients



# In[10]:


# GRADED FUNCTION: gradient_check_n

def gradient_check_n(parameters, gradients, X, Y, epsilon=1e-7, print_msg=False):
    """
    Check that backward_propagation_n computes the gradient of the cost returned by
    forward_propagation_n, one parameter at a time.

    Arguments:
    parameters -- python dictionary with the parameters "W1", "b1", "W2", "b2", "W3", "b3"
    gradients -- output of backward_propagation_n: gradients of the cost w.r.t. the parameters
    X -- input data, of shape (input size, number of examples)
    Y -- true labels
    epsilon -- small shift of the inputs used in formula (1)
    print_msg -- if True, print whether the gradients look right

    Returns:
    difference -- the relative difference (2) between gradapprox and the backprop gradient
    """

    # Set-up variables
    parameters_values, _ = dictionary_to_vector(parameters)
    grad = gradients_to_vector(gradients)
    num_parameters = parameters_values.shape[0]
    J_plus = np.zeros((num_parameters, 1))
    J_minus = np.zeros((num_parameters, 1))
    gradapprox = np.zeros((num_parameters, 1))

    # Compute gradapprox
    for i in range(num_parameters):

        # Compute J_plus[i]. Inputs: "parameters_values, epsilon". Output = "J_plus[i]".
        # "_" is used because the function outputs two values but we only need the first one
        ### START CODE HERE ### (approx. 3 lines)
        thetaplus = np.copy(parameters_values)
        thetaplus[i][0] = thetaplus[i][0] + epsilon
        J_plus[i], _ = forward_propagation_n(X, Y, vector_to_dictionary(thetaplus))
        ### END CODE HERE ###

        # Compute J_minus[i]. Inputs: "parameters_values, epsilon". Output = "J_minus[i]".
        ### START CODE HERE ### (approx. 3 lines)
        thetaminus = np.copy(parameters_values)
        thetaminus[i][0] = thetaminus[i][0] - epsilon
        J_minus[i], _ = forward_propagation_n(X, Y, vector_to_dictionary(thetaminus))
        ### END CODE HERE ###

        # Compute gradapprox[i]
        ### START CODE HERE ### (approx. 1 line)
        gradapprox[i] = (J_plus[i] - J_minus[i]) / (2 * epsilon)
        ### END CODE HERE ###

    # Compare gradapprox to backward propagation gradients by computing difference.
    ### START CODE HERE ### (approx. 3 lines)
    numerator = np.linalg.norm(grad - gradapprox)
    denominator = np.linalg.norm(grad) + np.linalg.norm(gradapprox)
    difference = numerator / denominator
    ### END CODE HERE ###

    if print_msg:
        if difference > 2e-7:
            print("\033[93m" + "There is a mistake in the backward propagation! difference = " + str(difference) + "\033[0m")
        else:
            print("\033[92m" + "Your backward propagation works perfectly fine! difference = " + str(difference) + "\033[0m")

    return difference



# In[13]:


X, Y, parameters = gradient_check_n_test_case()

cost, cache = forward_propagation_n(X, Y, parameters)
gradients = backward_propagation_n(X, Y, cache)
difference = gradient_check_n(parameters, gradients, X, Y, 1e-7, True)


# dW2 is fixed; db1 still looks off (difference 0.254...), will look again later.
