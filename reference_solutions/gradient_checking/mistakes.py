"""The mistakes of Gradient Checking the grader can name, each with implementations of it.

An implementation (a mutant) is the reference solution with the mistake made in it. The grader
runs mutants in its own process on the same calls as the student's function, and names a
mistake only when the student's results agree with one of its mutants on every call. Mutants
call `forward_propagation` and `backward_propagation` by name, so that the grader can answer
those calls as it answers the student's.
"""

from collections.abc import Callable

import numpy as np
from gc_utils import dictionary_to_vector, gradients_to_vector, vector_to_dictionary
from provided import forward_propagation_n
from solution import backward_propagation, forward_propagation

from grader.spec import Mistake

# What the student's function should compute, as the report shows it beside a diagnosis.
GRADAPPROX = "gradapprox = (J(θ + ε) − J(θ − ε)) / (2ε)"
DIFFERENCE = "difference = ‖grad − gradapprox‖₂ / (‖grad‖₂ + ‖gradapprox‖₂)"
PERTURBATION = "θ⁺ = θ + ε·eᵢ and θ⁻ = θ − ε·eᵢ: parameter i alone moves, from a fresh copy of θ"

# What notebooks show for gradient_check_n's test case besides the value computed here: the
# rounding noise of the environments they were run in (the seed prints the first). A student
# copies these as readily as the value computed here.
PRINTED = {"gradient_check_n": (1.18904178788e-07, 1.18855520355e-07)}

# gradapprox from J(θ+ε), J(θ−ε), J(θ) and ε.
Approximation = Callable[[float, float, float, float], float]
# The result from grad and gradapprox.
Measure = Callable[[np.ndarray, np.ndarray], object]


def centred(plus: float, minus: float, _: float, epsilon: float) -> float:
    return (plus - minus) / (2 * epsilon)


def relative(grad: np.ndarray, approx: np.ndarray) -> float:
    return np.linalg.norm(grad - approx) / (np.linalg.norm(grad) + np.linalg.norm(approx))


def _scalar_check(
    x: float,
    theta: float,
    epsilon: float,
    forward: Callable[[float, float], float],
    grad: float,
    approximation: Approximation = centred,
    measure: Measure = relative,
) -> object:
    """gradient_check with one of its steps replaced."""
    plus, minus = forward(x, theta + epsilon), forward(x, theta - epsilon)
    return measure(grad, approximation(plus, minus, forward(x, theta), epsilon))


def _check_variant(
    approximation: Approximation = centred, measure: Measure = relative
) -> Callable[..., object]:
    """A gradient_check whose gradapprox or difference is computed the mistaken way."""

    def gradient_check(x: float, theta: float, epsilon: float = 1e-7, print_msg: bool = False):
        grad = backward_propagation(x, theta)
        return _scalar_check(x, theta, epsilon, forward_propagation, grad, approximation, measure)

    return gradient_check


def _grad_is_gradapprox(x: float, theta: float, epsilon: float = 1e-7, print_msg: bool = False):
    plus = forward_propagation(x, theta + epsilon)
    minus = forward_propagation(x, theta - epsilon)
    approx = (plus - minus) / (2 * epsilon)
    return relative(approx, approx)


def _arguments_swapped(x: float, theta: float, epsilon: float = 1e-7, print_msg: bool = False):
    grad = backward_propagation(theta, x)
    return _scalar_check(x, theta, epsilon, forward_propagation, grad)


def _network_check(
    parameters: dict,
    gradients: dict,
    X: np.ndarray,
    Y: np.ndarray,
    epsilon: float = 1e-7,
    *,
    approximation: Approximation = centred,
    measure: Measure = relative,
    perturbed: Callable[[np.ndarray, int, float], tuple[np.ndarray, np.ndarray]] | None = None,
) -> object:
    """gradient_check_n with one of its steps replaced."""
    values, _ = dictionary_to_vector(parameters)
    grad = gradients_to_vector(gradients)
    approx = np.zeros((values.shape[0], 1))
    centre, _ = forward_propagation_n(X, Y, parameters)
    for i in range(values.shape[0]):
        if perturbed is None:
            plus, minus = np.copy(values), np.copy(values)
            plus[i][0] += epsilon
            minus[i][0] -= epsilon
        else:
            plus, minus = perturbed(values, i, epsilon)
        J_plus, _ = forward_propagation_n(X, Y, vector_to_dictionary(plus))
        J_minus, _ = forward_propagation_n(X, Y, vector_to_dictionary(minus))
        approx[i] = approximation(J_plus, J_minus, centre, epsilon)
    return measure(grad, approx)


def _network_variant(**mistaken: object) -> Callable[..., object]:
    def gradient_check_n(parameters, gradients, X, Y, epsilon=1e-7, print_msg=False):
        return _network_check(parameters, gradients, X, Y, epsilon, **mistaken)

    return gradient_check_n


def _both_aliased(values: np.ndarray, i: int, epsilon: float) -> tuple[np.ndarray, np.ndarray]:
    """θ⁺ and θ⁻ are parameters_values itself: J⁻ is taken at θ, not θ − ε."""
    values[i][0] += epsilon
    plus = np.copy(values)  # the value forward_propagation_n sees at that moment
    values[i][0] -= epsilon
    return plus, np.copy(values)


def _plus_aliased(values: np.ndarray, i: int, epsilon: float) -> tuple[np.ndarray, np.ndarray]:
    """θ⁺ is parameters_values itself, θ⁻ a copy made after: every ε added stays."""
    values[i][0] += epsilon
    minus = np.copy(values)
    minus[i][0] -= epsilon
    return np.copy(values), minus


def _minus_aliased(values: np.ndarray, i: int, epsilon: float) -> tuple[np.ndarray, np.ndarray]:
    """θ⁻ is parameters_values itself: every ε taken away stays."""
    plus = np.copy(values)
    plus[i][0] += epsilon
    values[i][0] -= epsilon
    return plus, np.copy(values)


def _all_perturbed(values: np.ndarray, i: int, epsilon: float) -> tuple[np.ndarray, np.ndarray]:
    return values + epsilon, values - epsilon


def _all_at_once(parameters, gradients, X, Y, epsilon=1e-7, print_msg=False):
    """No loop: gradapprox is one number, the slope along every parameter at once."""
    values, _ = dictionary_to_vector(parameters)
    plus, _ = forward_propagation_n(X, Y, vector_to_dictionary(values + epsilon))
    minus, _ = forward_propagation_n(X, Y, vector_to_dictionary(values - epsilon))
    return relative(gradients_to_vector(gradients), (plus - minus) / (2 * epsilon))


def _approximations(
    *approximations: Approximation,
) -> tuple[tuple[Callable, ...], tuple[Callable, ...]]:
    return (
        tuple(_check_variant(approximation=a) for a in approximations),
        tuple(_network_variant(approximation=a) for a in approximations),
    )


def _measures(*measures: Measure) -> tuple[tuple[Callable, ...], tuple[Callable, ...]]:
    return (
        tuple(_check_variant(measure=m) for m in measures),
        tuple(_network_variant(measure=m) for m in measures),
    )


def _both(variants: tuple[tuple[Callable, ...], tuple[Callable, ...]]) -> dict:
    return {"gradient_check": variants[0], "gradient_check_n": variants[1]}


def _norm(value: np.ndarray) -> float:
    return np.linalg.norm(value)


def _constant(value: object) -> Callable[..., object]:
    """A function that returns `value` whatever it is given."""

    def hard_coded(*args: object, **kwargs: object) -> object:
        return value

    return hard_coded


def catalog(public_values: dict[str, tuple[object, ...]]) -> tuple[Mistake, ...]:
    """The mistakes; `public_values` are the results of the public cases by function, which a
    hard-coding student copies."""
    return (
        Mistake(
            "forward_adds",
            "J adds θ and x",
            "forward_propagation returns θ + x, but the cost of this model is the product θ·x.",
            "J = θ · x",
            {"forward_propagation": (lambda x, theta: theta + x,)},
        ),
        Mistake(
            "derivative_wrt_x",
            "dθ is the derivative with respect to x",
            "backward_propagation returns θ, which is ∂J/∂x. The gradient checked here is "
            "∂J/∂θ, and for J = θ·x that is x.",
            "dθ = ∂J/∂θ = x",
            {"backward_propagation": (lambda x, theta: theta,)},
        ),
        Mistake(
            "returns_cost",
            "dθ returns the cost J",
            "backward_propagation returns θ·x, the cost itself, instead of its derivative "
            "with respect to θ.",
            "dθ = ∂J/∂θ = x",
            {"backward_propagation": (lambda x, theta: theta * x,)},
        ),
        Mistake(
            "epsilon_not_doubled",
            "gradapprox divides by ε, not 2ε",
            "J(θ + ε) and J(θ − ε) are 2ε apart, so their difference must be divided by 2ε. "
            "Divided by ε, gradapprox is twice the gradient.",
            GRADAPPROX,
            _both(_approximations(lambda plus, minus, _, e: (plus - minus) / e)),
        ),
        Mistake(
            "epsilon_multiplied",
            "gradapprox multiplies by ε instead of dividing by 2ε",
            "`/ 2 * epsilon` divides by 2 and then multiplies by ε: Python evaluates it left "
            "to right. Put the whole denominator in parentheses: `/ (2 * epsilon)`.",
            GRADAPPROX,
            _both(_approximations(lambda plus, minus, _, e: (plus - minus) / 2 * e)),
        ),
        Mistake(
            "one_sided_difference",
            "gradapprox is a one-sided difference",
            "(J(θ + ε) − J(θ)) / ε, like (J(θ) − J(θ − ε)) / ε, is only accurate to order ε; "
            "the centred difference the exercise asks for, (J(θ + ε) − J(θ − ε)) / (2ε), is "
            "accurate to order ε².",
            GRADAPPROX,
            _both(
                _approximations(
                    lambda plus, _, centre, e: (plus - centre) / e,
                    lambda _, minus, centre, e: (centre - minus) / e,  # backwards
                )
            ),
        ),
        Mistake(
            "missing_parentheses",
            "J⁺ − J⁻ / (2ε) is missing parentheses",
            "Division binds tighter than subtraction, so only J⁻ is divided by 2ε. Put the "
            "difference in parentheses: (J_plus − J_minus) / (2 * epsilon).",
            GRADAPPROX,
            _both(_approximations(lambda plus, minus, _, e: plus - minus / (2 * e))),
        ),
        Mistake(
            "sign_swapped",
            "grad and gradapprox are compared with the wrong sign",
            "Either gradapprox is J(θ − ε) − J(θ + ε) over 2ε, the opposite of the slope, or "
            "the numerator adds the two gradients (‖grad + gradapprox‖). Either way the "
            "result is close to 1 even when the gradient is right.",
            f"{GRADAPPROX}; {DIFFERENCE}",
            _both(_approximations(lambda plus, minus, _, e: (minus - plus) / (2 * e))),
        ),
        Mistake(
            "grad_is_gradapprox",
            "grad is taken from gradapprox",
            "grad must come from backward propagation. Taken from gradapprox, the two are "
            "equal and the difference is always 0, so the check can never find a wrong "
            "gradient.",
            f"grad = ∂J/∂θ, from backward propagation; {DIFFERENCE}",
            # Not for gradient_check_n: it calls no graded function, so a difference that is
            # always 0 cannot be told from a 0 written in.
            {"gradient_check": (_grad_is_gradapprox,)},
        ),
        Mistake(
            "arguments_swapped",
            "backward_propagation is called with its arguments swapped",
            "backward_propagation takes (x, theta); called as backward_propagation(theta, x) "
            "it returns θ instead of x.",
            "grad = ∂J/∂θ at (x, θ): backward_propagation takes x first, then θ",
            {"gradient_check": (_arguments_swapped,)},
        ),
        Mistake(
            "denominator_wrong",
            "the denominator is not ‖grad‖ + ‖gradapprox‖",
            "The difference is divided by the sum of both norms. A term is missing, or the "
            "sum lacks parentheses, so only ‖grad‖ divides.",
            DIFFERENCE,
            _both(
                _measures(
                    lambda g, a: _norm(g - a) / _norm(g),
                    lambda g, a: _norm(g - a) / _norm(a),
                    lambda g, a: _norm(g - a) / _norm(g) + _norm(a),
                )
            ),
        ),
        Mistake(
            "returns_numerator",
            "the difference is not divided",
            "‖grad − gradapprox‖ alone depends on the size of the gradient; divided by "
            "‖grad‖ + ‖gradapprox‖ it becomes a relative difference between 0 and 1.",
            DIFFERENCE,
            _both(_measures(lambda g, a: _norm(g - a))),
        ),
        Mistake(
            "norms_subtracted",
            "the numerator subtracts the norms",
            "‖grad‖ − ‖gradapprox‖ compares only the lengths of the two vectors; the "
            "numerator is the norm of their difference, ‖grad − gradapprox‖.",
            DIFFERENCE,
            {
                "gradient_check_n": (
                    _network_variant(
                        measure=lambda g, a: (_norm(g) - _norm(a)) / (_norm(g) + _norm(a))
                    ),
                )
            },
        ),
        Mistake(
            "returns_vector",
            "the difference is computed element by element",
            "np.abs works element by element and returns a vector; the difference is one "
            "number, made with the norms of the whole vectors (np.linalg.norm).",
            DIFFERENCE,
            {
                "gradient_check_n": (
                    _network_variant(measure=lambda g, a: np.abs(g - a)),
                    _network_variant(measure=lambda g, a: np.abs(g - a) / (np.abs(g) + np.abs(a))),
                    _network_variant(measure=lambda g, a: np.abs(g - a) / (_norm(g) + _norm(a))),
                )
            },
        ),
        Mistake(
            "theta_not_copied",
            "θ⁺ and θ⁻ are not fresh copies of parameters_values",
            "`thetaplus = parameters_values` (or `parameters_values[:]`) does not copy the "
            "vector: adding ε to thetaplus changes parameters_values too, so the next "
            "perturbation starts from the wrong point; and a thetaminus copied from thetaplus "
            "starts at θ + ε, so J⁻ is taken at θ, not θ − ε. Start each of them from "
            "np.copy(parameters_values).",
            PERTURBATION,
            {
                "gradient_check_n": tuple(
                    _network_variant(perturbed=p)
                    for p in (_both_aliased, _plus_aliased, _minus_aliased)
                )
            },
        ),
        Mistake(
            "perturbs_all_parameters",
            "ε is added to every parameter at once",
            "Each gradapprox[i] must nudge parameter i alone; adding ε to the whole vector "
            "gives every entry the same value, the slope along all parameters together.",
            PERTURBATION,
            {"gradient_check_n": (_network_variant(perturbed=_all_perturbed), _all_at_once)},
        ),
        Mistake(
            "hard_coded",
            "the result is written in",
            "The function returns the value the notebook shows for its test case whatever it "
            "is given. It must compute the result from its arguments.",
            "",
            {
                name: tuple(map(_constant, (*values, *PRINTED.get(name, ()))))
                for name, values in public_values.items()
            },
        ),
    )
