"""Syntax highlighting of student code for the HTML reports: escaped, numbered lines, fast.

A single regular expression over Python's lexical classes; every character is escaped. Each
source line becomes its own element, so the stylesheet numbers lines and a line named in an
error message can be marked. Colours live in the report's stylesheet (classes `t-*`).
"""

from __future__ import annotations

import builtins
import html
import keyword
import re
from collections.abc import Collection

from markupsafe import Markup

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


def highlight(code: str, marked: Collection[int] = ()) -> Markup:
    """Student code as safe HTML: one `<span class="ln">` per line, tokens in coloured spans.

    Lines whose 1-based numbers are in `marked` become `<mark class="ln">`.
    """
    code = _NEWLINES.sub("\n", code).rstrip()
    pieces, position, defining = [], 0, False
    for match in _TOKENS.finditer(code):
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
            text = html.escape(text)
            if "\n" in text:
                text = text.replace("\n", f'</span>\n<span class="t-{kind}">')
        pieces.append(html.escape(code[position : match.start()]))
        pieces.append(f'<span class="t-{kind}">{text}</span>')
        position = match.end()
    pieces.append(html.escape(code[position:]))
    lines = "".join(pieces).split("\n")
    tags = ("span", "mark")
    return Markup(
        "\n".join(
            f'<{tags[n in marked]} class="ln">{line}</{tags[n in marked]}>'
            for n, line in enumerate(lines, 1)
        )
    )
