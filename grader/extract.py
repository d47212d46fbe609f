"""Extract each graded function, with what it needs, from a submission's code cells.

A graded function's program is: the imports and the student's own helpers it uses from other
cells, then the definitions of its graded cell. Statements that run code are left out.
"""

from __future__ import annotations

import ast
import builtins
import functools
import re
from dataclasses import dataclass
from typing import Any

from grader.read import Cell

_MARKER = re.compile(r"^\s*#\s*graded\s*function\b[\s:]*([A-Za-z_]\w*)?", re.I | re.M)
_MAGIC = re.compile(r"^([ \t]*)(?:[%!]|\w+\s*=\s*[%!]|[\w.]+\?\??[ \t]*$).*$", re.M)
_BUILTINS = frozenset(dir(builtins))
_IDENTIFIER = re.compile(r"[^\W\d]\w*")
_DEF = re.compile(r"^(?:async[ \t]+)?def[ \t]+([^\W\d]\w*)[ \t]*\(", re.M)
_HEAD = re.compile(
    r"^(?:(?:async[ \t]+)?def|class)[ \t]+([^\W\d]\w*)"
    r"|^([^\W\d]\w*)[ \t]*(?::[^\n=]*)?=(?!=)"
    r"|^((?:from|import)[ \t][^\n(]*(?:\([^)]*\))?)",
    re.M,
)


@dataclass(frozen=True)
class Chunk:
    """Source lines of one cell, placed at their original line numbers when compiled."""

    cell: int
    first_line: int
    code: str
    optional: bool = False


@dataclass(frozen=True)
class Extraction:
    function: str
    status: str  # "found", "missing" or "syntax_error"
    cell: int | None = None
    code: str = ""
    chunks: tuple[Chunk, ...] = ()
    message: str = ""


class _ParsedCell:
    """A code cell, parsed only when something in it is needed."""

    def __init__(self, cell: Cell) -> None:
        self.cell = cell
        self.source, markers, self.heads, self.functions = _cached(_read_cell, cell.source)
        self.marker_names = list(markers)

    @functools.cached_property
    def parsed(self) -> _Parsed:
        return _cached(_parse, self.source)

    @property
    def tree(self) -> ast.Module | None:
        return self.parsed.tree

    def defines(self, name: str) -> bool:
        return name in self.functions


# Cells repeat across a class (the template's own cells, test calls): each text is read once.
_CACHED_CELL_CHARS = 20_000


def _cached(function: Any, text: str) -> Any:
    """`function(text)`, remembered unless the text is too large to keep."""
    return (function if len(text) <= _CACHED_CELL_CHARS else function.__wrapped__)(text)


@functools.lru_cache(maxsize=1024)
def _read_cell(
    text: str,
) -> tuple[str, tuple[str | None, ...], frozenset[str], frozenset[str]]:
    """The cell without magics, its marker names, the names its top level may bind, and the
    functions it defines at top level."""
    source = strip_magics(text)
    markers = tuple(m.group(1) for m in _MARKER.finditer(source))
    heads = set()
    for match in _HEAD.finditer(source):
        defined, assigned, imported = match.groups()
        heads.update(_IDENTIFIER.findall(imported) if imported else [defined or assigned])
    return source, markers, frozenset(heads), frozenset(_DEF.findall(source))


@dataclass(frozen=True)
class _Parsed:
    """A cell's syntax tree (shared, never modified) or the reason it has none, and, by name,
    the last top-level import or helper definition binding each name."""

    tree: ast.Module | None
    error: SyntaxError | None
    providers: dict[str, ast.stmt]


@functools.lru_cache(maxsize=1024)
def _parse(source: str) -> _Parsed:
    try:
        tree = ast.parse(source)
    except SyntaxError as problem:
        return _Parsed(None, problem, {})
    except ValueError as problem:  # e.g. a NUL byte in the source
        return _Parsed(None, SyntaxError(str(problem)), {})
    except (RecursionError, MemoryError):
        return _Parsed(None, SyntaxError("the code is nested too deeply to be read"), {})
    providers: dict[str, ast.stmt] = {}
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom) or _is_definition(node, helpers=True):
            providers.update(dict.fromkeys(_bound_names(node), node))
    return _Parsed(tree, None, providers)


def strip_magics(source: str) -> str:
    """Replace IPython magics, shell escapes and `?` help with `pass`, keeping line numbers."""
    return _MAGIC.sub(lambda m: f"{m.group(1)}pass", source.replace("\r\n", "\n"))


def extract(
    cells: tuple[Cell, ...],
    graded: tuple[str, ...],
    provided: frozenset[str],
    referenced: tuple[str, ...] | None = None,
) -> dict[str, Extraction]:
    """Find every graded function in the cells; each gets an `Extraction`, found or not.

    Calls to the graded functions in `referenced` (default: all) are answered by a reference,
    so they are not extracted; other graded functions come from the student's own cells.
    """
    external = graded if referenced is None else referenced
    parsed = [_ParsedCell(cell) for cell in cells]
    binders: dict[str, list[_ParsedCell]] = {}
    for cell in parsed:
        for name in cell.heads:
            binders.setdefault(name, []).append(cell)
    return {name: _extract_one(name, parsed, binders, external, provided) for name in graded}


def _graded_cell(name: str, parsed: list[_ParsedCell]) -> _ParsedCell | None:
    marked = [p for p in parsed if name in p.marker_names]
    for choice in (
        [p for p in marked if p.defines(name)],
        [p for p in parsed if None in p.marker_names and p.defines(name)],
        [p for p in parsed if p.defines(name)],
    ):
        if choice:
            return choice[-1]
    return None


def _provider(name: str, binders: dict[str, list[_ParsedCell]], home: _ParsedCell) -> tuple | None:
    """The last top-level import or helper definition of `name` outside the graded cell."""
    for cell in reversed(binders.get(name, ())):
        node = cell.parsed.providers.get(name) if cell is not home else None
        if node is not None:
            return cell, node
    return None


def _extract_one(
    name: str,
    parsed: list[_ParsedCell],
    binders: dict[str, list[_ParsedCell]],
    graded: tuple[str, ...],
    provided: frozenset[str],
) -> Extraction:
    home = _graded_cell(name, parsed)
    if home is None:
        return Extraction(
            name,
            "missing",
            message=f"No function named `{name}` was found: keep the cell that starts with "
            f"`# GRADED FUNCTION: {name}` and define `def {name}(...)` in it.",
        )
    number = home.cell.number
    if home.tree is None:
        error = home.parsed.error
        return Extraction(
            name,
            "syntax_error",
            cell=number,
            code=home.cell.source,
            message=f"{type(error).__name__} in cell {number}"
            + (f", line {error.lineno}" if error.lineno else "")
            + f": {error.msg}",
        )
    kept = [node for node in home.tree.body if _is_definition(node)]
    own = set().union(*(_bound_names(node) for node in kept))
    needed = _free_names(kept, home) - own - _BUILTINS
    external = (provided | set(graded)) - own
    chunks = _dependencies(needed - external, binders, home, external)
    chunks.extend(_chunk(home, node) for node in kept)
    return Extraction(name, "found", cell=number, code=home.cell.source, chunks=tuple(chunks))


def _dependencies(
    wanted: set[str],
    binders: dict[str, list[_ParsedCell]],
    home: _ParsedCell,
    external: set[str],
) -> list[Chunk]:
    """Imports and helper definitions from other cells that the graded code uses, transitively."""
    taken: dict[int, Chunk] = {}
    queue, seen = list(wanted & binders.keys()), set()
    while queue:
        name = queue.pop()
        if name in seen:
            continue
        seen.add(name)
        found = _provider(name, binders, home)
        if found is None:
            continue
        cell, node = found
        if id(node) not in taken:
            taken[id(node)] = _chunk(cell, node)
            queue.extend((_free_names([node], cell) & binders.keys()) - _BUILTINS - external)
    return sorted(taken.values(), key=lambda c: (c.cell, c.first_line))


def _is_definition(node: ast.stmt, helpers: bool = False) -> bool:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return True
    if not helpers and isinstance(node, ast.Import | ast.ImportFrom):
        return True
    if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
        try:
            ast.literal_eval(node.value)
        except ValueError:
            return False
        return True
    return False


def _bound_names(node: ast.stmt) -> set[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    if isinstance(node, ast.Import | ast.ImportFrom):
        return {(alias.asname or alias.name).split(".")[0] for alias in node.names} - {"*"}
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AnnAssign):
        targets = [node.target]
    else:
        return set()
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}


def _free_names(nodes: list[ast.stmt], cell: _ParsedCell) -> set[str]:
    """Every identifier written in the nodes' source: a cheap superset of the names they use."""
    lines = cell.source.splitlines()
    return {
        word
        for node in nodes
        for word in _IDENTIFIER.findall("\n".join(lines[node.lineno - 1 : node.end_lineno]))
    }


def _chunk(cell: _ParsedCell, node: ast.stmt) -> Chunk:
    decorators = getattr(node, "decorator_list", [])
    first = min([node.lineno] + [d.lineno for d in decorators])
    lines = cell.source.splitlines()[first - 1 : node.end_lineno]
    optional = isinstance(node, ast.Import | ast.ImportFrom)
    return Chunk(cell.cell.number, first, "\n".join(lines) + "\n", optional)
