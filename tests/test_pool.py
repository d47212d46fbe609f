"""Where the sandbox's processes run: one core per worker when a pool covers them all."""

import os
import sys
from pathlib import Path

import pytest

from grader.run import sandbox_setup
from grader.sandbox.launch import cpu_set
from grader.sandbox.pool import WorkerPool


def tree_affinities(pid: int) -> list[set[int]]:
    """The cores allowed to a process and to its descendants (a worker and its zygote)."""
    found = [os.sched_getaffinity(pid)]
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    for child in children:
        found += tree_affinities(int(child))
    return found


def test_a_pool_covering_every_core_pins_one_worker_per_core(assignment) -> None:
    cores = cpu_set()
    with WorkerPool(sandbox_setup(assignment), len(cores)) as pool:
        pinned = [tree_affinities(worker.process.pid) for worker in pool.workers]
    assert sorted(next(iter(tree[0])) for tree in pinned) == cores
    for tree in pinned:
        assert len(tree) >= 2, "the zygote is missing"
        assert all(affinity == tree[0] and len(affinity) == 1 for affinity in tree)


@pytest.mark.skipif(len(cpu_set()) < 2, reason="needs two cores")
def test_a_smaller_pool_leaves_placement_to_the_system(assignment) -> None:
    with WorkerPool(sandbox_setup(assignment), 1) as pool:
        tree = tree_affinities(pool.workers[0].process.pid)
    assert all(affinity == set(cpu_set()) for affinity in tree)


def test_the_pool_says_how_exactly_module_changes_are_seen(assignment) -> None:
    with WorkerPool(sandbox_setup(assignment), 1) as pool:
        watch = pool.host_protections["module-watch"]
    # CPython 3.11 to 3.13 keep the dict version tags the watch reads; later ones do not, and
    # there the watch says so, which --require-isolation refuses.
    assert watch == "on" if sys.version_info < (3, 14) else watch.startswith("approximate")
