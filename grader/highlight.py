"""Syntax highlighting of student code for the HTML reports: escaped, numbered lines, fast.

A single regular expression over Python's lexical classes; every character is escaped. Each
source line becomes its own element, so the stylesheet numbers lines and a line named in an
error message can be marked. Colours live in the report's stylesheet (classes `t-*`). Lines are
highlighted one at a time, knowing only whether a triple-quoted string is open, and remembered:
a class's notebooks share most of their lines.
"""

from __future__ import annotations

import builtins
import functools
import html
import keyword
import re
from collections.abc import Collection

_CONSTANTS = frozenset({"None", "True", "False"})
_KEYWORDS = frozenset(keyword.kwlist) - _CONSTANTS
_BUILTINS = frozenset(name for name in dir(builtins) if name.isalpha())
_TOKENS = re.compile(
    r"(?P<c>#[^\n]*)"
    r"|(?P<s>(?:[rRbBuUfF]{1,2})?(?:'''[\s\S]*?(?:'''|$)|\"\"\"[\s\S]*?(?:\"\"\"|$)"
    r"|'(?:\\.|[^'\\\n])*'?|\"(?:\\.|[^\"\\\n])*\"?))"
    r"|(?P<w>[^\W\d]\w*)"
    r"|(?P<n>\d[\d_]*(?:\.\d*)?(?:[eE][+-]?\d+)?j?|\.\d+(?:[eE][+-]?\d+)?)"
)
_NEWLINES = re.compile(r"\r\n?")
_OPENING = re.compile(r"[rRbBuUfF]{0,2}('''|\"\"\")")


def highlight(code: str, marked: Collection[int] = ()) -> str:
    """Student code as safe HTML: one `<span class="ln">` per line, tokens in coloured spans.

    Lines whose 1-based numbers are in `marked` become `<mark class="ln">`.
    """
    rows, open_quote = [], None
    for number, line in enumerate(_NEWLINES.sub("\n", code).rstrip().split("\n"), 1):
        text, open_quote = _line(line, open_quote)
        tag = "mark" if number in marked else "span"
        rows.append(f'<{tag} class="ln">{text}</{tag}>')
    return "\n".join(rows)


@functools.lru_cache(maxsize=8192)
def _line(line: str, open_quote: str | None) -> tuple[str, str | None]:
    """One line as HTML, and the triple quote still open at its end, given the one at its start."""
    pieces, position = [], 0
    if open_quote:
        end = line.find(open_quote)
        if end < 0:
            return f'<span class="t-s">{html.escape(line)}</span>', open_quote
        position = end + 3
        pieces.append(f'<span class="t-s">{html.escape(line[:position])}</span>')
        open_quote = None
    defining = False
    for match in _TOKENS.finditer(line, position):
        kind, text = match.lastgroup, match.group()
        if kind == "w":
            if defining:
                kind = "d"
            elif text in _KEYWORDS:
                kind = "k"
            elif text in _CONSTANTS:
                kind = "n"
            elif text in _BUILTINS:
                kind = "b"
            else:
                defining = False
                continue
            defining = text in ("def", "class")
        else:
            defining = False
            if kind == "s" and (opening := _OPENING.match(text)):
                quote = opening.group(1)
                if len(text) < opening.end() + 3 or not text.endswith(quote):
                    open_quote = quote
            text = html.escape(text)
        pieces.append(html.escape(line[position : match.start()]))
        pieces.append(f'<span class="t-{kind}">{text}</span>')
        position = match.end()
    pieces.append(html.escape(line[position:]))
    return "".join(pieces), open_quote
