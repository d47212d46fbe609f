"""Grading on a Dask cluster: a LocalCluster of worker processes, and a cluster of separate
`dask scheduler` and `dask worker` processes on loopback, one of them killed mid-batch.

Every Dask client runs in a `grader grade --cluster` process, never in pytest's: Dask's threads
leave this process's address space hundreds of MiB larger, and the isolation tests fork it
under a 1 GiB limit.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from grader.grade import grade_batch
from tests.conftest import CORRECT, FORWARD, ROOT, notebook

BIN = Path(sys.executable).parent
STARTUP_SECONDS = 60  # generous: the machine may be busy with other tests
GRADING_SECONDS = 300


def grader_grade(*arguments: str, **options) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "grader", "grade", *arguments],
        capture_output=True, text=True, timeout=GRADING_SECONDS, **options,
    )  # fmt: skip


def results_without_time(out: Path) -> dict[str, str]:
    """Each student's results.json text without its `graded_at` line."""
    return {
        path.parent.name: "\n".join(
            line for line in path.read_text().splitlines() if '"graded_at"' not in line
        )
        for path in sorted(out.glob("*/results.json"))
    }


def make_class(folder: Path, count: int) -> None:
    folder.mkdir(parents=True)
    for n in range(count):
        forward = FORWARD.replace("J = theta * x", f"J = theta * x  # student {n}")
        (folder / f"s{n:03}.ipynb").write_text(notebook(CORRECT[0], forward, *CORRECT[2:]))


def test_a_local_cluster_writes_what_a_local_run_writes_and_resumes(tmp_path, assignment):
    samples = str(ROOT / "submissions")
    grade_batch([samples], assignment, tmp_path / "local", jobs=2)
    out = str(tmp_path / "cluster")
    first = grader_grade(samples, "--out", out, "--cluster", "local:2")
    assert first.returncode == 0, first.stderr
    assert "Graded 15 submission(s), 0 unchanged" in first.stdout
    assert "graded 15/15" in first.stderr  # the progress line, as locally
    local, remote = results_without_time(tmp_path / "local"), results_without_time(Path(out))
    assert len(local) == 15 and remote == local
    for name in local:
        report = (tmp_path / "local" / name / "report.html").read_text()
        assert (Path(out) / name / "report.html").read_text() == report
    again = grader_grade(samples, "--out", out, "--cluster", "local:2")
    assert "Graded 0 submission(s), 15 unchanged" in again.stdout  # checked before sending


def test_a_cluster_that_cannot_be_reached_is_a_usage_error(tmp_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {**os.environ, "DASK_SCHEDULER_ADDRESS": f"tcp://127.0.0.1:{port}"}
    finished = grader_grade(
        str(ROOT / "submissions"), "--out", str(tmp_path / "out"), env=environment
    )
    assert finished.returncode == 2
    assert f"tcp://127.0.0.1:{port} could not be reached" in finished.stderr
    assert not (tmp_path / "out" / "alice_chen").exists()


def test_local_cluster_needs_a_number_of_workers(tmp_path):
    finished = grader_grade(
        str(ROOT / "submissions"), "--out", str(tmp_path), "--cluster", "local:x"
    )
    assert finished.returncode == 2 and "local:N" in finished.stderr


@contextmanager
def dask_processes(
    folder: Path, names: tuple[str, ...], environment: dict[str, str] | None = None
) -> Iterator[tuple[str, dict[str, subprocess.Popen]]]:
    """A scheduler and workers started as the `dask` commands, without nannies (a killed
    worker stays dead); yields the scheduler's address once every worker has joined."""
    scheduler_file = folder / "scheduler.json"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = subprocess.Popen(
        [BIN / "dask", "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
         "--scheduler-file", str(scheduler_file)],
        **quiet,
    )  # fmt: skip
    workers = {
        name: subprocess.Popen(
            [BIN / "dask", "worker", "--scheduler-file", str(scheduler_file), "--name", name,
             "--nthreads", "1", "--no-nanny", "--no-dashboard", "--host", "127.0.0.1"],
            env=environment, **quiet,
        )  # fmt: skip
        for name in names
    }
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        ready = subprocess.run(  # a client of its own process: see the module's docstring
            [sys.executable, "-c", "import sys, distributed; "
             "distributed.Client(sys.argv[1]).wait_for_workers(int(sys.argv[2]), "
             "timeout=float(sys.argv[3]))",
             address, str(len(names)), str(STARTUP_SECONDS)],
            timeout=2 * STARTUP_SECONDS,
        )  # fmt: skip
        assert ready.returncode == 0
        yield address, workers
    finally:
        for process in (*workers.values(), scheduler):
            process.kill()
            process.wait()


@pytest.fixture
def separate_cluster(tmp_path) -> Iterator[tuple[str, dict[str, subprocess.Popen]]]:
    with dask_processes(tmp_path, ("worker-a", "worker-b")) as cluster:
        yield cluster


def test_a_worker_that_cannot_grade_as_the_client_would_refuses_before_any_grading(tmp_path):
    """A worker running other grader code (here a copy with one comment added) refuses, as a
    worker whose host lacks a protection does under --require-isolation: exit 2, naming it."""
    copy = tmp_path / "other"
    shutil.copytree(ROOT / "grader", copy / "grader", ignore=shutil.ignore_patterns("__pycache__"))
    with (copy / "grader" / "score.py").open("a") as changed:
        changed.write("# a later version\n")
    environment = {**os.environ, "PYTHONPATH": str(copy)}
    with dask_processes(tmp_path, ("other-grader",), environment) as (address, _):
        out = tmp_path / "out"
        finished = grader_grade(
            str(ROOT / "submissions"), "--out", str(out), "--cluster", address,
            "--require-isolation",
        )  # fmt: skip
    assert finished.returncode == 2
    assert "refuse to grade" in finished.stderr and "grader's code differs" in finished.stderr
    assert not any(out.glob("*/results.json"))


def test_a_worker_killed_mid_batch_loses_nothing_and_grades_nothing_twice(
    tmp_path, separate_cluster
):
    address, workers = separate_cluster
    count = 160  # ten batches of 16: each worker is always running one until the last
    make_class(tmp_path / "in", count)
    out = tmp_path / "out"
    grading = subprocess.Popen(
        [sys.executable, "-m", "grader", "grade", str(tmp_path / "in"), "--out", str(out),
         "--cluster", address],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + GRADING_SECONDS
    written = 0
    while written < 16 and grading.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
        written = sum(1 for _ in out.glob("*/results.json"))
    # Mid-run: some results are written, most are not, and both workers hold a batch.
    assert 0 < written < count // 2
    workers["worker-a"].send_signal(signal.SIGKILL)
    stdout, stderr = grading.communicate(timeout=GRADING_SECONDS)
    assert grading.returncode == 0, stderr
    assert workers["worker-a"].wait(timeout=30) == -signal.SIGKILL
    assert f"Graded {count} submission(s), 0 unchanged" in stdout
    results = [json.loads(p.read_text()) for p in out.glob("*/results.json")]
    assert len(results) == count
    assert all(r["score"] == 100 and r["error"] is None for r in results)


def test_a_worker_that_joins_and_refuses_hands_its_batches_to_the_others(tmp_path):
    copy = tmp_path / "other"
    shutil.copytree(ROOT / "grader", copy / "grader", ignore=shutil.ignore_patterns("__pycache__"))
    with (copy / "grader" / "score.py").open("a") as changed:
        changed.write("# a later version\n")
    count = 160
    make_class(tmp_path / "in", count)
    out = tmp_path / "out"
    with dask_processes(tmp_path, ("worker-a",)) as (address, _):
        grading = subprocess.Popen(
            [sys.executable, "-m", "grader", "grade", str(tmp_path / "in"), "--out", str(out),
             "--cluster", address],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + GRADING_SECONDS
        while grading.poll() is None and time.monotonic() < deadline:
            if any(out.glob("*/results.json")):
                break
            time.sleep(0.02)
        late = subprocess.Popen(
            [BIN / "dask", "worker", address, "--name", "late", "--nthreads", "1",
             "--no-nanny", "--no-dashboard", "--host", "127.0.0.1"],
            env={**os.environ, "PYTHONPATH": str(copy)},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            stdout, stderr = grading.communicate(timeout=GRADING_SECONDS)
        finally:
            late.kill()
            late.wait()
    assert grading.returncode == 0, stderr
    assert f"Graded {count} submission(s), 0 unchanged" in stdout
    results = [json.loads(p.read_text()) for p in out.glob("*/results.json")]
    assert len(results) == count
    assert all(r["score"] == 100 and r["error"] is None for r in results)
    # The late worker joined while most of the class was still waiting, and was handed some.
    assert "refuses to grade: its grader's code differs" in stderr
