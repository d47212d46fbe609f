"""Cold-start wall time of `grader check` on a correct notebook, against `import numpy`.

Each run is a new process, as when a student types the command:
    .venv/bin/python benchmarks/check_cold_start.py [-n 20] [--assignment DIR] [--notebook NB]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOLVED = ROOT / "reference_solutions" / "gradient_checking" / "assignment.ipynb"


def wall_times(command: list[str], runs: int) -> list[float]:
    """Seconds per run of `command`, each from a new process; one unmeasured warm-up first."""
    subprocess.run(command, check=True, capture_output=True)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return times


def summary(label: str, times: list[float]) -> str:
    p90 = statistics.quantiles(times, n=10)[-1] if len(times) > 1 else times[0]
    return (
        f"{label:<28} median {statistics.median(times) * 1000:6.0f} ms   "
        f"p90 {p90 * 1000:6.0f} ms   min {min(times) * 1000:6.0f} ms   ({len(times)} runs)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=20)
    parser.add_argument("--notebook", default=str(SOLVED), help="a notebook that passes")
    parser.add_argument("--assignment", help="instructor folder or released bundle")
    args = parser.parse_args()
    check = [sys.executable, "-m", "grader", "check", args.notebook]
    if args.assignment:
        check += ["--assignment", args.assignment]
    print(summary("grader check", wall_times(check, args.runs)))
    numpy = [sys.executable, "-c", "import numpy"]
    print(summary("python -c 'import numpy'", wall_times(numpy, args.runs)))


if __name__ == "__main__":
    main()
