"""The Chinese reports and summary in a real browser, as tests/test_html_browser.py checks
the English ones: headless Chromium renders them at 390 and 1280 px.

Chinese text breaks between any two characters and is twice as wide per character, so the
measurements are made again: no page scrolls sideways, no long number breaks across lines,
the summary's table still sorts, and the pages say they are Chinese (`lang="zh-CN"`).
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import pytest
from test_html_browser import (
    CHROMIUM,
    CLASS,
    HARNESS,
    HOSTILE,
    LONG_NAME,
    ROSTER,
    _browse,
    _grade,
    _measure,
    _screenshot,
)
from test_intake import zipped
from test_report_html import write_hostile_batch

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (.ci/run installs Debian's chromium)"
)
CHINESE = ("--lang", "zh_CN")


def _chinese_fonts() -> str:
    if shutil.which("fc-list") is None:
        return ""
    listed = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, timeout=60)
    return listed.stdout.strip()


@pytest.fixture(scope="module")
def browsed(tmp_path_factory) -> dict:
    """A class and the hostile batch graded in Chinese, measured and photographed."""
    root = tmp_path_factory.mktemp("browser-zh")
    write_hostile_batch(root / "in")
    _grade([root / "in"], root / "out", *CHINESE)
    (root / "class.zip").write_bytes(zipped(CLASS))
    (root / "roster.csv").write_text(ROSTER, encoding="utf-8")
    _grade([root / "class.zip"], root / "class", "--roster", str(root / "roster.csv"), *CHINESE)
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
    harness = root / "harness.html"
    harness.write_text(HARNESS.replace("PAGES", json.dumps(measured)), encoding="utf-8")
    report = root / "class" / "canvas-123456789012345" / "report.html"
    summary = root / "class" / "index.html"
    shots = {
        "report.png": (report, "1280,2000"),
        "report-phone.png": (report, "390,2000"),
        "summary.png": (summary, "1280,1800"),
        "summary-phone.png": (summary, "390,1800"),
    }
    work = root / "chromium"
    with ThreadPoolExecutor(4) as pool:
        futures = {
            name: pool.submit(_screenshot, path, root / name, size, work / name)
            for name, (path, size) in shots.items()
        }
        futures["report"] = pool.submit(_browse, report, work / "report")
        futures["summary"] = pool.submit(_browse, summary, work / "summary")
        futures["measured"] = pool.submit(_measure, harness, work / "measured")
        return {name: future.result() for name, future in futures.items()}


def test_this_machine_has_a_font_for_chinese():
    assert _chinese_fonts(), (
        "no font with Chinese characters: Chromium would draw boxes. Install one as .ci/run "
        "does (apt-get install fonts-wqy-zenhei)."
    )


def test_the_pages_are_chinese_and_run_no_script_but_the_summary_s(browsed):
    report, summary = browsed["report"], browsed["summary"]
    assert '<html lang="zh-CN">' in report.dom and '<html lang="zh-CN">' in summary.dom
    assert report.title == f"{LONG_NAME}: 20 / 100 · 梯度检验"
    assert summary.title == "梯度检验：全班汇总"
    assert re.search(r'id="total"><strong>20</strong> / 100 分', report.dom)
    assert "需要修正：" in report.dom and "各用例通过率" in summary.dom
    # The ungraded section of the student's own backward_propagation_n, in Chinese too.
    assert 'id="inspect-backward_propagation_n"' in report.dom
    for said in ("不计分", "尚不正确", "相对差值", "练习最后要求你找出并修正"):
        assert said in report.dom, said
    assert "<script" not in report.dom.lower() and summary.dom.count("<button") == 3
    assert report.requests == [] and summary.requests == []


def test_no_chinese_page_scrolls_sideways_and_no_number_breaks_at_either_width(browsed):
    measured = browsed["measured"]
    assert len(measured) == 8
    for name, page in measured.items():
        assert page["scrollWidth"] <= page["clientWidth"], (name, page)
        assert page["broken"] == [], name


def test_the_chinese_summary_table_sorts_by_name_id_and_score(browsed):
    for width in (390, 1280):
        order = browsed["measured"][f"summary at {width}"]["sorted"]
        assert order["buttons"] == 3
        by_name = [LONG_NAME, "王小明", "陈静"]
        assert order["initial"] == by_name
        assert order["学生"] == by_name[::-1] and order["学生 again"] == by_name
        assert order["学号"] == ["陈静", "王小明", LONG_NAME]
        assert order["得分"] == ["陈静", LONG_NAME, "王小明"]
        assert order["得分 again"] == ["王小明", LONG_NAME, "陈静"]
        assert order["得分 aria-sort"] == "descending"


def test_chinese_screenshots_render_at_desktop_and_phone_widths(browsed):
    for name, width in (
        ("report.png", 1280),
        ("report-phone.png", 390),
        ("summary.png", 1280),
        ("summary-phone.png", 390),
    ):
        data = Path(browsed[name]).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", name
        assert struct.unpack(">I", data[16:20])[0] == width and len(data) > 20_000, name
