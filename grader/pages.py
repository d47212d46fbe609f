"""The HTML pages, a student's report and the class summary: plain values prepared here and
rendered by the Jinja2 templates in `templates/`, which escape every value they print.

The templates are compiled once per process, each when first used; `use_templates` puts a
folder of the instructor's own templates in front of ours. The only markup handed to a
template is the highlighted code (escaped by `grader.highlight`), the stylesheet and the
summary's script, which are files of the templates' folder.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any
from urllib.parse import quote

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from grader.diagnose import Diagnosis
from grader.highlight import highlight
from grader.i18n import _, html_language, ngettext
from grader.inspections import InspectionResult, difference_text
from grader.intake import SEPARATOR
from grader.intake.identity import Student
from grader.score import FunctionResult, Status, SubmissionResult, TestResult, case_label
from grader.statistics import ClassStatistics

TEMPLATES = Path(__file__).parent / "templates"


def points(value: float) -> str:
    return f"{value:g}"


def percent(part: float, whole: float) -> str:
    """`part` as a whole-number percentage of `whole`; 0 when there is no whole."""
    return f"{100 * part / whole:.0f}" if whole else "0"


def status_label(status: str) -> str:
    """A status in words; one this version does not know (an older results.json) as it is."""
    known = Status.known(status)
    return known.label if known else status


def status_symbol(status: str) -> str:
    known = Status.known(status)
    return known.symbol if known else ""


def _environment(folder: Path | None = None) -> Environment:
    """Templates from `folder` first, then ours; autoescaped, and compiled once each: the
    files are not checked for changes while the process runs. Their texts are translated
    when rendered, into the language active then (`grader.i18n`)."""
    loaders = [FileSystemLoader(folder)] if folder else []
    environment = Environment(
        loader=ChoiceLoader([*loaders, FileSystemLoader(TEMPLATES)]),
        autoescape=True,
        auto_reload=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
    )
    environment.install_gettext_callables(
        gettext=_template_gettext, ngettext=_template_ngettext, newstyle=False
    )
    # `_` itself, not the extension's alias that looks `gettext` up again at every call.
    environment.globals["_"] = _template_gettext
    environment.globals["html_lang"] = html_language
    environment.filters.update(
        points=points,
        percent=percent,
        status_label=status_label,
        status_symbol=status_symbol,
    )
    return environment


def _template_gettext(message: str, **values: Any) -> str:
    """A template's text in the active language with its `%(name)s` placeholders filled, as
    Jinja2's newstyle gettext fills them; the page escapes it where it prints it. (Jinja2's own
    newstyle functions build Markup for each text, at twice the cost of a report.)"""
    return _(message) % values


def _template_ngettext(singular: str, plural: str, num: int, **values: Any) -> str:
    """The form of a template's text that fits `num`, which fills its `%(num)s`."""
    return ngettext(singular, plural, num) % {"num": num, **values}


_ENVIRONMENT = _environment()
_ASSETS: dict[str, Markup] = {}  # the stylesheet and the script, read once


def use_templates(folder: Path | None) -> None:
    """Render with the templates in `folder` (report.html, summary.html, their parts, the
    stylesheet, the script) where it has them, and ours for the rest; None: ours only.

    The folder's own pages are compiled now, so that one that does not parse stops the run
    before any grading (as jinja2.TemplateSyntaxError); NotADirectoryError if it is none."""
    global _ENVIRONMENT
    if folder is not None and not folder.is_dir():
        raise NotADirectoryError(f"{folder} is not a folder of templates")
    environment = _environment(folder)
    for page in sorted(folder.glob("*.html")) if folder is not None else []:
        environment.get_template(page.name)
    _ENVIRONMENT = environment
    _ASSETS.clear()


def _asset(name: str) -> Markup:
    """A file of the templates' folder put into a page as it is: the CSS or the script."""
    if name not in _ASSETS:
        assert _ENVIRONMENT.loader is not None
        source, _, _ = _ENVIRONMENT.loader.get_source(_ENVIRONMENT, name)
        _ASSETS[name] = Markup(source)
    return _ASSETS[name]


def sorting_script() -> Markup:
    """The summary's one script; the page allows it by its hash, and no other script."""
    return _asset("sort.js")


def _hash(script: str) -> str:
    return base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()


@dataclass(frozen=True)
class DisplayedCase:
    """A case as its report shows it: its label without the function's name, and what happened
    unless the function's message already says it (a case that never ran repeats that)."""

    label: str
    hidden: bool
    passed: bool
    output: str
    score: float
    max_score: float
    stdout: str
    # The mistake the function's results show, beside its first failing case.
    diagnosis: Diagnosis | None = None


@dataclass(frozen=True)
class DisplayedFunction:
    """A function as its report shows it: its cases, and its code as highlighted HTML."""

    name: str
    status: str
    passed: bool
    score: float
    max_score: float
    message: str
    note: str
    cell: int | None
    cases: list[DisplayedCase]
    code: Markup
    marked: list[int]


def _case(test: TestResult, message: str) -> DisplayedCase:
    hidden = test.visibility != "visible"
    return DisplayedCase(
        label=case_label(test.name, hidden),
        hidden=hidden,
        passed=test.status is Status.PASSED,
        output="" if test.output == message else test.detail,
        score=test.score,
        max_score=test.max_score,
        stdout=test.stdout,
    )


def _function(function: FunctionResult, tests: list[TestResult]) -> DisplayedFunction:
    """A function's cases and its code, with the lines its errors were raised at marked."""
    places = [function.place, *(t.place for t in tests)]
    marked = sorted({p.line for p in places if p is not None and p.cell == function.cell})
    cases = [_case(t, function.message) for t in tests]
    # Beside the first failing case; on public cases only, a passing function's mistake (seen
    # on the probes) goes beside its first case.
    failing = next((i for i, case in enumerate(cases) if not case.passed), 0)
    if function.diagnosis is not None and cases:
        cases[failing] = dataclasses.replace(cases[failing], diagnosis=function.diagnosis)
    return DisplayedFunction(
        name=function.name,
        status=function.status,
        passed=function.status is Status.PASSED,
        score=function.score,
        max_score=function.max_score,
        message=function.message,
        note=function.note,
        cell=function.cell,
        cases=cases,
        code=Markup(highlight(function.code, set(marked))) if function.code else Markup(""),
        marked=marked,
    )


@dataclass(frozen=True)
class DisplayedEntry:
    """An entry of an inspected function's result, as the report's table shows it."""

    name: str
    right: bool
    verdict: str
    difference: str


@dataclass(frozen=True)
class DisplayedInspection:
    """An ungraded inspection as its section of the report shows it."""

    name: str
    right: bool
    about: str
    cell: int | None
    message: str
    entries: list[DisplayedEntry]


def _inspection(inspection: InspectionResult) -> DisplayedInspection:
    return DisplayedInspection(
        name=inspection.function,
        right=inspection.right,
        about=inspection.about,
        cell=inspection.cell,
        message=inspection.message,
        entries=[
            DisplayedEntry(e.name, e.right, e.verdict, difference_text(e.difference))
            for e in inspection.entries
        ],
    )


def student_page(
    result: SubmissionResult,
    title: str,
    public_only: bool = False,
    provenance: dict[str, Any] | None = None,
) -> str:
    """A student's report: who, total, a row per function, then each function's cases and code.

    `public_only`: the grade leaves out the hidden cases, which the report says at the top.
    `provenance`: what intake says of the file (late, which of several files, attempts)."""
    provenance = provenance or {}
    tests: dict[str, list[TestResult]] = {name: [] for name in result.functions}
    for test in result.tests:
        tests.setdefault(test.function, []).append(test)
    functions = [_function(f, tests[name]) for name, f in result.functions.items()]
    attempts = [
        {"filename": _filename(attempt["source"]), "graded": bool(attempt.get("graded"))}
        for attempt in provenance.get("attempts") or []
    ]
    return _ENVIRONMENT.get_template("report.html").render(
        css=_asset("base.css"),
        script_hash=None,
        title=title,
        student=result.student or Student.from_json(None, result.submission),
        filename=_filename(result.source),
        late=provenance.get("late") is True,
        selection=provenance.get("selection") or "",
        attempts=attempts,
        score=result.score,
        max_score=result.max_score,
        share=percent(result.score, result.max_score),
        passed=sum(f.passed for f in functions),
        public_only=public_only,
        error=result.error or "",
        functions=functions,
        inspections=[_inspection(i) for i in result.inspections.values()],
    )


def summary_page(
    stats: ClassStatistics,
    rows: Iterable[dict],
    title: str,
    skipped: list[dict[str, Any]] | None = None,
    skipped_total: int = 0,
) -> Iterator[str]:
    """The class summary, in pieces as the rows are read: overview, distribution, pass rates, a
    row a student, then the inputs not graded (`skipped`, the first of `skipped_total`)."""
    functions = [
        {
            "name": name,
            "max_score": stats.function_max.get(name, 0),
            "passed": stats.function_passed[name],
            "share": percent(stats.function_passed[name], stats.count),
            "mean": stats.function_points[name] / stats.count if stats.count else 0,
            "statuses": stats.statuses(name),
        }
        for name in stats.functions
    ]
    return _ENVIRONMENT.get_template("summary.html").generate(
        css=_asset("base.css"),
        script_hash=_hash(sorting_script()),
        sorting=sorting_script(),
        title=title,
        count=stats.count,
        max_score=stats.max_score,
        public_only=stats.public_only,
        mean=stats.mean,
        median=stats.median,
        full_marks=stats.full_marks,
        unreadable=stats.unreadable,
        skipped_total=skipped_total,
        distribution=stats.distribution,
        functions=functions,
        case_rates=list(stats.case_rates.items()),
        mistakes=[
            {
                "id": tally.id,
                "title": tally.title,
                "functions": tally.functions,
                "count": tally.count,
                "students": [
                    {"name": shown, "href": _report_href(folder, function)}
                    for folder, (shown, function) in tally.students.items()
                ],
            }
            for tally in stats.mistakes
        ],
        rows=(_student_row(row, stats.functions) for row in rows),
        skipped=[_skipped_entry(entry) for entry in skipped or []],
    )


def _student_row(row: dict[str, Any], functions: tuple[str, ...]) -> dict[str, Any]:
    """A results.json as its row of the summary shows it."""
    submission = row["submission"]
    return {
        "href": _report_href(submission),
        "student": Student.from_json(row.get("student"), submission),
        "late": row.get("late") is True,
        "score": row["score"],
        "share": percent(row["score"], row["max_score"]),
        "cells": [row["functions"][name] for name in functions],
        "error": row["error"] or "",
        "public_only": row.get("public_only") is True,
    }


def _report_href(folder: str, function: str = "") -> str:
    """The link to a student's report, at a function's section if given."""
    anchor = f"#fn-{function}" if function else ""
    return quote(folder, safe="") + "/report.html" + anchor


def _skipped_entry(entry: dict[str, Any]) -> dict[str, str]:
    """An input not graded, with the student it belonged to if known."""
    student = entry.get("student")
    owner = Student.from_json(student, "").shown if isinstance(student, dict) else ""
    return {"input": entry["input"], "owner": owner, "reason": entry["reason"]}


def _filename(path: str) -> str:
    """A file's own name, also for an archive's member (`ARCHIVE!folder/name`)."""
    return PurePath(path.rsplit(SEPARATOR, 1)[-1]).name or path
