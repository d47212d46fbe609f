"""The student's own backward_propagation_n: run in the sandbox, compared block by block with
the corrected one in the grader's process, reported, and never worth a point."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from grader.extract import extract
from grader.grade import grade_batch
from grader.inspections import (
    InspectionStatus,
    inspected_extractions,
    inspection_jobs,
    judge_inspections,
    relative_difference,
)
from grader.pipeline import grade_one
from grader.read import Cell, Submission
from grader.run import referenced, sandbox_setup
from grader.sandbox.pool import WorkerPool
from grader.sandbox.protocol import encode
from grader.spec import AssignmentError, Inspection, load_assignment, validate
from tests.conftest import CORRECT, ROOT, notebook, run_grader

BLOCKS = ["dW1", "db1", "dW2", "db2", "dW3", "db3"]
SHIPPED_BUGS = {"dW2": 1 / 3, "db1": 3 / 5}  # ×2 and ×4: |k - 1| / (k + 1)


def _shipped_cell() -> str:
    """The cell of the instructor's notebook that defines backward_propagation_n, as released."""
    path = ROOT / "reference_solutions" / "gradient_checking" / "assignment.ipynb"
    document = json.loads(path.read_text(encoding="utf-8"))
    sources = ["".join(c["source"]) for c in document["cells"] if c["cell_type"] == "code"]
    return next(s for s in sources if "def backward_propagation_n" in s)


SHIPPED = _shipped_cell()
FIXED = SHIPPED.replace("np.dot(dZ2, A1.T) * 2", "np.dot(dZ2, A1.T)").replace("4.0 / m", "1.0 / m")
FIXED_DIFFERENTLY = """
def backward_propagation_n(X, Y, cache):
    m = X.shape[1]
    Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3 = cache
    dZ3 = A3 - Y
    dZ2 = (W3.T @ dZ3) * (A2 > 0)
    dZ1 = (W2.T @ dZ2) * (A1 > 0)
    return {
        "dW3": dZ3 @ A2.T / m, "db3": dZ3.sum(axis=1, keepdims=True) / m,
        "dW2": dZ2 @ A1.T / m, "db2": dZ2.sum(axis=1, keepdims=True) / m,
        "dW1": dZ1 @ X.T / m, "db1": np.mean(dZ1, axis=1, keepdims=True),
    }
"""
RAISES = SHIPPED.replace("dW2 = 1.0 / m * np.dot(dZ2, A1.T) * 2", "dW2 = None * 2")
WITHOUT_DB1 = FIXED.replace('"db1": db1', '"db1_": db1')
TRANSPOSED = FIXED.replace('"dW2": dW2', '"dW2": dW2.T')
TUPLE = FIXED.replace("return gradients", "return gradients, cache")
ODD_VALUES = (
    FIXED.replace('"dW1": dW1', '"dW1": "dW1"')
    .replace('"db1": db1', '"db1": [[1.0], [2.0, 3.0]]')
    .replace('"dW3": dW3', '"dW3": dW3 / 0.0')
)
NOTEBOOKS = {
    "shipped": notebook(*CORRECT, SHIPPED),
    "fixed": notebook(*CORRECT, FIXED),
    "fixed_differently": notebook(*CORRECT, FIXED_DIFFERENTLY),
    "raises": notebook(*CORRECT, RAISES),
    "without_db1": notebook(*CORRECT, WITHOUT_DB1),
    "transposed": notebook(*CORRECT, TRANSPOSED),
    "tuple": notebook(*CORRECT, TUPLE),
    "odd_values": notebook(*CORRECT, ODD_VALUES),
    "not_defined": notebook(*CORRECT),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory, assignment) -> tuple[Path, dict[str, dict]]:
    """Every notebook above graded in one batch with the real sandbox."""
    folder = tmp_path_factory.mktemp("in")
    for name, text in NOTEBOOKS.items():
        (folder / f"{name}.ipynb").write_text(text, encoding="utf-8")
    out = tmp_path_factory.mktemp("out")
    grade_batch([str(folder)], assignment, out, jobs=2)
    results = {p.parent.name: json.loads(p.read_text()) for p in out.glob("*/results.json")}
    assert set(results) == set(NOTEBOOKS)
    return out, results


def _blocks(result: dict) -> dict[str, dict]:
    inspection = result["inspections"]["backward_propagation_n"]
    return {block["name"]: block for block in inspection["blocks"]}


def test_the_shipped_function_has_dw2_and_db1_flagged_with_their_differences(graded):
    _, results = graded
    inspection = results["shipped"]["inspections"]["backward_propagation_n"]
    assert inspection["status"] == "compared"
    assert inspection["right"] is False
    assert inspection["cell"] == 6
    blocks = _blocks(results["shipped"])
    assert list(blocks) == BLOCKS
    for name, block in blocks.items():
        if name in SHIPPED_BUGS:
            assert block["status"] == "wrong" and block["right"] is False
            assert block["difference"] == pytest.approx(SHIPPED_BUGS[name], rel=1e-12)
        else:
            assert block["status"] == "right" and block["right"] is True
            assert block["difference"] < 1e-12
    assert inspection["message"] == (
        "Not right yet: db1 (relative difference 0.6), dW2 (relative difference 0.33). "
        "Right: dW1, db2, dW3, db3."
    )


@pytest.mark.parametrize("name", ["fixed", "fixed_differently"])
def test_a_fixed_function_is_right_in_every_block(graded, name):
    _, results = graded
    inspection = results[name]["inspections"]["backward_propagation_n"]
    assert inspection["status"] == "compared" and inspection["right"] is True
    blocks = _blocks(results[name])
    assert list(blocks) == BLOCKS
    assert all(b["status"] == "right" and b["difference"] < 1e-12 for b in blocks.values())
    assert inspection["message"] == "All right: dW1, db1, dW2, db2, dW3, db3."


def test_a_function_that_raises_says_what_and_where(graded):
    _, results = graded
    inspection = results["raises"]["inspections"]["backward_propagation_n"]
    assert inspection["status"] == "error" and inspection["right"] is False
    assert inspection["blocks"] == []
    assert inspection["message"].startswith("It raised TypeError: unsupported operand")
    assert "(cell 6, line " in inspection["message"]
    assert "dW2 = None * 2" in inspection["message"]


def test_a_block_missing_or_misshapen_is_said_plainly_and_the_others_judged(graded):
    _, results = graded
    missing = _blocks(results["without_db1"])
    assert missing["db1"] == dict(name="db1", status="missing", right=False, difference=None)
    assert all(missing[name]["right"] for name in BLOCKS if name != "db1")
    message = results["without_db1"]["inspections"]["backward_propagation_n"]["message"]
    assert message.startswith("Not right yet: db1 (missing from the returned dict).")
    transposed = _blocks(results["transposed"])["dW2"]
    assert transposed["status"] == "wrong_shape" and transposed["difference"] is None
    assert (transposed["shape"], transposed["expected_shape"]) == ([5, 3], [3, 5])


def test_entries_that_are_not_finite_numbers_are_said_plainly(graded):
    _, results = graded
    blocks = _blocks(results["odd_values"])
    statuses = {name: block["status"] for name, block in blocks.items()}
    assert statuses == {
        "dW1": "not_numbers",  # a string
        "db1": "not_numbers",  # rows of different lengths
        "dW2": "right",
        "db2": "right",
        "dW3": "not_finite",  # divided by zero
        "db3": "right",
    }
    message = results["odd_values"]["inspections"]["backward_propagation_n"]["message"]
    assert message == (
        "Not right yet: dW1 (not an array of numbers), db1 (not an array of numbers), "
        "dW3 (holds NaN or infinity). Right: dW2, db2, db3."
    )


def test_a_result_that_is_not_a_dict_is_said_plainly(graded):
    _, results = graded
    inspection = results["tuple"]["inspections"]["backward_propagation_n"]
    assert inspection["status"] == "not_a_dict" and inspection["blocks"] == []
    assert inspection["message"] == (
        "It returned a list, not a dict with the entries dW1, db1, dW2, db2, dW3, db3."
    )


def test_a_notebook_that_does_not_define_it_has_no_inspection(graded):
    out, results = graded
    assert results["not_defined"]["inspections"] is None
    assert 'id="inspect-' not in (out / "not_defined" / "report.html").read_text()


def test_no_point_changes_anywhere(graded):
    """Every notebook has the same correct graded functions: whatever its backward_propagation_n
    does, its score, functions, cases and gradebook row are those of the one without it."""
    out, results = graded
    graded_keys = ("score", "max_score", "functions", "tests", "error")
    baseline = {key: results["not_defined"][key] for key in graded_keys}
    assert baseline["score"] == 100
    for name, result in results.items():
        assert {key: result[key] for key in graded_keys} == baseline, name
    rows = (out / "gradebook.csv").read_text(encoding="utf-8-sig").splitlines()[1:]
    assert len(rows) == len(NOTEBOOKS)
    assert len({row.split(",", 2)[2].split(",", 2)[2] for row in rows}) == 1


def test_results_json_schema(graded):
    _, results = graded
    for name, result in results.items():
        inspections = result["inspections"]
        if inspections is None:
            continue
        assert list(inspections) == ["backward_propagation_n"], name
        inspection = inspections["backward_propagation_n"]
        assert set(inspection) == {"status", "right", "message", "cell", "blocks"}
        assert inspection["status"] in {s.value for s in InspectionStatus}
        for block in inspection["blocks"]:
            assert {"name", "status", "right", "difference"} <= set(block)
            assert block["right"] is (block["status"] == "right")
            assert block["difference"] is None or isinstance(block["difference"], float)


def test_the_report_has_a_section_after_the_graded_functions(graded):
    out, _ = graded
    page = (out / "shipped" / "report.html").read_text()
    section = page.index('id="inspect-backward_propagation_n"')
    assert section > page.index('id="fn-gradient_check_n"')
    part = page[section : page.index("</section>", section)]
    assert "not graded" in part and "It changes no points." in part
    assert "Your definition is in cell 6." in part
    assert part.count('<tr class="bad">') == 2 and part.count('<tr class="ok">') == 4
    assert "<code>dW2</code>" in part and ">0.33</td>" in part and ">0.6</td>" in part
    fixed = (out / "fixed" / "report.html").read_text()
    assert "All right: dW1, db1, dW2, db2, dW3, db3." in fixed


def test_grader_check_says_it_in_two_lines_and_its_exit_code_ignores_it(tmp_path):
    path = tmp_path / "shipped.ipynb"
    path.write_text(NOTEBOOKS["shipped"], encoding="utf-8")
    done = run_grader("check", str(path))
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if "backward_propagation_n" in line)
    assert lines[at].split() == ["WRONG", "backward_propagation_n", "not", "graded"]
    assert lines[at + 1].strip().startswith("Not right yet: db1 (relative difference 0.6)")


def test_a_timeout_is_said_and_costs_the_graded_functions_nothing(assignment):
    """Its run shares the child with the graded functions: a loop that never ends is stopped at
    its own time limit, and the hidden cases that follow still pass."""
    quick = dataclasses.replace(assignment, time_limit=1.0)
    endless = FIXED.replace("    m = X.shape[1]\n", "    while True:\n        pass\n")
    cells = tuple(Cell(number, source) for number, source in enumerate((*CORRECT, endless), 1))
    submission = _submission(cells)
    with WorkerPool(sandbox_setup(quick), 1) as pool:
        result = grade_one(pool, quick, submission)
    assert result.score == 100
    inspection = result.inspections["backward_propagation_n"].to_json()
    assert inspection["status"] == "timeout"
    assert inspection["message"] == (
        "It did not return within the time limit of 1 s: look for a loop that never ends."
    )
    assert len(inspection_jobs(quick, inspected_extractions(quick, cells))) == 1, "not kept"


def test_a_version_that_ran_before_keeps_its_verdict(assignment, graded):
    """The released cell, untouched, is most of a class: it runs and is judged once."""
    cells = tuple(Cell(number, source) for number, source in enumerate((*CORRECT, SHIPPED), 1))
    inspected = inspected_extractions(assignment, cells)
    assert inspection_jobs(assignment, inspected) == []
    judged = judge_inspections(assignment, inspected, {})["backward_propagation_n"]
    _, results = graded
    assert judged.to_json() == results["shipped"]["inspections"]["backward_propagation_n"]
    moved = tuple(Cell(cell.number + 1, cell.source) for cell in cells)
    assert len(inspection_jobs(assignment, inspected_extractions(assignment, moved))) == 1


def test_a_cell_that_does_not_parse_is_a_syntax_error(assignment):
    broken = FIXED.replace("dZ3 = A3 - Y", "dZ3 = A3 -")
    cells = tuple(Cell(number, source) for number, source in enumerate((*CORRECT, broken), 1))
    found = inspected_extractions(assignment, cells)
    assert found["backward_propagation_n"].status == "syntax_error"
    with WorkerPool(sandbox_setup(assignment), 1) as pool:
        result = grade_one(pool, assignment, _submission(cells))
    inspection = result.inspections["backward_propagation_n"]
    assert inspection.status == "syntax_error"
    assert inspection.message.startswith("SyntaxError in cell 6, line")
    assert result.score == 100


def test_only_a_definition_in_the_notebook_is_inspected_not_the_prelude(assignment):
    cells = tuple(Cell(number, source) for number, source in enumerate(CORRECT, 1))
    assert inspected_extractions(assignment, cells) == {}
    graded = extract(cells, assignment.functions, assignment.provided, referenced(assignment))
    assert all(e.status == "found" for e in graded.values())


def test_relative_difference_is_the_exercises_measure_and_zero_for_two_zeros():
    a, b = np.array([[3.0, 0.0]]), np.array([[0.0, 4.0]])
    assert relative_difference(a, b) == pytest.approx(5 / 7)
    assert relative_difference(np.zeros((2, 1)), np.zeros((2, 1))) == 0.0
    huge = np.array([[1e300, -1e300]])
    assert relative_difference(huge, -huge) == 1.0
    assert relative_difference(2 * huge, huge) == pytest.approx(1 / 3)


def test_an_inspection_must_name_an_ungraded_function_with_entries(assignment):
    declared = assignment.inspections[0]
    for inspection, problem in [
        (dataclasses.replace(declared, function="gradient_check"), "it is a graded function"),
        (dataclasses.replace(declared, expected={}), "expected is empty"),
        (dataclasses.replace(declared, tolerance=0.0), "tolerance must be positive"),
    ]:
        with pytest.raises(AssignmentError, match=problem):
            validate(dataclasses.replace(assignment, inspections=(inspection,)))
    twice = dataclasses.replace(assignment, inspections=(declared, declared))
    with pytest.raises(AssignmentError, match="declared more than once"):
        validate(twice)
    assert isinstance(declared, Inspection) and list(declared.expected) == BLOCKS


def test_the_childs_cpu_budget_covers_the_inspection_too(assignment):
    """A slow inspection must not use up CPU time the graded functions' hidden cases need."""
    functions = len(assignment.functions) + len(assignment.inspections)
    expected = (int(assignment.time_limit) + 1) * functions
    assert sandbox_setup(assignment).limits["cpu_seconds"] == expected


def _submission(cells: tuple[Cell, ...]) -> Submission:
    return Submission("s", "s.ipynb", cells)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("release") / "bundle"
    done = run_grader(
        "release", str(ROOT / "reference_solutions" / "gradient_checking"), "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    return out


def test_a_released_bundle_inspects_too_and_gives_nothing_new_away(bundle, assignment):
    """Students check against the bundle: it carries the inspection, whose expected gradients a
    public case of gradient_check_n already passes as its arguments."""
    released = load_assignment(bundle)
    (inspection,) = released.inspections
    declared = assignment.inspections[0]
    assert (inspection.function, inspection.about, inspection.tolerance) == (
        declared.function, declared.about, declared.tolerance)  # fmt: skip
    assert encode(list(inspection.args)) == encode(list(declared.args))
    public_gradients = [
        case.args[1] for case in released.cases if case.function == "gradient_check_n"
    ]
    assert any(
        all(np.array_equal(gradients[name], value) for name, value in inspection.expected.items())
        for gradients in public_gradients
    )
    path = bundle / "shipped.ipynb"
    path.write_text(NOTEBOOKS["shipped"], encoding="utf-8")
    done = run_grader("check", str(path))
    assert "WRONG   backward_propagation_n  not graded" in done.stdout
    assert "Not right yet: db1 (relative difference 0.6)" in done.stdout
