"""Checks that the Gradient Checking reference solution reproduces the published values."""

import ast
import math
import sys
import textwrap
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import nbformat
import numpy as np
import pytest

REF_DIR = Path(__file__).resolve().parent.parent / "reference_solutions" / "gradient_checking"
MODULES = ("gc_utils", "testCases", "provided", "solution")
GRADED = ("forward_propagation", "backward_propagation", "gradient_check", "gradient_check_n")
SHAPES = {"W1": (5, 4), "b1": (5, 1), "W2": (3, 5), "b2": (3, 1), "W3": (1, 3), "b3": (1, 1)}

GC_2_4 = 2.919335883291695e-10
GC_3_4 = 7.814075313343006e-11
COST = 2.407833389834357
GCN_CORRECT = 1.1890913024229996e-07
GCN_SHIPPED = 0.2850931567761624
GCN_ONLY_DW2 = 0.17344196893145924
GCN_ONLY_DB1 = 0.2544229712458523


@pytest.fixture(scope="module")
def ref() -> Iterator[SimpleNamespace]:
    """Import the reference modules from their folder, then undo the sys.path/sys.modules edits."""
    saved_path = list(sys.path)
    saved_modules = {name: sys.modules.pop(name) for name in MODULES if name in sys.modules}
    sys.path.insert(0, str(REF_DIR))
    try:
        import gc_utils
        import provided
        import solution
        import testCases

        yield SimpleNamespace(
            gc_utils=gc_utils, testCases=testCases, provided=provided, solution=solution
        )
    finally:
        sys.path[:] = saved_path
        for name in MODULES:
            sys.modules.pop(name, None)
        sys.modules.update(saved_modules)


@pytest.fixture(scope="module")
def case(ref: SimpleNamespace) -> SimpleNamespace:
    """The public test case with its cost and both versions of the backprop gradients."""
    X, Y, parameters = ref.testCases.gradient_check_n_test_case()
    cost, cache = ref.provided.forward_propagation_n(X, Y, parameters)
    return SimpleNamespace(
        X=X,
        Y=Y,
        parameters=parameters,
        cost=cost,
        correct=ref.solution.backward_propagation_n(X, Y, cache),
        shipped=ref.provided.backward_propagation_n(X, Y, cache),
    )


def _code_cells(nb: nbformat.NotebookNode) -> list[str]:
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


@pytest.fixture(scope="module")
def notebook() -> nbformat.NotebookNode:
    return nbformat.read(REF_DIR / "assignment.ipynb", as_version=nbformat.NO_CONVERT)


# --- 1-D functions -----------------------------------------------------------------------------


def test_forward_and_backward(ref: SimpleNamespace) -> None:
    assert ref.solution.forward_propagation(2, 4) == 8
    assert ref.solution.backward_propagation(2, 4) == 2


def test_gradient_check_public_values(ref: SimpleNamespace) -> None:
    assert math.isclose(ref.solution.gradient_check(2, 4), GC_2_4, rel_tol=1e-9)
    assert math.isclose(ref.solution.gradient_check(3, 4), GC_3_4, rel_tol=1e-9)


def test_gradient_check_prints_only_on_request(
    ref: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    ref.solution.gradient_check(2, 4)
    assert capsys.readouterr().out == ""
    ref.solution.gradient_check(2, 4, print_msg=True)
    assert "correct" in capsys.readouterr().out


# --- helpers and test case ---------------------------------------------------------------------


def test_test_case_shapes_and_labels(case: SimpleNamespace) -> None:
    assert case.X.shape == (4, 3)
    assert case.Y.tolist() == [1, 1, 0]
    assert {name: p.shape for name, p in case.parameters.items()} == SHAPES


def test_star_import_exports_test_case(ref: SimpleNamespace) -> None:
    namespace: dict[str, object] = {}
    exec("from testCases import *", namespace)
    assert namespace["gradient_check_n_test_case"] is ref.testCases.gradient_check_n_test_case
    assert namespace["np"] is np


def test_dictionary_to_vector(ref: SimpleNamespace, case: SimpleNamespace) -> None:
    theta, keys = ref.gc_utils.dictionary_to_vector(case.parameters)
    assert theta.shape == (47, 1)
    assert len(keys) == 47
    assert Counter(keys) == {name: rows * cols for name, (rows, cols) in SHAPES.items()}
    assert keys[:20] == ["W1"] * 20 and keys[46] == "b3"
    np.testing.assert_array_equal(theta[20:25], case.parameters["b1"])


def test_vector_to_dictionary(ref: SimpleNamespace, case: SimpleNamespace) -> None:
    theta = np.arange(47.0).reshape(47, 1)
    params = ref.gc_utils.vector_to_dictionary(theta)
    assert {name: p.shape for name, p in params.items()} == SHAPES
    assert params["b1"].ravel().tolist() == [20.0, 21.0, 22.0, 23.0, 24.0]
    assert params["b3"].item() == 46.0
    roundtrip, _ = ref.gc_utils.dictionary_to_vector(
        ref.gc_utils.vector_to_dictionary(ref.gc_utils.dictionary_to_vector(case.parameters)[0])
    )
    np.testing.assert_array_equal(roundtrip, ref.gc_utils.dictionary_to_vector(case.parameters)[0])


def test_gradients_to_vector(ref: SimpleNamespace, case: SimpleNamespace) -> None:
    grad = ref.gc_utils.gradients_to_vector(case.correct)
    assert grad.shape == (47, 1)
    np.testing.assert_array_equal(grad[25:40].reshape(3, 5), case.correct["dW2"])


# --- N-D gradient check ------------------------------------------------------------------------


def test_cost(case: SimpleNamespace) -> None:
    assert case.cost == pytest.approx(COST, rel=1e-12)


def test_gradient_check_n_corrected(ref: SimpleNamespace, case: SimpleNamespace) -> None:
    diff = ref.solution.gradient_check_n(case.parameters, case.correct, case.X, case.Y)
    assert diff < 2e-7
    assert diff == pytest.approx(GCN_CORRECT, rel=1e-2)


def test_gradient_check_n_shipped(ref: SimpleNamespace, case: SimpleNamespace) -> None:
    diff = ref.solution.gradient_check_n(case.parameters, case.shipped, case.X, case.Y)
    assert diff == pytest.approx(GCN_SHIPPED, rel=1e-6)


@pytest.mark.parametrize(("bug", "expected"), [("dW2", GCN_ONLY_DW2), ("db1", GCN_ONLY_DB1)])
def test_gradient_check_n_single_bug(
    ref: SimpleNamespace, case: SimpleNamespace, bug: str, expected: float
) -> None:
    gradients = {**case.correct, bug: case.shipped[bug]}
    diff = ref.solution.gradient_check_n(case.parameters, gradients, case.X, case.Y)
    assert diff == pytest.approx(expected, rel=1e-6)


def test_shipped_bugs_are_exactly_the_two_planted(case: SimpleNamespace) -> None:
    for name, grad in case.correct.items():
        if name == "dW2":
            np.testing.assert_allclose(case.shipped[name], 2 * grad)
        elif name == "db1":
            np.testing.assert_allclose(case.shipped[name], 4 * grad)
        else:
            np.testing.assert_array_equal(case.shipped[name], grad)


def test_gradient_check_n_leaves_inputs_alone(
    ref: SimpleNamespace, case: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    before = {name: p.copy() for name, p in case.parameters.items()}
    ref.solution.gradient_check_n(case.parameters, case.shipped, case.X, case.Y)
    assert capsys.readouterr().out == ""
    for name, p in before.items():
        np.testing.assert_array_equal(case.parameters[name], p)
    ref.solution.gradient_check_n(case.parameters, case.shipped, case.X, case.Y, print_msg=True)
    assert "mistake" in capsys.readouterr().out


# --- solution notebook -------------------------------------------------------------------------


def test_notebook_is_valid_v4_without_outputs(notebook: nbformat.NotebookNode) -> None:
    nbformat.validate(notebook)
    assert notebook.nbformat == 4
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def test_notebook_has_the_four_graded_cells(notebook: nbformat.NotebookNode) -> None:
    first_lines = [src.splitlines()[0] for src in _code_cells(notebook) if src.strip()]
    for name in GRADED:
        assert first_lines.count(f"# GRADED FUNCTION: {name}") == 1


def test_notebook_solution_lines_are_assignments(notebook: nbformat.NotebookNode) -> None:
    for src in _code_cells(notebook):
        if not src.startswith("# GRADED FUNCTION:"):
            continue
        inside, blocks = False, 0
        for line in src.splitlines():
            stripped = line.strip()
            if stripped.startswith("### START CODE HERE ###"):
                assert not inside
                inside, blocks = True, blocks + 1
            elif stripped.startswith("### END CODE HERE ###"):
                assert inside
                inside = False
            elif inside:
                statement = ast.parse(textwrap.dedent(line)).body
                assert len(statement) == 1 and isinstance(statement[0], ast.Assign), line
        assert not inside and blocks >= 1


def test_notebook_code_matches_reference(
    ref: SimpleNamespace,
    case: SimpleNamespace,
    notebook: nbformat.NotebookNode,
    capsys: pytest.CaptureFixture[str],
) -> None:
    namespace: dict[str, object] = {"__name__": "__main__"}
    for src in _code_cells(notebook):
        exec(compile(src, "assignment.ipynb", "exec"), namespace)
    capsys.readouterr()
    assert namespace["forward_propagation"](2, 4) == 8
    assert namespace["backward_propagation"](2, 4) == 2
    assert namespace["gradient_check"](2, 4) == ref.solution.gradient_check(2, 4)
    _, cache = namespace["forward_propagation_n"](case.X, case.Y, case.parameters)
    shipped = namespace["backward_propagation_n"](case.X, case.Y, cache)
    for name, grad in case.shipped.items():
        np.testing.assert_array_equal(shipped[name], grad)
    diff = namespace["gradient_check_n"](case.parameters, shipped, case.X, case.Y)
    assert diff == pytest.approx(GCN_SHIPPED, rel=1e-6)


def test_provided_forward_propagation_n_is_the_notebooks_bit_for_bit(
    ref: SimpleNamespace, notebook: nbformat.NotebookNode, capsys: pytest.CaptureFixture[str]
) -> None:
    namespace: dict[str, object] = {"__name__": "__main__"}
    for src in _code_cells(notebook):
        exec(compile(src, "assignment.ipynb", "exec"), namespace)
    capsys.readouterr()
    notebooks = namespace["forward_propagation_n"]
    rng = np.random.default_rng(3)
    with np.errstate(all="ignore"):
        for m in [*range(1, 12)] * 60:  # from 8 examples on numpy sums pairwise
            X = rng.standard_normal((4, m)) * rng.choice([0.1, 1.0, 100.0])  # 100: saturates
            Y = rng.integers(0, 2, (1, m))
            parameters = {name: rng.standard_normal(shape) for name, shape in SHAPES.items()}
            expected, expected_cache = notebooks(X, Y, parameters)
            cost, cache = ref.provided.forward_propagation_n(X, Y, parameters)
            assert type(cost) is type(expected)
            assert cost == expected or (math.isnan(cost) and math.isnan(expected)), m
            for ours, theirs in zip(cache, expected_cache, strict=True):
                np.testing.assert_array_equal(ours, theirs)


def test_activations_are_the_notebooks_formulas_bit_for_bit(ref: SimpleNamespace) -> None:
    rng = np.random.default_rng(5)
    edges = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 745.0, -745.0, 1e-300, -1e-300])
    with np.errstate(all="ignore"):
        for scale in (1e-3, 1.0, 30.0, 1e3):
            x = np.concatenate([rng.standard_normal(200) * scale, edges]).reshape(-1, 1)
            assert ref.gc_utils.relu(x).tobytes() == np.maximum(0, x).tobytes()
            assert ref.gc_utils.sigmoid(x).tobytes() == (1 / (1 + np.exp(-x))).tobytes()
