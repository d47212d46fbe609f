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

from grader.read import Cell

_MARKER = re.compile(r"^\s*#\s*graded\s*function\b[\s:]*([A-Za-z_]\w*)?", re.I | re.M)
_MAGIC = re.compile(r"^([ \t]*)(?:[%!]|\w+\s*=\s*[%!]).*$", re.M)
_BUILTINS = frozenset(dir(builtins))
_IDENTIFIER = re.compile(r"[^\W\d]\w*")


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


@dataclass
class _ParsedCell:
    cell: Cell
    source: str
    tree: ast.Module | None
    error: SyntaxError | None
    marker_names: list[str | None]

    def defines(self, name: str) -> bool:
        if self.tree is None:
            return re.search(rf"^def\s+{re.escape(name)}\s*\(", self.source, re.M) is not None
        return name in self.top_level_names

    @functools.cached_property
    def top_level_names(self) -> set[str]:
        return set().union(*(_bound_names(node) for node in self.tree.body))


def strip_magics(source: str) -> str:
    """Replace IPython magics and shell escapes with `pass`, keeping line numbers."""
    return _MAGIC.sub(lambda m: f"{m.group(1)}pass", source.replace("\r\n", "\n"))


def extract(
    cells: tuple[Cell, ...], graded: tuple[str, ...], provided: frozenset[str]
) -> dict[str, Extraction]:
    """Find every graded function in the cells; each gets an `Extraction`, found or not."""
    parsed = [_parse(cell) for cell in cells]
    providers: dict[str, tuple[_ParsedCell, ast.stmt]] = {}
    for cell in parsed:
        for node in cell.tree.body if cell.tree else ():
            if isinstance(node, ast.Import | ast.ImportFrom) or _is_definition(node, helpers=True):
                for bound in _bound_names(node):
                    providers[bound] = (cell, node)
    return {name: _extract_one(name, parsed, providers, graded, provided) for name in graded}


def _parse(cell: Cell) -> _ParsedCell:
    source = strip_magics(cell.source)
    markers = [m.group(1) for m in _MARKER.finditer(source)]
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError) as problem:
        error = problem if isinstance(problem, SyntaxError) else SyntaxError(str(problem))
        return _ParsedCell(cell, source, None, error, markers)
    return _ParsedCell(cell, source, tree, None, markers)


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


def _extract_one(
    name: str,
    parsed: list[_ParsedCell],
    providers: dict[str, tuple[_ParsedCell, ast.stmt]],
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
        error = home.error
        return Extraction(
            name,
            "syntax_error",
            cell=number,
            code=home.cell.source,
            message=f"{type(error).__name__} in cell {number}, line {error.lineno}: {error.msg}",
        )
    kept = [node for node in home.tree.body if _is_definition(node)]
    own = set().union(*(_bound_names(node) for node in kept))
    needed = _free_names(kept, home) - own - _BUILTINS
    external = (provided | set(graded)) - own
    chunks = _dependencies(needed - external, providers, home, external)
    chunks.extend(_chunk(home, node) for node in kept)
    return Extraction(name, "found", cell=number, code=home.cell.source, chunks=tuple(chunks))


def _dependencies(
    wanted: set[str],
    providers: dict[str, tuple[_ParsedCell, ast.stmt]],
    home: _ParsedCell,
    external: set[str],
) -> list[Chunk]:
    """Imports and helper definitions from other cells that the graded code uses, transitively."""
    taken: dict[int, Chunk] = {}
    queue, seen = list(wanted), set()
    while queue:
        name = queue.pop()
        if name in seen or name not in providers:
            continue
        seen.add(name)
        cell, node = providers[name]
        if cell is not home and id(node) not in taken:
            taken[id(node)] = _chunk(cell, node)
            queue.extend(_free_names([node], cell) - _BUILTINS - external)
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
