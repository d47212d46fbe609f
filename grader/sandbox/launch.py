"""Starting a sandbox worker: kept free of heavy imports, so it can begin before they load."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def start_worker() -> subprocess.Popen:
    """Start a worker interpreter with a clean environment; it waits for its setup on stdin."""
    package_parent = str(Path(__file__).resolve().parent.parent.parent)
    env = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": "/nonexistent",
        "PYTHONPATH": package_parent,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        **dict.fromkeys(THREAD_VARIABLES, "1"),
    }
    return subprocess.Popen(
        [sys.executable, "-s", "-m", "grader.sandbox.worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        cwd="/",
        start_new_session=True,
    )


def discard(process: subprocess.Popen) -> None:
    """Stop a worker no pool took over, or none got to close."""
    if process.poll() is None:
        process.kill()
        process.wait()
    process.stdin.close()
    process.stdout.close()


def cpu_set() -> list[int]:
    """The cores this process may run on; empty where the system does not say."""
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


def default_size() -> int:
    """How many workers a batch uses unless told: one per core this process may run on."""
    return len(cpu_set()) or os.cpu_count() or 1


def pin(process: subprocess.Popen, core: int) -> None:
    """Keep a worker, and the zygote and children it has yet to fork, on one core.

    A worker and its child take turns, waking each other at every call and result: on one
    core that is a plain switch, across cores a wake-up of the other core and, for every page
    the child copies, a TLB flush there too. About a tenth of the sandbox's time, measured.
    """
    try:
        os.sched_setaffinity(process.pid, {core})
    except OSError:
        pass  # e.g. the process has already ended: its pool will say so
