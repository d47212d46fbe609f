"""What inspecting the student's own backward_propagation_n costs: CPU per submission, same run.

A class like the demo one (see benchmarks/diagnosis.py) is graded in this process, in turn with
no inspection, with the inspection on the samples as they are (a handful of versions of the
function, each run once and then remembered, as with a class that leaves the released cell
untouched), and with the inspection on a batch whose every version differs by a comment in the
function's body (each runs in the sandbox), `--rounds` times each.
No asserts: it measures.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from diagnosis import class_copies, grade_once, usable_samples
from throughput import ASSIGNMENT, print_conditions

from grader.spec import load_assignment

SIGNATURE = "def backward_propagation_n(X, Y, cache):"
RUNS = ("without", "remembered", "every version runs")


def distinct_versions(batch: Path, folder: Path, round_number: int) -> Path:
    """The batch again, each file's backward_propagation_n made its own by a comment in it,
    new in each round: a version that ran before would be remembered."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for index, path in enumerate(sorted(batch.iterdir())):
        text = path.read_text(encoding="utf-8")
        newline = "\n" if path.suffix == ".py" else "\\n"  # a notebook's source is JSON text
        comment = f"{SIGNATURE}{newline}    # version {round_number}.{index}"
        (folder / path.name).write_text(text.replace(SIGNATURE, comment), encoding="utf-8")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300, help="batch size (default 300)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each (default 3)")
    parser.add_argument("--jobs", type=int, help="sandbox workers (default: all cores)")
    options = parser.parse_args()
    load_before = os.getloadavg()[0]
    inspecting = load_assignment(ASSIGNMENT)
    plain = dataclasses.replace(inspecting, inspections=())
    work = Path(tempfile.mkdtemp(prefix="grader-inspections-bench-"))
    try:
        samples = usable_samples(inspecting, work / "samples", options.jobs)
        batch = work / "in"
        class_copies(samples, batch, options.count)
        # Bytecode, templates, and the samples' few versions run once, as early in a batch.
        grade_once(inspecting, batch, work / "warm", options.jobs)
        spent: dict[str, list[float]] = {name: [] for name in RUNS}
        started = time.perf_counter()
        for round_number in range(options.rounds):
            distinct = distinct_versions(batch, work / "distinct", round_number)
            for name, (assignment, folder) in zip(
                RUNS, ((plain, batch), (inspecting, batch), (inspecting, distinct)), strict=True
            ):
                spent[name].append(grade_once(assignment, folder, work / "out", options.jobs))
                print(f"{name}: {spent[name][-1]:.2f} s CPU", file=sys.stderr)
        elapsed = time.perf_counter() - started
    finally:
        shutil.rmtree(work, ignore_errors=True)
    per = {name: 1000 * min(values) / options.count for name, values in spent.items()}
    print(f"batch: {options.count} submissions, {len(samples)} demo samples repeated")
    for name, milliseconds in per.items():
        change = 100 * (milliseconds / per["without"] - 1)
        print(f"CPU per submission, {name} (best): {milliseconds:.2f} ms ({change:+.1f} %)")
    print(f"wall time of the rounds: {elapsed:.1f} s")
    print_conditions(options.jobs, sys.argv, load_before)


if __name__ == "__main__":
    main()
