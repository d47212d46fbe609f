"""The reports in a real browser: headless Chromium loads them from disk.

A hostile batch is graded through the command line; Chromium then renders each page and
dumps its DOM after load, and records a network log. No script may run but the summary's own
(a hostile script would rename the page), no element the templates do not write may appear,
and no page may request anything from the network. Screenshots show that the pages render at
desktop and phone widths.

A class with long and non-ASCII names is measured at 390 and 1280 px wide, in frames of a
page of the test's own (the only page given file access): no page scrolls sideways, no long
number breaks across lines, and the summary's table sorts by name, id and score.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import struct
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from conftest import CHECK, CORRECT, notebook
from markupsafe import escape
from test_inspections import SHIPPED
from test_intake import zipped
from test_report_html import (
    BROKEN_FOLDER,
    BROKEN_NAME,
    HOSTILE_FOLDER,
    HOSTILE_NAME,
    OUR_SCRIPT,
    STATUS,
    write_hostile_batch,
)

from grader.read import stem_of

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (.ci/run installs Debian's chromium)"
)
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars",
)  # fmt: skip
HOSTILE = HOSTILE_FOLDER
BROKEN = BROKEN_FOLDER
LONG_NAME = "Maximilian Alexander Featherstonehaugh-Worthington"
CANARY = "<!DOCTYPE html><title>untouched</title><script>document.title = 'pwned'</script>"
LEAKY = '<!DOCTYPE html><title>leaky</title><img src="http://example.invalid/pixel.png">'
# Pages the measurements must fail on: a number broken across lines, a page wider than 390 px.
BROKEN_NUMBER = '<!DOCTYPE html><p style="width: 3em; overflow-wrap: anywhere">2.919335883e-10</p>'
TOO_WIDE = '<!DOCTYPE html><div style="width: 600px">wide</div>'


@dataclass(frozen=True)
class Page:
    dom: str
    requests: list[str]

    @property
    def title(self) -> str:
        found = re.search(r"<title>(.*?)</title>", self.dom, re.S)
        return found.group(1) if found else ""


def _browse(page: Path, work: Path) -> Page:
    """Load a file in Chromium; its DOM after load and the URLs it asked the network for."""
    log = work / "net.json"
    run = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={work / 'profile'}", f"--log-net-log={log}",
         "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert run.returncode == 0 and "</html>" in run.stdout, run.stderr[-2000:]
    return Page(run.stdout, _page_requests(log))


def _page_requests(log: Path) -> list[str]:
    """URLs that a page loaded from disk requested; the browser's own background requests
    (update checks and the like) carry no file:// isolation key and are left out."""
    text = log.read_text(encoding="utf-8")
    try:
        document = json.loads(text)
    except ValueError:  # a log cut short at exit lacks its closing brackets
        document = json.loads(text.rstrip().rstrip(",") + "]}")
    start_job = document["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [
        event["params"]["url"]
        for event in document["events"]
        if event["type"] == start_job
        and "file://" in event["params"].get("network_isolation_key", "")
        and not event["params"]["url"].startswith(("file:", "data:", "about:"))
    ]


def _screenshot(page: Path, png: Path, size: str, work: Path) -> Path:
    run = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={work / 'profile'}", f"--window-size={size}",
         f"--screenshot={png}", page.as_uri()],
        capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert run.returncode == 0 and png.is_file(), run.stderr[-2000:]
    return png


# A backward_propagation_n whose dW1 is off by a long number (1.5e-05), for the report's
# ungraded section, and dW2 and db1 as shipped.
SLIGHTLY_OFF = SHIPPED.replace(
    "dW1 = 1.0 / m * np.dot(dZ1, X.T)", "dW1 = 1.00003 / m * np.dot(dZ1, X.T)"
)
# Canvas names, long and non-ASCII; Canvas ids; scores 100, 20 and 0 for the sort.
# gradapprox divided by ε: a named mistake, shown in the report and the summary.
CHECK_BY_EPSILON = CHECK.replace("/ (2 * epsilon)", "/ epsilon")
CLASS = {
    "wangxiaoming_23456_900_hw.ipynb": notebook(*CORRECT),
    f"{LONG_NAME.replace(' ', '').lower()}_123456789012345_901_hw.ipynb": notebook(
        *CORRECT[:3], CHECK_BY_EPSILON, SLIGHTLY_OFF
    ),
    "chenjing_7_902_hw.ipynb": notebook(CORRECT[0]),
}
ROSTER = f"id,name\n23456,王小明\n123456789012345,{LONG_NAME}\n7,陈静\n"
# A page of the test's own, with file access, that loads each page in a frame of a given
# width and reports what it measured into its own DOM, for --dump-dom.
HARNESS = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>harness</title></head><body>
<script>
var pages = PAGES;
var results = {};
var waiting = pages.length;
function lines(document, node, start, end) {
  var range = document.createRange();
  range.setStart(node, start);
  range.setEnd(node, end);
  var tops = {};
  Array.prototype.forEach.call(range.getClientRects(), function (rect) {
    tops[Math.round(rect.top)] = true;
  });
  return Object.keys(tops).length;
}
function measure(document) {
  var broken = [];
  var walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  var number = /\\d[\\d.]*(?:e[-+]?\\d+)?/g;
  while (walker.nextNode()) {
    var node = walker.currentNode;
    if (node.parentElement.closest("pre, .vh, script, style, details:not([open])")) continue;
    var found;
    while ((found = number.exec(node.data))) {
      var end = found.index + found[0].length;
      if (found[0].length >= 5 && lines(document, node, found.index, end) > 1) {
        broken.push(found[0]);
      }
    }
  }
  var root = document.documentElement;
  return {scrollWidth: root.scrollWidth, clientWidth: root.clientWidth, broken: broken};
}
function names(document) {
  return Array.prototype.map.call(
    document.querySelectorAll("#students tbody th[scope=row] a"),
    function (link) { return link.textContent; });
}
function sorted(document) {
  var order = {initial: names(document)};
  var heads = document.querySelectorAll("#students th[data-sort] button");
  order.buttons = heads.length;
  Array.prototype.forEach.call(heads, function (button) {
    var label = button.textContent.trim().split(" ")[0];
    button.click();
    order[label] = names(document);
    button.click();
    order[label + " again"] = names(document);
    order[label + " aria-sort"] = button.parentElement.getAttribute("aria-sort");
  });
  return order;
}
pages.forEach(function (page) {
  var frame = document.createElement("iframe");
  frame.style.cssText = "border: 0; height: 900px; width: " + page.width + "px";
  frame.addEventListener("load", function () {
    setTimeout(function () {
      var document = frame.contentDocument;
      results[page.name] = measure(document);
      if (page.sort) results[page.name].sorted = sorted(document);
      if (--waiting === 0) {
        var out = window.document.createElement("pre");
        out.id = "results";
        out.textContent = JSON.stringify(results);
        window.document.body.appendChild(out);
      }
    }, 50);
  });
  frame.src = page.src;
  document.body.appendChild(frame);
});
</script></body></html>
"""


def _measure(harness: Path, work: Path) -> dict:
    run = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={work / 'profile'}", "--allow-file-access-from-files",
         "--virtual-time-budget=20000", "--dump-dom", harness.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    found = re.search(r'<pre id="results">(.*?)</pre>', run.stdout, re.S)
    assert run.returncode == 0 and found, run.stderr[-2000:]
    return json.loads(html.unescape(found.group(1)))


def _grade(paths: list[Path], out: Path, *options: str) -> None:
    graded = subprocess.run(
        [sys.executable, "-m", "grader", "grade", *map(str, paths), "--out", str(out),
         "--jobs", "2", *options],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert graded.returncode == 0, graded.stderr


@pytest.fixture(scope="module")
def browsed(tmp_path_factory) -> dict[str, Page | Path | dict]:
    """Grade the hostile batch and a class with `grader grade`, then open every page in
    Chromium at once."""
    root = tmp_path_factory.mktemp("browser")
    write_hostile_batch(root / "in")
    _grade([root / "in"], root / "out")
    (root / "class.zip").write_bytes(zipped(CLASS))
    (root / "roster.csv").write_text(ROSTER, encoding="utf-8")
    _grade([root / "class.zip"], root / "class", "--roster", str(root / "roster.csv"))
    (root / "canary.html").write_text(CANARY, encoding="utf-8")
    (root / "leaky.html").write_text(LEAKY, encoding="utf-8")
    out = root / "out"
    pages = {
        "mistaken": root / "class" / "canvas-123456789012345" / "report.html",
        "class": root / "class" / "index.html",
        "report": out / HOSTILE / "report.html",
        "broken": out / BROKEN / "report.html",
        "ok": out / "ok" / "report.html",
        "summary": out / "index.html",
        "canary": root / "canary.html",
        "leaky": root / "leaky.html",
    }
    measured = [
        {"name": f"{name} at {width}", "src": src, "width": width, "sort": name == "summary"}
        for name, src in (
            ("summary", "class/index.html"),
            ("long name", "class/canvas-123456789012345/report.html"),
            ("hostile", f"out/{quote(HOSTILE)}/report.html"),
            ("hostile summary", "out/index.html"),
        )
        for width in (390, 1280)
    ]
    (root / "broken-number.html").write_text(BROKEN_NUMBER, encoding="utf-8")
    (root / "too-wide.html").write_text(TOO_WIDE, encoding="utf-8")
    measured += [
        {"name": name, "src": f"{name}.html", "width": 390, "sort": False}
        for name in ("broken-number", "too-wide")
    ]
    harness = root / "harness.html"
    harness.write_text(HARNESS.replace("PAGES", json.dumps(measured)), encoding="utf-8")
    shots = {
        "report.png": (pages["report"], "1200,2000"),
        "report-phone.png": (pages["report"], "390,2000"),
        "summary.png": (root / "class" / "index.html", "1280,1800"),
        "summary-phone.png": (root / "class" / "index.html", "390,1800"),
    }
    with ThreadPoolExecutor(4) as pool:
        work = root / "chromium"
        futures = {name: pool.submit(_browse, path, work / name) for name, path in pages.items()}
        futures |= {
            name: pool.submit(_screenshot, path, root / name, size, work / name)
            for name, (path, size) in shots.items()
        }
        futures["measured"] = pool.submit(_measure, harness, work / "measured")
        results = {name: future.result() for name, future in futures.items()}
    long_name = root / "class" / "canvas-123456789012345" / "report.html"
    return {**results, "long name report": long_name.read_text(encoding="utf-8")}


def test_the_checks_would_catch_a_script_and_a_request(browsed):
    assert browsed["canary"].title == "pwned"  # scripts do run in this browser
    assert browsed["leaky"].requests == ["http://example.invalid/pixel.png"]


def test_no_script_runs_but_the_summary_s_own_and_no_injected_element_exists(browsed):
    titles = {
        "report": f"{stem_of(HOSTILE_NAME)}: 20 / 100 · Gradient Checking",
        "broken": f"{stem_of(BROKEN_NAME)}: 0 / 100 · Gradient Checking",
        "ok": "ok: 100 / 100 · Gradient Checking",
        "summary": "Gradient Checking: class summary",
    }
    for name, title in titles.items():
        page = browsed[name]
        assert html.unescape(page.title) == title, name
        dom = page.dom.replace(OUR_SCRIPT, "") if name == "summary" else page.dom
        for element in ("<script", "<img", "<svg", "<iframe", "<object", "<link"):
            assert element not in dom.lower(), (name, element)
    # The summary's script ran: its headings became buttons.
    assert browsed["summary"].dom.count("<button") == 3


def test_pages_request_nothing_from_the_network(browsed):
    for name in ("report", "broken", "ok", "summary"):
        assert browsed[name].requests == [], name
        assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", browsed[name].dom)


def test_student_report_dom_has_scores_statuses_and_escaped_code(browsed):
    dom = browsed["report"].dom
    assert re.search(r'id="total"><strong>20</strong> / 100 points', dom)
    assert set(STATUS.findall(dom)) == {
        ("passed", "✓", "passed"),
        ("error", "!", "error"),
        ("syntax_error", "!", "syntax error"),
    }
    assert "&lt;/pre&gt;&lt;script&gt;" in dom and "Printed output" in dom
    assert f'<h1 id="student">{escape(stem_of(HOSTILE_NAME))}</h1>'.replace("&#39;", "'") in dom
    assert 'id="error"' in browsed["broken"].dom and "not valid JSON" in browsed["broken"].dom
    assert re.search(r'id="total"><strong>100</strong> / 100 points', browsed["ok"].dom)


def test_summary_dom_links_every_student_and_flags_the_unreadable(browsed):
    dom = browsed["summary"].dom
    for student in (HOSTILE, BROKEN, "ok"):
        assert f'href="{quote(student)}/report.html"' in dom
    assert re.search(r'<dd id="count">3</dd>', dom)
    assert re.search(r'<tr class="unreadable">.*?' + re.escape(quote(BROKEN)), dom, re.S)


def test_a_named_mistake_shows_in_the_report_and_the_summary(browsed):
    report = browsed["mistaken"].dom
    found = re.search(
        r'<div class="diagnosis" id="mistake-gradient_check"[^>]*>(.*?)</div>', report, re.S
    )
    assert found and "divides by ε, not 2ε" in found.group(1) and "(2ε)" in found.group(1)
    summary = browsed["class"].dom
    row = re.search(r'<tr data-mistake="epsilon_not_doubled">(.*?)</tr>', summary, re.S)
    assert row and '<td class="num count">1</td>' in row.group(1)
    assert 'href="canvas-123456789012345/report.html#fn-gradient_check"' in row.group(1)
    assert LONG_NAME in row.group(1)


def test_no_page_scrolls_sideways_and_no_number_breaks_at_either_width(browsed):
    measured = dict(browsed["measured"])
    assert measured.pop("broken-number")["broken"] == ["2.919335883e-10"]  # the checks work
    wide = measured.pop("too-wide")
    assert wide["scrollWidth"] > wide["clientWidth"] == 390
    assert len(measured) == 8
    assert 'id="inspect-backward_propagation_n"' in browsed["long name report"]
    assert ">1.5e-05</td>" in browsed["long name report"]
    for name, page in measured.items():
        assert page["scrollWidth"] <= page["clientWidth"], (name, page)
        assert page["broken"] == [], name


def test_the_summary_table_sorts_by_name_id_and_score(browsed):
    for width in (390, 1280):
        order = browsed["measured"][f"summary at {width}"]["sorted"]
        assert order["buttons"] == 3
        by_name = [LONG_NAME, "王小明", "陈静"]  # Unicode order, as the grader sorts names
        assert order["initial"] == by_name
        assert order["Student again"] == by_name and order["Student"] == by_name[::-1]
        assert order["ID"] == ["陈静", "王小明", LONG_NAME]  # 7, 23456, 123456789012345
        assert order["Score"] == ["陈静", LONG_NAME, "王小明"]  # 10, 20, 100
        assert order["Score again"] == ["王小明", LONG_NAME, "陈静"]
        assert order["Score aria-sort"] == "descending"


def test_screenshots_render_at_desktop_and_phone_widths(browsed):
    for name, width in (
        ("report.png", 1200),
        ("report-phone.png", 390),
        ("summary.png", 1280),
        ("summary-phone.png", 390),
    ):
        data = browsed[name].read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", name
        assert struct.unpack(">I", data[16:20])[0] == width and len(data) > 20_000, name
