"""Read submissions: find the files, decode notebooks (v3, v4) and scripts into code cells.

A file that cannot be read becomes a `Submission` with an `error`, never an exception.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

MAX_FILE_BYTES = 20 * 1024 * 1024
SUFFIXES = (".ipynb", ".py")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_SCRIPT_CELL = re.compile(r"^# (?:In\[[ \d]*\]:|%%)", re.MULTILINE)


@dataclass(frozen=True)
class Cell:
    number: int
    source: str


@dataclass(frozen=True)
class Submission:
    id: str
    source: str
    cells: tuple[Cell, ...] = ()
    error: str | None = None
    content: bytes = field(default=b"", repr=False)


class Unreadable(Exception):
    """The file is not a notebook or script we can grade; the message says why."""


def find_files(paths: Iterable[str]) -> list[tuple[str, Path]]:
    """Every submission file under the given paths, as (path as given, resolved path), sorted."""
    found: list[tuple[str, Path]] = []
    for given in paths:
        root = Path(given)
        if not root.is_dir():
            found.append((given, root))
            continue
        in_root = []
        for folder, folders, files in os.walk(root):  # symbolic links to folders are not followed
            folders[:] = [name for name in folders if not name.startswith(".")]
            for name in files:
                if not name.startswith(".") and Path(name).suffix in SUFFIXES:
                    in_root.append(Path(folder, name))
        found.extend((str(path), path) for path in sorted(in_root))
    return found


def unique_ids(sources: Iterable[str]) -> Iterator[str]:
    """A file-name-safe, unique id per source: its stem, with a counter where stems collide."""
    seen: set[str] = set()
    for source in sources:
        stem = (
            re.sub(r"[^\w.-]+", "_", Path(source).stem, flags=re.ASCII).strip("._") or "submission"
        )
        candidate, n = stem[:80], 2
        while candidate.lower() in seen:
            candidate, n = f"{stem[:80]}-{n}", n + 1
        seen.add(candidate.lower())
        yield candidate


def read_submission(submission_id: str, source: str, path: Path) -> Submission:
    """Read one file into code cells, or into a plain-language error."""
    try:
        content = _read_bytes(path)
    except Unreadable as problem:
        return Submission(submission_id, source, error=str(problem))
    try:
        cells = parse(content, path.suffix)
    except Unreadable as problem:
        return Submission(submission_id, source, error=str(problem), content=content)
    return Submission(submission_id, source, cells=cells, content=content)


def _read_bytes(path: Path) -> bytes:
    try:
        info = path.lstat()
    except FileNotFoundError:
        raise Unreadable("The file does not exist.") from None
    except OSError as problem:
        raise Unreadable(f"The file could not be opened ({problem.strerror}).") from None
    if stat.S_ISLNK(info.st_mode):
        raise Unreadable("This is a symbolic link, not a file: submit the notebook itself.")
    if not stat.S_ISREG(info.st_mode):
        raise Unreadable("This is not a regular file.")
    if info.st_size > MAX_FILE_BYTES:
        raise Unreadable(
            f"The file is {info.st_size / 2**20:.0f} MiB, over the {MAX_FILE_BYTES // 2**20} MiB "
            "limit: clear the notebook's outputs and submit again."
        )
    # Not following a link, nor waiting on a FIFO, should the file be swapped since lstat().
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        descriptor = os.open(path, flags)
        try:
            chunks, size, want = [], 0, info.st_size + 1  # one read, and one to see the end
            while size <= MAX_FILE_BYTES and (chunk := os.read(descriptor, want)):
                chunks.append(chunk)
                size += len(chunk)
            return b"".join(chunks)
        finally:
            os.close(descriptor)
    except OSError as problem:
        raise Unreadable(f"The file could not be opened ({problem.strerror}).") from None


def parse(content: bytes, suffix: str) -> tuple[Cell, ...]:
    """Decode a notebook or script into its code cells."""
    if not content.strip():
        raise Unreadable("The file is empty.")
    if b"\0" in content[:8192]:
        raise Unreadable("This is a binary file, not a notebook (.ipynb) or Python script (.py).")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as problem:
        raise Unreadable(
            f"The file is not UTF-8 text (undecodable byte at position {problem.start})."
        ) from None
    if suffix == ".py":
        return _script_cells(text)
    return _notebook_cells(text)


def _script_cells(text: str) -> tuple[Cell, ...]:
    starts = [m.start() for m in _SCRIPT_CELL.finditer(text)] or [0]
    if starts[0] != 0:
        starts.insert(0, 0)
    bounds = zip(starts, starts[1:] + [len(text)], strict=True)
    pieces = [text[a:b] for a, b in bounds]
    return tuple(Cell(n, piece) for n, piece in enumerate(pieces, 1) if piece.strip())


def _notebook_cells(text: str) -> tuple[Cell, ...]:
    try:
        notebook = json.loads(text)
    except RecursionError:
        raise Unreadable("The notebook's JSON is nested too deeply to be a notebook.") from None
    except json.JSONDecodeError as problem:
        where = f"line {problem.lineno}, column {problem.colno}"
        raise Unreadable(
            f"The notebook is not valid JSON ({problem.msg} at {where}); it may be truncated "
            "or edited by hand. Re-download it from Jupyter (File > Download as > .ipynb)."
        ) from None
    if not isinstance(notebook, dict):
        raise Unreadable("The file is JSON but not a notebook: it has no cells.")
    version = notebook.get("nbformat")
    if version == 3 or (version is None and "worksheets" in notebook):
        raw_cells = [
            cell
            for sheet in _list(notebook.get("worksheets"))
            if isinstance(sheet, dict)
            for cell in _list(sheet.get("cells"))
        ]
        key = "input"
    elif version == 4 or (version is None and "cells" in notebook):
        raw_cells, key = _list(notebook.get("cells")), "source"
    elif isinstance(version, int):
        raise Unreadable(f"Notebook format version {version} is not supported (only 3 and 4).")
    else:
        raise Unreadable("The file is JSON but not a notebook: it has no cells.")
    cells = []
    for number, cell in enumerate(raw_cells, 1):
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            cells.append(Cell(number, _text(cell.get(key, ""))))
    return tuple(cells)


def _list(value: object) -> list:
    if not isinstance(value, list):
        raise Unreadable("The notebook's structure is damaged: its cells are not a list.")
    return value


def _text(source: object) -> str:
    if isinstance(source, list):
        try:
            source = "".join(source)
        except TypeError:  # an item that is not a string
            source = None
    if isinstance(source, str):
        return _LONE_SURROGATE.sub("\ufffd", source)
    raise Unreadable("The notebook's structure is damaged: a cell's source is not text.")
