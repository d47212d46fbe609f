"""Incremental and resumable batches, atomic results, deterministic output."""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.grade import PACKAGE, _package_sources_hash, grade_batch, sources_hash
from grader.spec import load_assignment
from tests.conftest import CORRECT, FORWARD, ROOT, notebook


def make_batch(folder: Path, count: int, forward: str = FORWARD) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        cells = (
            CORRECT[0],
            forward.replace("J = theta * x", f"J = theta * x  # student {n}"),
            *CORRECT[2:],
        )
        (folder / f"s{n:03}.ipynb").write_text(notebook(*cells))


def without_timestamp(path: Path) -> str:
    """results.json's text without its `graded_at` line (a line per field, case and function)."""
    lines = path.read_text().splitlines()
    kept = [line for line in lines if not line.startswith('  "graded_at": ')]
    assert len(kept) == len(lines) - 1
    return "\n".join(kept)


def test_unchanged_submissions_are_skipped_and_changed_ones_regraded(tmp_path, assignment):
    make_batch(tmp_path / "in", 6)
    out = tmp_path / "out"
    first = grade_batch([str(tmp_path / "in")], assignment, out, jobs=2)
    assert (first.graded, first.skipped) == (6, 0)
    stamp = (out / "s001" / "results.json").stat().st_mtime_ns
    (tmp_path / "in" / "s002.ipynb").write_text(notebook(*CORRECT[:1]))
    second = grade_batch([str(tmp_path / "in")], assignment, out, jobs=2)
    assert (second.graded, second.skipped) == (1, 5)
    assert (out / "s001" / "results.json").stat().st_mtime_ns == stamp
    assert json.loads((out / "s002" / "results.json").read_text())["score"] == 0
    # The class files count the skipped results too, and the re-graded one as it is now.
    assert first.mean == 100 and second.mean == pytest.approx(500 / 6)
    assert 'id="count">6<' in (out / "index.html").read_text()
    assert len((out / "gradebook.csv").read_text().splitlines()) == 1 + 6
    forced = grade_batch([str(tmp_path / "in")], assignment, out, jobs=2, force=True)
    assert (forced.graded, forced.skipped) == (6, 0)


def test_a_changed_assignment_regrades_everything(tmp_path, assignment):
    make_batch(tmp_path / "in", 3)
    out = tmp_path / "out"
    grade_batch([str(tmp_path / "in")], assignment, out, jobs=2)
    copy = tmp_path / "assignment"
    shutil.copytree(
        ROOT / "reference_solutions" / "gradient_checking",
        copy,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    with (copy / "assignment.py").open("a") as handle:
        handle.write("\n# a new hidden case would go here\n")
    outcome = grade_batch([str(tmp_path / "in")], load_assignment(copy), out, jobs=2)
    assert (outcome.graded, outcome.skipped) == (3, 0)


def test_a_change_to_the_grader_s_code_changes_its_hash(tmp_path):
    package = tmp_path / "grader"
    shutil.copytree(PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    before = sources_hash(package)
    (package / "__pycache__").mkdir(exist_ok=True)
    (package / "__pycache__" / "score.cpython-311.pyc").write_bytes(b"compiled")
    assert sources_hash(package) == before  # compiled files are not sources
    for changed in (package / "score.py", package / "templates" / "base.css"):
        original = changed.read_bytes()
        changed.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
        assert sources_hash(package) != before, changed.name
        changed.write_bytes(original)
    assert sources_hash(package) == before


def test_the_grader_s_code_is_hashed_once_per_process(tmp_path, assignment, monkeypatch):
    hashed = []
    monkeypatch.setattr("grader.grade.sources_hash", lambda package: hashed.append(package) or "")
    monkeypatch.setattr(
        "grader.grade._package_sources_hash", functools.cache(_package_sources_hash.__wrapped__)
    )
    make_batch(tmp_path / "in", 8)
    grade_batch([str(tmp_path / "in")], assignment, tmp_path / "out", jobs=2)
    assert hashed == [PACKAGE]


def test_a_changed_grader_regrades_everything_and_an_unchanged_one_nothing(
    tmp_path, assignment, monkeypatch
):
    make_batch(tmp_path / "in", 2)
    out = tmp_path / "out"
    grade_batch([str(tmp_path / "in")], assignment, out, jobs=1)
    monkeypatch.setattr("grader.grade.grader_sources_hash", lambda: "a fixed grader")
    changed = grade_batch([str(tmp_path / "in")], assignment, out, jobs=1)
    assert (changed.graded, changed.skipped) == (2, 0)
    unchanged = grade_batch([str(tmp_path / "in")], assignment, out, jobs=1)
    assert (unchanged.graded, unchanged.skipped) == (0, 2)


def test_grading_twice_gives_the_same_bytes_apart_from_the_timestamp(tmp_path, assignment):
    shutil.copy(ROOT / "submissions" / "li_wei.ipynb", tmp_path / "li_wei.ipynb")
    shutil.copy(ROOT / "submissions" / "kevin_obrien.ipynb", tmp_path / "kevin_obrien.ipynb")
    for out in ("a", "b"):
        grade_batch(
            [str(tmp_path / "li_wei.ipynb"), str(tmp_path / "kevin_obrien.ipynb")],
            assignment,
            tmp_path / out,
            jobs=2,
        )
    for name in ("li_wei", "kevin_obrien"):
        a, b = (tmp_path / out / name for out in ("a", "b"))
        text = without_timestamp(a / "results.json")
        assert text == without_timestamp(b / "results.json")
        tests = json.loads((a / "results.json").read_text())["tests"]
        assert sum(line.startswith('    {"name": ') for line in text.splitlines()) == len(tests)
        assert (a / "report.html").read_bytes() == (b / "report.html").read_bytes()
    assert (tmp_path / "a" / "gradebook.csv").read_bytes() == (
        tmp_path / "b" / "gradebook.csv"
    ).read_bytes()


def _children(parent: int) -> set[int]:
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == parent:
                pids.add(int(entry.name))
    return pids


def _alive(pids: set[int]) -> set[int]:
    """The pids still running (zombies and vanished processes excluded)."""
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(pid)
    return alive


def test_a_batch_killed_midway_resumes_with_nothing_lost_or_graded_twice(tmp_path):
    slow = FORWARD.replace("J = theta * x", "import time\n    time.sleep(0.05)\n    J = theta * x")
    make_batch(tmp_path / "in", 40, forward=slow)
    out = tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "grader",
        "grade",
        str(tmp_path / "in"),
        "--out",
        str(out),
        "--jobs",
        "2",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(list(out.glob("*/results.json"))) < 8 and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = _children(process.pid)
    assert workers, "the grader had no sandbox workers"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    done = {p.parent.name for p in out.glob("*/results.json")}
    assert 8 <= len(done) < 40
    for name in done:
        assert json.loads((out / name / "results.json").read_text())["score"] == 100
    deadline = time.monotonic() + 15
    while _alive(workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(workers), "sandbox workers outlived the killed grader"

    resumed = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert f"Graded {40 - len(done)} submission(s), {len(done)} unchanged and skipped" in (
        resumed.stdout
    )
    results = list(out.glob("*/results.json"))
    assert len(results) == 40
    assert all(json.loads(p.read_text())["score"] == 100 for p in results)
    assert not [p for p in out.rglob(".*") if p.is_file()], "temporary files were left behind"
