"""Which of a student's files is graded: the latest attempt of each file, and among different
files the one that defines the most graded functions. Every other file is listed, with why.

A student with one file (the usual case) costs one read, as before intake existed.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from grader.i18n import _, ngettext, sentences
from grader.intake.gather import Candidate, Planned, Skipped
from grader.read import Format, Submission

_UNREADABLE = -1  # an unreadable file defines less than a readable one that defines nothing


@dataclass(frozen=True)
class Attempt:
    source: str
    graded: bool

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "graded": self.graded}


@dataclass(frozen=True)
class Chosen:
    """A student's graded submission and what the results say about how it was chosen."""

    submission: Submission
    late: bool | None  # what the LMS says of the graded file, if it says
    selection: str | None  # which of several files was graded, and why
    attempts: tuple[Attempt, ...]  # every attempt of the graded file, oldest first, if several
    skipped: tuple[Skipped, ...]  # the student's other files

    def provenance(self) -> dict[str, Any]:
        """What results.json says of how the file was chosen; only what applies."""
        said: dict[str, Any] = {}
        if self.late is not None:
            said["late"] = self.late
        if self.selection is not None:
            said["selection"] = self.selection
        if self.attempts:
            said["attempts"] = [attempt.to_json() for attempt in self.attempts]
        return said


@dataclass(frozen=True)
class _Weighed:
    candidate: Candidate
    submission: Submission
    defined: int  # graded functions it defines


def choose(planned: Planned, functions: tuple[str, ...]) -> Chosen:
    """Read a student's candidate files, as few as need be, and pick the one to grade."""
    families: dict[tuple[str, Format], list[Candidate]] = {}
    for candidate in sorted(planned.candidates, key=lambda c: c.order):
        families.setdefault(candidate.family, []).append(candidate)
    owner, folder = planned.student, planned.folder
    passed_over: list[tuple[Candidate, str]] = []
    if len(families) == 1:
        (only,) = families.values()
        graded, selection = only[-1], None
        submission = graded.found.read(folder, owner)
    else:
        weighed = []
        for attempts in families.values():
            submission = attempts[-1].found.read(folder, owner)
            weighed.append(_Weighed(attempts[-1], submission, _defined(submission, functions)))
        weighed.sort(key=_preference)
        best = weighed[-1]
        graded, submission = best.candidate, best.submission
        selection = _selection(best, weighed[:-1], len(functions))
        instead = _("{graded} of the same student was graded instead ({best}; this file {this})")
        passed_over = [
            (
                other.candidate,
                instead.format(graded=graded.original, best=_defines(best), this=_defines(other)),
            )
            for other in weighed[:-1]
        ]
    for family, attempts in families.items():
        latest = attempts[-1]
        for earlier in attempts[:-1]:
            if family == graded.family:
                said = _("an earlier attempt of {file}; the latest is graded")
            else:
                said = _("an earlier attempt of {file}; the latest is not graded either")
            passed_over.append((earlier, said.format(file=latest.original)))
    skipped = tuple(
        Skipped(candidate.found.source, reason, owner, candidate.found.origin)
        for candidate, reason in passed_over
    )
    graded_family = families[graded.family]
    attempts_listed = (
        tuple(Attempt(c.found.source, c is graded) for c in graded_family)
        if len(graded_family) > 1
        else ()
    )
    return Chosen(submission, graded.late, selection, attempts_listed, skipped)


def _preference(weighed: _Weighed) -> tuple:
    """Most graded functions first, then a notebook over a script, then the latest."""
    return (weighed.defined, weighed.candidate.format is Format.NOTEBOOK, weighed.candidate.order)


def _defines(weighed: _Weighed) -> str:
    if weighed.defined == _UNREADABLE:
        return _("cannot be read")
    said = ngettext(
        "defines {count} graded function", "defines {count} graded functions", weighed.defined
    )
    return said.format(count=weighed.defined)


def _selection(best: _Weighed, others: list[_Weighed], total: int) -> str:
    """Why the graded file was chosen, in a sentence a student can check."""
    rest = "; ".join(
        _("{file} {defines}").format(file=other.candidate.original, defines=_defines(other))
        for other in others
    )
    said = _(
        "Graded {file}, the file of yours that defines the most of the {total} graded functions "
        "({count}; {others})."
    ).format(file=best.candidate.original, total=total, count=best.defined, others=rest)
    runner_up = others[-1]
    if runner_up.defined == best.defined:
        if best.candidate.format is not runner_up.candidate.format:
            tie = _("{file} defines as many: the notebook is preferred.")
        else:
            tie = _("{file} defines as many: the latest is preferred.")
        said = sentences(said, tie.format(file=runner_up.candidate.original))
    return said


def _defined(submission: Submission, functions: tuple[str, ...]) -> int:
    """How many of the graded functions a submission's cells define (`def name(`)."""
    if submission.error is not None:
        return _UNREADABLE
    pattern = _definitions(functions)
    return len({name for cell in submission.cells for name in pattern.findall(cell.source)})


@functools.cache
def _definitions(functions: tuple[str, ...]) -> re.Pattern[str]:
    names = "|".join(re.escape(name) for name in functions)
    return re.compile(rf"^[ \t]*def[ \t]+({names})[ \t]*\(", re.MULTILINE)
