"""What naming mistakes costs: CPU per submission with and without the catalog, same run.

A class like the demo one (the samples in submissions/, right and wrong, copied with a
distinct header until the batch is `--count` long) is graded in this process, alternately with
the assignment as it is and with its mistakes and probes taken out, `--rounds` times each.
CPU is this process's and its finished children's (the sandbox workers), from getrusage.
No asserts: it measures.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from throughput import ASSIGNMENT, ROOT, print_conditions

from grader.grade import grade_batch
from grader.spec import Assignment, load_assignment


def usable_samples(assignment: Assignment, work: Path, jobs: int | None) -> list[Path]:
    """The demo samples, but for those that run into a time limit: they spend CPU in proportion
    to how idle the machine is, not to the grader's work, and would drown the difference."""
    samples = sorted(p for p in (ROOT / "submissions").iterdir() if p.suffix in (".ipynb", ".py"))
    grade_batch([str(ROOT / "submissions")], assignment, work, jobs=jobs)
    usable = []
    for sample in samples:
        results = json.loads((work / sample.stem / "results.json").read_text(encoding="utf-8"))
        if all(f["status"] != "timeout" for f in results["functions"].values()):
            usable.append(sample)
    return usable


def class_copies(samples: list[Path], folder: Path, count: int) -> None:
    """`count` submissions made of `samples`, each made distinct by a comment."""
    folder.mkdir(parents=True)
    for index in range(count):
        sample = samples[index % len(samples)]
        text = sample.read_text(encoding="utf-8")
        note = f"# copy {index}\n"
        if sample.suffix == ".ipynb" and '"cells"' in text:
            text = text.replace('"source": [', f'"source": [{json.dumps(note)}, ', 1)
        else:
            text = note + text
        (folder / f"{index:05d}_{sample.name}").write_text(text, encoding="utf-8")


def cpu_seconds() -> float:
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def grade_once(assignment: Assignment, folder: Path, out: Path, jobs: int | None) -> float:
    shutil.rmtree(out, ignore_errors=True)
    before = cpu_seconds()
    grade_batch([str(folder)], assignment, out, jobs=jobs)
    return cpu_seconds() - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300, help="batch size (default 300)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each (default 3)")
    parser.add_argument("--jobs", type=int, help="sandbox workers (default: all cores)")
    options = parser.parse_args()
    load_before = os.getloadavg()[0]
    named = load_assignment(ASSIGNMENT)
    plain = dataclasses.replace(named, mistakes=(), probes=())
    work = Path(tempfile.mkdtemp(prefix="grader-diagnosis-bench-"))
    try:
        samples = usable_samples(named, work / "samples", options.jobs)
        batch = work / "in"
        class_copies(samples, batch, options.count)
        grade_once(named, batch, work / "warm", options.jobs)  # mutants' outcomes, bytecode
        spent: dict[str, list[float]] = {"with": [], "without": []}
        started = time.perf_counter()
        for _ in range(options.rounds):
            for name, assignment in (("without", plain), ("with", named)):
                spent[name].append(grade_once(assignment, batch, work / "out", options.jobs))
                print(f"{name} diagnosis: {spent[name][-1]:.2f} s CPU", file=sys.stderr)
        elapsed = time.perf_counter() - started
    finally:
        shutil.rmtree(work, ignore_errors=True)
    per = {name: 1000 * min(values) / options.count for name, values in spent.items()}
    print(
        f"batch: {options.count} submissions, {len(samples)} demo samples repeated (those "
        f"that hit a time limit left out); {options.rounds} rounds"
    )
    print(f"CPU per submission without diagnosis (best): {per['without']:.2f} ms")
    print(f"CPU per submission with diagnosis (best):    {per['with']:.2f} ms")
    print(f"diagnosis costs: {100 * (per['with'] / per['without'] - 1):+.1f} % CPU")
    print(f"wall time of the rounds: {elapsed:.1f} s")
    print_conditions(options.jobs, sys.argv, load_before)


if __name__ == "__main__":
    main()
