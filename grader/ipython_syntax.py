"""IPython's own syntax in a code cell, found only where IPython itself would act on it.

IPython reads a line as a magic (`%time f()`), a shell escape (`!ls`, `files = !ls`) or a help
request (`obj?`) only at the start of a logical line: never inside brackets, after a backslash
continuation or inside a string. A small scanner tracks those three, so a continuation line
such as `    != b)` stays Python. Importing IPython would cost the cold start more than this.
"""

from __future__ import annotations

import re

# The cell magics whose body IPython runs as ordinary Python in the notebook's namespace.
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture"})

_CELL_MAGIC = re.compile(r"\A(?:[ \t]*\n)*%%(\w*)")
_NAME = r"[^\W\d][\w.]*"
# A line IPython transforms when it starts a logical line: an escape character (magic, shell,
# help, auto-call), an assignment from a magic or a shell command, or a name ending in `?`.
_ESCAPE_LINE = (
    r"[ \t]*(?:[%!?/,;]"
    rf"|{_NAME}(?:[ \t]*,[ \t]*{_NAME})*[ \t]*=[ \t]*(?:%|!(?!=))"
    r"|[\w.*]+[ \t]*\?\??[ \t]*(?:\n|\Z))"
)
_ESCAPE = re.compile(_ESCAPE_LINE)
_MAYBE_ESCAPE = re.compile("^" + _ESCAPE_LINE, re.M)
# What decides where a logical line ends, besides brackets: strings (whole), comments, a
# backslash continuation, and newlines. Brackets are counted between these, a run at a time.
_CODE = re.compile(
    r"""'''(?:[^'\\]+|\\.|'(?!''))*(?:'''|\Z)
    |\"\"\"(?:[^"\\]+|\\.|"(?!""))*(?:\"\"\"|\Z)
    |'(?:[^'\\\n]+|\\.)*'?
    |"(?:[^"\\\n]+|\\.)*"?
    |\#[^\n]*
    |\\\n
    |(?P<newline>\n)""",
    re.S | re.X,
)


def cell_magic(source: str) -> str | None:
    """The name of the `%%` magic that opens the cell (`"bash"` for `%%bash`), if any."""
    match = _CELL_MAGIC.match(source)
    return match.group(1) if match else None


def is_python(source: str) -> bool:
    """False for a cell that a cell magic such as `%%bash` or `%%writefile` hands to another
    program: Jupyter runs none of it as Python."""
    magic = cell_magic(source)
    return magic is None or magic in PYTHON_CELL_MAGICS


def neutralise(source: str) -> str:
    """The cell as Python: IPython-only lines become `pass` at their indentation, a cell that is
    not Python becomes blank lines; line numbers are kept."""
    text = source.replace("\r\n", "\n")
    if not is_python(text):
        return "\n" * text.count("\n")
    magic = _CELL_MAGIC.match(text)
    if magic:  # `%%time` and the like: the magic's line goes, the rest is Python
        start = magic.start(1) - 2
        end = text.find("\n", start)
        text = text[:start] + "pass" + (text[end:] if end != -1 else "")
    if not _MAYBE_ESCAPE.search(text):
        return text
    return _neutralise_escapes(text)


def _neutralise_escapes(text: str) -> str:
    """Each logical line that IPython would transform becomes `pass`; nothing else changes
    (no such line can be valid Python, so a cell that parses is never altered)."""
    pieces: list[str] = []
    kept_from = position = 0
    while position < len(text):  # `position` starts a logical line
        escape = _ESCAPE.match(text, position)
        if escape:
            end = _end_of_escape(text, position)
            indent = len(escape.group()) - len(escape.group().lstrip(" \t"))
            blank = "\n" * text.count("\n", position, end)
            pieces += [text[kept_from:position], text[position : position + indent], "pass", blank]
            kept_from = position = end
            continue
        position = _end_of_logical_line(text, position)
    pieces.append(text[kept_from:])
    return "".join(pieces)


def _end_of_escape(text: str, start: int) -> int:
    """Where an escaped line ends: at its newline, unless it ends with a backslash, which IPython
    reads as joining the next line to it. The newline itself is left in place."""
    end = text.find("\n", start)
    while end != -1 and text[end - 1] == "\\":
        end = text.find("\n", end + 1)
    return len(text) if end == -1 else end


def _end_of_logical_line(text: str, start: int) -> int:
    """Just after the newline that ends the logical line starting at `start` (or the end)."""
    depth = 0
    position = start
    for token in _CODE.finditer(text, start):
        depth = max(depth + _brackets(text, position, token.start()), 0)
        position = token.end()
        if token.lastgroup == "newline" and depth == 0:
            return position
    return len(text)


def _brackets(text: str, start: int, end: int) -> int:
    """How many more brackets `text[start:end]` opens than it closes."""
    count = text.count
    opened = count("(", start, end) + count("[", start, end) + count("{", start, end)
    return opened - count(")", start, end) - count("]", start, end) - count("}", start, end)
