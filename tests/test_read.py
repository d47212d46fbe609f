"""Reading: every file becomes a submission, unreadable ones with a plain-language error."""

from __future__ import annotations

import hashlib
import json
import os
import tracemalloc
from pathlib import Path

import pytest

from grader.grade import grade_batch
from grader.intake.gather import gather
from grader.read import Format, format_of, parse, read_submission, stem_of, unique_ids
from tests.conftest import CORRECT, notebook


def read(tmp_path, name: str, content: bytes):
    path = tmp_path / name
    path.write_bytes(content)
    return read_submission("s", str(path), path)


def test_v4_and_v3_notebooks_give_the_same_code_cells(tmp_path):
    v4 = read(tmp_path, "a.ipynb", notebook("x = 1", "def f():\n    return 2").encode())
    v3 = read(tmp_path, "b.ipynb", notebook("x = 1", "def f():\n    return 2", version=3).encode())
    assert v4.error is None and v3.error is None
    assert (
        [c.source for c in v4.cells]
        == [c.source for c in v3.cells]
        == ["x = 1", "def f():\n    return 2"]
    )


def test_source_given_as_list_of_lines_is_joined(tmp_path):
    document = json.loads(notebook("a"))
    document["cells"][0]["source"] = ["def f():\n", "    return 1\n"]
    submission = read(tmp_path, "a.ipynb", json.dumps(document).encode())
    assert submission.cells[0].source == "def f():\n    return 1\n"


def test_script_cells_split_on_markers():
    cells = parse(b"import numpy\n# In[1]:\ndef f():\n    pass\n# In[ ]:\nprint(1)\n", ".py")
    assert [c.source.splitlines()[0] for c in cells] == ["import numpy", "# In[1]:", "# In[ ]:"]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b'{"cells": [', "not valid JSON"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "binary"),
        (b'{"nbformat": 4, "cells": [}', "not valid JSON"),
        (b"[1, 2, 3]", "not a notebook"),
        (b'{"hello": "world"}', "not a notebook"),
        ('{"cells": [], "x": "caf\xe9"}'.encode("latin-1"), "not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"nbformat": 4, "cells": "oops"}', "damaged"),
        (b'{"nbformat": 4, "cells": [{"cell_type": "code", "source": 7}]}', "damaged"),
        (b'{"nbformat": 4, "cells": [{"cell_type": "code", "source": ["x\\n", 2]}]}', "damaged"),
        (b'{"nbformat": 9, "cells": []}', "version 9"),
    ],
)
def test_malformed_files_become_errors(tmp_path, content, words):
    submission = read(tmp_path, "bad.ipynb", content)
    assert submission.error is not None and words in submission.error
    assert submission.cells == ()


def test_a_file_over_the_absolute_cap_is_refused_without_reading_it(tmp_path, monkeypatch):
    monkeypatch.setattr("grader.read.MAX_FILE_BYTES", 10)
    submission = read(tmp_path, "big.ipynb", notebook("x = 1").encode())
    assert (
        "limit on any file" in submission.error
        and "clear the notebook's outputs" in submission.error
    )
    assert submission.digest == hashlib.sha256().digest()  # nothing was read


def test_a_large_notebook_of_plots_grades_like_the_same_notebook_without_outputs(
    tmp_path, assignment
):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "plain.ipynb").write_text(notebook(*CORRECT))
    plots = folder / "plots.ipynb"
    plots.write_bytes(with_outputs(notebook(*CORRECT), 50 * 2**20))
    tracemalloc.start()
    try:
        read_submission("plots", str(plots), plots)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20, f"reading held {peak >> 20} MiB"  # the outputs were never held
    grade_batch([str(folder)], assignment, tmp_path / "out", jobs=1)
    plain, big = (
        json.loads((tmp_path / "out" / name / "results.json").read_text())
        for name in ("plain", "plots")
    )
    assert plots.stat().st_size > 50 * 2**20 and big["error"] is None
    assert big["score"] == big["max_score"]
    assert (big["functions"], big["tests"]) == (plain["functions"], plain["tests"])


def test_too_much_code_is_refused_with_a_message_a_student_can_act_on(tmp_path):
    pasted = "data = [" + "0.123456789, " * (2 * 2**20 // 13) + "]\n"
    for name, content in [
        ("small.ipynb", notebook("x = 1", pasted).encode()),  # read whole
        ("large.ipynb", with_outputs(notebook("x = 1", pasted), 6 * 2**20)),  # streamed
    ]:
        submission = read(tmp_path, name, content)
        assert submission.cells == ()
        assert submission.error.startswith("The notebook's code cells hold more than 2 MiB of code")
        assert "load it from a file instead" in submission.error
    script = read(tmp_path, "big.py", (pasted * 2).encode())
    assert "over the 2 MiB limit on code" in script.error


def test_markdown_and_outputs_do_not_count_as_code(tmp_path):
    document = json.loads(notebook(*CORRECT))
    text = "x" * (3 * 2**20)
    document["cells"].append({"cell_type": "markdown", "metadata": {}, "source": text})
    document["cells"][0]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": text}]
    for whole_read_bytes in (2**30, 0):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("grader.read.WHOLE_READ_BYTES", whole_read_bytes)
            submission = read(tmp_path, "long.ipynb", json.dumps(document).encode())
        assert submission.error is None and len(submission.cells) == len(CORRECT)


TRICKY = [
    'print("a \\"quoted\\" word")  # 100% é \\ \U0001f600 ESCAPES',
    "def f():\n    return '\\\\'\n",
    "x = 1  # SURROGATE",
]


@pytest.mark.parametrize("chunk_bytes", [1, 2, 3, 7, 4096])
@pytest.mark.parametrize("version", [3, 4])
def test_a_streamed_notebook_gives_what_a_whole_read_gives(
    tmp_path, monkeypatch, chunk_bytes, version
):
    document = json.loads(notebook(*TRICKY, version=version))
    cells = document["worksheets"][0]["cells"] if version == 3 else document["cells"]
    cells[1]["input" if version == 3 else "source"] = TRICKY[1].splitlines(keepends=True)
    cells[0]["outputs"] = [{"data": {"text/plain": ['"\\', "]}", "x" * 5000]}, "n": [[{}], 1e5]}]
    cells.insert(1, {"source": "not code", "metadata": {"tags": []}, "cell_type": "markdown"})
    cells.append({"outputs": [], "source": "late = 'type'", "cell_type": "code"})
    text = json.dumps(document, ensure_ascii=False, indent=1)
    # JSON escapes in the kept sources: a lone surrogate, a pair, a plain character.
    escaped = text.replace("SURROGATE", "\\ud800").replace("ESCAPES", "\\ud83d\\ude00 \\u00e9")
    content = escaped.encode()
    whole = read(tmp_path, "whole.ipynb", content)
    monkeypatch.setattr("grader.read.WHOLE_READ_BYTES", 0)
    monkeypatch.setattr("grader.read._CHUNK_BYTES", chunk_bytes)
    streamed = read(tmp_path, "streamed.ipynb", content)
    assert whole.error is None and len(whole.cells) == 4
    assert whole.cells[0].source.endswith("\U0001f600 \U0001f600 \xe9")
    assert whole.cells[2].source == "x = 1  # \ufffd"
    assert streamed.error is None
    assert (streamed.cells, streamed.digest) == (whole.cells, whole.digest)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (notebook("x = 1")[:-10].encode(), "not valid JSON (the file ends"),
        (notebook("x = 1").encode() + b"}", "not valid JSON (extra data"),
        (b"\x89PNG\r\n\x1a\n\x00\x00" * 100, "binary"),
        (b"[1, 2, 3]", "not a notebook"),
        (b'{"nbformat": 4, "cells": "oops"}', "damaged"),
        (b'{"nbformat": 4, "cells": [{"cell_type": "code", "source": ["x\\n", 2]}]}', "damaged"),
        (b'{"nbformat": 9, "cells": []}', "version 9"),
        (b'{"cells": [{"cell_type": "code", "source": "caf\xe9"}]}', "not UTF-8"),
    ],
)
def test_a_streamed_notebook_that_cannot_be_read_says_why(tmp_path, monkeypatch, content, words):
    monkeypatch.setattr("grader.read.WHOLE_READ_BYTES", 0)
    monkeypatch.setattr("grader.read._CHUNK_BYTES", 5)
    submission = read(tmp_path, "bad.ipynb", content)
    assert submission.error is not None and words in submission.error
    assert submission.cells == ()


def with_outputs(text: str, size: int) -> bytes:
    """The notebook with a plot's worth of base64 in every code cell, `size` bytes in all."""
    document = json.loads(text)
    cells = [cell for cell in document["cells"] if cell["cell_type"] == "code"]
    png = "iVBORw0KGgoAAAANSUhEUgAA" * (size // len(cells) // 24 + 1)
    for cell in cells:
        cell["outputs"] = [
            {
                "output_type": "display_data",
                "metadata": {},
                "data": {"image/png": png, "text/plain": ["<Figure size 640x480 with 1 Axes>"]},
            }
        ]
    return json.dumps(document, indent=1).encode()


@pytest.mark.parametrize(
    ("name", "expected", "stem"),
    [
        ("hw.ipynb", Format.NOTEBOOK, "hw"),
        ("HW.IPYNB", Format.NOTEBOOK, "HW"),
        ("hw.ipynb.txt", Format.NOTEBOOK, "hw"),
        ("hw.IPYNB.TXT", Format.NOTEBOOK, "hw"),
        ("solution.Py", Format.SCRIPT, "solution"),
        ("notes.txt", None, "notes"),
        (".ipynb", None, ".ipynb"),
        ("archive.zip", None, "archive"),
    ],
)
def test_suffixes_are_told_case_insensitively(name, expected, stem):
    assert format_of(name) is expected
    assert stem_of(name) == stem


def test_a_notebook_saved_as_text_is_read_as_a_notebook(tmp_path):
    submission = read(tmp_path, "Gradient_Checking.ipynb.txt", notebook("x = 1").encode())
    assert submission.error is None and submission.cells[0].source == "x = 1"
    script = read(tmp_path, "SOLUTION.PY", b"def f():\n    return 1\n")
    assert script.error is None and script.cells[0].source.startswith("def f()")


def test_unique_ids_are_safe_and_distinct():
    ids = list(
        unique_ids(["a/hw.ipynb", "b/hw.ipynb", "c/HW.py", "../../etc/<x y>.ipynb", "d/...ipynb"])
    )
    assert ids == ["hw", "hw-2", "HW-3", "x_y", "submission"]
    assert all("/" not in i and not i.startswith(".") for i in ids)


def test_symbolic_links_are_listed_as_skipped_never_followed(tmp_path):
    secret = tmp_path / "solution.py"
    secret.write_text("def forward_propagation(x, theta):\n    return theta * x\n")
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    (uploads / "sneaky.py").symlink_to(secret)
    (uploads / "linked_folder").symlink_to(tmp_path)
    intake = gather([str(uploads)])
    assert intake.planned == []
    reasons = {Path(item.input).name: item.reason for item in intake.skipped}
    assert "symbolic link" in reasons["sneaky.py"] and "symbolic link" in reasons["linked_folder"]
    # Read directly (as `grader check` does), a link is refused, not followed.
    submission = read_submission("sneaky", str(uploads / "sneaky.py"), uploads / "sneaky.py")
    assert submission.cells == () and "symbolic link" in submission.error


def test_a_named_pipe_is_refused_without_waiting_on_it(tmp_path):
    fifo = tmp_path / "stuck.ipynb"
    os.mkfifo(fifo)  # opened for reading, it would block until a writer came
    submission = read_submission("stuck", str(fifo), fifo)
    assert submission.cells == () and submission.error == "This is not a regular file."


def test_lone_surrogates_in_a_notebook_become_replacement_characters(tmp_path):
    text = notebook("x = 1  # SURROGATE").replace("SURROGATE", "\\ud800")
    submission = read(tmp_path, "odd.ipynb", text.encode())
    assert submission.error is None and "\ufffd" in submission.cells[0].source
    submission.cells[0].source.encode("utf-8")
