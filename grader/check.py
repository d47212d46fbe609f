"""`grader check`: a student runs the public cases on a notebook before submitting it.

Built for a fast cold start: the sandbox worker is started first, so that its start-up overlaps
loading the assignment and reading the notebook, and nothing for reports is imported.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from grader.i18n import ENGLISH, N_, _, language, ngettext
from grader.sandbox.launch import discard, start_worker

if TYPE_CHECKING:
    from subprocess import Popen

    from grader.diagnose import Diagnosis
    from grader.read import Cell
    from grader.score import FunctionResult, Status, SubmissionResult
    from grader.spec import Assignment

PASSED, FAILED, UNUSABLE = 0, 1, 2
MAX_PRINTED_LINES = 5
_DEF = re.compile(r"^[ \t]*(?:async[ \t]+)?def[ \t]+(\w+)", re.M)
_RIGHT = N_("RIGHT")  # the tag of an inspected function that is right
# The tag of an inspected function that is not right yet, by how its run ended; shown in the
# colour of a missing function, not of a failure: it is not graded.
_TAGS = {
    "compared": N_("WRONG"),
    "not_a_dict": N_("WRONG"),
    "error": N_("ERROR"),
    "timeout": N_("TIMEOUT"),
    "syntax_error": N_("SYNTAX"),
}
_STYLES = {"pass": "32", "fail": "31", "missing": "33", "bold": "1", "dim": "2"}


class CheckError(Exception):
    """The check cannot run: a usage problem, such as a folder that is not an assignment."""


@dataclass(frozen=True)
class CheckOutcome:
    result: SubmissionResult
    title: str
    host_protections: Mapping[str, str]
    hints: Mapping[str, tuple[str, ...]]
    # The language it speaks, with the assignment whose catalog has its texts.
    language: str = ENGLISH
    assignment_folder: Path | None = None

    @property
    def exit_code(self) -> int:
        from grader.score import Status

        if self.result.error is not None:
            return UNUSABLE
        passed = all(test.status is Status.PASSED for test in self.result.tests)
        return PASSED if passed else FAILED


def run_check(
    notebook: str, assignment_dir: str | None = None, lang: str = ENGLISH
) -> CheckOutcome:
    """Run the public cases of every graded function of `notebook` in the sandbox; its texts
    are in `lang`."""
    process = start_worker()
    try:
        return _check(process, notebook, assignment_dir, lang)
    finally:
        discard(process)


def _check(process: Popen, notebook: str, assignment_dir: str | None, lang: str) -> CheckOutcome:
    from grader.spec import load_assignment

    try:
        with language(lang):  # a folder that is no assignment is the student's to fix
            folder = Path(assignment_dir) if assignment_dir else _assignment_beside(Path(notebook))
            assignment = load_assignment(folder)
    except (OSError, ValueError) as problem:
        raise CheckError(str(problem)) from None
    with language(lang, assignment.folder):
        return _check_with(process, notebook, assignment, lang)


def _check_with(process: Popen, notebook: str, assignment: Assignment, lang: str) -> CheckOutcome:
    from grader.pipeline import grade_one
    from grader.read import read_submission, unique_ids
    from grader.run import referenced, sandbox_setup
    from grader.sandbox.pool import WorkerPool
    from grader.score import unreadable_result

    title = _(assignment.title)
    submission_id = next(unique_ids([notebook]))
    submission = read_submission(submission_id, notebook, Path(notebook))
    if submission.error is not None:
        result = unreadable_result(
            assignment, submission_id, notebook, submission.error, public_only=True
        )
        return CheckOutcome(result, title, {}, {}, lang, assignment.folder)
    with WorkerPool(sandbox_setup(assignment), 1, started=[process]) as pool:
        result = grade_one(pool, assignment, submission, public_only=True)
        host = pool.host_protections
    hints = _hints(result, submission.cells, assignment, uses_own=not referenced(assignment))
    return CheckOutcome(result, title, host, hints, lang, assignment.folder)


def _assignment_beside(notebook: Path) -> Path:
    """The released bundle the notebook sits in, else the bundled assignment."""
    from grader.spec import RELEASED_CASES, default_assignment_dir

    folder = notebook.resolve().parent
    return folder if (folder / RELEASED_CASES).is_file() else default_assignment_dir()


def _hints(
    result: SubmissionResult, cells: tuple[Cell, ...], assignment: Assignment, uses_own: bool
) -> dict[str, tuple[str, ...]]:
    """Advice beyond the scores: a misspelled function name; a failing graded function called.

    `uses_own`: graded functions call the student's versions of the others (no reference).
    """
    from grader.score import Status

    functions = result.functions
    failing = {name for name, f in functions.items() if f.status is not Status.PASSED}
    hints: dict[str, tuple[str, ...]] = {}
    for name in failing:
        function = functions[name]
        if function.status is Status.MISSING:
            hints[name] = _misspelled(name, cells, assignment.functions)
        elif uses_own:
            called = _called(function.code)
            hints[name] = tuple(
                _(
                    "It calls your `{name}`, which fails its own public cases: fix that first."
                ).format(name=other)
                for other in assignment.functions
                if other in failing and other != name and other in called
            )
    return {name: lines for name, lines in hints.items() if lines}


def _called(code: str) -> set[str]:
    """The names called in a cell, by a plain `name(...)`; none if the cell does not parse."""
    import ast

    from grader.extract import strip_magics

    try:
        tree = ast.parse(strip_magics(code))
    except (SyntaxError, ValueError):
        return set()
    return {
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }


def _misspelled(name: str, cells: tuple[Cell, ...], graded: tuple[str, ...]) -> tuple[str, ...]:
    """A hint naming a function the notebook defines whose name is close to `name`."""
    import difflib

    defined = {found: cell.number for cell in cells for found in _DEF.findall(cell.source)}
    candidates = [found for found in defined if found not in graded]
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.75)
    if not close:
        return ()
    return (
        _(
            "Cell {cell} defines `{found}`: rename it to `{name}`, the name the grader looks for."
        ).format(cell=defined[close[0]], found=close[0], name=name),
    )


def wants_color(stream: TextIO, environ: Mapping[str, str]) -> bool:
    """ANSI colour only on a terminal, and never when NO_COLOR is set or TERM is dumb."""
    return stream.isatty() and not environ.get("NO_COLOR") and environ.get("TERM") != "dumb"


def render(outcome: CheckOutcome, color: bool) -> str:
    """The terminal report: a line per function, and what to fix for each that fails, in the
    outcome's language."""
    with language(outcome.language, outcome.assignment_folder):
        return _render(outcome, color)


def _render(outcome: CheckOutcome, color: bool) -> str:
    from grader.score import Status

    def style(text: str, name: str) -> str:
        return f"\x1b[{_STYLES[name]}m{text}\x1b[0m" if color else text

    result = outcome.result
    source = result.source
    if result.error is not None:
        cannot = style(_("Cannot check"), "fail")
        return f"{cannot} {source}: {result.error}\n"
    heading = _("{title}: public cases of {file}").format(title=outcome.title, file=source)
    lines = [style(heading, "bold"), ""]
    width = max(map(len, result.functions))
    inspected = (_(tag) for tag in (*_TAGS.values(), _RIGHT))
    tags = max(7, *(_columns(status.tag) for status in Status), *map(_columns, inspected))
    for name, function in result.functions.items():
        points = f"{function.score:g}/{function.max_score:g}"
        tag = _pad(function.status.tag, tags)
        lines.append(f"  {style(tag, _color(function.status))} {name:<{width}}  {points:>7}")
        if function.note:
            lines.append(f"      {style(function.note, 'dim')}")
        if function.status is not Status.PASSED:
            lines.extend(f"      {line}" for line in _problems(outcome, function, style))
        if function.diagnosis is not None:
            lines.extend(f"      {line}" for line in _diagnosis_lines(function.diagnosis, style))
    for name, inspection in result.inspections.items():
        tag, tone = (_RIGHT, "pass") if inspection.right else (_TAGS[inspection.status], "missing")
        ungraded = style(_("not graded"), "dim")
        lines.append(f"  {style(_pad(_(tag), tags), tone)} {name}  {ungraded}")
        lines.append(f"      {inspection.message}")
    tests = result.tests
    failed = sum(test.status is not Status.PASSED for test in tests)
    if failed:
        said = _("{failed} of {count} public cases failed").format(failed=failed, count=len(tests))
        headline = style(said, "fail")
    else:
        headline = style(_("All {count} public cases pass").format(count=len(tests)), "pass")
    points = _("{score}/{max_score} points on public cases").format(
        score=f"{result.score:g}", max_score=f"{result.max_score:g}"
    )
    lines.extend(["", _("{headline} ({points}).").format(headline=headline, points=points)])
    lines.append(
        style(_("Hidden cases, run after you submit, use other inputs: hard-code nothing."), "dim")
    )
    note = protections_note(outcome)
    if note:
        lines.append(style(note, "dim"))
    return "\n".join(lines) + "\n"


def _color(status: Status) -> str:
    """The style of a status's tag: green passed, yellow missing, red any other failure."""
    from grader.score import Status

    if status is Status.PASSED:
        return "pass"
    return "missing" if status is Status.MISSING else "fail"


def _columns(text: str) -> int:
    """How many terminal columns a text takes: Chinese characters take two."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, columns: int) -> str:
    """`text` padded with spaces to take `columns` terminal columns."""
    return text + " " * max(columns - _columns(text), 0)


def protections_note(outcome: CheckOutcome) -> str | None:
    """One quiet line naming the sandbox protections this machine lacks, if any."""
    off = [name for name, state in outcome.host_protections.items() if state != "on"]
    if not off:
        return None
    with language(outcome.language, outcome.assignment_folder):
        return _("note: sandbox protections off on this machine: {names}").format(
            names=", ".join(off)
        )


def _problems(
    outcome: CheckOutcome, function: FunctionResult, style: Callable[[str, str], str]
) -> list[str]:
    """What the student should read about a failing function: each distinct failure, once."""
    from grader.score import Status

    hints = list(outcome.hints.get(function.name, ()))
    if function.status is Status.MISSING:
        return [function.message, *hints]
    if function.status is Status.SYNTAX_ERROR:
        return [function.message, *_syntax_context(function.code), *hints]
    failed = [
        test
        for test in outcome.result.tests
        if test.function == function.name and test.status is not Status.PASSED
    ]
    lines = []
    prefix = f"{function.name}: "
    for output in dict.fromkeys(test.output for test in failed):
        same = [test for test in failed if test.output == output]
        others = _(" (and {count} more)").format(count=len(same) - 1) if len(same) > 1 else ""
        lines.append(f"- {same[0].name.removeprefix(prefix)}{others}")
        lines.append(f"  {output}")
        printed = same[0].stdout.strip().splitlines()
        if printed:
            lines.append(style("  " + _("it printed:"), "dim"))
            lines.extend(style(f"    {line}", "dim") for line in printed[:MAX_PRINTED_LINES])
            if len(printed) > MAX_PRINTED_LINES:
                more = len(printed) - MAX_PRINTED_LINES
                said = ngettext("... {count} more line", "... {count} more lines", more)
                lines.append(style("    " + said.format(count=more), "dim"))
    return lines + hints


def _diagnosis_lines(diagnosis: Diagnosis, style: Callable[[str, str], str]) -> list[str]:
    """The mistake the results show, why it is one, and what to compute instead."""
    title = _("Likely mistake: {title}.").format(title=diagnosis.title)
    lines = [style(title, "bold"), diagnosis.explanation]
    if diagnosis.formula:
        lines.append(_("Compute: {formula}").format(formula=diagnosis.formula))
    return lines


def _syntax_context(code: str) -> list[str]:
    """The offending line of a cell that does not parse, with a caret under the error."""
    import ast

    from grader.extract import strip_magics

    try:
        ast.parse(strip_magics(code))
    except SyntaxError as error:
        if error.text and error.lineno:
            text = error.text.rstrip("\n")
            indent = len(text) - len(text.lstrip())
            prefix = _("line {line}:").format(line=error.lineno) + "  "
            column = max((error.offset or 1) - 1 - indent, 0)
            return [prefix + text.strip(), " " * (_columns(prefix) + column) + "^"]
    except ValueError:
        return []
    return []


def to_json(outcome: CheckOutcome) -> str:
    """The outcome in the results.json shape."""
    return json.dumps(outcome.result.to_json(), indent=2)
