"""End to end: real notebooks, real sandbox processes, the output contract."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import pytest

from grader.grade import grade_batch
from grader.run import sandbox_setup
from tests.conftest import BACKWARD, CHECK, CHECK_N, CORRECT, FORWARD, IMPORTS, ROOT, notebook

FUNCTIONS = ("forward_propagation", "backward_propagation", "gradient_check", "gradient_check_n")


def grade(tmp_path: Path, assignment, files: dict[str, str], **options) -> dict[str, dict]:
    folder = tmp_path / "in"
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    grade_batch([str(folder)], assignment, out, jobs=2, **options)
    return {path.parent.name: json.loads(path.read_text()) for path in out.glob("*/results.json")}


def scores(result: dict) -> dict[str, float]:
    return {name: f["score"] for name, f in result["functions"].items()}


@pytest.fixture(scope="module")
def sample_results(tmp_path_factory, assignment) -> tuple[Path, dict[str, dict]]:
    out = tmp_path_factory.mktemp("samples")
    grade_batch([str(ROOT / "submissions")], assignment, out, jobs=2)
    results = {p.parent.name: json.loads(p.read_text()) for p in out.glob("*/results.json")}
    return out, results


def test_seed_public_cases_pass_for_a_correct_notebook(tmp_path, assignment):
    result = grade(tmp_path, assignment, {"ok.ipynb": notebook(*CORRECT)})["ok"]
    assert result["score"] == result["max_score"] == 100
    assert all(f["status"] == "passed" for f in result["functions"].values())
    names = [t["name"] for t in result["tests"]]
    assert "forward_propagation: forward_propagation(2, 4) is 8" in names
    assert "gradient_check: gradient_check(2, 4): difference below 1e-7" in names
    assert any("corrected backward_propagation_n" in n for n in names)
    assert any("shipped backward_propagation_n" in n for n in names)


def test_sample_submissions_get_the_scores_their_authors_intended(sample_results):
    _, results = sample_results
    expected = {
        "alice_chen": (10, 10, 40, 40),
        "bo_zhang": (10, 10, 40, 40),  # the 1e-7 threshold trap: correct code, full marks
        "ivan_petrov": (10, 10, 40, 40),  # .py export
        "julia_schmidt": (10, 10, 40, 40),  # nbformat v3
        "li_wei": (10, 10, 40, 40),  # markers deleted, helper in another cell, magics
        "nadia_rahman": (10, 10, 40, 40),
        "emil_johansson": (10, 10, 40, 0),  # thetaplus not copied
        "fatima_alrashid": (10, 10, 40, 0),  # unfinished template
        "george_ivanov": (10, 10, 40, 0),  # syntax error in one cell only
        "oscar_lindqvist": (10, 10, 0, 0),  # returns the numerator; no gradient_check_n
        "broken_upload": (0, 0, 0, 0),
    }
    for name, points in expected.items():
        assert tuple(scores(results[name]).values()) == points, name
    assert results["george_ivanov"]["functions"]["gradient_check_n"]["status"] == "syntax_error"
    assert results["oscar_lindqvist"]["functions"]["gradient_check_n"]["status"] == "missing"
    assert results["max_mueller"]["functions"]["backward_propagation"]["status"] == "timeout"
    assert results["max_mueller"]["functions"]["forward_propagation"]["score"] == 10
    assert "None" in results["fatima_alrashid"]["functions"]["gradient_check_n"]["message"]


def test_hard_coded_answers_fail_every_hidden_case(sample_results):
    _, results = sample_results
    tests = results["kevin_obrien"]["tests"]
    hidden = [t for t in tests if t["visibility"] != "visible"]
    assert hidden and all(t["status"] == "failed" for t in hidden)
    # Each hard-coded function returns one value for every input: it earns nothing, public
    # cases included (it kept 28 points from them before that rule).
    assert results["kevin_obrien"]["score"] == 0


def test_one_sided_and_halved_differences_are_caught(sample_results):
    _, results = sample_results
    assert results["carlos_mendez"]["functions"]["gradient_check_n"]["status"] == "failed"
    # Its one-sided difference passes only the range of the corrected test case, which counts
    # only with a case that pins the value.
    assert results["carlos_mendez"]["functions"]["gradient_check_n"]["score"] == 0
    assert results["diana_okafor"]["functions"]["gradient_check_n"]["score"] == 0


def test_hidden_case_feedback_never_shows_inputs_or_expected_values(tmp_path, assignment):
    hard_coded = FORWARD.replace("J = theta * x", "J = 8")
    result = grade(tmp_path, assignment, {"h.ipynb": notebook(IMPORTS, hard_coded)})["h"]
    hidden = [t for t in result["tests"] if t["name"].startswith("forward_propagation: hidden")]
    assert hidden and all(t["status"] == "failed" for t in hidden)
    for case in assignment.cases_of("forward_propagation"):
        if case.hidden and isinstance(case.expect.expected, float):
            assert repr(case.expect.expected)[:8] not in json.dumps(result)


def test_each_function_is_graded_on_its_own(tmp_path, assignment):
    broken_forward = FORWARD.replace("J = theta * x", "J = theta + x")
    loop = BACKWARD.replace("dtheta = x", "while True:\n        pass")
    crash = CHECK.replace("thetaplus = theta + epsilon", "import os\n    os._exit(3)")
    files = {
        "wrong_forward.ipynb": notebook(IMPORTS, broken_forward, BACKWARD, CHECK, CHECK_N),
        "loops.ipynb": notebook(IMPORTS, FORWARD, loop, CHECK, CHECK_N),
        "crashes.ipynb": notebook(IMPORTS, FORWARD, BACKWARD, crash, CHECK_N),
        "missing.ipynb": notebook(IMPORTS, FORWARD, BACKWARD, CHECK),
        "syntax.ipynb": notebook(IMPORTS, FORWARD, BACKWARD + "\n  )", CHECK, CHECK_N),
    }
    fast = dataclasses.replace(assignment, time_limit=1.0)
    results = grade(tmp_path, fast, files)
    # gradient_check uses the reference forward/backward, so their bugs cost points once.
    assert scores(results["wrong_forward"]) == {
        **dict.fromkeys(FUNCTIONS, 40.0),
        "forward_propagation": 0.0,
        "backward_propagation": 10.0,
    }
    assert results["loops"]["functions"]["backward_propagation"]["status"] == "timeout"
    assert scores(results["loops"])["gradient_check"] == 40
    assert results["crashes"]["functions"]["gradient_check"]["status"] == "error"
    assert "exited with code 3" in results["crashes"]["functions"]["gradient_check"]["message"]
    assert scores(results["crashes"])["gradient_check_n"] == 40
    assert results["missing"]["functions"]["gradient_check_n"]["status"] == "missing"
    assert results["missing"]["score"] == 60
    syntax = results["syntax"]["functions"]["backward_propagation"]
    assert syntax["status"] == "syntax_error" and "cell 3, line" in syntax["message"]
    assert results["syntax"]["score"] == 90


def test_a_case_that_never_returns_keeps_the_points_already_earned(tmp_path, assignment):
    # The child sends results in batches, but always before student code runs again.
    hangs_on_second_case = CHECK.replace(
        "    thetaplus = theta + epsilon",
        "    if backward_propagation(x, theta) != x:  # the second case answers θ\n"
        "        while True:\n            pass\n    thetaplus = theta + epsilon",
    )
    files = {"hangs.ipynb": notebook(IMPORTS, FORWARD, BACKWARD, hangs_on_second_case, CHECK_N)}
    result = grade(tmp_path, dataclasses.replace(assignment, time_limit=1.0), files)["hangs"]
    check = result["functions"]["gradient_check"]
    assert check["status"] == "timeout"
    first, second = [t for t in result["tests"] if t["name"].startswith("gradient_check: gradient")]
    assert first["status"] == "passed" and first["score"] == first["max_score"] > 0
    assert second["status"] == "failed" and check["score"] == first["score"]
    assert {name: scores(result)[name] for name in FUNCTIONS if name != "gradient_check"} == {
        "forward_propagation": 10.0,
        "backward_propagation": 10.0,
        "gradient_check_n": 40.0,
    }


def test_a_function_is_defined_once_for_its_public_and_hidden_calls(tmp_path, assignment):
    # As in a notebook: one definition serves every call, so what it keeps carries over.
    counting = FORWARD.replace(
        "def forward_propagation(x, theta):\n",
        "CALLS = []\ndef forward_propagation(x, theta):\n    CALLS.append(x)\n",
    ).replace("return J", "return J if len(CALLS) == 1 else 0.0")
    files = {"once.ipynb": notebook(IMPORTS, counting, BACKWARD, CHECK, CHECK_N)}
    result = grade(tmp_path, assignment, files)["once"]
    tests = [t for t in result["tests"] if t["name"].startswith("forward_propagation")]
    assert [t["status"] for t in tests] == ["passed", "failed", "failed"]
    assert scores(result)["gradient_check"] == 40.0


def test_workers_get_the_public_arguments_only(assignment):
    shared = sandbox_setup(assignment).public_args
    public = [case.args for case in assignment.cases if not case.hidden]
    public += [probe.args for probe in assignment.probes]
    assert len(shared) == len(public) and all(a is b for a, b in zip(shared, public, strict=True))


def test_runtime_errors_name_the_cell_and_line(tmp_path, assignment):
    failing = FORWARD.replace("J = theta * x", "J = theta * undefined_name")
    result = grade(tmp_path, assignment, {"e.ipynb": notebook(IMPORTS, failing)})["e"]
    message = result["functions"]["forward_propagation"]["message"]
    assert "NameError" in message and "cell 2, line 3" in message


MALFORMED = {
    "empty.ipynb": "",
    "truncated.ipynb": notebook(*CORRECT)[:200],
    "not_a_notebook.ipynb": json.dumps({"name": "x"}),
    "list.ipynb": "[1, 2]",
    "deep.ipynb": "[" * 50_000 + "]" * 50_000,
}


def test_a_malformed_batch_is_graded_and_nothing_is_lost(tmp_path, assignment):
    files = {**MALFORMED, "good.ipynb": notebook(*CORRECT)}
    folder = tmp_path / "in"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    (folder / "binary.ipynb").write_bytes(b"\x00\x01\x02PK\x03\x04")
    (folder / "latin1.py").write_bytes("x = 'caf\xe9'\n".encode("latin-1"))
    out = tmp_path / "out"
    outcome = grade_batch([str(folder)], assignment, out, jobs=2)
    assert outcome.submissions == len(files) + 2
    results = {p.parent.name: json.loads(p.read_text()) for p in out.glob("*/results.json")}
    assert len(results) == len(files) + 2
    assert results["good"]["score"] == 100
    for name in [*(Path(n).stem for n in MALFORMED), "binary", "latin1"]:
        assert results[name]["score"] == 0 and results[name]["error"], name
        assert "Traceback" not in results[name]["error"]


def test_output_contract(tmp_path, assignment):
    results = grade(tmp_path, assignment, {"a.ipynb": notebook(*CORRECT), "b.ipynb": ""})
    out = tmp_path / "out"
    document = results["a"]
    assert set(document) >= {
        "submission",
        "source",
        "assignment",
        "score",
        "max_score",
        "functions",
        "tests",
        "error",
    }
    assert document["submission"] == "a" and document["source"].endswith("a.ipynb")
    assert document["assignment"] == "gradient_checking" and document["error"] is None
    for function in document["functions"].values():
        keys = {"score", "max_score", "status", "message", "note", "diagnosis"}
        assert set(function) == keys and function["diagnosis"] is None
    for test in document["tests"]:
        assert set(test) == {"name", "score", "max_score", "status", "output", "visibility"}
        assert test["status"] in ("passed", "failed")
        assert test["visibility"] in ("visible", "after_published")
    assert sum(t["max_score"] for t in document["tests"]) == pytest.approx(document["max_score"])
    assert (out / "a" / "report.html").is_file() and (out / "index.html").is_file()
    with (out / "gradebook.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["submission"] for r in rows] == ["a", "b"]
    assert rows[0]["score"] == "100.0" and rows[1]["error"]
    assert set(FUNCTIONS) <= set(rows[0])


def test_cli_exit_code_is_zero_whatever_the_scores(tmp_path):
    import subprocess
    import sys

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "bad.ipynb").write_text("{")
    run = subprocess.run(
        [sys.executable, "-m", "grader", "grade", str(folder), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "Graded 1 submission" in run.stdout
    assert "Traceback" not in run.stderr


def test_a_fault_of_the_grader_costs_one_submission_not_the_batch(tmp_path, assignment, caplog):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.ipynb").write_text(notebook(*CORRECT))
    (folder / "b.ipynb").write_text(notebook(*CORRECT))
    out = tmp_path / "out"
    (out / "a" / "report.html").mkdir(parents=True)  # the report cannot be written there
    outcome = grade_batch([str(folder)], assignment, out, jobs=2)
    assert outcome.submissions == 2
    a = json.loads((out / "a" / "results.json").read_text())
    b = json.loads((out / "b" / "results.json").read_text())
    assert b["score"] == 100 and a["score"] == 0
    assert "grader itself failed" in a["error"] and a["fingerprint"] == ""
    assert "internal error while grading" in caplog.text


def test_the_report_says_which_of_two_definitions_was_graded(tmp_path, assignment):
    experiment = "def forward_propagation(x, theta):\n    return 0  # trying something\n"
    files = {"twice.ipynb": notebook(IMPORTS, FORWARD, experiment)}
    result = grade(tmp_path, assignment, files)["twice"]
    forward = result["functions"]["forward_propagation"]
    note = forward["note"].lower()
    assert forward["score"] == 10 and "cell 2" in note and "cell 3" in note
    assert result["functions"]["backward_propagation"]["note"] is None
    page = (tmp_path / "out" / "twice" / "report.html").read_text(encoding="utf-8")
    assert '<p class="note">Cell 3 defines' in page
