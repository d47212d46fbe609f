"""HTML reports: what each reader sees, and escaping of everything a student controls."""

from __future__ import annotations

import html
import json
import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import pytest
from conftest import BACKWARD, CHECK, CHECK_N, FORWARD, IMPORTS, notebook
from jinja2 import TemplateSyntaxError
from markupsafe import escape

from grader.grade import grade_batch
from grader.highlight import highlight
from grader.intake.identity import Layout, folder_name
from grader.pages import sorting_script, summary_page
from grader.read import stem_of
from grader.report import ClassStatistics, student_report, use_templates
from grader.score import HIDDEN_HINT, FunctionResult, Place, Status, SubmissionResult, error_place
from grader.score import TestResult as CaseResult

PWN = "document.title='pwned'"
SCRIPT = f"<script>{PWN}</script>"
IMG = f'<img src=x onerror="{PWN}">'
HOSTILE_NAME = "<img src=x onerror=alert(1)>.ipynb"
BROKEN_NAME = '"><svg onload=alert(2)>.ipynb'
HOSTILE_FOLDER = folder_name(Layout.FILES, stem_of(HOSTILE_NAME))
BROKEN_FOLDER = folder_name(Layout.FILES, stem_of(BROKEN_NAME))
HOSTILE_FORWARD = (
    "# GRADED FUNCTION: forward_propagation\n"
    "def forward_propagation(x, theta):\n"
    f"    # </pre>{SCRIPT}\n"
    f"    note = {'</code></pre>' + IMG!r}\n"
    f'    """</span></pre>\n    {SCRIPT}"""\n'
    "    return theta * x\n"
)
HOSTILE_BACKWARD = (
    "# GRADED FUNCTION: backward_propagation\n"
    "def backward_propagation(x, theta):\n"
    f"    print({SCRIPT!r}, {IMG!r})\n"
    "    return x\n"
)
HOSTILE_CHECK = (
    "# GRADED FUNCTION: gradient_check\n"
    "def gradient_check(x, theta, epsilon=1e-7, print_msg=False):\n"
    f"    raise ValueError({('</p>' + SCRIPT)!r})\n"
)
HOSTILE_CHECK_N = (
    "# GRADED FUNCTION: gradient_check_n\n"
    "def gradient_check_n(parameters, gradients, X, Y, epsilon=1e-7, print_msg=False):\n"
    f"    return {SCRIPT}\n"
)
# Every tag and attribute the templates write; anything else in a page was injected.
TAGS = {
    "html", "head", "meta", "title", "style", "body", "div", "header", "main", "section",
    "footer", "p", "h1", "h2", "h3", "code", "pre", "span", "strong", "a", "table", "thead",
    "tbody", "tr", "th", "td", "ol", "li", "details", "summary", "dl", "dt", "dd", "small",
    "mark", "wbr", "script",
}  # fmt: skip
ATTRIBUTES = {
    "class", "id", "style", "href", "lang", "charset", "name", "content", "http-equiv",
    "tabindex", "title", "open", "scope", "colspan", "role", "aria-hidden", "aria-labelledby",
    "aria-sort", "data-sort", "data-value",
}  # fmt: skip
STYLE = re.compile(r"(width|--h): \d+(\.\d+)?%")
STATUS = re.compile(r'class="status s-(\w+)"><span aria-hidden="true">(.)</span> ([\w ]+)<')
HREF = re.compile(r"#[\w-]+|[\w%-]+/report\.html|gradebook\.csv|summary\.json")
OUR_SCRIPT = f"<script>{sorting_script()}</script>"


def hostile_notebook() -> str:
    """A notebook whose markdown, code, printed output and errors all carry HTML."""
    document = json.loads(
        notebook(IMPORTS, HOSTILE_FORWARD, HOSTILE_BACKWARD, HOSTILE_CHECK, HOSTILE_CHECK_N)
    )
    document["cells"].insert(0, {"cell_type": "markdown", "metadata": {}, "source": SCRIPT})
    return json.dumps(document)


def write_hostile_batch(folder: Path) -> None:
    """A hostile notebook under a hostile name, an unreadable one, and a correct one."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / HOSTILE_NAME).write_text(hostile_notebook(), encoding="utf-8")
    (folder / BROKEN_NAME).write_text('{"cells": [' + SCRIPT, encoding="utf-8")
    (folder / "ok.ipynb").write_text(
        notebook(IMPORTS, FORWARD, BACKWARD, CHECK, CHECK_N), encoding="utf-8"
    )


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))


def assert_only_our_markup(text: str) -> None:
    """Every element, attribute, style and link in the page is one the templates write, and
    the only script is the summary's own, once."""
    assert text.count("<script") == text.count(OUR_SCRIPT) <= 1
    text = text.replace(OUR_SCRIPT, "")
    parser = _Elements()
    parser.feed(text)
    parser.close()
    for tag, attributes in parser.elements:
        assert tag in TAGS, tag
        for name, value in attributes:
            assert name in ATTRIBUTES, (tag, name, value)
            if name == "style":
                assert STYLE.fullmatch(value or ""), value
            if name == "href":
                assert HREF.fullmatch(value or ""), value
    lowered = text.lower()
    for needle in ("<script", "<img", "<svg", "<iframe", "<link", "javascript:"):
        assert needle not in lowered, needle
    assert "Content-Security-Policy" in text and "default-src 'none'" in text


@pytest.fixture(scope="module")
def hostile_batch(tmp_path_factory, assignment) -> Path:
    root = tmp_path_factory.mktemp("hostile")
    write_hostile_batch(root / "in")
    grade_batch([str(root / "in")], assignment, root / "out", jobs=2)
    return root / "out"


def test_nothing_a_student_controls_becomes_markup(hostile_batch):
    pages = sorted(hostile_batch.rglob("*.html"))
    assert len(pages) == 4  # three reports and the class summary
    for page in pages:
        assert_only_our_markup(page.read_text(encoding="utf-8"))


def test_hostile_content_is_shown_escaped_not_dropped(hostile_batch):
    report = (hostile_batch / HOSTILE_FOLDER / "report.html").read_text()
    assert str(escape(HOSTILE_NAME)) in report  # the file name
    assert str(escape(f"# </pre>{SCRIPT}")).replace("&#39;", "&#x27;") in report  # code
    assert str(escape(f"{SCRIPT} {IMG}")) in report  # printed output
    assert str(escape(f"Raised ValueError: </p>{SCRIPT}")) in report  # error message
    assert "SyntaxError in cell" in report and "&lt;script&gt;" in report
    broken = (hostile_batch / BROKEN_FOLDER / "report.html").read_text()
    assert 'id="error"' in broken and "not valid JSON" in broken
    assert str(escape(BROKEN_NAME)) in broken


def test_summary_flags_unreadable_and_links_every_student(hostile_batch):
    summary = (hostile_batch / "index.html").read_text()
    for student in (HOSTILE_FOLDER, BROKEN_FOLDER, "ok"):
        assert f'href="{quote(student)}/report.html"' in summary
    row = re.search(r'<tr class="unreadable">.*?</tr>', summary, re.S)
    assert row and BROKEN_FOLDER in row.group() and "unreadable" in row.group()
    assert escape(stem_of(BROKEN_NAME)) in row.group()  # the student, as the file names them
    assert re.search(r'id="unreadable">.*?1</dd>', summary)


def _test(
    function: str,
    label: str,
    passed: bool,
    detail: str,
    hidden: bool = False,
    stdout: str = "",
    place: Place | None = None,
) -> CaseResult:
    name = f"{function}: {'hidden case, ' if hidden else ''}{label}"
    return CaseResult(
        name, 5.0 if passed else 0.0, 5.0, Status.PASSED if passed else Status.FAILED, detail,
        "after_published" if hidden else "visible", function, stdout,
        raised=place is not None, hinted=hidden and not passed, place=place,
    )  # fmt: skip


def _result(error: str | None = None) -> SubmissionResult:
    code = "# GRADED FUNCTION: f\ndef f(x):\n    print('hi')\n    return x[0]\n"
    raised = "Raised TypeError: boom (cell 4, line 4: return x[0])"
    tests = (
        _test("f", "f(2) is 4", False, raised, stdout="hi\n", place=Place(4, 4)),
        _test("f", "other x", False, "Wrong result on a hidden case.", True),
        _test("g", "g() is 1", True, "1 matches the expected value."),
    )
    failed = f"Passed 0 of 2 cases. {raised}"
    functions = {
        "f": FunctionResult("f", 0.0, 10.0, Status.ERROR, failed, 4, code),
        "g": FunctionResult("g", 5.0, 5.0, Status.PASSED, "The 1 case passed.", 6, "def g(): 1"),
    }
    return SubmissionResult("stu", "in/stu.ipynb", "a", 5.0, 15.0, functions, tests, error)


class _Assignment:
    title = "Gradient Checking"


def test_student_report_shows_score_statuses_cases_output_and_code():
    report = student_report(_result(), _Assignment())
    assert re.search(r'id="total"><strong>5</strong> / 15 points', report)
    assert "What to fix:</strong> Passed 0 of 2 cases." in report
    statuses = STATUS.findall(report)
    assert statuses == [("error", "!", "error"), ("passed", "✓", "passed")] * 2  # table, sections
    assert report.count('class="case ok"') == 1 and report.count('class="case bad"') == 2
    assert '<span class="tag">hidden</span> other x' in report
    assert "Printed output" in report and '<pre tabindex="0">hi\n</pre>' in report
    assert report.count("Printed output") == 1  # never for hidden cases
    assert report.count(HIDDEN_HINT) == 0  # the hint is not repeated on every hidden case
    assert "cell 4 · ▶ marks line 4" in report
    assert '<mark class="ln">' in report and '<details class="code-box" open>' in report
    assert '<details class="code-box">' in report  # a passed function's code starts folded


def test_unreadable_submission_is_explained_first_and_nothing_else():
    report = student_report(_result(error="The file is empty."), _Assignment())
    assert report.index('id="error"') < report.index('id="overview-title"')
    assert "The file is empty." in report and 'class="fn"' not in report


def test_highlight_escapes_every_character_and_keeps_lines():
    code = (
        "x = '<b>'  # </pre>\r\ns = '''a\n<i>\nb'''\ndef f(): return None\n\n"
        'u = "unterminated <\n   \n'
    )
    rendered = str(highlight(code, {2}))
    lines = rendered.split("\n")
    assert len(lines) == 7 and lines[1].startswith('<mark class="ln">')
    text = re.sub(r"<[^>]+>", "", rendered)
    assert "<" not in text and ">" not in text
    assert html.unescape(text) == code.replace("\r\n", "\n").rstrip()
    assert '<span class="t-d">f</span>' in rendered and '<span class="t-n">None</span>' in rendered


def test_a_line_inside_a_triple_quoted_string_is_string_wherever_it_repeats():
    # Lines are highlighted one at a time and remembered: the same text must still be shown as
    # string inside a docstring and as code outside it.
    code = 'def f():\n    """\n    return None\n    """\n    return None\n'
    code += "x = r'''a\nb''' + 1\n"
    lines = str(highlight(code)).split("\n")
    assert lines[2] == '<span class="ln"><span class="t-s">    return None</span></span>'
    assert '<span class="t-k">return</span> <span class="t-n">None</span>' in lines[4]
    closed = '<span class="t-s">b&#x27;&#x27;&#x27;</span> + <span class="t-n">1</span>'
    assert lines[6] == f'<span class="ln">{closed}</span>'


def _document(score: float, statuses: tuple[str, ...], error: str | None = None) -> dict:
    return {
        "submission": "s", "source": "s.ipynb", "score": score, "max_score": 20.0,
        "error": error,
        "functions": {
            name: {"score": 10.0 * (status == "passed"), "max_score": 10.0, "status": status}
            for name, status in zip(("f", "g"), statuses, strict=True)
        },
        "tests": [
            {"name": "f: f(1) is 1", "status": statuses[0], "visibility": "visible"},
            {"name": "f: hidden case, big x", "status": statuses[0], "visibility": "hidden"},
        ],
    }  # fmt: skip


def test_class_statistics_median_distribution_and_rates():
    stats = ClassStatistics(("f", "g"), 20.0)
    for score, statuses in [(20, ("passed", "passed")), (0, ("missing", "timeout")),
                            (10, ("passed", "failed")), (20, ("passed", "passed"))]:  # fmt: skip
        stats.add(_document(score, statuses))
    assert stats.median == 15 and stats.mean == 12.5 and stats.full_marks == 2
    stats.add(_document(10, ("passed", "failed")))
    assert stats.median == 10
    assert [b.count for b in stats.distribution] == [1, 0, 0, 0, 0, 2, 0, 0, 0, 2]
    assert stats.distribution[9].label == "90–100" and stats.distribution[9].height == 100
    assert stats.statuses("g")[0] == ("passed", 2)
    rates = stats.case_rates["f"]
    assert [(r.label, r.hidden, r.passed, r.seen) for r in rates] == [
        ("f(1) is 1", False, 4, 5),
        ("big x", True, 4, 5),
    ]


def test_summary_streams_rows_as_it_renders():
    stats = ClassStatistics(("f", "g"), 20.0)
    documents = [_document(20, ("passed", "passed")) | {"submission": f"s{i}"} for i in range(3)]
    for document in documents:
        stats.add(document)
    pulled = []

    def rows():
        for document in documents:
            pulled.append(document["submission"])
            yield document

    pieces = summary_page(stats, rows(), "T")
    page = ""
    while "s1/report.html" not in page:
        page += next(pieces)
    assert pulled == ["s0", "s1"]
    page += "".join(pieces)
    assert pulled == ["s0", "s1", "s2"] and "s2/report.html" in page


def test_a_status_this_version_does_not_know_is_shown_as_it_is_escaped():
    stats = ClassStatistics(("f", "g"), 20.0)
    document = _document(10, ("passed", "<b>partial</b>"))
    stats.add(document)
    page = "".join(summary_page(stats, iter([document]), "T"))
    assert "<b>partial</b>" not in page
    assert 'title="&lt;b&gt;partial&lt;/b&gt;"' in page and "1 &lt;b&gt;partial&lt;/b&gt;" in page
    assert stats.statuses("g") == [("<b>partial</b>", 1)]


def test_places_come_from_the_sandbox_report_never_from_message_text():
    assert error_place({"where": "cell 3, line 7: x = y[0]"}) == Place(3, 7)
    assert error_place({"where": ""}) is None and error_place(None) is None
    result = _result()
    said = _test("f", "f(3) is 9", False, "Raised ValueError: see cell 4, line 2 (no place)")
    report = student_report(replace(result, tests=(*result.tests, said)), _Assignment())
    assert "▶ marks line 4," in report  # line 2 is only in the student's own message


def test_a_folder_of_templates_overrides_ours_one_file_at_a_time(tmp_path: Path):
    (tmp_path / "report.html").write_text("<h1>{{ student.shown }}</h1> {{ title }}\n")
    result = replace(_result(), submission=SCRIPT)
    use_templates(tmp_path)
    try:
        report = student_report(result, _Assignment())
        summary = "".join(summary_page(ClassStatistics(("f", "g"), 20.0), iter([]), "T"))
    finally:
        use_templates(None)
    assert report == f"<h1>{escape(SCRIPT)}</h1> Gradient Checking\n"  # still escaped
    assert '<h2 id="skipped-title">Not graded (0)</h2>' in summary  # ours, where not given
    assert student_report(result, _Assignment()).startswith("<!DOCTYPE html>")


def test_a_template_that_does_not_parse_or_no_folder_stops_before_grading(tmp_path: Path):
    (tmp_path / "summary.html").write_text("{% for row in rows %}")
    with pytest.raises(TemplateSyntaxError):
        use_templates(tmp_path)
    with pytest.raises(NotADirectoryError):
        use_templates(tmp_path / "summary.html")
    assert student_report(_result(), _Assignment()).startswith("<!DOCTYPE html>")  # ours kept


def test_an_instructors_templates_replace_ours_file_by_file(tmp_path):
    from tests.conftest import ROOT, run_grader

    mine = tmp_path / "templates"
    mine.mkdir()
    ours = (ROOT / "grader" / "templates" / "report.html").read_text(encoding="utf-8")
    (mine / "report.html").write_text(ours.replace("<title>", "<title>Course 101 · "))
    out = tmp_path / "out"
    done = run_grader("grade", str(ROOT / "submissions" / "alice_chen.ipynb"), "--out", str(out),
                      "--templates", str(mine))
    assert done.returncode == 0, done.stderr
    assert "<title>Course 101 · " in next(out.glob("*/report.html")).read_text(encoding="utf-8")
    assert "Course 101" not in (out / "index.html").read_text(encoding="utf-8")
    (mine / "summary.html").write_text("{% if %}")
    broken = run_grader("grade", str(ROOT / "submissions" / "alice_chen.ipynb"), "--out",
                        str(tmp_path / "again"), "--templates", str(mine))
    assert broken.returncode == 2 and "--templates" in broken.stderr
    assert not (tmp_path / "again").exists()
