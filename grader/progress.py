"""Progress of a batch: a bar with rate and ETA on a terminal, plain periodic lines elsewhere."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, stream: TextIO = sys.stderr, every_seconds: float = 5.0) -> None:
        self.stream, self.every = stream, every_seconds
        self.tty = stream.isatty()
        self.started = self.last = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        finished = done == total
        if not finished and now - self.last < (0.1 if self.tty else self.every):
            return
        self.last = now
        elapsed = max(now - self.started, 1e-9)
        rate = done / elapsed
        eta = (total - done) / rate if rate else 0.0
        if self.tty:
            filled = int(30 * done / total) if total else 30
            bar = "█" * filled + "·" * (30 - filled)
            end = "\n" if finished else ""
            self.stream.write(f"\r{bar} {done}/{total} {rate:6.1f}/s ETA {eta:4.0f}s{end}")
        else:
            self.stream.write(f"graded {done}/{total} ({rate:.1f}/s, ETA {eta:.0f}s)\n")
        self.stream.flush()
