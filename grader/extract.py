"""Extract each graded function, with what it needs, from a submission's code cells.

A graded function gets what Jupyter would have bound when the notebook ran top to bottom, as
far as the function uses it: its definition and every top-level statement binding a name it
reads, directly or through the names those statements read, in notebook order. Statements
that bind nothing it needs (test calls, prints, plots) are left out, so they never run.
"""

from __future__ import annotations

import ast
import bisect
import builtins
import functools
import re
import symtable
from dataclasses import dataclass
from typing import Any, NamedTuple

from grader.i18n import N_, _, ngettext, sentences
from grader.ipython_syntax import cell_magic, is_python, neutralise
from grader.read import Cell

_MARKER = re.compile(r"^\s*#\s*graded\s*function\b[\s:]*([A-Za-z_]\w*)?", re.I | re.M)
_BUILTINS = frozenset(dir(builtins))
_IDENTIFIER = re.compile(r"[^\W\d]\w*")
_DEF = re.compile(r"^(?:async[ \t]+)?def[ \t]+([^\W\d]\w*)[ \t]*\(", re.M)
_TOP_LEVEL_DEFINITION = re.compile(r"^(?:(?:async[ \t]+)?def|class)[ \t]+([^\W\d]\w*)", re.M)
_TOP_LEVEL_IMPORT = re.compile(r"^(?:from|import)[ \t][^\n(]*(?:\([^)]*\))?", re.M)
_STAR_IMPORT = re.compile(r"^[ \t]*from[ \t]+[\w.]+[ \t]+import[ \t]*\*", re.M)
# Statements that may leave a name they bind as it was (a branch not taken, an empty loop) or
# change it from its old value: whoever needs them needs that name's earlier binding too.
_REBINDING = (
    ast.AugAssign, ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try,
    ast.TryStar, ast.Match,
)  # fmt: skip


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
    note: str = ""  # which of several definitions was graded, and why


def strip_magics(source: str) -> str:
    """The cell as Python: IPython magics, shell escapes and help become `pass`, keeping lines."""
    return neutralise(source)


# --- One cell, read and parsed once per distinct text ------------------------------------------


class _Statement(NamedTuple):
    """A top-level statement: its lines, the names it binds, and what kind of binding it is."""

    first_line: int  # its first decorator's, for a decorated definition
    last_line: int
    binds: frozenset[str]
    kind: str  # "definition" (def, class), "import", "star" (from m import *) or "other"
    rereads: bool = False  # `x += 1`, or an `if`/`for`/`try` that may leave a name as it was


class _Uses(NamedTuple):
    """The global names a statement reads: when it runs (`now`), and later, when a function it
    defines is called (`later`); and the globals its functions assign (`writes`)."""

    now: frozenset[str]
    later: frozenset[str]
    writes: frozenset[str]


class _Parsed:
    """A cell's top-level statements, or the reason it has none. What each statement reads is
    found the first time it is asked for, as most statements are never needed."""

    def __init__(self, source: str) -> None:
        self.lines = source.splitlines()
        self.error: SyntaxError | None = None
        self.statements: tuple[_Statement, ...] = ()
        self.binders: dict[str, list[int]] = {}
        self.stars: list[int] = []
        self._uses: dict[int, _Uses] = {}
        try:
            tree = ast.parse(source)
        except SyntaxError as problem:
            self.error = problem
            return
        except ValueError as problem:  # e.g. a NUL byte in the source
            self.error = SyntaxError(str(problem))
            return
        except (RecursionError, MemoryError):
            self.error = SyntaxError(TOO_DEEP)
            return
        walrus = ":=" in source
        self.statements = tuple(_statement(node, walrus) for node in tree.body)
        for index, statement in enumerate(self.statements):
            for name in statement.binds:
                self.binders.setdefault(name, []).append(index)
        self.stars = [i for i, s in enumerate(self.statements) if s.kind == "star"]

    def uses(self, index: int) -> _Uses:
        found = self._uses.get(index)
        if found is None:
            statement = self.statements[index]
            segment = "\n".join(self.lines[statement.first_line - 1 : statement.last_line])
            found = self._uses[index] = _uses(segment, statement)
        return found


# Cells repeat across a class (the template's own cells, test calls): each text is read once.
_CACHED_CELL_CHARS = 20_000


def _cached(function: Any, text: str) -> Any:
    """`function(text)`, remembered unless the text is too large to keep."""
    return (function if len(text) <= _CACHED_CELL_CHARS else function.__wrapped__)(text)


@functools.lru_cache(maxsize=1024)
def _read_cell(text: str) -> tuple[str, tuple[str | None, ...], frozenset[str]]:
    """The cell as Python, its marker names, and the functions it defines at top level."""
    source = strip_magics(text)
    markers = tuple(m.group(1) for m in _MARKER.finditer(source))
    return source, markers, frozenset(_DEF.findall(source))


@functools.lru_cache(maxsize=1024)
def _parse(source: str) -> _Parsed:
    return _Parsed(source)


@functools.lru_cache(maxsize=1024)
def _top_level_heads(source: str) -> frozenset[str]:
    """Every name a top-level `def`, `class` or import of the cell may bind (a superset)."""
    imports = _TOP_LEVEL_IMPORT.findall(source)
    return frozenset(_TOP_LEVEL_DEFINITION.findall(source)).union(
        *map(_IDENTIFIER.findall, imports)
    )


def _statement(node: ast.stmt, walrus: bool) -> _Statement:
    decorators = getattr(node, "decorator_list", [])
    first = min([node.lineno] + [d.lineno for d in decorators])
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return _Statement(first, node.end_lineno, frozenset({node.name}), "definition")
    if isinstance(node, ast.Import | ast.ImportFrom):
        names = {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        kind = "star" if "*" in names else "import"
        return _Statement(first, node.end_lineno, frozenset(names - {"*"}), kind)
    if isinstance(node, ast.Assign) and not walrus:
        names = set().union(*map(_target_names, node.targets))
    elif isinstance(node, ast.AugAssign | ast.AnnAssign) and not walrus:
        names = _target_names(node.target) if node.value is not None else set()
    elif isinstance(node, ast.Expr) and not walrus:
        names = set()
    else:
        names = _bound_anywhere(node)
    rereads = isinstance(node, _REBINDING)
    return _Statement(first, node.end_lineno, frozenset(names), "other", rereads)


def _target_names(target: ast.expr) -> set[str]:
    """The names an assignment target binds, or changes in place (`cfg["eps"] = ...`)."""
    if isinstance(target, ast.Name):
        return {target.id}
    if isinstance(target, ast.Tuple | ast.List):
        return set().union(*map(_target_names, target.elts))
    if isinstance(target, ast.Starred):
        return _target_names(target.value)
    while isinstance(target, ast.Attribute | ast.Subscript):
        target = target.value
    return {target.id} if isinstance(target, ast.Name) else set()


def _bound_anywhere(node: ast.AST) -> set[str]:
    """The module-level names a compound statement binds in any of its branches."""
    names: set[str] = set()
    stack = [node]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
            continue
        if isinstance(
            node, ast.Lambda | ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp
        ):
            continue  # their names are their own
        if isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names if a.name != "*")
        elif isinstance(node, ast.Name | ast.Attribute | ast.Subscript | ast.Starred) and (
            isinstance(node.ctx, ast.Store | ast.Del)
        ):
            names.update(_target_names(node))
            continue
        elif isinstance(node, ast.NamedExpr):
            names.add(node.target.id)
        elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
            names.add(node.name)
        stack.extend(ast.iter_child_nodes(node))
    return names


def _uses(segment: str, statement: _Statement) -> _Uses:
    """What a statement reads, from the compiler's own symbol tables: a function's parameters
    and locals are not globals, so a test cell's `x = 2` is not taken for its `x`."""
    try:
        table = symtable.symtable(segment, "cell", "exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        words = frozenset(_IDENTIFIER.findall(segment))
        return _Uses(words, words, frozenset())
    now = {name for name in table.get_identifiers() if table.lookup(name).is_referenced()}
    if statement.rereads:
        now |= statement.binds
    later: set[str] = set()
    writes: set[str] = set()
    nested = table.get_children()
    while nested:
        scope = nested.pop()
        nested.extend(scope.get_children())
        if isinstance(scope, symtable.Function):  # its globals, without a lookup per local
            names = scope.get_globals()
        else:
            names = [name for name in scope.get_identifiers() if scope.lookup(name).is_global()]
        later.update(names)
        if "global" in segment:
            writes.update(name for name in names if _declared_and_assigned(scope.lookup(name)))
    # A nested scope may run at once (a comprehension, a class body, a function called here)
    # or later: its globals are needed at both times.
    return _Uses(frozenset(now | later), frozenset(later), frozenset(writes))


def _declared_and_assigned(symbol: symtable.Symbol) -> bool:
    return symbol.is_declared_global() and symbol.is_assigned()


# --- The notebook -------------------------------------------------------------------------------


class _Cell:
    """A code cell as Jupyter runs it, parsed only when something in it is needed."""

    def __init__(self, cell: Cell, index: int) -> None:
        self.cell, self.index = cell, index
        self.source, self.marker_names, self.functions = _cached(_read_cell, cell.source)

    @functools.cached_property
    def parsed(self) -> _Parsed:
        return _cached(_parse, self.source)

    def defines(self, name: str) -> bool:
        return name in self.functions


_Place = tuple[int, int]  # (cell index, statement index): a statement's position in the notebook


class _Notebook:
    """The cells in order, and which statement binds a name as of any point in the notebook."""

    def __init__(self, cells: tuple[Cell, ...], assignment_names: frozenset[str]) -> None:
        self.cells = [_Cell(cell, index) for index, cell in enumerate(cells)]
        self.end: _Place = (len(self.cells), 0)
        self.assignment_names = assignment_names  # never a student's helper that sets globals
        self._mentions: dict[str, list[_Cell]] = {}
        self._writers: dict[str, frozenset[str]] = {}
        self._defining: dict[str, list[_Cell]] = {}
        self._stars: list[_Place] | None = None

    def uses(self, place: _Place) -> _Uses:
        return self.cells[place[0]].parsed.uses(place[1])

    def statement(self, place: _Place) -> _Statement:
        return self.cells[place[0]].parsed.statements[place[1]]

    def mentions(self, *names: str) -> list[_Cell]:
        """The cells whose text contains one of the names: the only ones that can bind them."""
        if len(names) > 1:
            return [c for c in self.cells if any(name in c.source for name in names)]
        found = self._mentions.get(names[0])
        if found is None:
            found = self._mentions[names[0]] = [c for c in self.cells if names[0] in c.source]
        return found

    def defining(self, name: str) -> list[_Cell]:
        """The cells whose top level may define or import `name`: only those can replace a
        builtin. Told from the text, so the many cells calling `print` are not parsed."""
        found = self._defining.get(name)
        if found is None:
            found = self._defining[name] = [
                cell
                for cell in self.mentions(name)
                if name in _cached(_top_level_heads, cell.source)
            ]
        return found

    def last_binding(
        self, name: str, before: _Place, within: _Cell | None = None, definitions_only: bool = False
    ) -> _Place | None:
        """The last statement before `before` that binds `name` (only in `within`, if given),
        counting a call to a student's function that assigns it as a `global`."""
        writers = frozenset() if within or definitions_only else self.writers(name)
        if within:
            candidates = [within]
        elif definitions_only:
            candidates = self.defining(name)
        else:
            candidates = self.mentions(name, *writers)
        for cell in reversed(candidates):
            if cell.index > before[0]:
                continue
            parsed = cell.parsed
            limit = before[1] if cell.index == before[0] else len(parsed.statements)
            index = _last_in_cell(parsed, name, limit, definitions_only, writers)
            if index is not None:
                return cell.index, index
        return None

    def writers(self, name: str) -> frozenset[str]:
        """The student's functions that assign `name` as a `global`: calling one binds it."""
        found = self._writers.get(name)
        if found is None:
            found = self._writers[name] = frozenset(
                function
                for cell in self.mentions(name)
                if "global" in cell.source
                for index, statement in enumerate(cell.parsed.statements)
                if statement.kind == "definition"
                for function in statement.binds - self.assignment_names
                if name in cell.parsed.uses(index).writes
            )
        return found

    def star_imports(self, before: _Place) -> list[_Place]:
        """The `from m import *` statements before `before`."""
        if self._stars is None:
            self._stars = [
                (cell.index, index)
                for cell in self.cells
                if "*" in cell.source and _STAR_IMPORT.search(cell.source)
                for index in cell.parsed.stars
            ]
        return [place for place in self._stars if place < before]


def _last_in_cell(
    parsed: _Parsed, name: str, limit: int, definitions_only: bool, writers: frozenset[str]
) -> int | None:
    """The last statement of a cell before statement `limit` that binds `name`."""
    indices = parsed.binders.get(name, [])
    found = None
    for position in range(bisect.bisect_left(indices, limit) - 1, -1, -1):
        index = indices[position]
        if not definitions_only or parsed.statements[index].kind in ("definition", "import"):
            found = index
            break
    if writers:  # a later call to a function assigning the name as a global binds it too
        for index in range(limit - 1, -1 if found is None else found, -1):
            if parsed.statements[index].kind == "other" and writers & parsed.uses(index).now:
                return index
    return found


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
    external = frozenset(graded if referenced is None else referenced) | provided
    notebook = _Notebook(cells, frozenset(graded) | provided)
    return {name: _extract_one(name, notebook, external) for name in graded}


def _extract_one(name: str, notebook: _Notebook, external: frozenset[str]) -> Extraction:
    home, reason = _graded_cell(name, notebook.cells)
    if home is None:
        return Extraction(name, "missing", message=_missing_message(name, notebook.cells))
    number = home.cell.number
    note = _redefinition_note(name, home, reason, notebook.cells)
    error = home.parsed.error
    if error is not None:
        return Extraction(
            name,
            "syntax_error",
            cell=number,
            code=home.cell.source,
            # Python's own words as it says them; ours (a parse kept for any language) in the
            # active language.
            message=_syntax_message(type(error).__name__, number, error.lineno, _(error.msg)),
            note=note,
        )
    places = _Program(notebook, home, name, external).places()
    return Extraction(
        name,
        "found",
        cell=number,
        code=home.cell.source,
        chunks=_chunks(notebook, places),
        note=note,
    )


class _Program:
    """The statements a graded function needs, found by following each name it reads back to
    the statement that binds it at that point of the notebook, and so on for those."""

    def __init__(self, notebook: _Notebook, home: _Cell, name: str, external: frozenset[str]):
        self.notebook, self.home, self.name = notebook, home, name
        own = set(home.parsed.binders)
        # Names the assignment answers come from it, unless the graded cell binds them itself.
        self.skipped = external - own
        self.home_only = (external & own) | {name}
        self._found: dict[tuple[str, _Place], list[_Place]] = {}

    def places(self) -> list[_Place]:
        """Every needed statement, in notebook order (none if the cell binds the function only
        in text the parser does not see as a definition, e.g. a docstring)."""
        end = self.notebook.end
        root = self.notebook.last_binding(self.name, end, within=self.home)
        kept: set[_Place] = set()
        done: set[tuple[_Place, _Place]] = set()
        queue = [(root, end)] if root else []
        while queue:
            place, demanded = queue.pop()
            if (place, demanded) in done:
                continue
            done.add((place, demanded))
            kept.add(place)
            uses = self.notebook.uses(place)
            # What it reads as it runs, at its place; what its functions read when called:
            # at the moment that needed it, and at the end, when the graded function runs.
            wanted = [(name, place) for name in uses.now]
            wanted += [(name, moment) for moment in {demanded, end} for name in uses.later]
            for name, moment in wanted:
                queue.extend((found, moment) for found in self.binding(name, moment))
        return sorted(kept)

    def binding(self, name: str, before: _Place) -> list[_Place]:
        """The statements giving `name` its value just before `before`: its last binding; or,
        for a name nothing binds, the star imports (`from numpy import *`) run by then."""
        if name in self.skipped:
            return []
        found = self._found.get((name, before))
        if found is None:
            within = self.home if name in self.home_only else None
            # A builtin is replaced only by a student's own definition or import.
            builtin = name in _BUILTINS
            last = self.notebook.last_binding(name, before, within, definitions_only=builtin)
            if last is not None:
                found = [last]
            elif builtin or within or self.notebook.last_binding(name, self.notebook.end):
                found = []
            else:
                found = self.notebook.star_imports(before)
            self._found[name, before] = found
        return found


def _chunks(notebook: _Notebook, places: list[_Place]) -> tuple[Chunk, ...]:
    """One chunk per statement, imports optional; statements sharing a line share a chunk."""
    spans: list[tuple[_Cell, int, int, bool]] = []
    for place in places:
        cell, statement = notebook.cells[place[0]], notebook.statement(place)
        first, last = statement.first_line, statement.last_line
        imports = statement.kind in ("import", "star")
        if spans and spans[-1][0] is cell and first <= spans[-1][2]:
            _, first, previous_last, previous_imports = spans.pop()
            last, imports = max(last, previous_last), imports and previous_imports
        spans.append((cell, first, last, imports))
    return tuple(
        Chunk(
            cell.cell.number, first, "\n".join(cell.parsed.lines[first - 1 : last]) + "\n", optional
        )
        for cell, first, last, optional in spans
    )


# --- Which definition is graded ---------------------------------------------------------------


def _graded_cell(name: str, cells: list[_Cell]) -> tuple[_Cell | None, str]:
    """The cell whose definition is graded, and the rule that chose it: the last marked cell
    defining the function, else a cell with an unnamed marker, else the last definition."""
    for reason, choice in (
        ("marked", [c for c in cells if name in c.marker_names and c.defines(name)]),
        ("unnamed", [c for c in cells if None in c.marker_names and c.defines(name)]),
        ("last", [c for c in cells if c.defines(name)]),
    ):
        if choice:
            return choice[-1], reason
    return None, ""


def _redefinition_note(name: str, home: _Cell, reason: str, cells: list[_Cell]) -> str:
    """One sentence for the student when other cells define the graded function too."""
    others = [c for c in cells if c is not home and c.defines(name)]
    if not others:
        return ""
    numbers = [str(c.cell.number) for c in others]
    listed = numbers[0]
    if len(numbers) > 1:
        listed = _("{cells} and {last}").format(cells=", ".join(numbers[:-1]), last=numbers[-1])
    if all(c.index > home.index for c in others):
        said = ngettext(
            "Cell {cells} defines `{name}` again",
            "Cells {cells} define `{name}` again",
            len(numbers),
        )
    else:
        said = ngettext(
            "Cell {cells} also defines `{name}`", "Cells {cells} also define `{name}`", len(numbers)
        )
    marker = {"marked": f"# GRADED FUNCTION: {name}", "unnamed": "# GRADED FUNCTION"}.get(reason)
    if marker is None:
        why = _("the last one")
    elif any((name if reason == "marked" else None) in c.marker_names for c in others):
        why = _("the last cell marked `{marker}`").format(marker=marker)
    else:
        why = _("the cell marked `{marker}`").format(marker=marker)
    return _("{said}; the definition in cell {cell}, {why}, was graded.").format(
        said=said.format(cells=listed, name=name), cell=home.cell.number, why=why
    )


def _missing_message(name: str, cells: list[_Cell]) -> str:
    message = _(
        "No function named `{name}` was found: keep the cell that starts with "
        "`# GRADED FUNCTION: {name}` and define `def {name}(...)` in it."
    ).format(name=name)
    for cell in cells:
        text = cell.cell.source
        if not is_python(text) and name in _DEF.findall(text):
            message = sentences(
                message,
                _(
                    "Cell {cell} starts with `%%{magic}`, so Jupyter does not run it as Python: "
                    "remove that line."
                ).format(cell=cell.cell.number, magic=cell_magic(text)),
            )
    return message


TOO_DEEP = N_("the code is nested too deeply to be read")


def _syntax_message(kind: str, cell: int, line: int | None, problem: str) -> str:
    """Where a graded cell does not parse, and Python's words for why."""
    if line:
        return _("{error} in cell {cell}, line {line}: {problem}").format(
            error=kind, cell=cell, line=line, problem=problem
        )
    return _("{error} in cell {cell}: {problem}").format(error=kind, cell=cell, problem=problem)
