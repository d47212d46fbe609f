"""Every student-facing text in English and Simplified Chinese.

The catalogs are checked against the texts themselves: each message Babel extracts from the
grader's modules and templates, and each text an assignment defines, has a Chinese
translation, none fuzzy, with the same placeholders. Then the commands are run as a student
or an instructor runs them, in both languages, and the service is asked for each.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import threading
import unicodedata
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from grader.i18n import (
    CATALOG_FOLDER,
    GRADER_CATALOGS,
    _,
    catalog_path,
    language,
    ngettext,
    sentences,
    translations,
)
from grader.score import HIDDEN_CASE, case_label, qualified_case_name
from grader.service.store import Store
from grader.spec import load_assignment
from tests.conftest import BACKWARD, CHECK_N, CORRECT, FORWARD, IMPORTS, notebook, run_grader
from tests.service_support import InProcessService, upload, wait_done
from tests.test_exports import autograde, moodle_file, moodle_rows, parsed, write_class

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENTS = [
    ROOT / "reference_solutions" / name for name in ("gradient_checking", "regularization")
]
CHINESE = re.compile(r"[\u4e00-\u9fff]")
# Placeholders: str.format's in Python, Jinja2's newstyle gettext's (%-style) in templates.
PLACEHOLDER = re.compile(r"\{(\w*)[^{}]*\}|%\((\w+)\)[sd]|%%")
# A notebook that fails in every way a student sees: a wrong result, a missing function, a
# misspelled one, an exception.
FAILING = notebook(
    IMPORTS,
    FORWARD.replace("theta * x", "theta + x"),
    BACKWARD.replace("def backward_propagation", "def backward_propagaton"),
    CHECK_N.replace("thetaplus[i][0] = thetaplus[i][0] + epsilon", "thetaplus = None[0]"),
)


def _placeholders(text: str) -> list[str]:
    return sorted("".join(found) or "%%" for found in PLACEHOLDER.findall(text))


def _catalog(path: Path) -> dict:
    with path.open("rb") as source:
        return {message.id: message for message in read_po(source) if message.id}


def _grader_messages() -> set[str | tuple[str, str]]:
    """Every message of the grader's modules and templates, as `make messages` extracts them."""
    with (ROOT / "babel.cfg").open() as mapping:
        method_map, options_map = parse_mapping_cfg(mapping)
    keywords = {"_": None, "N_": None, "ngettext": (1, 2)}
    found = extract_from_dir(ROOT, method_map, options_map, keywords=keywords)
    return {message for _path, _line, message, _comments, _context in found}


def _assert_translated(messages: set, catalog: dict, where: str) -> None:
    problems = []
    for message in sorted(messages, key=str):
        entry = catalog.get(message)
        strings = () if entry is None else entry.string
        strings = (strings,) if isinstance(strings, str) else tuple(strings)
        if entry is None or not all(strings):
            problems.append(f"untranslated: {message!r}")
        elif entry.fuzzy:
            problems.append(f"fuzzy: {message!r}")
        else:
            sources = (message,) if isinstance(message, str) else message
            for string in strings:
                if _placeholders(string) != _placeholders(sources[-1]):
                    problems.append(f"placeholders differ: {message!r} -> {string!r}")
    assert not problems, f"{where}:\n" + "\n".join(problems)


def test_the_placeholder_check_sees_both_styles():
    assert _placeholders("{a} and {b!r:>3}, %(c)s %%") == ["%%", "a", "b", "c"]
    assert _placeholders("{a}") != _placeholders("{b}")


def test_every_grader_message_has_a_chinese_translation_with_the_same_placeholders():
    messages = _grader_messages()
    assert "What to fix:" in messages and ("%(num)s submission", "%(num)s submissions") in messages
    assert len(messages) > 150
    catalog = _catalog(catalog_path(GRADER_CATALOGS, "zh_CN"))
    _assert_translated(messages, catalog, "grader/locale/zh_CN")
    # No translation is left of a text the grader no longer says.
    assert set(catalog) - messages == set()


@pytest.mark.parametrize("folder", ASSIGNMENTS, ids=lambda folder: folder.name)
def test_every_assignment_text_has_a_chinese_translation_with_the_same_placeholders(folder):
    assignment = load_assignment(folder)
    texts = set(assignment.texts())
    assert assignment.title in texts and len(texts) > 5
    catalogs = sorted((folder / CATALOG_FOLDER / "zh_CN").glob("LC_MESSAGES/*.po"))
    assert catalogs, folder
    catalog = {key: value for path in catalogs for key, value in _catalog(path).items()}
    _assert_translated(texts, catalog, str(folder))
    assert set(catalog) - texts == set()


def test_an_assignment_s_catalog_comes_before_the_grader_s_and_english_needs_none():
    assert translations("en") is None
    chinese = translations("zh_CN", ASSIGNMENTS[0])
    assert chinese.gettext("Gradient Checking") == "梯度检验"  # the assignment's
    assert chinese.gettext("What to fix:") == "需要修正："  # the grader's
    assert chinese.gettext("a text nobody translated") == "a text nobody translated"
    assert translations("zh_CN").gettext("Gradient Checking") == "Gradient Checking"
    with pytest.raises(ValueError, match="unknown language 'fr'"):
        translations("fr")


def test_plurals_and_sentences_follow_the_language():
    assert ngettext("{count} line", "{count} lines", 1) == "{count} line"
    assert ngettext("{count} line", "{count} lines", 2) == "{count} lines"
    with language("zh_CN"):
        said = ngettext("... {count} more line", "... {count} more lines", 3)
        assert said == "……还有 {count} 行"
    assert sentences("One.", "Two.") == "One. Two."
    assert sentences("一。", "二。") == "一。二。"


def test_hidden_case_names_read_back_in_either_language():
    with language("zh_CN", ASSIGNMENTS[0]):
        name = qualified_case_name("gradient_check", "other scalar (x, θ)", hidden=True)
        assert name == "gradient_check: 隐藏用例：其他标量 (x, θ)"
        assert case_label(name, hidden=True) == "其他标量 (x, θ)"
        english = "gradient_check: " + HIDDEN_CASE.format(case="other scalar (x, θ)")
        assert case_label(english, hidden=True) == "other scalar (x, θ)"
    assert qualified_case_name("f", "x", hidden=True) == "f: hidden case, x"


def test_each_thread_speaks_its_own_language():
    """The language is a context variable: threads grading at once never see each other's."""
    barrier = threading.Barrier(2)
    heard: dict[str, list[str]] = {}

    def speak(code: str) -> None:
        with language(code):
            said = []
            for _round in range(50):
                barrier.wait()
                said.append(_("What to fix:"))
            heard[code] = said

    threads = [threading.Thread(target=speak, args=(code,)) for code in ("en", "zh_CN")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(heard["en"]) == {"What to fix:"} and set(heard["zh_CN"]) == {"需要修正："}
    assert _("What to fix:") == "What to fix:"  # this thread never chose a language


def _columns(text: str) -> int:
    """The terminal columns a text takes: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _check(path: Path, *options: str) -> subprocess.CompletedProcess:
    return run_grader("check", str(path), *options)


def test_grader_check_in_chinese_says_everything_in_chinese(tmp_path):
    path = tmp_path / "mine.ipynb"
    path.write_text(FAILING, encoding="utf-8")
    english, chinese = _check(path), _check(path, "--lang", "zh_CN")
    assert english.returncode == chinese.returncode == 1, chinese.stderr
    assert "Gradient Checking: public cases of" in english.stdout
    assert "rename it to `backward_propagation`" in english.stdout
    out = chinese.stdout
    assert out.startswith(f"梯度检验：{path} 的公开用例\n")
    for said in (
        "未通过   forward_propagation",  # tags padded to the same column as English ones
        "缺失     backward_propagation",
        "没有找到名为 `backward_propagation` 的函数",
        "请将它改名为 `backward_propagation`",
        "forward_propagation(2, 4) 的结果是 8",  # the assignment's case name
        "期望 8.0，实际得到 6.0",
        "你的代码里是否还留着模板中的 `None` 占位符？",
        "（第 4 个单元格第 11 行：thetaplus = None[0]）",  # the sandbox's place of the error
        "可能的错误：J 把 θ 和 x 相加了。",  # the assignment's mistake catalog
        "forward_propagation 返回的是 θ + x，但这个模型的代价是乘积 θ·x。",
        "应计算：J = θ · x",  # a formula is notation, the same in every language
        "不要硬编码任何结果。",
    ):
        assert said in out, said
    # English is left only in code, names and Python's own words.
    for english_words in ("public cases", "Expected", "What to fix", "hidden case", "Passed"):
        assert english_words not in out, english_words
    rows = [line for line in out.splitlines() if re.match(r"  \S+ +\w+ +\d+/\d+$", line)]
    columns = {_columns(line[: line.index(line.split()[1])]) for line in rows}
    assert len(rows) == 4 and len(columns) == 1  # one column, whatever the tag's width


def test_a_remembered_inspection_is_said_again_in_the_next_check_s_language():
    """A version of backward_propagation_n judged once is remembered by the process (as the
    service's is): the next submission in another language still reads its own words."""
    from grader.check import render, run_check

    path = str(ROOT / "submissions" / "carlos_mendez.ipynb")
    english = render(run_check(path, lang="en"), color=False)
    chinese = render(run_check(path, lang="zh_CN"), color=False)
    again = render(run_check(path, lang="en"), color=False)
    assert "All right: dW1, db1, dW2, db2, dW3, db3." in english
    assert "全部正确：dW1、db1、dW2、db2、dW3、db3。" in chinese and "All right" not in chinese
    assert again == english


def test_grader_check_json_in_chinese_keeps_machine_values(tmp_path):
    path = tmp_path / "mine.ipynb"
    path.write_text(FAILING, encoding="utf-8")
    english = json.loads(_check(path, "--json").stdout)
    chinese = json.loads(_check(path, "--json", "--lang", "zh_CN").stdout)
    for key in ("submission", "score", "max_score", "error"):
        assert chinese[key] == english[key]
    for name, function in chinese["functions"].items():
        assert function["status"] == english["functions"][name]["status"]
        assert function["score"] == english["functions"][name]["score"]
        assert CHINESE.search(function["message"]), function["message"]
    for ours, theirs in zip(chinese["tests"], english["tests"], strict=True):
        assert (ours["status"], ours["visibility"]) == (theirs["status"], theirs["visibility"])
        assert ours["name"].split(": ")[0] == theirs["name"].split(": ")[0]
        assert CHINESE.search(ours["name"]) and CHINESE.search(ours["output"])


def test_an_unreadable_file_is_refused_in_the_student_s_language(tmp_path):
    path = tmp_path / "empty.ipynb"
    path.write_text("", encoding="utf-8")
    checked = _check(path, "--lang", "zh_CN")
    assert (
        checked.returncode == 2
        and "无法检查" in checked.stdout
        and "文件是空的。" in checked.stdout
    )


def test_a_folder_that_is_no_assignment_is_said_in_the_student_s_language(tmp_path):
    path = tmp_path / "mine.ipynb"
    path.write_text(FAILING, encoding="utf-8")
    checked = _check(path, "--assignment", str(tmp_path), "--lang", "zh_CN")
    assert checked.returncode == 2 and "它是作业文件夹吗？" in checked.stderr


def test_english_check_does_not_load_babel_and_chinese_does(tmp_path):
    path = tmp_path / "mine.ipynb"
    path.write_text(notebook(*CORRECT), encoding="utf-8")
    probe = (
        "import sys; from grader.cli import main; code = main(sys.argv[1:]); "
        "print('babel loaded' if 'babel' in sys.modules else 'no babel'); sys.exit(code)"
    )
    for options, expected in (((), "no babel"), (("--lang", "zh_CN"), "babel loaded")):
        run = subprocess.run(
            [sys.executable, "-c", probe, "check", str(path), *options],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert run.returncode == 0 and run.stdout.splitlines()[-1] == expected, run.stderr


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict[str, Path]:
    """One class graded twice, in English and in Chinese."""
    root = tmp_path_factory.mktemp("languages")
    (root / "in").mkdir()
    (root / "in" / "ok.ipynb").write_text(notebook(*CORRECT), encoding="utf-8")
    (root / "in" / "failing.ipynb").write_text(FAILING, encoding="utf-8")
    (root / "in" / "broken.ipynb").write_text("{", encoding="utf-8")
    outs = {}
    for code in ("en", "zh_CN"):
        out = root / code
        graded = run_grader("grade", str(root / "in"), "--out", str(out), "--jobs", "2",
                            "--lang", code)  # fmt: skip
        assert graded.returncode == 0, graded.stderr
        outs[code] = out
    outs["in"] = root / "in"
    return outs


def _page(path: Path) -> str:
    """A page without its stylesheet and script, whose comments are in English."""
    text = path.read_text(encoding="utf-8")
    return re.sub(r"<(style|script)>.*?</\1>", "", text, flags=re.S)


def test_grade_in_chinese_writes_chinese_reports_and_summary(graded):
    out = graded["zh_CN"]
    report = _page(out / "failing" / "report.html")
    assert '<html lang="zh-CN">' in report
    for said in ("梯度检验 · 评分报告", "需要修正：", "你的代码", "隐藏", "总分", "结果错误",
                 "可能的错误：", "J 把 θ 和 x 相加了"):  # fmt: skip
        assert said in report, said
    for english in ("What to fix", "grading report", "Your code", "Total score", "wrong result"):
        assert english not in report, english
    broken = _page(out / "broken" / "report.html")
    assert "无法读取你的文件" in broken and "笔记本不是有效的 JSON" in broken
    summary = _page(out / "index.html")
    assert '<html lang="zh-CN">' in summary
    for said in (
        "全班汇总",
        "3 份提交",
        "各用例通过率",
        "隐藏",
        "学生",
        "常见错误",
        "J 把 θ 和 x 相加了",
    ):
        assert said in summary, said
    assert "Class summary" not in summary and "Pass rate" not in summary


def test_grade_in_english_is_unchanged(graded):
    report = (graded["en"] / "failing" / "report.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in report and "What to fix:" in report
    assert not CHINESE.search(report)
    summary = (graded["en"] / "index.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in summary and "3 submissions" in summary
    assert not CHINESE.search(summary)


def test_results_json_translates_texts_and_keeps_machine_values(graded):
    english = json.loads((graded["en"] / "failing" / "results.json").read_text("utf-8"))
    chinese = json.loads((graded["zh_CN"] / "failing" / "results.json").read_text("utf-8"))
    assert chinese["score"] == english["score"] and chinese["assignment"] == "gradient_checking"
    assert chinese["functions"].keys() == english["functions"].keys()
    for name, function in chinese["functions"].items():
        assert function["status"] == english["functions"][name]["status"]
        assert CHINESE.search(function["message"])
    hidden = [test for test in chinese["tests"] if test["visibility"] != "visible"]
    assert hidden and all("隐藏用例：" in test["name"] for test in hidden)
    summary = json.loads((graded["zh_CN"] / "summary.json").read_text("utf-8"))
    assert summary["functions"]["forward_propagation"]["statuses"] == {
        "passed": 1, "failed": 1, "missing": 1,
    }  # fmt: skip
    assert any(case["hidden"] and "隐藏用例：" in case["name"] for case in summary["cases"])


def test_grading_again_in_another_language_regrades(graded, tmp_path):
    out = tmp_path / "out"
    first = run_grader("grade", str(graded["in"]), "--out", str(out), "--jobs", "1")
    again = run_grader("grade", str(graded["in"]), "--out", str(out), "--jobs", "1")
    chinese = run_grader("grade", str(graded["in"]), "--out", str(out), "--jobs", "1",
                         "--lang", "zh_CN")  # fmt: skip
    assert "Graded 3 submission(s), 0 unchanged" in first.stdout
    assert "Graded 0 submission(s), 3 unchanged" in again.stdout
    assert "Graded 3 submission(s), 0 unchanged" in chinese.stdout
    assert "需要修正" in (out / "failing" / "report.html").read_text(encoding="utf-8")


def test_a_dask_cluster_grades_in_the_batch_s_language(graded, tmp_path):
    """The cluster's workers score, so the language travels with the sandbox they start."""
    out = tmp_path / "out"
    on_cluster = run_grader("grade", str(graded["in"] / "failing.ipynb"), "--out", str(out),
                            "--cluster", "local:1", "--lang", "zh_CN")  # fmt: skip
    assert on_cluster.returncode == 0, on_cluster.stderr
    remote = json.loads((out / "failing" / "results.json").read_text("utf-8"))
    local = json.loads((graded["zh_CN"] / "failing" / "results.json").read_text("utf-8"))
    assert remote["functions"] == local["functions"] and remote["tests"] == local["tests"]


def test_grade_refuses_a_language_it_does_not_have(tmp_path):
    refused = run_grader("grade", "--out", str(tmp_path), "--lang", "fr")
    assert refused.returncode == 2 and "invalid choice: 'fr'" in refused.stderr


def test_a_released_bundle_speaks_its_assignment_s_chinese(tmp_path):
    bundle = tmp_path / "bundle"
    released = run_grader("release", str(ASSIGNMENTS[0]), "--out", str(bundle))
    assert released.returncode == 0, released.stderr
    assert "locale/: the assignment's texts in zh_CN" in released.stdout
    catalog = _catalog(bundle / "locale" / "zh_CN" / "LC_MESSAGES" / "assignment.po")
    public = load_assignment(bundle).texts()
    assert set(catalog) == set(public) and "forward_propagation(2, 4) is 8" in catalog
    assert "another network and epsilon=0.001" not in catalog  # hidden cases stay hidden
    mine = bundle / "mine.ipynb"
    mine.write_text(FAILING, encoding="utf-8")
    checked = _check(mine, "--lang", "zh_CN")
    assert "可能的错误：J 把 θ 和 x 相加了。" in checked.stdout  # the bundle's mistakes too
    assert checked.stdout.startswith("梯度检验：") and "forward_propagation(2, 4) 的结果是 8" in (
        checked.stdout
    )


def test_a_gradescope_autograder_in_chinese_tells_students_in_chinese(tmp_path):
    bundle = tmp_path / "autograder.zip"
    built = run_grader("export", "gradescope", str(ASSIGNMENTS[0]), "--output", str(bundle),
                       "--lang", "zh_CN")  # fmt: skip
    assert built.returncode == 0, built.stderr
    results = autograde(bundle, tmp_path / "root", {"mine.ipynb": FAILING, "notes.txt": "x"})
    output = results["output"]
    not_graded = "未评分：notes.txt（不是笔记本（.ipynb）、脚本（.py）或 zip 压缩包）。"
    assert output.startswith(f"得分：0/100，来自 mine.ipynb。\n{not_graded}\n")
    assert "forward_propagation：未通过，0/10。3 个用例中通过了 0 个。" in output
    assert "backward_propagation：缺失，0/10。没有找到名为" in output
    assert {test["status"] for test in results["tests"]} == {"failed"}
    assert all(CHINESE.search(test["name"]) for test in results["tests"])


def test_moodle_feedback_in_chinese(tmp_path):
    out = write_class(tmp_path / "out", "moodle")
    worksheet, filled = tmp_path / "worksheet.csv", tmp_path / "filled.csv"
    worksheet.write_bytes(moodle_file(moodle_rows()))
    exported = run_grader("export", "moodle", str(out), "--worksheet", str(worksheet),
                          "--output", str(filled), "--lang", "zh_CN")  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    feedback = [row[10] for row in parsed(filled.read_bytes())[1:4]]
    assert feedback[0].startswith("100/100 分。forward_propagation：通过（10/10）; ")
    assert "backward_propagation：语法错误（7.5/10）" in feedback[1]
    assert feedback[2].startswith("0/100 分：")


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    from grader.service.records import Role
    from grader.service.settings import Settings
    from grader.service.tokens import create_token

    running = InProcessService(Settings(data=tmp_path_factory.mktemp("service"), jobs=1))
    token = create_token(running.service.store, Role.SUBMITTER, "lms")[1]
    with running.client(token) as client:
        yield client
    running.close()


def test_the_service_grades_an_upload_in_the_language_it_asks_for(service):
    chinese = upload(service, FAILING.encode(), "a.ipynb", student="a", lang="zh_CN")
    english = upload(service, FAILING.encode(), "b.ipynb", student="b")
    assert chinese.status_code == english.status_code == 202, chinese.text
    assert chinese.json()["lang"] == "zh_CN" and english.json()["lang"] == "en"
    done_chinese = wait_done(service, chinese.json()["id"])
    done_english = wait_done(service, english.json()["id"])
    assert done_chinese["lang"] == "zh_CN"
    messages = [f["message"] for f in done_chinese["results"]["functions"].values()]
    assert all(CHINESE.search(message) for message in messages), messages
    assert not CHINESE.search(json.dumps(done_english["results"], ensure_ascii=False))
    report = service.get(f"/v1/submissions/{chinese.json()['id']}/report").text
    assert '<html lang="zh-CN">' in report and "需要修正" in report


def test_the_service_refuses_an_unknown_language_and_says_why_in_the_student_s(service):
    refused = upload(service, FAILING.encode(), "c.ipynb", student="c", lang="fr")
    assert refused.status_code == 422 and refused.json()["error"] == "invalid_lang"
    empty = upload(service, b"", "d.ipynb", student="d", lang="zh_CN")
    assert empty.status_code == 422 and empty.json()["error"] == "unreadable_file"
    assert empty.json()["message"].startswith("文件是空的。")


def test_a_database_of_schema_1_gains_the_language_column(tmp_path):
    path = tmp_path / "grader.db"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE submissions (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL "
        "UNIQUE, assignment TEXT NOT NULL, student TEXT NOT NULL, filename TEXT NOT NULL, "
        "digest TEXT NOT NULL, owner TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT "
        "NULL DEFAULT 0, uploaded_at TEXT NOT NULL, finished_at TEXT, upload_order INTEGER NOT "
        "NULL, UNIQUE (assignment, student, digest, owner));"
        "INSERT INTO submissions (id, assignment, student, filename, digest, owner, status, "
        "uploaded_at, upload_order) VALUES ('s1', 'gradient_checking', 'alice', 'a.ipynb', "
        "'d', 'o', 'queued', 'now', 1);"
        "PRAGMA user_version = 1;"
    )
    old.close()
    store = Store(path)
    try:
        record = store.submission("s1")
        assert record is not None and record.lang == "en" and record.student == "alice"
    finally:
        store.close()
