"""Class statistics: the figures of the summary page and summary.json, gathered one
results.json at a time."""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from grader.intake.identity import Student
from grader.score import Status, case_label


@dataclass(frozen=True)
class Bucket:
    """One bar of the score distribution: a range of percentages and how many fell in it."""

    label: str
    count: int
    height: float


@dataclass(frozen=True)
class CaseRate:
    label: str
    hidden: bool
    passed: int
    seen: int


@dataclass
class MistakeTally:
    """A named mistake across the class: in which functions, and which students made it."""

    id: str
    title: str
    functions: list[str] = field(default_factory=list)
    # By output folder: the student's shown name, and the function the mistake was named in.
    students: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.students)


@dataclass
class ClassStatistics:
    """Aggregates over the class, accumulated one result at a time.

    Memory grows with the number of distinct scores and cases, and by a student's sort key per
    result (the rows are read back from disk in that order).
    """

    functions: tuple[str, ...]
    max_score: float = 0.0
    count: int = 0
    unreadable: int = 0
    public_only: int = 0
    total: float = 0.0
    histogram: Counter = field(default_factory=Counter)
    scores: Counter = field(default_factory=Counter)
    function_passed: Counter = field(default_factory=Counter)
    function_points: Counter = field(default_factory=Counter)
    function_max: dict[str, float] = field(default_factory=dict)
    function_status: Counter = field(default_factory=Counter)
    case_passed: Counter = field(default_factory=Counter)
    case_seen: Counter = field(default_factory=Counter)
    case_hidden: set[str] = field(default_factory=set)
    # By output folder: the key that orders the rows (name, id, folder).
    members: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    # By mistake id, in the order first seen.
    tallies: dict[str, MistakeTally] = field(default_factory=dict)

    def add(self, document: dict[str, Any]) -> None:
        folder = document["submission"]
        who = Student.from_json(document.get("student"), folder)
        self.members[folder] = (who.shown.casefold(), who.id, folder)
        self.count += 1
        self.max_score = document["max_score"] or self.max_score
        self.total += document["score"]
        self.scores[document["score"]] += 1
        self.unreadable += document["error"] is not None
        self.public_only += document.get("public_only") is True
        fraction = document["score"] / document["max_score"] if document["max_score"] else 0
        self.histogram[min(9, int(fraction * 10))] += 1
        for name, function in document["functions"].items():
            self.function_passed[name] += function["status"] == Status.PASSED
            self.function_points[name] += function["score"]
            self.function_max[name] = function["max_score"]
            self.function_status[name, function["status"]] += 1
            self._tally(function.get("diagnosis"), name, folder, who.shown)
        for test in document["tests"]:
            self.case_seen[test["name"]] += 1
            self.case_passed[test["name"]] += test["status"] == Status.PASSED
            if test["visibility"] != "visible":
                self.case_hidden.add(test["name"])

    def _tally(self, diagnosis: Any, function: str, folder: str, shown: str) -> None:
        if not isinstance(diagnosis, dict) or not isinstance(diagnosis.get("id"), str):
            return  # none, or a results.json older than diagnoses
        tally = self.tallies.setdefault(
            diagnosis["id"], MistakeTally(diagnosis["id"], str(diagnosis.get("title") or ""))
        )
        if function not in tally.functions:
            tally.functions.append(function)
        tally.students.setdefault(folder, (shown, function))

    @property
    def mistakes(self) -> list[MistakeTally]:
        """The named mistakes, the most common first; each student's names in row order."""
        ordered = sorted(self.tallies.values(), key=lambda tally: (-tally.count, tally.id))
        return [
            dataclasses.replace(
                tally, students=dict(sorted(tally.students.items(), key=self._row_order))
            )
            for tally in ordered
        ]

    def _row_order(self, item: tuple[str, Any]) -> tuple[str, str, str]:
        return self.members[item[0]]

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0

    @property
    def median(self) -> float:
        """The median score, from the count of each distinct score."""
        if not self.count:
            return 0.0
        ranked = sorted(self.scores.items())

        def nth(n: int) -> float:
            for score, times in ranked:
                if n < times:
                    return score
                n -= times
            raise IndexError(n)

        return (nth((self.count - 1) // 2) + nth(self.count // 2)) / 2

    @property
    def full_marks(self) -> int:
        return self.scores[self.max_score] if self.max_score else 0

    @property
    def distribution(self) -> list[Bucket]:
        """Ten buckets of 10 percentage points; heights are relative to the fullest bucket."""
        tallest = max(self.histogram.values(), default=0) or 1
        return [
            Bucket(
                f"{10 * b}–{100 if b == 9 else 10 * b + 9}",
                self.histogram[b],
                100 * self.histogram[b] / tallest,
            )
            for b in range(10)
        ]

    def statuses(self, function: str) -> list[tuple[str, int]]:
        """How many submissions ended in each status for a function, most common first."""
        found = [(s, n) for (f, s), n in self.function_status.items() if f == function]
        return sorted(found, key=lambda item: (-item[1], _rank(item[0])))

    @property
    def case_rates(self) -> dict[str, list[CaseRate]]:
        """Pass counts per case, grouped by function in the order cases were first seen."""
        groups: dict[str, list[CaseRate]] = {}
        for name, seen in self.case_seen.items():
            function = name.partition(": ")[0]
            hidden = name in self.case_hidden
            groups.setdefault(function, []).append(
                CaseRate(case_label(name, hidden), hidden, self.case_passed[name], seen)
            )
        return groups


def _rank(status: str) -> int:
    """A status's place in the order reports list statuses (ties: passed first); one this
    version does not know comes last."""
    order = list(Status)
    known = Status.known(status)
    return order.index(known) if known else len(order)
