"""Throughput, memory and resume figures for `grader grade`, next to running notebooks naively.

Generates batches of distinct, correct submissions, grades them with the real CLI in a
subprocess while sampling /proc, and prints a table to paste into the README. No asserts:
it measures. See benchmarks/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import compileall
import csv
import os
import platform
import re
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import version
from pathlib import Path

from _notebooks import edit, generate, load_samples

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = ROOT / "reference_solutions" / "gradient_checking"
SINGLE_THREAD = {
    name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
RESUME_CHANGES = 10

# The naive way: one fresh interpreter per notebook that executes its code cells in order,
# with magics and shell escapes replaced by `pass`. It checks no answer at all.
NAIVE_RUNNER = r"""
import json, re, sys
path = sys.argv[1]
text = open(path, encoding="utf-8-sig").read()
if path.endswith(".py"):
    cells = [text]
else:
    notebook = json.loads(text)
    key = "input" if "worksheets" in notebook else "source"
    sheets = notebook.get("worksheets") or [notebook]
    cells = [c.get(key, "") for s in sheets for c in s["cells"] if c["cell_type"] == "code"]
namespace = {"__name__": "__main__"}
for number, source in enumerate(cells, 1):
    source = source if isinstance(source, str) else "".join(source)
    if not source.lstrip().startswith("%%"):
        source = re.sub(r"(?m)^([ \t]*)[%!].*$", r"\1pass", source)
        exec(compile(source, f"cell {number}", "exec"), namespace)
"""


@dataclass
class Run:
    """The figures of one timed run."""

    label: str
    items: int
    seconds: float
    cpu: float
    graded: int | None = None
    skipped: int | None = None
    sandbox_cpu: float | None = None
    grader_peak_kib: int | None = None
    tree_rss_kib: int | None = None
    tree_pss_kib: int | None = None
    failures: int = 0

    @property
    def rate(self) -> float:
        return self.items / self.seconds


class TreeSampler(threading.Thread):
    """Polls /proc: the grader's peak RSS and own CPU, the whole process tree's RSS and PSS."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.done = threading.Event()
        self.grader_peak = self.tree_rss = self.tree_pss = 0
        self.grader_cpu = 0.0

    def run(self) -> None:
        while True:
            self.sample()
            if self.done.wait(self.interval):
                return

    def sample(self) -> None:
        self.grader_peak = max(self.grader_peak, _status(self.pid).get("VmHWM", 0))
        if fields := _stat(self.pid):
            self.grader_cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        parents = _parents()
        tree, frontier = [self.pid], [self.pid]
        while frontier:
            frontier = [pid for pid, parent in parents.items() if parent in frontier]
            tree += frontier
        self.tree_rss = max(self.tree_rss, sum(_status(pid).get("VmRSS", 0) for pid in tree))
        self.tree_pss = max(self.tree_pss, sum(map(_pss, tree)))


def _read(path: str) -> str:
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            return handle.read()
    except OSError:
        return ""


def _status(pid: int) -> dict[str, int]:
    """The kB fields of /proc/PID/status (VmRSS, VmHWM, …)."""
    fields = {}
    for line in _read(f"/proc/{pid}/status").splitlines():
        name, _, value = line.partition(":")
        if value.endswith(" kB"):
            fields[name] = int(value[:-3])
    return fields


def _pss(pid: int) -> int:
    found = re.search(r"^Pss:\s+(\d+) kB", _read(f"/proc/{pid}/smaps_rollup"), re.M)
    return int(found.group(1)) if found else 0


def _stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name, so field 3 (state) is at 0."""
    return _read(f"/proc/{pid}/stat").rpartition(")")[2].split()


def _parents() -> dict[int, int]:
    parents = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and (fields := _stat(int(entry.name))):
            parents[int(entry.name)] = int(fields[1])
    return parents


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def grader_command() -> list[str]:
    script = Path(sys.executable).parent / "grader"
    return [str(script)] if script.exists() else [sys.executable, "-m", "grader"]


def run_grader(label: str, folder: Path, out: Path, jobs: int | None) -> Run:
    """Run `grader grade FOLDER --out OUT` and measure it."""
    command = [*grader_command(), "grade", str(folder), "--out", str(out)]
    command += ["--jobs", str(jobs)] if jobs else []
    cpu_before, started = _children_cpu(), time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = TreeSampler(process.pid)
    sampler.start()
    stdout, stderr = process.communicate()
    seconds = time.perf_counter() - started
    sampler.done.set()
    sampler.join()
    cpu = _children_cpu() - cpu_before
    counts = re.search(r"Graded (\d+) submission\(s\), (\d+) unchanged", stdout)
    if process.returncode != 0 or counts is None:
        sys.exit(f"`{shlex.join(command)}` failed ({process.returncode}):\n{stdout}{stderr}")
    graded, skipped = int(counts.group(1)), int(counts.group(2))
    sandbox = cpu - sampler.grader_cpu
    return Run(
        label,
        graded + skipped,
        seconds,
        cpu,
        graded,
        skipped,
        sandbox,
        sampler.grader_peak,
        sampler.tree_rss,
        sampler.tree_pss,
    )


def run_naive(label: str, paths: list[Path], parallel: int, scratch: Path) -> Run:
    """Execute each notebook in its own fresh `python`, `parallel` at a time."""
    env = {**os.environ, **SINGLE_THREAD, "PYTHONPATH": str(ASSIGNMENT)}

    def execute(path: Path) -> bool:
        command = [sys.executable, "-c", NAIVE_RUNNER, str(path)]
        quiet = subprocess.DEVNULL
        return subprocess.run(command, cwd=scratch, env=env, stdout=quiet, stderr=quiet).returncode

    cpu_before, started = _children_cpu(), time.perf_counter()
    with ThreadPoolExecutor(parallel) as executor:
        failures = sum(code != 0 for code in executor.map(execute, paths))
    seconds = time.perf_counter() - started
    return Run(label, len(paths), seconds, _children_cpu() - cpu_before, failures=failures)


def not_full_marks(out: Path) -> int:
    with (out / "gradebook.csv").open(encoding="utf-8", newline="") as handle:
        return sum(row["score"] != row["max_score"] for row in csv.DictReader(handle))


def print_conditions(jobs: int | None, command: list[str], load_before: float) -> None:
    """The lines that say how a run was made, under every benchmark's figures."""
    print(f"jobs: {jobs or 'default (all cores)'}; grader {revision()}")
    print(f"command: {shlex.join(command)}")
    print(f"machine: {machine()}")
    print(f"load average (1 min), before / after: {load_before:.2f} / {os.getloadavg()[0]:.2f}")
    print(f"date: {datetime.now().astimezone().isoformat(timespec='seconds')}")


def machine() -> str:
    model = re.search(r"^model name\s*:\s*(.+)$", _read("/proc/cpuinfo"), re.M)
    memory = re.search(r"^MemTotal:\s+(\d+) kB", _read("/proc/meminfo"), re.M)
    return (
        f"nproc {len(os.sched_getaffinity(0))} of {os.cpu_count()} CPUs, "
        f"{model.group(1) if model else 'unknown CPU'}, "
        f"{int(memory.group(1)) / 2**20 if memory else 0:.1f} GiB RAM, "
        f"Linux {platform.release()}, Python {platform.python_version()}, "
        f"numpy {version('numpy')}"
    )


def revision() -> str:
    described = subprocess.run(
        ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
    )
    return described.stdout.strip() or "unknown"


def _mib(kib: int | None) -> str:
    return "—" if kib is None else f"{kib / 1024:.0f}"


def table(runs: list[Run]) -> str:
    header = (
        "| run | submissions | graded / skipped | wall s | per s | CPU ms each "
        "(grader + sandbox) | grader peak RSS MiB | tree peak RSS / PSS MiB |"
    )
    lines = [header, "|" + "---|" * 8]
    for run in runs:
        cpu = 1000 * run.cpu / run.items
        if run.sandbox_cpu is None:
            split = f"{cpu:.1f}" + (f" ({run.failures} failed)" if run.failures else "")
            counts = "—"
        else:
            sandbox = 1000 * run.sandbox_cpu / run.items
            split = f"{cpu:.1f} ({cpu - sandbox:.1f} + {sandbox:.1f})"
            counts = f"{run.graded} / {run.skipped}"
        tree = "—"
        if run.tree_rss_kib is not None:
            tree = f"{_mib(run.tree_rss_kib)} / {_mib(run.tree_pss_kib)}"
        lines.append(
            f"| {run.label} | {run.items} | {counts} | {run.seconds:.2f} | {run.rate:.1f} "
            f"| {split} | {_mib(run.grader_peak_kib)} | {tree} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=400, help="batch size (default 400)")
    parser.add_argument("--big", type=int, default=4000, help="big batch; 0 skips (default 4000)")
    parser.add_argument("--naive-sample", type=int, default=40, help="notebooks run naively")
    parser.add_argument("--jobs", type=int, help="passed to `grader grade --jobs`")
    args = parser.parse_args()

    def say(text: str) -> None:
        print(f"… {text}", file=sys.stderr, flush=True)

    # As `make` leaves it: where PYTHONDONTWRITEBYTECODE is set, nothing else would write it.
    for package in (ROOT / "grader", ASSIGNMENT):
        compileall.compile_dir(package, quiet=1)
    samples = load_samples(ROOT / "submissions")
    runs: list[Run] = []
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="grader-bench-") as temporary:
        base = Path(temporary)
        say(f"generating {args.count} + {args.big} submissions in {base}")
        batch = generate(samples, base / "batch", args.count, seed=1)
        big = generate(samples, base / "big", args.big, seed=2)

        scratch = base / "naive"
        scratch.mkdir()
        run_naive("warm-up: page cache for python and numpy", batch[:1], 1, scratch)
        say(f"grading {args.count}")
        first = run_grader(f"grader, {args.count} new", base / "batch", base / "out", args.jobs)
        runs.append(first)
        wrong = not_full_marks(base / "out")
        if big:
            say(f"grading {args.big}")
            big_run = run_grader(
                f"grader, {args.big} new", base / "big", base / "big-out", args.jobs
            )
            runs.append(big_run)
            wrong += not_full_marks(base / "big-out")
            shutil.rmtree(base / "big-out")

        say("resuming")
        runs.append(run_grader("re-run, nothing changed", base / "batch", base / "out", args.jobs))
        later = time.time() + 60
        for path in batch[:RESUME_CHANGES]:
            os.utime(path, (later, later))
        label = f"re-run, {RESUME_CHANGES} touched (mtime only)"
        runs.append(run_grader(label, base / "batch", base / "out", args.jobs))
        for path in batch[RESUME_CHANGES : 2 * RESUME_CHANGES]:
            edit(path, "late fix: clarified a comment")
        label = f"re-run, {RESUME_CHANGES} edited"
        runs.append(run_grader(label, base / "batch", base / "out", args.jobs))

        sample = batch[: args.naive_sample]
        say(f"running {len(sample)} notebooks the naive way")
        sequential = run_naive("naive, 1 at a time", sample, 1, scratch)
        parallel = run_naive("naive, 2 in parallel", sample, 2, scratch)
        runs += [sequential, parallel]

    executable = os.path.relpath(sys.executable, Path.cwd())
    command = [executable, "benchmarks/throughput.py", "--count", str(args.count)]
    command += ["--big", str(args.big), "--naive-sample", str(args.naive_sample)]
    command += ["--jobs", str(args.jobs)] if args.jobs else []
    print(table(runs))
    print()
    if big:
        steady = (args.big - args.count) / (big_run.seconds - first.seconds)
        print(f"steady-state rate (start-up excluded): {steady:.1f} submissions/s")
        growth = big_run.grader_peak_kib / first.grader_peak_kib
        print(f"grader peak RSS, {args.big} vs {args.count}: ×{growth:.2f}")
    cores = len(os.sched_getaffinity(0))
    ceiling = cores * first.items / first.cpu
    print(f"CPU-bound ceiling on {cores} cores (CPU per submission only): {ceiling:.1f}/s")
    print(
        f"grader vs naive: ×{first.rate / parallel.rate:.1f} (2 in parallel), "
        f"×{first.rate / sequential.rate:.1f} (1 at a time), "
        f"×{(parallel.cpu / parallel.items) / (first.cpu / first.items):.1f} by CPU per submission"
    )
    print(f"submissions without full marks (all are correct): {wrong}")
    print_conditions(args.jobs, command, load_before)


if __name__ == "__main__":
    main()
