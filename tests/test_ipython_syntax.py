"""IPython syntax is neutralised where IPython acts on it, and Python is left alone elsewhere."""

from __future__ import annotations

import ast

import pytest

from grader.ipython_syntax import cell_magic, is_python, neutralise


@pytest.mark.parametrize("line", [
    "%matplotlib inline", "%time x = f()", "x = %timeit f()", "a, b = !ls", "files = !ls",
    "!pip install x", "!!ls", "obj?", "np.linalg.norm??", "?obj", "??obj", "%%time",
])
def test_escapes_at_the_start_of_a_line_become_pass(line):
    assert neutralise(f"y = 1\n{line}\nz = 2\n") == "y = 1\npass\nz = 2\n"


def test_escapes_keep_their_indentation():
    source = "def f():\n    !echo hi\n    if True:\n\t%time g()\n    return 1\n"
    assert neutralise(source) == "def f():\n    pass\n    if True:\n\tpass\n    return 1\n"


@pytest.mark.parametrize("source", [
    "ok = (a\n    != b)\n",
    "x = (a\n   % b)\n",
    "x = [a,\n     !b]\n",  # not Python either, but not IPython's to change: brackets are open
    "y = a \\\n  != b\n",
    "y = a \\\n  % b\n",
    'doc = """\n%not a magic\n!nor a shell escape\nwhat?\n"""\n',
    "s = '''\n  %x\n'''\n",
    "s = 'a\\\n%b'\n",
    "z = {'k': (1,\n% 2)}\n",
    "x != y\n",
    "n = 10 % 3\n",
    "# %comment\n#!shebang\n",
])
def test_python_is_left_alone(source):
    assert neutralise(source) == source


def test_a_string_or_comment_does_not_open_a_bracket():
    source = "s = '('  # )\nt = \"[\"\n%time s\n"
    assert neutralise(source).splitlines()[2] == "pass"
    assert neutralise("x = 1  # (\n!ls\n").splitlines() == ["x = 1  # (", "pass"]


def test_an_escape_continued_by_a_backslash_takes_its_next_line():
    assert neutralise("!echo a \\\n  b\nx = 1\n") == "pass\n\nx = 1\n"


def test_python_cell_magics_run_the_rest_of_the_cell():
    for magic in ("%%time", "%%timeit -n 3", "%%capture out", "\n%%time"):
        source = neutralise(f"{magic}\nx = 1\n")
        assert source.splitlines()[-1] == "x = 1" and ast.parse(source)
        assert is_python(f"{magic}\nx = 1\n")


def test_other_cell_magics_are_not_python_and_bind_nothing():
    for magic in ("%%bash", "%%writefile f.py", "%%html", "%%javascript"):
        text = f"{magic}\ndef f():\n    return 1\n"
        assert neutralise(text) == "\n\n\n" and not is_python(text)
        assert cell_magic(text) == magic[2:].split()[0]
    assert cell_magic("x = 1\n%%bash\n") is None  # a cell magic counts only on the first line


def test_line_endings_are_normalised():
    assert neutralise("x = 1\r\n%time x\r\n") == "x = 1\npass\n"


def test_a_long_cell_without_escapes_is_returned_as_it_is():
    source = "x = (1 +\n     2)\n" * 1000
    assert neutralise(source) == source
