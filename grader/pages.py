"""The HTML pages: a student's report and the class summary, self-contained, written as text.

Every value that is not our own markup goes through `escape`; the only markup that comes in
from elsewhere is the highlighted code, escaped by `grader.highlight`. The stylesheet is
`templates/base.css`.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from grader.intake import SEPARATOR
from grader.intake.identity import Student
from grader.score import Status

if TYPE_CHECKING:
    from grader.report import ClassStatistics, DisplayedFunction
    from grader.score import SubmissionResult

_CSS = (Path(__file__).parent / "templates" / "base.css").read_text(encoding="utf-8")
_SORTING = (Path(__file__).parent / "templates" / "sort.js").read_text(encoding="utf-8")
# The summary's one script is allowed by its hash: any other script, injected or not, is not.
_SORTING_HASH = base64.b64encode(hashlib.sha256(_SORTING.encode()).digest()).decode()


def _head(script_hash: str | None = None) -> str:
    scripts = f"script-src 'sha256-{script_hash}'; " if script_hash else ""
    return (
        '<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        f"style-src 'unsafe-inline'; {scripts}base-uri 'none'; form-action 'none'\">\n"
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="color-scheme" content="light">\n'
        f"<style>\n{_CSS}</style>\n"
    )


_HEAD = _head()
_SUMMARY_HEAD = _head(_SORTING_HASH)
_HIDDEN_TAG = '<span class="tag">hidden</span> '
_PUBLIC_ONLY_TAG = '<span class="tag bad">public cases only</span>'
_ENTITIES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&#34;"), ("'", "&#39;"))


def escape(value: Any) -> str:
    """Text as it must appear in HTML content or a quoted attribute."""
    text = str(value)
    for character, entity in _ENTITIES:
        if character in text:
            text = text.replace(character, entity)
    return text


def points(value: float) -> str:
    return f"{value:g}"


def percent(part: float, whole: float) -> str:
    """`part` as a whole-number percentage of `whole`; 0 when there is no whole."""
    return f"{100 * part / whole:.0f}" if whole else "0"


def breakable(name: str) -> str:
    """An identifier that may wrap after its underscores in narrow table headers."""
    return escape(name).replace("_", "_<wbr>")


def _label(status: str) -> str:
    """A status in words; one this version does not know (an older results.json) as it is."""
    known = Status.known(status)
    return known.label if known else escape(status)


def _symbol(status: str) -> str:
    known = Status.known(status)
    return known.symbol if known else ""


def _status(status: str) -> str:
    return (
        f'<span class="status s-{escape(status)}"><span aria-hidden="true">'
        f"{_symbol(status)}</span> {_label(status)}</span>"
    )


def student_page(
    result: SubmissionResult,
    functions: list[DisplayedFunction],
    title: str,
    public_only: bool = False,
    provenance: dict[str, Any] | None = None,
) -> str:
    """A student's report: who, total, a row per function, then each function's cases and code.

    `public_only`: the grade leaves out the hidden cases, which the report says at the top.
    `provenance`: what intake says of the file (late, which of several files, attempts)."""
    passed = sum(item.result.status is Status.PASSED for item in functions)
    share = percent(result.score, result.max_score)
    score, most = points(result.score), points(result.max_score)
    who = result.student or Student.from_json(None, result.submission)
    name, out = escape(who.shown), []
    scope = " (public cases only)" if public_only else ""
    out.append(
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n{_HEAD}'
        f"<title>{name}: {score} / {most}{scope} · {escape(title)}</title>\n</head>\n<body>\n"
        '<div class="page">\n<header class="hero">\n  <div>\n'
        f'    <p class="eyebrow">{escape(title)} · grading report</p>\n'
        f'    <h1 id="student">{name}</h1>\n'
        + _identity(who, result.source, provenance or {})
        + '  </div>\n  <div class="scorecard">\n    <p class="label">Total score</p>\n'
        f'    <p class="score" id="total"><strong>{score}</strong> / {most} points</p>\n'
        '    <span class="track" aria-hidden="true">'
        f'<span class="fill" style="width: {share}%"></span></span>\n'
        f'    <p class="sub">{share} % · {passed} of {len(functions)} functions correct</p>\n'
        + (f'    <p class="sub">{_PUBLIC_ONLY_TAG}</p>\n' if public_only else "")
        + "  </div>\n</header>\n\n<main>\n"
    )
    if public_only:
        out.append(
            '<section class="alert" id="public-only" aria-labelledby="public-only-title">\n'
            '  <h2 id="public-only-title"><span aria-hidden="true">⚠ </span>'
            "Graded on public cases only</h2>\n"
            "  <p>This grade comes from the public cases alone, the ones you could check "
            "yourself; no hidden case was run. Your final grade, with the hidden cases, may be "
            "lower.</p>\n</section>\n"
        )
    if result.error:
        out.append(
            '<section class="alert" id="error" aria-labelledby="error-title">\n'
            '  <h2 id="error-title"><span aria-hidden="true">⚠ </span>'
            "Your file could not be read</h2>\n"
            f"  <p>{escape(result.error)}</p>\n"
            "  <p>None of your functions could be graded, so each scores 0. "
            "Fix the file and submit it again.</p>\n</section>\n"
        )
    out.append(
        '\n<section class="overview" aria-labelledby="overview-title">\n'
        '  <h2 id="overview-title">Functions</h2>\n  <table>\n'
        '    <thead><tr><th scope="col">Function</th><th scope="col">Status</th>'
        '<th scope="col" class="num">Points</th></tr></thead>\n    <tbody>\n'
    )
    for item in functions:
        f = item.result
        label = f"<code>{breakable(f.name)}</code>"
        if not result.error:
            label = f'<a href="#fn-{escape(f.name)}">{label}</a>'
        out.append(
            f'      <tr>\n        <th scope="row">{label}</th>\n'
            f"        <td>{_status(f.status)}</td>\n"
            f'        <td class="num">{points(f.score)} / {points(f.max_score)}</td>\n      </tr>\n'
        )
    out.append("    </tbody>\n  </table>\n</section>\n\n")
    if not result.error:
        out.extend(_function_section(item) for item in functions)
    out.append(
        "</main>\n\n<footer>\n"
        "  <p>Status: ✓ passed · ✗ wrong result · ! error or syntax error · "
        "◷ time limit ran out · – function missing.</p>\n"
        "  <p>Hidden cases check your functions on inputs you have not seen: other values, "
        "shapes, networks or epsilon.\n"
        "    Only what kind of case they are is shown, never their inputs or expected values."
        "</p>\n</footer>\n</div>\n</body>\n</html>\n"
    )
    return "".join(out)


def _identity(who: Student, source: str, provenance: dict[str, Any]) -> str:
    """Who the report is for and which file was graded: the id when a name is shown, the
    LMS's late flag, why this file among several, and the attempts."""
    lines = []
    if who.name:
        lines.append(
            f'    <p class="meta" id="student-id">Student id: <code>{escape(who.id)}</code></p>\n'
        )
    late = ' <span class="tag bad">late</span>' if provenance.get("late") is True else ""
    lines.append(
        f'    <p class="meta">Submitted file: <code>{escape(_filename(source))}</code>{late}</p>\n'
    )
    if provenance.get("selection"):
        lines.append(f'    <p class="meta" id="selection">{escape(provenance["selection"])}</p>\n')
    attempts = provenance.get("attempts") or []
    if attempts:
        items = "".join(
            f"      <li><code>{escape(_filename(attempt['source']))}</code>"
            f"{' (graded)' if attempt.get('graded') else ''}</li>\n"
            for attempt in attempts
        )
        lines.append(
            f'    <p class="meta">{len(attempts)} attempts, oldest first; the latest is '
            "graded:</p>\n"
            f'    <ol class="meta attempts" id="attempts">\n{items}    </ol>\n'
        )
    return "".join(lines)


def _function_section(item: DisplayedFunction) -> str:
    f = item.result
    name = escape(f.name)
    fix = "" if f.status is Status.PASSED else "<strong>What to fix:</strong> "
    out = [
        f'<section class="fn" id="fn-{name}" aria-labelledby="title-{name}">\n'
        f'  <header class="fn-head">\n    <h2 id="title-{name}"><code>{name}</code></h2>\n'
        f"    {_status(f.status)}\n"
        f'    <span class="pts num"><strong>{points(f.score)}</strong> / '
        f"{points(f.max_score)} points</span>\n  </header>\n"
        f'  <div class="fn-body">\n'
        f'    <p class="fix s-{escape(f.status)}">{fix}{escape(f.message)}</p>\n'
    ]
    if f.note:
        out.append(f'    <p class="note">{escape(f.note)}</p>\n')
    if item.cases:
        out.append('    <h3 class="vh">Cases</h3>\n    <ol class="cases">\n')
        for case in item.cases:
            test, ok = case.test, case.test.status is Status.PASSED
            tag = _HIDDEN_TAG if case.hidden else ""
            shown = escape(case.output) if case.output else "Not run: see what to fix above."
            muted = "" if case.output else ' class="muted"'
            out.append(
                f'      <li class="case {"ok" if ok else "bad"}">\n'
                f'        <span class="mark" aria-hidden="true">{"✓" if ok else "✗"}</span>\n'
                f'        <p class="case-title"><span class="vh">{"Passed" if ok else "Failed"}: '
                f"</span>{tag}{escape(case.label)}</p>\n"
                f'        <span class="case-pts num">{points(test.score)} / '
                f"{points(test.max_score)}</span>\n"
                f'        <div class="case-detail">\n'
                f"          <p{muted}>{shown}</p>\n"
            )
            if test.stdout:
                out.append(
                    '          <div class="printed">\n'
                    '            <p class="printed-label">Printed output</p>\n'
                    f'            <pre tabindex="0">{escape(test.stdout)}</pre>\n'
                    "          </div>\n"
                )
            out.append("        </div>\n      </li>\n")
        out.append("    </ol>\n")
    if item.code:
        where = f"· cell {f.cell}" if f.cell else ""
        if item.marked:
            where += f" · ▶ marks line {', '.join(map(str, item.marked))}, named above"
        out.append(
            f'    <details class="code-box"{"" if f.status is Status.PASSED else " open"}>\n'
            f'      <summary>Your code <span class="muted">{where}</span></summary>\n'
            f'      <pre class="code"><code>{item.code}</code></pre>\n    </details>\n'
        )
    out.append("  </div>\n</section>\n")
    return "".join(out)


def summary_page(
    stats: ClassStatistics,
    rows: Iterable[dict],
    title: str,
    skipped: list[dict[str, Any]] | None = None,
    skipped_total: int = 0,
) -> Iterator[str]:
    """The class summary, in pieces: overview, distribution, pass rates, a row a student, then
    the inputs not graded (`skipped`, the first of `skipped_total`)."""
    count, most = stats.count, points(stats.max_score)
    unread = stats.unreadable
    flag = ' class="flag"' if unread else ""
    warning = '<span aria-hidden="true">⚠ </span>' if unread else ""
    scope = " · public cases only" if stats.public_only else ""
    not_graded = f'<a href="#skipped">{skipped_total}</a>' if skipped_total else "0"
    yield (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n{_SUMMARY_HEAD}'
        f"<title>{escape(title)}: class summary</title>\n</head>\n<body>\n"
        '<div class="page wide">\n<header>\n  <p class="eyebrow">Class summary</p>\n'
        f"  <h1>{escape(title)}</h1>\n"
        f'  <p class="meta">{count} submission{"" if count == 1 else "s"} · {most} points in all'
        f'{scope}\n    · <a href="gradebook.csv">gradebook.csv</a>'
        ' · <a href="summary.json">summary.json</a></p>\n</header>\n\n<main>\n'
        + _public_only_alert(stats)
        + '<section aria-labelledby="overview-title">\n'
        '  <h2 id="overview-title" class="vh">Overview</h2>\n'
        '  <dl class="tiles" id="overview">\n'
        f'    <div><dt>Submissions</dt><dd id="count">{count}</dd></div>\n'
        f'    <div><dt>Mean</dt><dd id="mean">{stats.mean:.1f} <small>/ {most}</small></dd></div>\n'
        f'    <div><dt>Median</dt><dd id="median">{points(stats.median)} '
        f"<small>/ {most}</small></dd></div>\n"
        f"    <div><dt>Full marks</dt><dd>{stats.full_marks}</dd></div>\n"
        f'    <div{flag}><dt>Unreadable</dt><dd id="unreadable">{warning}{unread}</dd></div>\n'
        f'    <div><dt>Not graded</dt><dd id="not-graded">{not_graded}</dd></div>\n'
        "  </dl>\n</section>\n\n"
    )
    yield _distribution(stats) + _function_rates(stats) + _case_rates(stats)
    yield (
        '<section class="panel" aria-labelledby="students-title">\n'
        '  <h2 id="students-title">Students</h2>\n'
        '  <p class="muted legend"><span>Sorted by name; a column\'s heading sorts by it.</span> '
        "<span>✓ passed</span> "
        "<span>✗ wrong result</span>\n"
        "    <span>! error or syntax error</span> <span>◷ time limit</span> "
        "<span>– missing</span></p>\n"
    )
    if count:
        columns = "".join(
            f'      <th scope="col" class="num"><code>{breakable(name)}</code> '
            f'<span class="of-max">/ {points(stats.function_max.get(name, 0))}</span></th>\n'
            for name in stats.functions
        )
        yield (
            '  <div class="scroll" role="region" aria-labelledby="students-title" tabindex="0">\n'
            '  <table class="students" id="students">\n    <thead><tr>\n'
            '      <th scope="col" aria-sort="ascending" data-sort="text">Student</th>\n'
            '      <th scope="col" data-sort="text">ID</th>\n'
            f'      <th scope="col" class="num" data-sort="number">Score '
            f'<span class="of-max">/ {most}</span></th>\n'
            f'{columns}      <th scope="col">Note</th>\n    </tr></thead>\n    <tbody>\n'
        )
        for row in rows:
            yield _student_row(row, stats.functions)
        yield "    </tbody>\n  </table>\n  </div>\n"
    else:
        yield "  <p>No graded submissions yet.</p>\n"
    yield "</section>\n\n" + _skipped(skipped or [], skipped_total)
    yield (
        "</main>\n\n<footer>\n"
        "  <p>Each name opens that student's report. The reports and this page are "
        "self-contained files: they load nothing from the network.</p>\n"
        f"</footer>\n</div>\n<script>{_SORTING}</script>\n</body>\n</html>\n"
    )


def _skipped(skipped: list[dict[str, Any]], total: int) -> str:
    """The inputs not graded, each with its reason and the student it belonged to."""
    intro = (
        "Every file given that was not graded, and why: files of students graded on another "
        "of their files, support modules, files that are not notebooks, refused archive members."
    )
    if not skipped:
        body = "  <p>Every input was graded.</p>\n"
    else:
        rows = "".join(
            f"      <tr>\n        <td><code>{escape(entry['input'])}</code></td>\n"
            f"        <td>{_owner(entry.get('student'))}</td>\n"
            f"        <td>{escape(entry['reason'])}</td>\n      </tr>\n"
            for entry in skipped
        )
        more = (
            f'  <p class="muted">The first {len(skipped)} of {total}; summary.json lists all.</p>\n'
            if total > len(skipped)
            else ""
        )
        body = (
            '  <div class="scroll" role="region" aria-labelledby="skipped-title" tabindex="0">\n'
            '  <table class="skipped" id="skipped-inputs">\n'
            '    <thead><tr><th scope="col">Input</th><th scope="col">Student</th>'
            '<th scope="col">Why it was not graded</th></tr></thead>\n'
            f"    <tbody>\n{rows}    </tbody>\n  </table>\n  </div>\n{more}"
        )
    return (
        '<section class="panel" id="skipped" aria-labelledby="skipped-title">\n'
        f'  <h2 id="skipped-title">Not graded ({total})</h2>\n'
        f'  <p class="muted">{intro}</p>\n{body}</section>\n'
    )


def _owner(student: object) -> str:
    if not isinstance(student, dict):
        return ""
    who = Student.from_json(student, "")
    return escape(who.shown)


def _public_only_alert(stats: ClassStatistics) -> str:
    if not stats.public_only:
        return ""
    which = (
        "Every result"
        if stats.public_only == stats.count
        else (f"{stats.public_only} of {stats.count} results")
    )
    return (
        '<section class="alert" id="public-only" aria-labelledby="public-only-title">\n'
        '  <h2 id="public-only-title"><span aria-hidden="true">⚠ </span>'
        "Graded on public cases only</h2>\n"
        f"  <p>{which} here left out the hidden cases (--public-only): answers hard-coded "
        "from the public cases score as if they were correct. These are not final grades.</p>\n"
        "</section>\n\n"
    )


def _distribution(stats: ClassStatistics) -> str:
    bars = "".join(
        f'    <li><span class="plot" style="--h: {bucket.height:.1f}%"><span class="col"></span>\n'
        f'      <span class="count">{bucket.count}<span class="vh"> scored {bucket.label} %'
        "</span></span></span>\n"
        f'      <span class="band" aria-hidden="true">{bucket.label.split("–")[0]}</span></li>\n'
        for bucket in stats.distribution
    )
    return (
        '<div class="grid2">\n<section class="panel" aria-labelledby="distribution-title">\n'
        '  <h2 id="distribution-title">Score distribution</h2>\n'
        '  <p class="muted">Students per band of 10 % of the maximum score.</p>\n'
        f'  <ol class="histogram" id="distribution">\n{bars}  </ol>\n'
        '  <p class="axis" aria-hidden="true">score, % of maximum (the last band includes 100)'
        "</p>\n</section>\n\n"
    )


def _rate(share: str, passed: int, seen: int) -> str:
    return (
        f'<td class="rate"><span class="line"><span class="pct">{share} %</span>'
        f'<span class="track" aria-hidden="true"><span class="fill" style="width: {share}%">'
        f'</span></span>\n          <span class="of">{passed} of {seen}</span></span></td>\n'
    )


def _function_rates(stats: ClassStatistics) -> str:
    rows = []
    for name in stats.functions:
        passed = stats.function_passed[name]
        statuses = " · ".join(f"{n} {_label(s)}" for s, n in stats.statuses(name))
        mean = stats.function_points[name] / stats.count if stats.count else 0
        rows.append(
            f'      <tr>\n        <th scope="row"><code>{escape(name)}</code>\n'
            f'          <span class="breakdown">{statuses}</span></th>\n'
            f"        {_rate(percent(passed, stats.count), passed, stats.count)}"
            f'        <td class="num">{mean:.1f} <span class="muted">/ '
            f"{points(stats.function_max.get(name, 0))}</span></td>\n      </tr>\n"
        )
    return (
        '<section class="panel" aria-labelledby="functions-title">\n'
        '  <h2 id="functions-title">Pass rate per function</h2>\n'
        '  <p class="muted">Fully correct submissions, and the mean points scored.</p>\n'
        '  <table class="rates" id="functions">\n'
        '    <thead><tr><th scope="col">Function</th><th scope="col">Passed</th>'
        '<th scope="col" class="num">Mean</th></tr></thead>\n'
        f"    <tbody>\n{''.join(rows)}    </tbody>\n  </table>\n</section>\n</div>\n\n"
    )


def _case_rates(stats: ClassStatistics) -> str:
    groups = []
    for function, cases in stats.case_rates.items():
        rows = "".join(
            f'      <tr>\n        <th scope="row">{_HIDDEN_TAG if case.hidden else ""}'
            f"{escape(case.label)}</th>\n"
            f"        {_rate(percent(case.passed, case.seen), case.passed, case.seen)}"
            "      </tr>\n"
            for case in cases
        )
        groups.append(
            '    <tbody>\n      <tr class="group"><th scope="colgroup" colspan="2">'
            f"<code>{escape(function)}</code></th></tr>\n{rows}    </tbody>\n"
        )
    return (
        '<section class="panel" aria-labelledby="cases-title">\n'
        '  <h2 id="cases-title">Pass rate per case</h2>\n'
        '  <p class="muted">Hidden cases use inputs students have not seen; a low rate there and '
        "a high one on the public case often means hard-coded answers.</p>\n"
        '  <table class="rates" id="cases">\n'
        '    <thead><tr><th scope="col">Case</th><th scope="col">Passed</th></tr></thead>\n'
        f"{''.join(groups)}  </table>\n</section>\n\n"
    )


def _student_row(row: dict, functions: tuple[str, ...]) -> str:
    cells = []
    for name in functions:
        f = row["functions"][name]
        status = f["status"]
        label, symbol = _label(status), _symbol(status)
        cells.append(
            f'        <td class="num"><span class="cell s-{escape(status)}" title="{label}">'
            f'{points(f["score"])}<span class="sym" aria-hidden="true">{symbol}'
            f'</span><span class="vh"> {label}</span></span></td>\n'
        )
    error = row["error"]
    note = f'<span class="tag bad">⚠ unreadable</span> {escape(error)}' if error else ""
    if row.get("public_only") is True:
        note = f"{_PUBLIC_ONLY_TAG} {note}".rstrip()
    submission = row["submission"]
    who = Student.from_json(row.get("student"), submission)
    late = ' <span class="tag bad">late</span>' if row.get("late") is True else ""
    unreadable = ' class="unreadable"' if error else ""
    return (
        f"      <tr{unreadable}>\n"
        f'        <th scope="row"><a href="{escape(quote(submission, safe=""))}/report.html">'
        f"{escape(who.shown)}</a>{late}</th>\n"
        f'        <td class="id">{escape(who.id)}</td>\n'
        f'        <td class="num total" data-value="{points(row["score"])}">'
        f"<strong>{points(row['score'])}</strong>\n"
        '          <span class="track" aria-hidden="true"><span class="fill" style="width: '
        f'{percent(row["score"], row["max_score"])}%"></span></span></td>\n'
        f'{"".join(cells)}        <td class="note">{note}</td>\n      </tr>\n'
    )


def _filename(path: str) -> str:
    """A file's own name, also for an archive's member (`ARCHIVE!folder/name`)."""
    return PurePath(path.rsplit(SEPARATOR, 1)[-1]).name or path
