"""`grader release`: the student bundle holds only the public part, and `grader check` uses it."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pytest
from conftest import BACKWARD, CHECK, CHECK_N, FORWARD, IMPORTS, leaves, notebook, run_grader

from grader.compare import Close
from grader.extract import strip_magics
from grader.release import ReleaseError, blank_solutions
from grader.sandbox.protocol import encode
from grader.spec import Assignment, default_assignment_dir, load_assignment

REFERENCE = default_assignment_dir()
BUNDLE_FILES = {"assignment.ipynb", "gc_utils.py", "testCases.py", "provided.py",
                "public_cases.json", "README.md", "locale"}  # fmt: skip
# Solution lines the template gives students outside the START/END CODE HERE markers.
TEMPLATE_LINES = {
    "parameters_values, _ = dictionary_to_vector(parameters)",
    "grad = gradients_to_vector(gradients)",
    "num_parameters = parameters_values.shape[0]",
    "J_plus = np.zeros((num_parameters, 1))",
    "J_minus = np.zeros((num_parameters, 1))",
    "gradapprox = np.zeros((num_parameters, 1))",
    "for i in range(num_parameters):",
}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("release") / "bundle"
    done = run_grader("release", str(REFERENCE), "--out", str(out))
    assert done.returncode == 0, done.stderr
    said = "5 public cases (8 hidden cases left out, and 1 public case answered by a model"
    assert said in done.stdout
    return out


def test_bundle_holds_the_public_files_only(bundle: Path) -> None:
    assert {path.name for path in bundle.iterdir()} == BUNDLE_FILES
    for name in ("gc_utils.py", "testCases.py", "provided.py"):
        assert (bundle / name).read_text() == (REFERENCE / name).read_text()


def _needles(value: Any) -> set[str]:
    """The ways a value could be written into a file."""
    found = {json.dumps(encode(value)), json.dumps(encode(value), indent=1)}
    for leaf in leaves(value):
        if isinstance(leaf, np.ndarray):
            found.add(encode(leaf)["$a"][2])
        else:
            found |= {repr(leaf), f"{leaf:.6g}", f"{leaf:.10g}", f"{leaf:.12g}", json.dumps(leaf)}
    return found


def _released_files(bundle: Path) -> list[Path]:
    """Every file of the bundle, the translations in its subfolders too."""
    return sorted(path for path in bundle.rglob("*") if path.is_file())


def test_no_hidden_case_leaks(bundle: Path, assignment: Assignment) -> None:
    text = "\n".join(path.read_text(encoding="utf-8") for path in _released_files(bundle))
    hidden = [case for case in assignment.cases if case.hidden]
    assert len(hidden) == 8
    needles: set[str] = set()
    for case in hidden:
        needles |= _needles(list(case.args))
        for expect in (case.expect, *case.expect_when.values()):
            if isinstance(expect, Close):
                needles |= _needles(expect.expected)
    assert len(needles) > 100
    leaked = sorted(needle for needle in needles if needle in text)
    assert leaked == []


def _solution_lines() -> list[str]:
    """Lines of solution.py that carry the graded functions' solution: no imports, signatures,
    docstrings, returns; and not the corrected backward_propagation_n, which shares most of its
    lines with the buggy one the notebook gives (its own test is below)."""
    source = (REFERENCE / "solution.py").read_text()
    skipped: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and node.name == "backward_propagation_n":
            skipped.update(range(node.lineno, node.end_lineno + 1))
        if isinstance(node, ast.Import | ast.ImportFrom | ast.Return):
            skipped.update(range(node.lineno, node.end_lineno + 1))
        if isinstance(node, ast.FunctionDef):
            skipped.update(range(node.lineno, node.body[0].lineno))
            if ast.get_docstring(node) is not None:
                skipped.update(range(node.body[0].lineno, node.body[0].end_lineno + 1))
    lines = []
    for number, line in enumerate(source.splitlines(), 1):
        text = line.strip()
        trivial = not text or text.startswith(("#", '"""')) or text in ("else:", "if print_msg:")
        if number not in skipped and not trivial and not text.startswith("if difference"):
            lines.append(text)
    return lines


def test_the_find_the_bugs_exercise_is_not_given_away(bundle: Path) -> None:
    released = {
        line.strip()
        for path in _released_files(bundle)
        for line in path.read_text(encoding="utf-8").splitlines()
    }
    assert "dW2 = 1.0 / m * np.dot(dZ2, A1.T) * 2" in released  # the planted bugs are there
    assert "db1 = 4.0 / m * np.sum(dZ1, axis=1, keepdims=True)" in released
    assert "dW2 = 1.0 / m * np.dot(dZ2, A1.T)" not in released  # and not their fixes
    assert "db1 = 1.0 / m * np.sum(dZ1, axis=1, keepdims=True)" not in released
    assert not any("planted" in line for line in released)


def test_no_solution_line_leaks(bundle: Path) -> None:
    text = "\n".join(path.read_text(encoding="utf-8") for path in _released_files(bundle))
    lines = _solution_lines()
    assert len(lines) >= 25
    assert "J = theta * x" in lines and "grad = backward_propagation(x, theta)" in lines
    assert {line for line in lines if line in text} <= TEMPLATE_LINES


def test_released_notebook_is_a_blank_template(bundle: Path) -> None:
    original = nbformat.read(REFERENCE / "assignment.ipynb", as_version=4)
    released = nbformat.read(bundle / "assignment.ipynb", as_version=4)
    assert len(released.cells) == len(original.cells)
    code = [cell for cell in released.cells if cell.cell_type == "code"]
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None
        ast.parse(strip_magics(cell.source))
    source = "\n".join(cell.source for cell in code)
    assert source.count("### START CODE HERE ###") == 9
    assert source.count("### END CODE HERE ###") == 9
    for placeholder in ("J = None", "grad = None", "    J_plus[i], _ = None",
                        "    thetaplus[i][0] = None", "    gradapprox[i] = None"):  # fmt: skip
        assert f"    {placeholder}\n" in source


def test_blanking_keeps_targets_and_drops_everything_else() -> None:
    cell = "\n".join([
        "def f(x):",
        "    ### START CODE HERE ### (approx. 4 lines)",
        "    a, b = divmod(x, 2)  # solution comment",
        "    # a hint that is part of the solution",
        "    total: int = (a +",
        "                  b)",
        "    print(a)",
        "    c = d = a * b",
        "    ### END CODE HERE ###",
        "    for i in range(3):",
        "        ### START CODE HERE ###",
        "        if i:",
        "            a += i",
        "        ### END CODE HERE ###",
        "    return a",
    ])  # fmt: skip
    blanked, count = blank_solutions(cell)
    assert count == 2
    assert blanked.split("\n")[2:7] == [
        "    a, b = None",
        "    total: int = None",
        "    c = d = None",
        "    ### END CODE HERE ###",
        "    for i in range(3):",
    ]
    assert "        pass\n        ### END CODE HERE ###" in blanked
    ast.parse(blanked)


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("### START CODE HERE ###\nx = 1\n", "line 1: START CODE HERE without an END"),
        ("x = 1\n### END CODE HERE ###\n", "line 2: END CODE HERE without a START"),
        ("### START CODE HERE ###\n### START CODE HERE ###\n", "line 2: START CODE HERE inside"),
        ("### START CODE HERE ###\nx = (\n### END CODE HERE ###\n", "line 2: the solution code"),
    ],
)
def test_blanking_refuses_broken_markers(source: str, problem: str) -> None:
    with pytest.raises(ReleaseError, match=problem):
        blank_solutions(source)


def test_released_bundle_loads_as_the_public_part(bundle: Path, assignment: Assignment) -> None:
    released = load_assignment(bundle)
    # A case answered by a model needs the instructor's grader: it is not released.
    public = [case for case in assignment.cases if not case.hidden and case.model is None]
    assert released.solution is None
    assert (released.name, released.title, released.time_limit) == (
        assignment.name, assignment.title, assignment.time_limit)  # fmt: skip
    assert released.points == assignment.points
    assert released.provided == assignment.provided
    assert released.support_modules == assignment.support_modules
    assert released.prelude == assignment.prelude
    assert len(released.cases) == len(public)
    for mine, theirs in zip(released.cases, public, strict=True):
        assert (mine.function, mine.name, mine.weight, mine.hidden) == (
            theirs.function, theirs.name, theirs.weight, False)  # fmt: skip
        assert json.dumps(encode(list(mine.args))) == json.dumps(encode(list(theirs.args)))
        assert type(mine.expect) is type(theirs.expect)
        assert encode(vars(mine.expect)) == encode(vars(theirs.expect))


def test_solution_notebook_passes_and_blank_notebook_fails(bundle: Path) -> None:
    solved = run_grader("check", str(REFERENCE / "assignment.ipynb"), "--assignment", str(bundle))
    assert solved.returncode == 0, solved.stdout + solved.stderr
    assert "All 5 public cases pass" in solved.stdout
    blank = run_grader("check", str(bundle / "assignment.ipynb"), "--assignment", str(bundle))
    assert blank.returncode == 1
    assert blank.stdout.count("is a `None` placeholder still in your code?") >= 3
    assert "cell 22, line 35: thetaplus[i][0] = None" in blank.stdout


def test_a_notebook_in_its_bundle_is_checked_without_a_flag(bundle: Path) -> None:
    released = nbformat.read(bundle / "assignment.ipynb", as_version=4)
    assert released.metadata["grader"]["assignment"] == "gradient_checking"
    blank = run_grader("check", str(bundle / "assignment.ipynb"))
    assert blank.returncode == 1
    assert "5 of 5 public cases failed" in blank.stdout  # the bundle's cases, not the default's
    assert "is a `None` placeholder still in your code?" in blank.stdout
    guide = (bundle / "README.md").read_text(encoding="utf-8")
    assert "grader check assignment.ipynb" in guide and "Submit" in guide


def test_a_solution_that_disagrees_with_the_reference_is_not_released(tmp_path: Path) -> None:
    folder = tmp_path / "instructor"
    shutil.copytree(REFERENCE, folder, ignore=shutil.ignore_patterns("__pycache__"))
    book = nbformat.read(folder / "assignment.ipynb", as_version=4)
    cell = next(c for c in book.cells if "def forward_propagation(" in c.source)
    cell.source = cell.source.replace("J = theta * x", "J = theta + x")
    nbformat.write(book, folder / "assignment.ipynb")
    done = run_grader("release", str(folder), "--out", str(tmp_path / "out"))
    assert done.returncode == 1
    assert "assignment.ipynb scores 90/100 against its own assignment" in done.stderr
    assert "forward_propagation 0/10" in done.stderr
    assert not (tmp_path / "out").exists()


def test_bundle_check_calls_the_students_own_functions(bundle: Path, tmp_path: Path) -> None:
    wrong = FORWARD.replace("theta * x", "theta + x")
    path = tmp_path / "wrong_forward.ipynb"
    path.write_text(notebook(IMPORTS, wrong, BACKWARD, CHECK, CHECK_N))
    statuses = {}
    for where in ([], ["--assignment", str(bundle)]):
        done = run_grader("check", str(path), "--json", *where)
        assert done.returncode == 1
        functions = json.loads(done.stdout)["functions"]
        statuses[bool(where)] = {name: f["status"] for name, f in functions.items()}
    assert statuses[False]["gradient_check"] == "passed"
    assert statuses[True]["gradient_check"] == "failed"
    assert statuses[True]["forward_propagation"] == statuses[False]["forward_propagation"]
    text = run_grader("check", str(path), "--assignment", str(bundle)).stdout
    assert "It calls your `forward_propagation`, which fails its own public cases" in text


def test_release_refuses_unusable_folders(bundle: Path, tmp_path: Path) -> None:
    again = run_grader("release", str(bundle), "--out", str(tmp_path / "again"))
    assert again.returncode == 2 and "no assignment.py" in again.stderr
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("mine")
    refused = run_grader("release", str(REFERENCE), "--out", str(occupied))
    assert refused.returncode == 2 and "not a new or empty folder" in refused.stderr
    assert [path.name for path in occupied.iterdir()] == ["notes.txt"]


def test_release_of_a_broken_notebook_writes_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "instructor"
    shutil.copytree(REFERENCE, folder, ignore=shutil.ignore_patterns("__pycache__"))
    book = nbformat.read(folder / "assignment.ipynb", as_version=4)
    book.cells[5].source = book.cells[5].source.replace("### END CODE HERE ###", "")
    nbformat.write(book, folder / "assignment.ipynb")
    done = run_grader("release", str(folder), "--out", str(tmp_path / "out"))
    assert done.returncode == 1
    assert "assignment.ipynb, cell 6, line 16: START CODE HERE without an END" in done.stderr
    assert not (tmp_path / "out").exists()
