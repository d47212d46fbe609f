"""Reading: every file becomes a submission, unreadable ones with a plain-language error."""

from __future__ import annotations

import json
import os

import pytest

from grader.read import find_files, parse, read_submission, unique_ids
from tests.conftest import notebook


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


def test_huge_file_is_refused_without_reading_it(tmp_path, monkeypatch):
    monkeypatch.setattr("grader.read.MAX_FILE_BYTES", 10)
    submission = read(tmp_path, "big.ipynb", notebook("x = 1").encode())
    assert "limit" in submission.error


def test_find_files_recurses_and_ignores_other_files(tmp_path):
    (tmp_path / "alice").mkdir()
    (tmp_path / "alice" / "hw.ipynb").write_text("{}")
    (tmp_path / "bob.py").write_text("")
    (tmp_path / "notes.txt").write_text("")
    (tmp_path / ".ipynb_checkpoints").mkdir()
    (tmp_path / ".ipynb_checkpoints" / "hw-checkpoint.ipynb").write_text("{}")
    names = [path.name for _, path in find_files([str(tmp_path)])]
    assert names == ["hw.ipynb", "bob.py"]


def test_unique_ids_are_safe_and_distinct():
    ids = list(
        unique_ids(["a/hw.ipynb", "b/hw.ipynb", "c/HW.py", "../../etc/<x y>.ipynb", "d/...ipynb"])
    )
    assert ids == ["hw", "hw-2", "HW-3", "x_y", "submission"]
    assert all("/" not in i and not i.startswith(".") for i in ids)


def test_symbolic_links_are_reported_not_followed(tmp_path):
    secret = tmp_path / "solution.py"
    secret.write_text("def forward_propagation(x, theta):\n    return theta * x\n")
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    (uploads / "sneaky.py").symlink_to(secret)
    (uploads / "linked_folder").symlink_to(tmp_path)
    found = find_files([str(uploads)])
    assert [path.name for _, path in found] == ["sneaky.py"]
    submission = read_submission("sneaky", *found[0])
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
