"""The reports in a real browser: headless Chromium loads them from disk.

A hostile batch is graded through the command line; Chromium then renders each page and
dumps its DOM after load, and records a network log. No script may run (a hostile script
would rename the page), no element the templates do not write may appear, and no page may
request anything from the network. Screenshots show that the pages render at desktop and
phone widths.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from test_report_html import STATUS, write_hostile_batch

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (.ci/run installs Debian's chromium)"
)
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars",
)  # fmt: skip
HOSTILE = "img_src_x_onerror_alert_1"
BROKEN = "svg_onload_alert_2"
CANARY = "<!DOCTYPE html><title>untouched</title><script>document.title = 'pwned'</script>"
LEAKY = '<!DOCTYPE html><title>leaky</title><img src="http://example.invalid/pixel.png">'


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


@pytest.fixture(scope="module")
def browsed(tmp_path_factory) -> dict[str, Page | Path]:
    """Grade the hostile batch with `grader grade`, then open every page in Chromium at once."""
    root = tmp_path_factory.mktemp("browser")
    write_hostile_batch(root / "in")
    graded = subprocess.run(
        [sys.executable, "-m", "grader", "grade", str(root / "in"), "--out", str(root / "out"),
         "--jobs", "2"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert graded.returncode == 0, graded.stderr
    (root / "canary.html").write_text(CANARY, encoding="utf-8")
    (root / "leaky.html").write_text(LEAKY, encoding="utf-8")
    out = root / "out"
    pages = {
        "report": out / HOSTILE / "report.html",
        "broken": out / BROKEN / "report.html",
        "ok": out / "ok" / "report.html",
        "summary": out / "index.html",
        "canary": root / "canary.html",
        "leaky": root / "leaky.html",
    }
    shots = {
        "report.png": (pages["report"], "1200,2000"),
        "report-phone.png": (pages["report"], "390,2000"),
        "summary.png": (pages["summary"], "1280,1800"),
    }
    with ThreadPoolExecutor(4) as pool:
        work = root / "chromium"
        futures = {name: pool.submit(_browse, path, work / name) for name, path in pages.items()}
        futures |= {
            name: pool.submit(_screenshot, path, root / name, size, work / name)
            for name, (path, size) in shots.items()
        }
        return {name: future.result() for name, future in futures.items()}


def test_the_checks_would_catch_a_script_and_a_request(browsed):
    assert browsed["canary"].title == "pwned"  # scripts do run in this browser
    assert browsed["leaky"].requests == ["http://example.invalid/pixel.png"]


def test_no_script_runs_and_no_injected_element_exists(browsed):
    titles = {
        "report": f"{HOSTILE}: 20 / 100 · Gradient Checking",
        "broken": f"{BROKEN}: 0 / 100 · Gradient Checking",
        "ok": "ok: 100 / 100 · Gradient Checking",
        "summary": "Gradient Checking: class summary",
    }
    for name, title in titles.items():
        page = browsed[name]
        assert page.title == title, name
        for element in ("<script", "<img", "<svg", "<iframe", "<object", "<link"):
            assert element not in page.dom.lower(), (name, element)


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
    assert 'id="error"' in browsed["broken"].dom and "not valid JSON" in browsed["broken"].dom
    assert re.search(r'id="total"><strong>100</strong> / 100 points', browsed["ok"].dom)


def test_summary_dom_links_every_student_and_flags_the_unreadable(browsed):
    dom = browsed["summary"].dom
    for student in (HOSTILE, BROKEN, "ok"):
        assert f'href="{student}/report.html"' in dom
    assert re.search(r'<dd id="count">3</dd>', dom)
    assert re.search(r'<tr class="unreadable">.*?' + BROKEN, dom, re.S)


def test_screenshots_render_at_desktop_and_phone_widths(browsed):
    for name, width in (("report.png", 1200), ("report-phone.png", 390), ("summary.png", 1280)):
        data = browsed[name].read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", name
        assert struct.unpack(">I", data[16:20])[0] == width and len(data) > 20_000, name
