"""The Regularization assignment: its spec, its notebook, its samples through the real sandbox,
its release; and the minimal example of docs/assignment-format.md, built from the page."""

from __future__ import annotations

import contextlib
import importlib
import io
import itertools
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pytest

from grader.compare import Close
from grader.grade import grade_batch
from grader.sandbox.protocol import encode
from grader.spec import Assignment, load_assignment
from tests.conftest import ROOT, leaves, run_grader

FOLDER = ROOT / "reference_solutions" / "regularization"
SAMPLES = FOLDER / "samples"
DOC = ROOT / "docs" / "assignment-format.md"
FORWARD_DROPOUT = "forward_propagation_with_dropout"
FUNCTIONS = (
    "compute_cost_with_regularization",
    "backward_propagation_with_regularization",
    "forward_propagation_with_dropout",
    "backward_propagation_with_dropout",
)


@pytest.fixture(scope="module")
def regularization() -> Assignment:
    return load_assignment(FOLDER)


def _grade(paths: list[Path], assignment: Assignment, out: Path) -> dict[str, dict]:
    grade_batch([str(path) for path in paths], assignment, out, jobs=2)
    return {p.parent.name: json.loads(p.read_text()) for p in out.glob("*/results.json")}


def _scores(result: dict) -> tuple[float, ...]:
    return tuple(result["functions"][name]["score"] for name in FUNCTIONS)


# --- The spec ---------------------------------------------------------------------------------


def test_every_function_has_one_public_case_and_two_hidden_ones(regularization) -> None:
    assert regularization.points == dict(zip(FUNCTIONS, (20, 20, 30, 30), strict=True))
    for function in FUNCTIONS:
        cases = regularization.cases_of(function)
        assert [case.hidden for case in cases] == [False, True, True]
        # Every result is determined by the inputs, masks included: every case pins it.
        assert all(isinstance(case.expect, Close) and case.expect.pins for case in cases)
        assert len({json.dumps(encode(list(case.args))) for case in cases}) == 3


def test_building_the_spec_leaves_numpys_global_generator_as_it_was() -> None:
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    load_assignment(FOLDER)
    assert (np.random.get_state()[1] == before).all()


def test_hidden_dropout_caches_are_not_seed_1_masks(regularization) -> None:
    """A backward pass that redraws its masks from the notebook's seed, as a copy of the
    forward pass would, cannot meet the hidden cases."""
    hidden = [c for c in regularization.cases_of("backward_propagation_with_dropout") if c.hidden]
    assert hidden
    for case in hidden:
        _, _, cache, keep_prob = case.args
        np.random.seed(1)
        redrawn = np.random.rand(*cache[1].shape) < keep_prob
        assert not np.array_equal(redrawn, cache[1])


# --- The notebook -----------------------------------------------------------------------------


def _prelude_with_reference() -> dict[str, Any]:
    """The notebook's namespace after its provided cells, with the reference's functions."""
    own = ("solution", "reg_utils", "reg_test_cases")
    # Another assignment's `solution` may be loaded: set aside meanwhile, put back after.
    set_aside = {name: sys.modules.pop(name) for name in own if name in sys.modules}
    sys.path.insert(0, str(FOLDER))
    try:
        namespace: dict[str, Any] = {}
        exec(compile((FOLDER / "provided.py").read_text(), "provided.py", "exec"), namespace)
        solution = importlib.import_module("solution")
    finally:
        sys.path.remove(str(FOLDER))
        for name in own:
            sys.modules.pop(name, None)
        sys.modules.update(set_aside)
    namespace.update({name: getattr(solution, name) for name in FUNCTIONS})
    return namespace


def test_each_test_cell_prints_its_expected_output_with_the_reference() -> None:
    book = nbformat.read(FOLDER / "assignment.ipynb", as_version=4)
    checked = 0
    for cell, after in itertools.pairwise(book.cells):
        shown = re.search(r"\*\*Expected output\*\*:\s*```text\n(.*?)```", after.source, re.S)
        if cell.cell_type != "code" or after.cell_type != "markdown" or not shown:
            continue
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(cell.source, "test cell", "exec"), _prelude_with_reference())
        assert printed.getvalue() == shown.group(1), cell.source
        checked += 1
    assert checked == len(FUNCTIONS)


def test_model_trains_with_either_regularization() -> None:
    namespace = _prelude_with_reference()
    train_X, train_Y, _, _ = namespace["load_2D_dataset"]()
    for mode in ({"lambd": 0.7}, {"keep_prob": 0.86}):
        quiet = {"num_iterations": 300, "print_cost": False, **mode}
        parameters = namespace["model"](train_X, train_Y, **quiet)
        accuracy = np.mean(namespace["predict"](train_X, parameters) == train_Y)
        assert accuracy > 0.7, mode


# --- Grading, through the real sandbox --------------------------------------------------------


def test_the_instructor_notebook_scores_exactly_full_marks(regularization, tmp_path) -> None:
    result = _grade([FOLDER / "assignment.ipynb"], regularization, tmp_path)["assignment"]
    assert result["score"] == result["max_score"] == 100
    assert all(f["status"] == "passed" for f in result["functions"].values())
    assert len(result["tests"]) == 12


# The score each sample should get, per function (20, 20, 30, 30 points).
INTENDED = {
    "l2_over_m": (0, 20, 30, 30),  # lambd / m: every cost is off by the L2 term again
    "missing_w3": (0, 20, 30, 30),  # |W3|² left out of the cost
    "lambd_on_db": (20, 0, 30, 30),  # (lambd / m) * b added to each db: biases are not penalised
    "no_keep_prob_scaling": (20, 20, 0, 0),  # no division by keep_prob, forward and backward
    "masks_redrawn": (20, 20, 30, 0),  # backward draws new masks: other units than forward's
    "other_style": (20, 20, 30, 30),  # correct: norms, a loop, bool masks, other spellings
    "constant_stub": (0, 0, 0, 0),  # returns the test cells' outputs whatever the input
}


def test_sample_submissions_get_the_scores_intended(regularization, tmp_path) -> None:
    results = _grade([SAMPLES], regularization, tmp_path)
    assert set(results) == set(INTENDED)
    for sample, points in INTENDED.items():
        assert _scores(results[sample]) == points, sample
        # Each sample says in its first cell the score it is meant to get: the same.
        about = nbformat.read(SAMPLES / f"{sample}.ipynb", as_version=4).cells[0].source
        said = re.search(r"Expected: ([\d, ]+)\.", about).group(1)
        assert tuple(float(n) for n in said.split(", ")) == points, sample
    stub = results["constant_stub"]["functions"]
    assert all("same value" in stub[name]["message"] for name in FUNCTIONS)
    redrawn = results["masks_redrawn"]["tests"]
    assert [t["status"] for t in redrawn if "dropout" in t["name"] and "backward" in t["name"]] \
        == ["failed"] * 3


def _forward(draw_1: str, draw_2: str, mask: str = "{draw} < keep_prob") -> str:
    """forward_propagation_with_dropout with its two draws written as given."""
    return f"""import numpy as np
from reg_utils import relu, sigmoid
# GRADED FUNCTION: forward_propagation_with_dropout
def forward_propagation_with_dropout(X, parameters, keep_prob=0.5, seed=1):
    np.random.seed(seed)
    W1, b1, W2, b2, W3, b3 = (parameters[k] for k in ("W1", "b1", "W2", "b2", "W3", "b3"))
    Z1 = W1 @ X + b1
    A1 = relu(Z1)
    D1 = {mask.format(draw=draw_1.format(A="A1"))}
    A1 = A1 * D1 / keep_prob
    Z2 = W2 @ A1 + b2
    A2 = relu(Z2)
    D2 = {mask.format(draw=draw_2.format(A="A2"))}
    A2 = A2 * D2 / keep_prob
    Z3 = W3 @ A2 + b3
    return sigmoid(Z3), (Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, sigmoid(Z3), W3, b3)
"""


# Draws of the same numbers as np.random.rand(A.shape[0], A.shape[1]): full marks.
SAME_DRAWS = {
    "rand_unpacked": ("np.random.rand(*{A}.shape)", "np.random.rand(*{A}.shape)"),
    "random_sample": ("np.random.random_sample({A}.shape)", "np.random.random({A}.shape)"),
    "uniform": ("np.random.uniform(size={A}.shape)", "np.random.uniform(0, 1, {A}.shape)"),
}
# NumPy's legacy binomial(1, p) for p >= 0.5 draws one uniform number per unit and keeps the
# unit where it is at most p: the same masks, so correct dropout written this way passes too.
# Every case's keep_prob is at least 0.5, as in practice.
BINOMIAL = ("np.random.binomial(1, keep_prob, {A}.shape)",) * 2
# Dropout that is right in spirit but draws other numbers than the notebook asks: no marks,
# and the public case already says so (the notebook spells the draws out).
OTHER_DRAWS = {
    "transposed": ("np.random.rand({A}.shape[1], {A}.shape[0]).T",) * 2,
    "default_rng": ("np.random.default_rng(seed).random({A}.shape)",) * 2,
}


def test_dropout_masks_drawn_as_the_notebook_says_pass_however_spelled(
    regularization, tmp_path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name, (first, second) in SAME_DRAWS.items():
        (folder / f"{name}.py").write_text(_forward(first, second))
    (folder / "int_masks.py").write_text(
        _forward("np.random.rand({A}.shape[0], {A}.shape[1])", "np.random.rand(*{A}.shape)",
                 mask="({draw} < keep_prob).astype(int)")  # fmt: skip
    )
    (folder / "binomial.py").write_text(_forward(*BINOMIAL, mask="{draw}"))
    for name, draws in OTHER_DRAWS.items():
        (folder / f"{name}.py").write_text(_forward(*draws))
    assert all(case.args[2] >= 0.5 for case in regularization.cases_of(FORWARD_DROPOUT))
    results = _grade([folder], regularization, tmp_path / "out")
    forward = {name: r["functions"][FORWARD_DROPOUT] for name, r in results.items()}
    for name in [*SAME_DRAWS, "int_masks", "binomial"]:
        assert forward[name]["score"] == 30, (name, forward[name]["message"])
    for name in OTHER_DRAWS:
        assert forward[name]["score"] == 0, name


# --- Release and check ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("regularization") / "bundle"
    done = run_grader("release", str(FOLDER), "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 public cases (8 hidden cases left out)" in done.stdout
    return out


def test_the_released_blank_notebook_fails_its_check_with_hints(bundle: Path) -> None:
    assert {path.name for path in bundle.iterdir()} == {
        "assignment.ipynb", "README.md", "provided.py", "public_cases.json", "reg_utils.py",
        "reg_test_cases.py", "locale",
    }  # fmt: skip
    blank = run_grader("check", str(bundle / "assignment.ipynb"), "--assignment", str(bundle))
    assert blank.returncode == 1, blank.stdout + blank.stderr
    assert "4 of 4 public cases failed" in blank.stdout
    assert blank.stdout.count("Is a `None` placeholder from the template still in your code?") >= 3
    source = "\n".join(
        cell.source
        for cell in nbformat.read(bundle / "assignment.ipynb", as_version=4).cells
        if cell.cell_type == "code"
    )
    assert source.count("### START CODE HERE ###") == 8
    for placeholder in ("L2_regularization_cost = None", "dW3 = None", "db1 = None",
                        "D1 = None", "A2 = None", "dA2 = None"):  # fmt: skip
        assert f"    {placeholder}\n" in source


def test_the_instructor_notebook_passes_its_check_against_the_bundle(bundle: Path) -> None:
    solved = run_grader("check", str(FOLDER / "assignment.ipynb"), "--assignment", str(bundle))
    assert solved.returncode == 0, solved.stdout + solved.stderr
    assert "All 4 public cases pass" in solved.stdout


def _written_forms(value: Any) -> set[str]:
    """The ways the arrays and floats of a value could be written into a file. (Hyperparameters
    are left out: case names say them, as `lambd=1.5`.)"""
    forms = set()
    for leaf in leaves(value):
        if isinstance(leaf, np.ndarray):
            forms.add(encode(leaf)["$a"][2])
        elif leaf not in (0.6, 0.7, 0.85, 1.5):
            forms |= {repr(leaf), f"{leaf:.8f}", json.dumps(leaf)}
    return forms


def test_no_hidden_input_or_expected_value_is_in_the_bundle(bundle: Path, regularization) -> None:
    files = sorted(path for path in bundle.rglob("*") if path.is_file())  # translations too
    text = "\n".join(path.read_text(encoding="utf-8") for path in files)
    forms: set[str] = set()
    for case in regularization.cases:
        if case.hidden:
            forms |= _written_forms(list(case.args)) | _written_forms(case.expect.expected)
    assert len(forms) > 1000
    assert sorted(form for form in forms if form in text) == []
    # Nor the solution of a START/END region: these lines are the notebook's answers.
    for line in ("lambd / (2 * m) * squares", "lambd / m * W3", "D1 = (D1 < keep_prob)",
                 "A1 = A1 / keep_prob", "dA2 = dA2 * D2", "dA1 = dA1 / keep_prob"):  # fmt: skip
        assert line not in text


# --- The minimal example of docs/assignment-format.md ----------------------------------------


def _doc_example(folder: Path) -> Path:
    """Write the example's files, as the page gives them, under `folder`; return its folder."""
    page = DOC.read_text(encoding="utf-8")
    block = r"^`(mean_squared_error/[\w.]+)`:\n\n```python\n(.*?)^```"
    files = re.findall(block, page, re.M | re.S)
    assert {name for name, _ in files} == {
        "mean_squared_error/assignment.py", "mean_squared_error/solution.py",
        "mean_squared_error/provided.py", "mean_squared_error/make_notebook.py",
    }  # fmt: skip
    for name, text in files:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    example = folder / "mean_squared_error"
    made = subprocess.run([sys.executable, "make_notebook.py"], cwd=example, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert made.returncode == 0, made.stderr
    return example


def test_the_example_of_the_format_page_grades_releases_and_checks(tmp_path) -> None:
    example = _doc_example(tmp_path / "instructor")
    assignment = load_assignment(example)
    assert assignment.points == {"mean_squared_error": 10}
    wrong = nbformat.read(example / "assignment.ipynb", as_version=4)
    graded = next(c for c in wrong.cells if c.source.startswith("# GRADED FUNCTION"))
    graded.source = graded.source.replace("** 2", "")  # the mean error, not the squared one
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    nbformat.write(wrong, submissions / "forgot_the_square.ipynb")
    (submissions / "solution.ipynb").write_bytes((example / "assignment.ipynb").read_bytes())
    results = _grade([submissions], assignment, tmp_path / "out")
    assert results["solution"]["score"] == 10
    assert results["forgot_the_square"]["score"] == 0

    bundle = tmp_path / "bundle"
    assert run_grader("release", str(example), "--out", str(bundle)).returncode == 0
    blank = run_grader("check", str(bundle / "assignment.ipynb"))
    assert blank.returncode == 1 and "None" in blank.stdout
    solved = run_grader("check", str(example / "assignment.ipynb"), "--assignment", str(bundle))
    assert solved.returncode == 0, solved.stdout
