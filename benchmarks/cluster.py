"""The same notebooks graded on this machine's own workers and on a 2-worker Dask cluster.

Starts a real `dask scheduler` and two `dask worker` processes (one thread each) on loopback,
grades one generated batch locally and on the cluster in the same run, and prints each rate,
their ratio, the bytes a submission costs on the wire, the scheduler's CPU per task, the
per-task overhead, and a projection to 10 and 100 machines with its assumptions. Both runs
start timing with their workers warm (the pool, or the cluster with its plugin registered).
No asserts: it measures.

    .venv/bin/python benchmarks/cluster.py --count 400
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _notebooks import generate, load_samples

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from distributed import Client, get_task_stream  # noqa: E402

from grader.cluster.executor import BATCH_SIZE, open_cluster  # noqa: E402
from grader.grade import grade_batch, local_executor  # noqa: E402
from grader.read import read_submission  # noqa: E402
from grader.spec import Assignment, default_assignment_dir, load_assignment  # noqa: E402

BIN = Path(sys.executable).parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
CORES_PER_MACHINE = 2  # this project's machine kind


def cpu_seconds(pid: int) -> float:
    """User and system CPU a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def start_cluster(folder: Path) -> tuple[str, subprocess.Popen, list[subprocess.Popen]]:
    scheduler_file = folder / "scheduler.json"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = subprocess.Popen(
        [BIN / "dask", "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
         "--scheduler-file", str(scheduler_file)],
        **quiet,
    )  # fmt: skip
    workers = [
        subprocess.Popen(
            [BIN / "dask", "worker", "--scheduler-file", str(scheduler_file), "--nthreads", "1",
             "--no-dashboard", "--host", "127.0.0.1"],
            **quiet,
        )  # fmt: skip
        for _ in range(2)
    ]
    while not scheduler_file.exists():
        time.sleep(0.1)
    address = json.loads(scheduler_file.read_text())["address"]
    with Client(address) as client:  # both workers up before the executor counts threads
        client.wait_for_workers(2)
    return address, scheduler, workers


def wire_bytes(paths: list[Path], sample: list) -> tuple[float, float]:
    """Bytes per submission sent (a batch of read submissions, pickled as Dask sends task
    arguments) and brought back (their results), on `sample` results graded locally."""
    submissions = [read_submission(p.stem, str(p), p) for p in paths]
    batches = [submissions[i : i + BATCH_SIZE] for i in range(0, len(submissions), BATCH_SIZE)]
    sent = sum(len(pickle.dumps(batch, protocol=5)) for batch in batches) / len(submissions)
    back = len(pickle.dumps(sample, protocol=5)) / len(sample)
    return sent, back


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=400, help="notebooks in the batch")
    args = parser.parse_args()
    assignment = load_assignment(default_assignment_dir())
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        paths = generate(load_samples(ROOT / "submissions"), folder / "in", args.count)

        with local_executor(assignment, 2) as executor:
            began = time.perf_counter()
            grade_batch([str(folder / "in")], assignment, folder / "local", executor=executor)
            local_seconds = time.perf_counter() - began

        address, scheduler, workers = start_cluster(folder)
        try:
            with open_cluster(address, assignment) as executor:
                scheduler_before = cpu_seconds(scheduler.pid)
                client_before = time.process_time()
                began = time.perf_counter()
                with get_task_stream(executor.client) as stream:
                    grade_batch(
                        [str(folder / "in")], assignment, folder / "cluster", executor=executor
                    )
                cluster_seconds = time.perf_counter() - began
                client_cpu = time.process_time() - client_before
                scheduler_cpu = cpu_seconds(scheduler.pid) - scheduler_before
        finally:
            for process in (*workers, scheduler):
                process.kill()
                process.wait()
        # Measured while the files exist: read again, as the client reads them.
        sent, back = wire_bytes(paths, _sample_results(assignment, paths[:BATCH_SIZE]))
        same = all(
            _without_time(folder / "local" / p.parent.name / "results.json")
            == _without_time(p)
            for p in (folder / "cluster").glob("*/results.json")
        )

    tasks = [t for t in stream.data if t["key"].startswith("grade_on_worker")]
    compute = [
        s["stop"] - s["start"] for t in tasks for s in t["startstops"] if s["action"] == "compute"
    ]
    compute_per_task = sum(compute) / len(tasks)
    scheduler_per_task = scheduler_cpu / len(tasks)
    worker_seconds_per_submission = sum(compute) / args.count  # a worker's wall time per one
    local_rate, cluster_rate = args.count / local_seconds, args.count / cluster_seconds

    print(f"{args.count} generated notebooks, batches of {BATCH_SIZE}, {len(tasks)} tasks")
    print(f"results identical but for graded_at: {same}")
    print(f"local, 2 sandbox workers:       {local_rate:7.1f} submissions/s")
    print(f"Dask, 2 workers of 1 thread:    {cluster_rate:7.1f} submissions/s")
    print(f"ratio cluster / local:          {cluster_rate / local_rate:7.2f}")
    print(f"bytes per submission: {sent:,.0f} sent, {back:,.0f} back (pickled, as Dask sends)")
    # All the scheduler's CPU during the run (heartbeats and the task stream included), per task.
    print(f"scheduler CPU per task:         {1000 * scheduler_per_task:7.2f} ms")
    print(f"worker compute per task:        {1000 * compute_per_task:7.1f} ms")
    print(f"scheduler / compute per task:   {100 * scheduler_per_task / compute_per_task:7.2f} %")
    print(f"client CPU per submission:      {1000 * client_cpu / args.count:7.2f} ms")
    per_core = 1 / worker_seconds_per_submission
    client_limit = args.count / client_cpu
    scheduler_limit = BATCH_SIZE / scheduler_per_task
    print(
        "\nprojection, assuming machines of this kind (2 cores, one Dask worker of one thread "
        f"per core grading {per_core:.0f}/s as measured here), one client that reads and writes "
        f"at {client_limit:.0f}/s (its CPU measured here; its disk and network not limiting) "
        f"and one scheduler at {scheduler_limit:.0f}/s ({BATCH_SIZE} per task):"
    )
    for machines in (10, 100):
        workers_rate = machines * CORES_PER_MACHINE * per_core
        rate = min(workers_rate, client_limit, scheduler_limit)
        bound = {workers_rate: "workers", client_limit: "client", scheduler_limit: "scheduler"}
        print(f"  {machines:3} machines: {rate:8.0f} submissions/s (bound by the {bound[rate]})")


def _without_time(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if '"graded_at"' not in line]


def _sample_results(assignment: Assignment, paths: list[Path]) -> list:
    """A batch's results, graded locally: what a task brings back."""
    with local_executor(assignment, 1) as executor:
        return [executor.grade(read_submission(p.stem, str(p), p)) for p in paths]


if __name__ == "__main__":
    main()
