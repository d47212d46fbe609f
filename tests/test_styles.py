"""Grade what the student meant: a corpus of real student styles, graded in one batch.

`tests/styles/` holds complete submissions of the Gradient Checking assignment, each written the
way real students write it (styles seen in public notebooks of the deeplearning.ai exercise,
2017 to 2021 versions). Every file runs top to bottom in plain Python (magics dropped) and its
functions agree with the reference solution, so:

- a correct style scores exactly full marks, on every function;
- a stub (one function replaced by a hard-coded or input-ignoring return, the rest correct)
  scores exactly 0 on the stubbed function and full marks on the other three.

The >20 MiB notebook (a PNG output that makes the file large) is generated here, from
`big_png_output.ipynb`, and never committed. Each file is its own test case, so one run names
every style the grader gets wrong, with the grader's message for the failing function.
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from pathlib import Path

import pytest

from grader.grade import grade_batch

STYLES = Path(__file__).resolve().parent / "styles"

CORRECT: dict[str, str] = {
    "alias_in_graded_cell.ipynb": "aliases in the graded cells (`norm = np.linalg.norm`, "
    "`la = np.linalg`, `to_vec, to_dict = ...`) used by the functions",
    "lambda_helper_other_cell.ipynb": "lambda helpers (`rel_diff = lambda a, b: ...`) defined in "
    "another cell and used by both checks",
    "computed_constant_default.ipynb": "computed constants as defaults and thresholds "
    "(`EPS = 10**-7`, `epsilon=EPS`, `TOL = 2 * 10**-7`)",
    "dict_config_default.ipynb": "a dict config (`CFG = dict(eps=1e-7, ...)`, "
    '`epsilon=CFG["eps"]`) in another cell',
    "numpy_star_import.ipynb": "`from numpy import *`; bare `sqrt`, `sum`, `square`, `zeros`, "
    "`copy`, `linalg.norm`, `multiply`; markers `#GRADED FUNCTION: name`",
    "paren_continuation_operators.ipynb": "continuation lines starting with `!=` and `%` inside "
    "parentheses (a helper's shape test, %-formatting, a print condition) and a backslash "
    "continuation starting with `+`",
    "theta_difference_denominator.ipynb": "gradapprox = (J_plus - J_minus) / (thetaplus - "
    "thetaminus): exactly 0.0 at (2, 4), rounding noise elsewhere",
    "scalar_only.ipynb": "scalar-only gradient_check: `((grad - gradapprox)**2)**0.5` instead of "
    "norms and `if difference < 1e-7:` printing a message",
    "print_msg_debug_tests_in_cell.ipynb": "print_msg accepted and used, DEBUG prints, test "
    "calls and asserts left inside every graded cell (2021 signature)",
    "inline_J_and_grad.ipynb": "gradient_check computes J and `grad = x` inline instead of calling "
    "forward/backward_propagation; one-line `return theta * x`",
    "unicode_identifiers_zh_comments.ipynb": "Unicode identifiers (`θ_plus`, `ε`, `梯度近似`, "
    "`差值`), Chinese comments and messages, np.copy, `/ 2 / epsilon`",
    "copy_method_divide_sqrt_sum.ipynb": "`.copy()`, `thetaplus[i] += epsilon`, `np.divide`, "
    "norms as `np.sqrt(np.sum((...) ** 2))`",
    "marker_no_space.ipynb": "markers `#GRADED FUNCTION: name`, ` #GRADED FUNCTION: name`, "
    "`#GRADED FUNCTION:name`, `#GRADED FUNCTION : name`",
    "marker_lowercase.ipynb": "markers `# graded function` (no name), `# Graded Function: name`, "
    "`# graded function - name`",
    "unq_cell_identifier_2021.ipynb": "2021 notebook: `# UNQ_C1 (UNIQUE CELL IDENTIFIER, DO NOT "
    "EDIT)` above the markers, nbgrader cell metadata, `%load_ext autoreload`, YOUR CODE "
    "STARTS HERE blocks, epsilon and print_msg passed positionally",
    "markers_deleted.ipynb": "every marker deleted; forward and backward defined in one cell",
    "backprop_n_fixed.ipynb": "the provided backward_propagation_n fixed by the student, in its "
    "own cell",
    "backprop_n_left_buggy.ipynb": "the provided backward_propagation_n left buggy (test prints "
    "0.285)",
    "backprop_n_rewritten.ipynb": "backward_propagation_n rewritten by the student as a loop over "
    "layers, in its own cell",
    "magics_and_shell.ipynb": "`%matplotlib inline`, `%load_ext`, `!ls`, `np.linalg.norm?`, "
    "`%timeit`, and `%%time` heading the gradient_check_n graded cell",
    "big_png_output.ipynb": "a cell with a saved PNG output (stale: the plot code is commented "
    "out); the committed copy is small",
    "relative_difference_helper_cell.ipynb": "helper functions `relative_difference()` and "
    "`report()` defined in another cell",
    "class_based_helper.ipynb": "a class-based helper (`GradChecker` with a class constant, "
    "a staticmethod and instance methods) in another cell",
    "vectorised_list_comprehension.ipynb": "vectorised gradient_check_n: shifted vectors built "
    "with list comprehensions over `np.eye(n) * epsilon`, `np.zeros_like`",
    "range_len_positional_epsilon.ipynb": "`for i in range(len(parameters_values))`, "
    "`np.zeros_like`, a helper taking epsilon positionally, tests passing epsilon positionally",
    "nbformat_v3.ipynb": "nbformat v3 (worksheets, heading cells, prompt_number), "
    "`from __future__ import division, print_function` from a Python 2 kernel",
    "py_export.py": "`.py` export by nbconvert (`# In[n]:` cells, markdown as comments, "
    "`get_ipython().run_line_magic(...)`)",
    "percent_cells.py": "VS Code / jupytext percent script (`# %%` cells, magics commented out)",
    "duplicated_graded_cell.ipynb": "graded cell duplicated: a wrong first attempt (one-sided "
    "difference) left above, the fixed copy below, both marked",
    "helper_and_import_after_use.ipynb": "helper and `from numpy.linalg import norm` in a cell "
    "below the graded cells that use them (cells moved around)",
    "windows_crlf_tabs.ipynb": "CRLF line endings, tab indentation, each source a single string",
    "module_attribute_imports.ipynb": "`import gc_utils`, `import testCases`, `import numpy` "
    "used as `gc_utils.dictionary_to_vector(...)`, `numpy.linalg.norm(...)`",
    "type_hints_fstrings.ipynb": "type hints, an annotated constant `EPSILON: float = 1e-7` used "
    "as default in two cells, f-strings with `=`",
    "star_imports_only.ipynb": "no `import numpy`: `np` comes from `from testCases import *` and "
    "`from gc_utils import *`; a saved NameError traceback from an earlier run",
    "deepcopy_abs_norm_ord2.ipynb": "`import copy` and `copy.deepcopy`, `abs()` as the 1-D norm, "
    "`np.linalg.norm(v, ord=2)` / `np.linalg.norm(v, 2)` on the (47, 1) columns",
    "sys_path_semicolons_parenthesised_import.ipynb": "imports as pasted: `%autosave 60`, "
    "`import sys; sys.path.append(...)`, semicolons, a parenthesised multi-line from-import",
    "global_call_counter.ipynb": "debug counters: module-level ints incremented with `global` "
    "inside forward_propagation, backward_propagation and gradient_check_n",
}
STUBS: dict[str, tuple[str, str]] = {
    "stub_forward_returns_8.ipynb": ("forward_propagation", "`J = 8` (the expected output)"),
    "stub_backward_returns_2.ipynb": ("backward_propagation", "`return 2`"),
    "stub_gradient_check_returns_expected_output.ipynb": (
        "gradient_check",
        "`difference = 2.919335883291695e-10` (the expected output)",
    ),
    "stub_gradient_check_returns_zero.ipynb": ("gradient_check", "`return 0.0`"),
    "stub_gradient_check_n_returns_zero.ipynb": ("gradient_check_n", "`return 0.0`"),
    "stub_gradient_check_n_returns_1e-8.ipynb": ("gradient_check_n", "`difference = 1e-8`"),
    "stub_gradient_check_n_random_noise.ipynb": (
        "gradient_check_n",
        "`return 1e-9 * np.random.rand()` (ignores its inputs)",
    ),
    "stub_gradient_check_n_returns_shipped_value.ipynb": (
        "gradient_check_n",
        "`return 0.2850931567761624` (the expected output with the shipped backprop)",
    ),
}
BIG_SOURCE = "big_png_output.ipynb"
BIG = "big_png_output_21MiB.ipynb"
BIG_BYTES = 21 * 2**20
ALL_CORRECT = {**CORRECT, BIG: f"{BIG_SOURCE} with its PNG output padded past 21 MiB"}


def pad_png_output(source: Path, target: Path, size: int) -> None:
    """Write `source` to `target` with its PNG output grown past `size` bytes of file.

    The image stays a valid PNG: the padding is a `tEXt` chunk before `IEND`.
    """
    notebook = json.loads(source.read_text(encoding="utf-8"))
    output = next(
        out
        for cell in notebook["cells"]
        if cell["cell_type"] == "code"
        for out in cell["outputs"]
        if "image/png" in out.get("data", {})
    )
    png = base64.b64decode(output["data"]["image/png"])
    current = len(json.dumps(notebook, indent=1, ensure_ascii=False).encode())
    data = b"Comment\x00" + b"padding " * ((size - current) * 3 // 4 // 8 + 1024)
    chunk = struct.pack(">I", len(data)) + b"tEXt" + data
    chunk += struct.pack(">I", zlib.crc32(b"tEXt" + data))
    end = png.rindex(b"IEND") - 4
    output["data"]["image/png"] = base64.b64encode(png[:end] + chunk + png[end:]).decode() + "\n"
    target.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert target.stat().st_size > size


@pytest.fixture(scope="module")
def results(tmp_path_factory, assignment) -> dict[str, dict]:
    """Every file of the corpus, and the padded big notebook, graded in one batch."""
    folder = tmp_path_factory.mktemp("styles")
    big = folder / BIG
    pad_png_output(STYLES / BIG_SOURCE, big, BIG_BYTES)
    paths = [str(STYLES / name) for name in (*CORRECT, *STUBS)] + [str(big)]
    out = folder / "out"
    grade_batch(paths, assignment, out, jobs=2)
    graded = {}
    for path in out.glob("*/results.json"):
        result = json.loads(path.read_text(encoding="utf-8"))
        graded[Path(result["source"]).name] = result
    return graded


def _problem(result: dict, function: str, points: float, want: float) -> str | None:
    """What is wrong with `function`'s grade, with the grader's message, or None."""
    graded = result["functions"].get(function)
    if graded is None:
        return f"{function}: not in results.json"
    status = "passed" if want == points else None
    if (
        graded["score"] == want
        and graded["max_score"] == points
        and (status is None or graded["status"] == status)
    ):
        return None
    failing = [
        f"      - {t['name']}: {t.get('output', '')}"
        for t in result["tests"]
        if t["name"].startswith(function + ":") and t["status"] != "passed"
    ]
    return (
        f"{function}: {graded['score']:g}/{graded['max_score']:g} [{graded['status']}], "
        f"expected {want:g}/{points:g}\n    grader says: {graded['message']}"
        + ("\n" + "\n".join(failing[:4]) if failing and want else "")
    )


def test_the_corpus_is_complete_and_small():
    on_disk = {p.name for p in STYLES.iterdir() if p.suffix in (".ipynb", ".py")}
    assert on_disk == set(CORRECT) | set(STUBS), "every file in tests/styles must be listed here"
    assert len(CORRECT) >= 22 and len(STUBS) >= 6
    versions = [
        json.loads((STYLES / n).read_text(encoding="utf-8")).get("nbformat")
        for n in CORRECT
        if n.endswith(".ipynb")
    ]
    assert versions.count(3) == 1 and set(versions) == {3, 4}
    assert "# In[" in (STYLES / "py_export.py").read_text(encoding="utf-8")
    assert all((STYLES / n).stat().st_size < 256 * 1024 for n in on_disk), "never commit big files"


@pytest.mark.parametrize("name", list(ALL_CORRECT))
def test_a_correct_style_gets_exactly_full_marks(results, assignment, name):
    style = ALL_CORRECT[name]
    result = results.get(name)
    assert result is not None, f"{name} ({style}): no results.json was written"
    problems = [
        problem
        for function, points in assignment.points.items()
        if (problem := _problem(result, function, points, points)) is not None
    ]
    if result["error"] is not None:
        problems.insert(0, f"the file was not read: {result['error']}")
    if not result["score"] == result["max_score"] == 100:
        problems.append(f"total {result['score']:g}/{result['max_score']:g}, expected 100/100")
    assert not problems, f"{name} ({style}) must get full marks:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("name", list(STUBS))
def test_a_stub_gets_nothing_for_the_function_it_stubs(results, assignment, name):
    stubbed, style = STUBS[name]
    result = results.get(name)
    assert result is not None, f"{name} ({style}): no results.json was written"
    problems = [
        problem
        for function, points in assignment.points.items()
        if (problem := _problem(result, function, points, 0 if function == stubbed else points))
        is not None
    ]
    if result["error"] is not None:
        problems.insert(0, f"the file was not read: {result['error']}")
    assert not problems, (
        f"{name} ({stubbed} stubbed: {style}) must score 0 on {stubbed} and full marks on the "
        "rest:\n  " + "\n  ".join(problems)
    )
