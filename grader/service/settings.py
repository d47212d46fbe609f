"""What `grader serve` is told: the options, gathered in one value (no heavy import here:
the command line reads its defaults)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_DATA = Path("grader-data")
DEFAULT_MAX_UPLOAD = 20 * 2**20
DEFAULT_RATE = 20.0  # requests per second per token, sustained
DEFAULT_BURST = 200  # requests a token may make at once: a class's uploads after a deadline


@dataclass(frozen=True)
class RetrySchedule:
    """`attempts` tries of a callback; the n-th retry waits `first_delay * factor ** (n - 1)`
    seconds: 8 tries over 10 minutes and 35 seconds by default."""

    attempts: int = 8
    first_delay: float = 5.0
    factor: float = 2.0

    def delay(self, failures: int) -> float | None:
        """The wait after the `failures`-th failure, or None when no try is left."""
        if failures >= self.attempts:
            return None
        return self.first_delay * self.factor ** (failures - 1)


@dataclass(frozen=True)
class Settings:
    data: Path = DEFAULT_DATA
    assignment_dirs: tuple[Path, ...] = ()  # none: the bundled assignment
    jobs: int | None = None  # sandbox workers per assignment; None: one per core
    callback_allow: tuple[str, ...] = ()
    callback_secret: bytes = field(default=b"", repr=False)
    max_upload: int = DEFAULT_MAX_UPLOAD
    rate: float = DEFAULT_RATE
    burst: int = DEFAULT_BURST
    retry: RetrySchedule = RetrySchedule()
