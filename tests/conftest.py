"""Shared fixtures: the bundled assignment, loaded once, and notebook builders."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from grader.spec import Assignment, default_assignment_dir, load_assignment

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def assignment() -> Assignment:
    return load_assignment(default_assignment_dir())


def notebook(*cells: str, version: int = 4) -> str:
    """A notebook's JSON text with the given code cells."""
    if version == 3:
        worksheet = {"cells": [{"cell_type": "code", "input": c, "language": "python",
                                "outputs": []} for c in cells]}
        return json.dumps({"nbformat": 3, "nbformat_minor": 0, "metadata": {},
                           "worksheets": [worksheet]})
    return json.dumps({
        "nbformat": 4, "nbformat_minor": 5, "metadata": {},
        "cells": [{"cell_type": "code", "id": f"c{i}", "metadata": {}, "execution_count": None,
                   "outputs": [], "source": c} for i, c in enumerate(cells)],
    })


FORWARD = "# GRADED FUNCTION: forward_propagation\ndef forward_propagation(x, theta):\n" \
          "    J = theta * x\n    return J\n"
BACKWARD = "# GRADED FUNCTION: backward_propagation\ndef backward_propagation(x, theta):\n" \
           "    dtheta = x\n    return dtheta\n"
CHECK = """# GRADED FUNCTION: gradient_check
def gradient_check(x, theta, epsilon=1e-7, print_msg=False):
    thetaplus = theta + epsilon
    thetaminus = theta - epsilon
    J_plus = forward_propagation(x, thetaplus)
    J_minus = forward_propagation(x, thetaminus)
    gradapprox = (J_plus - J_minus) / (2 * epsilon)
    grad = backward_propagation(x, theta)
    numerator = np.linalg.norm(grad - gradapprox)
    denominator = np.linalg.norm(grad) + np.linalg.norm(gradapprox)
    return numerator / denominator
"""
CHECK_N = """# GRADED FUNCTION: gradient_check_n
def gradient_check_n(parameters, gradients, X, Y, epsilon=1e-7, print_msg=False):
    parameters_values, _ = dictionary_to_vector(parameters)
    grad = gradients_to_vector(gradients)
    num_parameters = parameters_values.shape[0]
    J_plus = np.zeros((num_parameters, 1))
    J_minus = np.zeros((num_parameters, 1))
    gradapprox = np.zeros((num_parameters, 1))
    for i in range(num_parameters):
        thetaplus = np.copy(parameters_values)
        thetaplus[i][0] = thetaplus[i][0] + epsilon
        J_plus[i], _ = forward_propagation_n(X, Y, vector_to_dictionary(thetaplus))
        thetaminus = np.copy(parameters_values)
        thetaminus[i][0] = thetaminus[i][0] - epsilon
        J_minus[i], _ = forward_propagation_n(X, Y, vector_to_dictionary(thetaminus))
        gradapprox[i] = (J_plus[i] - J_minus[i]) / (2 * epsilon)
    numerator = np.linalg.norm(grad - gradapprox)
    denominator = np.linalg.norm(grad) + np.linalg.norm(gradapprox)
    return numerator / denominator
"""
IMPORTS = "import numpy as np\nfrom testCases import *\nfrom gc_utils import sigmoid, relu, " \
          "dictionary_to_vector, vector_to_dictionary, gradients_to_vector\n"
CORRECT = (IMPORTS, FORWARD, BACKWARD, CHECK, CHECK_N)


def run_grader(*args: str) -> subprocess.CompletedProcess:
    """The `grader` command, as a user runs it, in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "grader", *args], capture_output=True, text=True, timeout=120
    )


def leaves(value: Any) -> Iterator[Any]:
    """Every leaf of a case's value that could give it away: arrays whole, and their non-zero
    floats one by one; non-zero floats."""
    if isinstance(value, dict):
        for item in value.values():
            yield from leaves(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from leaves(item)
    elif isinstance(value, np.ndarray):
        yield value
        if value.dtype.kind == "f":
            yield from (float(v) for v in value.ravel() if v != 0)
    elif isinstance(value, float | np.floating) and value != 0:
        yield float(value)
