"""Syntax highlighting of student code for the HTML reports (escaped, inline-styled)."""

from __future__ import annotations

from markupsafe import Markup
from pygments import highlight as _render
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

_LEXER = PythonLexer()
_FORMATTER = HtmlFormatter(nowrap=True, noclasses=True, style="friendly")


def highlight(code: str) -> Markup:
    """Student code as safe HTML spans; pygments escapes every character it is given."""
    return Markup(_render(code, _LEXER, _FORMATTER))
