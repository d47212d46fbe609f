"""Code the Regularization notebook hands to students, as it runs in their namespace.

`model` calls the graded functions, which the notebook defines after it: it is provided for
training once they exist, and graded code never needs it.
"""

import numpy as np
from reg_test_cases import (  # noqa: F401
    backward_propagation_with_dropout_test_case,
    backward_propagation_with_regularization_test_case,
    compute_cost_with_regularization_test_case,
    forward_propagation_with_dropout_test_case,
)
from reg_utils import (  # noqa: F401
    backward_propagation,
    compute_cost,
    forward_propagation,
    initialize_parameters,
    load_2D_dataset,
    predict,
    relu,
    sigmoid,
    update_parameters,
)


def model(
    X: np.ndarray,
    Y: np.ndarray,
    learning_rate: float = 0.3,
    num_iterations: int = 20000,
    print_cost: bool = True,
    lambd: float = 0.0,
    keep_prob: float = 1.0,
) -> dict[str, np.ndarray]:
    """Train the 3-layer network by gradient descent, with L2 regularization (lambd > 0) or
    dropout (keep_prob < 1), one at a time; returns the learned parameters."""
    assert lambd == 0 or keep_prob == 1, "use L2 regularization or dropout, not both at once"
    parameters = initialize_parameters([X.shape[0], 20, 3, 1])

    for i in range(num_iterations):
        if keep_prob == 1:
            A3, cache = forward_propagation(X, parameters)
        else:
            # A new seed each step: every iteration drops a different set of units.
            A3, cache = forward_propagation_with_dropout(  # noqa: F821
                X, parameters, keep_prob, seed=i
            )

        if lambd == 0:
            cost = compute_cost(A3, Y)
        else:
            cost = compute_cost_with_regularization(A3, Y, parameters, lambd)  # noqa: F821

        if lambd == 0 and keep_prob == 1:
            grads = backward_propagation(X, Y, cache)
        elif lambd != 0:
            grads = backward_propagation_with_regularization(X, Y, cache, lambd)  # noqa: F821
        else:
            grads = backward_propagation_with_dropout(X, Y, cache, keep_prob)  # noqa: F821

        parameters = update_parameters(parameters, grads, learning_rate)
        if print_cost and i % 2000 == 0:
            print(f"Cost after iteration {i}: {cost:.6f}")

    return parameters
