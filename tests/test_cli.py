"""The command line as an instructor or an LMS hook uses it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import CORRECT, notebook


def grader(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "grader", *args], capture_output=True, text=True, timeout=120
    )


def test_isolation_reports_every_protection():
    run = grader("isolation")
    lines = dict(line.split(None, 1) for line in run.stdout.splitlines())
    assert set(lines) == {
        "rlimits", "unprivileged", "landlock", "landlock-scope", "seccomp", "module-watch",
    }  # fmt: skip
    assert run.returncode == (0 if all(v == "on" for v in lines.values()) else 1)


def test_require_isolation_grades_on_a_fully_isolated_host(tmp_path):
    if grader("isolation").returncode != 0:
        pytest.skip("this host lacks some sandbox protections")
    (tmp_path / "a.ipynb").write_text(notebook(*CORRECT))
    run = grader(
        "grade", str(tmp_path / "a.ipynb"), "--out", str(tmp_path / "out"), "--require-isolation"
    )
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "out" / "a" / "results.json").is_file()


def test_progress_is_plain_lines_when_not_a_terminal(tmp_path):
    (tmp_path / "a.ipynb").write_text(notebook(*CORRECT))
    run = grader("grade", str(tmp_path), "--out", str(tmp_path / "out"))
    assert "graded 1/1" in run.stderr and "\r" not in run.stderr
    assert "class mean 100.0 / 100" in run.stdout


def test_unknown_assignment_folder_is_a_clear_error(tmp_path):
    run = grader("grade", str(tmp_path), "--assignment", str(tmp_path / "nope"))
    assert run.returncode == 2
    assert "assignment" in run.stderr and "Traceback" not in run.stderr


def test_progress_is_a_bar_with_rate_and_eta_on_a_terminal(tmp_path):
    import os
    import pty

    (tmp_path / "a.ipynb").write_text(notebook(*CORRECT))
    controller, terminal = pty.openpty()
    run = subprocess.run(
        [sys.executable, "-m", "grader", "grade", str(tmp_path), "--out", str(tmp_path / "o")],
        stdout=subprocess.PIPE,
        stderr=terminal,
        timeout=120,
    )
    os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    assert run.returncode == 0
    assert b"\r" in shown and b"1/1" in shown and b"/s" in shown and b"ETA" in shown


def test_a_missing_path_is_a_usage_error_and_nothing_is_graded(tmp_path):
    (tmp_path / "a.ipynb").write_text(notebook(*CORRECT))
    run = grader(
        "grade", str(tmp_path / "a.ipynb"), str(tmp_path / "typo"), "--out", str(tmp_path / "o")
    )
    assert run.returncode == 2, run.stderr
    assert "no such file or folder" in run.stderr and "typo" in run.stderr
    assert "Traceback" not in run.stderr and not (tmp_path / "o" / "a").exists()


def test_nothing_to_grade_exits_non_zero_and_says_what_was_found(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "README.md").write_text("# notes")
    for given in ("empty", "notes"):
        run = grader("grade", str(tmp_path / given), "--out", str(tmp_path / "o"))
        assert run.returncode == 1, run.stderr
        assert "nothing to grade" in run.stderr and "Traceback" not in run.stderr
    assert "README.md: not a notebook" in run.stdout


def test_out_naming_a_file_is_a_clear_error(tmp_path):
    (tmp_path / "a.ipynb").write_text(notebook(*CORRECT))
    (tmp_path / "taken").write_text("a file")
    run = grader("grade", str(tmp_path / "a.ipynb"), "--out", str(tmp_path / "taken"))
    assert run.returncode == 2 and "is a file, not a folder" in run.stderr
    assert "Traceback" not in run.stderr


def test_no_paths_rebuilds_the_class_files_and_lists_what_was_not_graded(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.IPYNB").write_text(notebook(*CORRECT))
    (tmp_path / "in" / "gc_utils.py").write_text("x = 1\n")
    out = tmp_path / "out"
    graded = grader("grade", str(tmp_path / "in"), "--out", str(out))
    assert graded.returncode == 0, graded.stderr
    assert "Not graded (1):" in graded.stdout and "gc_utils.py: a support module" in graded.stdout
    assert "Graded 1 submission(s)" in graded.stdout and "Class: 1 result(s)" in graded.stdout
    (out / "index.html").unlink()
    rebuilt = grader("grade", "--out", str(out))
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert (out / "index.html").is_file() and "Class: 1 result(s)" in rebuilt.stdout
    empty = grader("grade", "--out", str(tmp_path / "nothing-here"))
    assert empty.returncode == 1 and "nothing to grade" in empty.stderr
    assert not (tmp_path / "nothing-here").exists()
