"""Extraction: markers and their variants, deleted markers, helpers, magics, syntax errors."""

from __future__ import annotations

import numpy as np
import pytest

from grader.extract import extract, strip_magics
from grader.read import Cell
from tests.conftest import BACKWARD, CHECK, CHECK_N, FORWARD, IMPORTS, notebook
from tests.test_grade import grade

GRADED = ("f", "g")
PROVIDED = frozenset({"np", "provided_helper"})


def cells(*sources: str) -> tuple[Cell, ...]:
    return tuple(Cell(n, s) for n, s in enumerate(sources, 1))


def code_of(extraction) -> str:
    return "".join(chunk.code for chunk in extraction.chunks)


def test_marker_variants_are_recognised():
    for marker in ("# GRADED FUNCTION: f", "#GRADED FUNCTION: f", "  # graded function: f",
                   "# UNQ_C1 (UNIQUE CELL IDENTIFIER, DO NOT EDIT)\n# GRADED FUNCTION: f",
                   " #GRADED FUNCTION"):
        found = extract(cells("def f():\n    return 0", f"{marker}\ndef f():\n    return 1"),
                        GRADED, PROVIDED)["f"]
        assert found.status == "found" and found.cell == 2, marker


def test_deleted_marker_falls_back_to_last_definition():
    result = extract(cells("def f():\n    return 1", "x = 2", "def f():\n    return 3"), GRADED,
                     PROVIDED)
    assert result["f"].cell == 3 and "return 3" in code_of(result["f"])
    assert result["g"].status == "missing" and "GRADED FUNCTION: g" in result["g"].message


def test_top_level_calls_are_dropped_and_definitions_kept():
    source = "# GRADED FUNCTION: f\nEPS = 1e-7\ndef f():\n    return EPS\nprint(f())\nf()\n"
    code = code_of(extract(cells(source), GRADED, PROVIDED)["f"])
    assert "EPS = 1e-7" in code and "def f" in code and "print" not in code


def test_helpers_and_imports_from_other_cells_are_taken_when_used():
    result = extract(cells(
        "import math\nimport os\n",
        "def helper(v):\n    return inner(v)\n\ndef inner(v):\n    return math.sqrt(v)\n",
        "def unused():\n    pass\n",
        "# GRADED FUNCTION: f\ndef f(x):\n    return helper(x) + np.sum(x)\n",
    ), GRADED, PROVIDED)["f"]
    code = code_of(result)
    assert "def helper" in code and "def inner" in code and "import math" in code
    assert "def unused" not in code and "import os" not in code


def test_provided_and_other_graded_names_are_not_taken_from_other_cells():
    result = extract(cells(
        "def provided_helper():\n    return 'student copy'\n",
        "def g():\n    return 'student g'\n",
        "# GRADED FUNCTION: f\ndef f():\n    return provided_helper() + g()\n",
    ), GRADED, PROVIDED)["f"]
    assert "student copy" not in code_of(result) and "student g" not in code_of(result)


def test_graded_cell_can_redefine_a_provided_name():
    result = extract(cells("# GRADED FUNCTION: f\ndef provided_helper():\n    return 2\n"
                           "def f():\n    return provided_helper()\n"), GRADED, PROVIDED)["f"]
    assert "def provided_helper" in code_of(result)


def test_syntax_error_costs_only_its_cell_and_names_the_line():
    result = extract(cells(
        "# GRADED FUNCTION: f\ndef f():\n    for i in range(3):\n    return 1\n",
        "# GRADED FUNCTION: g\ndef g():\n    return 2\n",
    ), GRADED, PROVIDED)
    assert result["f"].status == "syntax_error"
    assert "IndentationError in cell 1, line 4" in result["f"].message
    assert result["g"].status == "found"


def test_magics_and_shell_escapes_do_not_break_parsing():
    source = "%matplotlib inline\n!ls -la\nfiles = !ls\n# GRADED FUNCTION: f\ndef f():\n" \
             "    !echo hi\n    return 1\n"
    result = extract(cells(source), GRADED, PROVIDED)["f"]
    assert result.status == "found"
    assert strip_magics("  %time x\ny = 1").splitlines() == ["  pass", "y = 1"]


def test_chunks_keep_original_line_numbers():
    result = extract(cells("# GRADED FUNCTION: f\n\n\ndef f():\n    return 1\n"), GRADED, PROVIDED)
    assert result["f"].chunks[0].first_line == 4


# --- Notebook semantics: what Jupyter would have bound, run top to bottom --------------------


def defined(extraction, *args):
    """Run the chunks in order as the sandbox does, with numpy provided, and call the graded
    function with `args`."""
    namespace = {"np": np}
    for chunk in extraction.chunks:
        source = "\n" * (chunk.first_line - 1) + chunk.code
        try:
            exec(compile(source, f"cell {chunk.cell}", "exec"), namespace)
        except ImportError:
            if not chunk.optional:
                raise
    return namespace[extraction.function](*args)


def test_an_alias_in_the_graded_cell_is_kept():
    source = "# GRADED FUNCTION: f\nnorm = np.linalg.norm\ndef f(v):\n    return norm(v)\n"
    assert defined(extract(cells(source), GRADED, PROVIDED)["f"], [3, 4]) == 5


def test_a_lambda_helper_from_another_cell_is_kept():
    result = extract(cells(
        "rel = lambda a, b: abs(a - b) / (abs(a) + abs(b))\n",
        "# GRADED FUNCTION: f\ndef f(a, b):\n    return rel(a, b)\n",
    ), GRADED, PROVIDED)["f"]
    assert defined(result, 3, 1) == 0.5


def test_computed_constants_used_as_defaults_are_kept():
    result = extract(cells(
        "EPS = 10**-7\nCFG = dict(eps=EPS * 10)\n",
        "# GRADED FUNCTION: f\ndef f(x, epsilon=CFG['eps']):\n    return x + epsilon\n",
    ), GRADED, PROVIDED)["f"]
    assert defined(result, 1) == 1 + 1e-6


def test_a_name_from_a_star_import_is_found():
    result = extract(cells(
        "from math import *\nfrom numpy import *\n",
        "# GRADED FUNCTION: f\ndef f(x):\n    return sqrt(x)\n",
    ), GRADED, PROVIDED)["f"]
    assert defined(result, 9) == 3
    assert all(chunk.optional for chunk in result.chunks[:-1])


def test_a_star_import_is_not_kept_when_nothing_needs_it():
    result = extract(cells("from math import *\n", "# GRADED FUNCTION: f\ndef f(x):\n"
                           "    return abs(x)\n"), GRADED, PROVIDED)["f"]
    assert "import" not in code_of(result)


def test_global_state_is_kept():
    result = extract(cells(
        "calls = 0\nlog = list()\n",
        "# GRADED FUNCTION: f\ndef f(x):\n    global calls\n    calls += 1\n    log.append(x)\n"
        "    return x * calls\n",
        "f(2)\nf(3)\n",
    ), GRADED, PROVIDED)["f"]
    assert "calls = 0" in code_of(result) and "f(2)" not in code_of(result)
    assert defined(result, 2) == 2


def test_a_global_set_by_calling_a_helper_is_kept():
    result = extract(cells(
        "def setup():\n    global SCALE\n    SCALE = 3\n",
        "setup()\nprint(SCALE)\n",
        "# GRADED FUNCTION: f\ndef f(x):\n    return x * SCALE\n",
    ), GRADED, PROVIDED)["f"]
    assert "setup()" in code_of(result) and "print" not in code_of(result)
    assert defined(result, 2) == 6


def test_decorators_and_classes_are_kept():
    result = extract(cells(
        "import functools\n\ndef doubled(function):\n    @functools.wraps(function)\n"
        "    def wrapper(*args):\n        return 2 * function(*args)\n    return wrapper\n",
        "class Linear:\n    def __init__(self, theta):\n        self.theta = theta\n"
        "    def __call__(self, x):\n        return self.theta * x\n",
        "# GRADED FUNCTION: f\n@doubled\ndef f(x, theta):\n    return Linear(theta)(x)\n",
    ), GRADED, PROVIDED)["f"]
    assert defined(result, 2, 4) == 16
    assert result.chunks[-1].first_line == 2  # the decorator's line


def test_a_binding_used_only_through_another_binding_is_kept():
    result = extract(cells(
        "BASE = 2\nUNUSED = 5\n",
        "def scale():\n    return BASE * 3\n",
        "FACTOR = scale()\n",
        "# GRADED FUNCTION: f\ndef f(x):\n    return x * FACTOR\n",
    ), GRADED, PROVIDED)["f"]
    assert defined(result, 1) == 6 and "UNUSED" not in code_of(result)


def test_the_value_after_running_top_to_bottom_is_used():
    result = extract(cells(
        "EPS = 1e-7\nx = 1\n",
        "EPS = EPS / 10\nx += 1\n",
        "# GRADED FUNCTION: f\ndef f():\n    return EPS, x\n",
        "x += 1\n",
    ), GRADED, PROVIDED)["f"]
    assert defined(result) == (1e-8, 3)


def test_a_compound_statement_binding_a_needed_name_is_kept_whole():
    result = extract(cells(
        "try:\n    import no_such_module as backend\n"
        "except ImportError:\n    import math as backend\n",
        "if backend.pi > 3:\n    EPS = 1e-7\nelse:\n    EPS = 1\n",
        "# GRADED FUNCTION: f\ndef f():\n    return backend.sqrt(4) + EPS\n",
    ), GRADED, PROVIDED)["f"]
    assert defined(result) == 2 + 1e-7


def test_test_calls_and_test_variables_are_not_kept():
    result = extract(cells(
        "x, theta = 2, 4\n",
        "# GRADED FUNCTION: f\ndef f(x, theta):\n    J = theta * x\n    return J\n\n"
        "J = f(x, theta)\nprint(J)\nf(2, 4)\n",
        "J = f(3, 5)\n",
    ), GRADED, PROVIDED)["f"]
    assert code_of(result) == "def f(x, theta):\n    J = theta * x\n    return J\n"


def test_statements_are_kept_in_notebook_order():
    result = extract(cells(
        "A = 1\n",
        "# GRADED FUNCTION: f\ndef f():\n    return helper() + A\n",
        "def helper():\n    return B\n",
        "B = 2\n",
    ), GRADED, PROVIDED)["f"]
    assert [(c.cell, c.first_line) for c in result.chunks] == [(1, 1), (2, 2), (3, 1), (4, 1)]
    assert defined(result) == 3


def test_a_builtin_is_replaced_only_by_a_student_definition():
    result = extract(cells(
        "sum = 0\n",
        "def abs(x):\n    return 'mine'\n",
        "# GRADED FUNCTION: f\ndef f(x):\n    return sum([abs(x)])\n",
    ), GRADED, PROVIDED)
    assert "sum = 0" not in code_of(result["f"]) and "def abs" in code_of(result["f"])


def test_a_later_redefinition_of_the_graded_function_is_not_run():
    result = extract(cells(
        "# GRADED FUNCTION: f\ndef f():\n    return K\n",
        "K = 1\n",
        "def f():\n    return 'scratch'\n",
    ), GRADED, PROVIDED)["f"]
    assert "scratch" not in code_of(result) and defined(result) == 1


def test_continuation_lines_starting_with_operators_are_python():
    source = ("# GRADED FUNCTION: f\ndef f(a, b):\n    ok = (a\n          != b)\n"
              "    rest = (a\n            % b)\n    return ok, rest\n")
    result = extract(cells(source), GRADED, PROVIDED)["f"]
    assert result.status == "found" and defined(result, 7, 4) == (True, 3)


def test_a_magic_in_a_docstring_is_left_alone():
    source = '# GRADED FUNCTION: f\ndef f():\n    """Run\n%timeit f()\n    """\n    return 1\n'
    result = extract(cells(source), GRADED, PROVIDED)["f"]
    assert "%timeit f()" in code_of(result) and defined(result) == 1


def test_cell_magics():
    timed = extract(cells("%%time\n# GRADED FUNCTION: f\ndef f():\n    return 1\n"), GRADED,
                    PROVIDED)["f"]
    assert timed.status == "found" and defined(timed) == 1
    bash = extract(cells("%%bash\nK = 2\n", "%%writefile f.py\n# GRADED FUNCTION: f\n"
                         "def f():\n    return K\n"), GRADED, PROVIDED)["f"]
    assert bash.status == "missing"
    assert "Cell 2 starts with `%%writefile`, so Jupyter does not run it as Python" in bash.message


def test_a_redefinition_is_noted():
    marked = extract(cells(
        "# GRADED FUNCTION: f\ndef f():\n    return 1\n",
        "def f():\n    return 2\n",
    ), GRADED, PROVIDED)["f"]
    assert marked.note == ("Cell 2 defines `f` again; the definition in cell 1, the cell marked "
                           "`# GRADED FUNCTION: f`, was graded.")
    unmarked = extract(cells("def f():\n    return 1\n", "x = 1", "def f():\n    return 2\n",
                             "def f():\n    return 3\n"), GRADED, PROVIDED)["f"]
    assert unmarked.note == "Cells 1 and 3 also define `f`; the definition in cell 4, the last " \
                            "one, was graded."
    assert extract(cells("# GRADED FUNCTION: f\ndef f():\n    return 1\n"), GRADED,
                   PROVIDED)["f"].note == ""
    broken = extract(cells(
        "# GRADED FUNCTION: f\ndef f():\n    return 1\n",
        "def f():\n    return 2\n",
        "# GRADED FUNCTION: f\ndef f():\n    return (\n",
    ), GRADED, PROVIDED)["f"]
    assert broken.status == "syntax_error" and broken.note == (
        "Cells 1 and 2 also define `f`; the definition in cell 3, the last cell marked "
        "`# GRADED FUNCTION: f`, was graded.")


# --- End to end: each style through the real pipeline ------------------------------------------


def _replace(cell: str, old: str, new: str) -> str:
    assert old in cell, old
    return cell.replace(old, new)


NORMS = "    numerator = np.linalg.norm(grad - gradapprox)\n" \
        "    denominator = np.linalg.norm(grad) + np.linalg.norm(gradapprox)\n" \
        "    return numerator / denominator\n"
STYLES = {
    "alias": (IMPORTS, FORWARD, BACKWARD, _replace(
        "# GRADED FUNCTION: gradient_check\nnorm = np.linalg.norm\n" + CHECK.split("\n", 1)[1],
        NORMS, "    return norm(grad - gradapprox) / (norm(grad) + norm(gradapprox))\n"), CHECK_N),
    "lambda": (IMPORTS, "rel = lambda a, b: np.linalg.norm(a - b) / (np.linalg.norm(a) + "
               "np.linalg.norm(b))\n", FORWARD, BACKWARD,
               _replace(CHECK, NORMS, "    return rel(grad, gradapprox)\n"), CHECK_N),
    "computed_default": (IMPORTS, "EPS = 10**-7\nCFG = dict(eps=EPS)\n", FORWARD, BACKWARD,
                         _replace(CHECK, "epsilon=1e-7", "epsilon=CFG['eps']"),
                         _replace(CHECK_N, "epsilon=1e-7", "epsilon=EPS")),
    "star_import": (IMPORTS + "from math import *\n",
                    _replace(FORWARD, "theta * x", "prod([theta, x])"), BACKWARD, CHECK, CHECK_N),
    "global_state": (IMPORTS, "calls = 0\nlog = list()\n", _replace(
        FORWARD, "    J = theta * x\n",
        "    global calls\n    calls += 1\n    J = theta * x\n    log.append(J)\n"),
        BACKWARD, CHECK, CHECK_N),
    "decorator": (IMPORTS, "import functools\n\ndef logged(function):\n"
                  "    @functools.wraps(function)\n    def wrapper(*args, **kwargs):\n"
                  "        return function(*args, **kwargs)\n    return wrapper\n",
                  FORWARD, _replace(BACKWARD, "def backward", "@logged\ndef backward"),
                  CHECK, CHECK_N),
    "class": (IMPORTS, "class Line:\n    def __call__(self, slope, x):\n        return slope * x\n"
              "\nline = Line()\n", _replace(FORWARD, "theta * x", "line(theta, x)"), BACKWARD,
              CHECK, CHECK_N),
    "continuation": (IMPORTS, FORWARD, _replace(
        BACKWARD, "    dtheta = x\n", "    ok = (x\n          != None)\n    label = ('%s'\n"
        "             % x)\n    dtheta = x if ok and label else x\n"), CHECK, CHECK_N),
    "magics": ("%matplotlib inline\n!pip install numpy\n" + IMPORTS, "%%time\n" + FORWARD,
               "%%bash\necho not python\n", BACKWARD + "np.linalg.norm?\n",
               "t = %timeit forward_propagation(2, 4)\n", CHECK, CHECK_N),
    "redefined": (IMPORTS, FORWARD, BACKWARD, CHECK, CHECK_N,
                  "def forward_propagation(x, theta):\n    return 0\n"),
    "test_cells": (IMPORTS, FORWARD, "x, theta = 2, 4\nJ = forward_propagation(x, theta)\n"
                   "assert J == 9, 'a test call that is never run'\n", BACKWARD,
                   "dtheta = backward_propagation(None, None) + 1\n", CHECK, CHECK_N,
                   "X, Y, parameters = gradient_check_n_test_case()\n"
                   "difference = gradient_check_n(parameters, None, X, Y)\n"),
}


@pytest.fixture(scope="module")
def style_results(tmp_path_factory, assignment) -> dict[str, dict]:
    files = {f"{name}.ipynb": notebook(*style) for name, style in STYLES.items()}
    return grade(tmp_path_factory.mktemp("styles"), assignment, files)


@pytest.mark.parametrize("style", STYLES)
def test_each_style_runs_in_the_real_pipeline(style_results, style):
    functions = style_results[style]["functions"]
    for name in ("forward_propagation", "backward_propagation"):
        assert functions[name]["score"] == functions[name]["max_score"], functions[name]
    for name in ("gradient_check", "gradient_check_n"):
        assert functions[name]["status"] not in ("error", "missing", "syntax_error"), (
            name, functions[name]["message"])
