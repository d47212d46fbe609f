"""Extraction: markers and their variants, deleted markers, helpers, magics, syntax errors."""

from __future__ import annotations

from grader.extract import extract, strip_magics
from grader.read import Cell

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
