"""Syntax highlighting of student code for the HTML reports (escaped, inline-styled)."""

from __future__ import annotations

from functools import cache
from typing import Any

from markupsafe import Markup


@cache
def _tools() -> tuple[Any, Any]:
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer

    return PythonLexer(), HtmlFormatter(nowrap=True, noclasses=True, style="friendly")


def highlight(code: str) -> Markup:
    """Student code as safe HTML spans; pygments escapes every character it is given."""
    from pygments import highlight as render

    lexer, formatter = _tools()
    return Markup(render(code, lexer, formatter))
