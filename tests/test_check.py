"""`grader check`: public cases only, in the real sandbox, with output a student can act on."""

from __future__ import annotations

import dataclasses
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BACKWARD, CHECK, CHECK_N, CORRECT, FORWARD, IMPORTS, notebook

import grader.check
from grader.check import CheckError, render, run_check, wants_color

RESULTS_KEYS = {"submission", "source", "assignment", "score", "max_score", "functions", "tests",
                "error", "inspections"}  # fmt: skip
FUNCTIONS = ("forward_propagation", "backward_propagation", "gradient_check", "gradient_check_n")


def check(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "grader", "check", *args], capture_output=True, text=True, timeout=60
    )


@pytest.fixture(scope="module")
def correct(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("check") / "correct.ipynb"
    path.write_text(notebook(*CORRECT))
    return path


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One problem per function: a wrong value, a syntax error, a misspelled name, an exception."""
    path = tmp_path_factory.mktemp("check") / "broken.ipynb"
    raising = CHECK_N.replace("    num_parameters =", "    grad = grad + undefined_name\n"
                              "    num_parameters =")  # fmt: skip
    path.write_text(notebook(
        IMPORTS,
        FORWARD.replace("theta * x", "theta + x").replace("    return J", "    print('J is', J)\n"
                                                            "    return J"),
        BACKWARD.replace("dtheta = x", "dtheta = x +"),
        CHECK.replace("def gradient_check(", "def gradient_chek("),
        raising,
    ))  # fmt: skip
    return path


def test_a_correct_notebook_passes(correct: Path) -> None:
    done = check(str(correct))
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for name, points in zip(FUNCTIONS, (10, 10, 40, 40), strict=True):
        assert any(line.split() == ["PASS", name, f"{points}/{points}"] for line in lines), name
    assert "All 6 public cases pass (100/100 points on public cases)." in done.stdout
    assert "\x1b[" not in done.stdout


def test_each_failure_is_explained(broken: Path) -> None:
    done = check(str(broken))
    assert done.returncode == 1
    out = done.stdout
    assert "FAIL    forward_propagation      0/10" in out
    assert "Expected 8.0, got 6.0" in out
    assert "        it printed:\n          J is 6\n" in out
    assert "SYNTAX  backward_propagation     0/10" in out
    assert "SyntaxError in cell 3, line 3: invalid syntax" in out
    assert "line 3:  dtheta = x +\n" in out
    assert "MISSING gradient_check" in out
    assert "No function named `gradient_check` was found" in out
    assert "Cell 4 defines `gradient_chek`: rename it to `gradient_check`" in out
    assert "ERROR   gradient_check_n" in out
    assert "Raised NameError: name 'undefined_name' is not defined" in out
    assert "(cell 5, line 5: grad = grad + undefined_name)" in out
    assert "6 of 6 public cases failed (0/100 points on public cases)." in out


def test_json_prints_the_results_shape_for_public_cases(broken: Path) -> None:
    done = check(str(broken), "--json")
    assert done.returncode == 1
    result = json.loads(done.stdout)
    assert set(result) == RESULTS_KEYS
    assert result["submission"] == "broken" and result["error"] is None
    statuses = {name: f["status"] for name, f in result["functions"].items()}
    assert statuses == {"forward_propagation": "failed", "backward_propagation": "syntax_error",
                        "gradient_check": "missing", "gradient_check_n": "error"}  # fmt: skip
    assert len(result["tests"]) == 6
    assert all(test["visibility"] == "visible" for test in result["tests"])
    assert not any("hidden" in test["name"] for test in result["tests"])
    assert (result["score"], result["max_score"]) == (0.0, 100.0)


def test_unreadable_files_and_usage_errors_exit_2(tmp_path: Path, correct: Path) -> None:
    garbage = tmp_path / "garbage.ipynb"
    garbage.write_text("{not json")
    damaged = check(str(garbage))
    assert damaged.returncode == 2 and "The notebook is not valid JSON" in damaged.stdout
    absent = check(str(tmp_path / "absent.ipynb"), "--json")
    assert absent.returncode == 2
    assert json.loads(absent.stdout)["error"] == "The file does not exist."
    not_assignment = check(str(correct), "--assignment", str(tmp_path))
    assert not_assignment.returncode == 2 and "is it an assignment folder?" in not_assignment.stderr
    assert check().returncode == 2


def test_a_failed_start_leaves_no_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_start, started = grader.check.start_worker, []

    def start() -> subprocess.Popen:
        started.append(real_start())
        return started[-1]

    monkeypatch.setattr(grader.check, "start_worker", start)
    with pytest.raises(CheckError, match="is it an assignment folder"):
        run_check(str(tmp_path / "any.ipynb"), str(tmp_path))
    assert len(started) == 1 and started[0].returncode is not None


def test_colour_only_on_a_terminal_without_no_color(correct: Path) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert wants_color(Terminal(), {"TERM": "xterm"})
    assert not wants_color(Terminal(), {"NO_COLOR": "1"})
    assert not wants_color(Terminal(), {"TERM": "dumb"})
    assert not wants_color(io.StringIO(), {})
    outcome = run_check(str(correct))
    assert outcome.exit_code == 0
    assert "\x1b[32mPASS" in render(outcome, color=True)
    assert "\x1b[" not in render(outcome, color=False)


def test_missing_protections_are_noted_once(correct: Path) -> None:
    outcome = run_check(str(correct))
    weak = dataclasses.replace(
        outcome, host_protections={"rlimits": "on", "seccomp": "no filter", "landlock": "old"}
    )
    text = render(weak, color=False)
    assert text.count("note:") == 1
    assert "note: sandbox protections off on this machine: seccomp, landlock\n" in text
    strong = dataclasses.replace(outcome, host_protections={"rlimits": "on", "seccomp": "on"})
    assert "note:" not in render(strong, color=False)


def test_check_loads_no_report_code(correct: Path) -> None:
    probe = (
        "import sys; from grader.cli import main; code = main(['check', sys.argv[1]]); "
        "heavy = {'grader.pages', 'grader.report', 'grader.grade', 'nbformat', 'jinja2'} "
        "& set(sys.modules); "
        "print(code, sorted(heavy))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(correct)], capture_output=True, text=True, timeout=60
    )
    assert done.stdout.splitlines()[-1] == "0 []"
