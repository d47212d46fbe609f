"""Read submissions: decode notebooks (v3, v4) and scripts into code cells.

A file (or an archive's member) that cannot be read becomes a `Submission` with an `error`,
never an exception.
Limits apply to code, not to files: a notebook's outputs (plots, printed text) never affect a
grade, so a large notebook is streamed with its outputs skipped unread, and only its code
cells count against `MAX_CODE_BYTES`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.i18n import N_, _

if TYPE_CHECKING:
    from grader.intake.identity import Student

MAX_CODE_BYTES = 2 * 2**20  # the code cells' total, in UTF-8; far above any real assignment
MAX_SCRIPT_BYTES = MAX_CODE_BYTES  # a script is all code
MAX_FILE_BYTES = 2**30  # no file is read beyond this, whatever it holds
WHOLE_READ_BYTES = 4 * 2**20  # notebooks up to this size are parsed at once, larger ones streamed
_CHUNK_BYTES = 2**20
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_SCRIPT_CELL = re.compile(r"^# (?:In\[[ \d]*\]:|%%)", re.MULTILINE)


def _code_too_large() -> str:
    return _(
        "The notebook's code cells hold more than {size} MiB of code, the most the grader reads. "
        "Data pasted into a cell is the usual cause: load it from a file instead, delete the "
        "cells the assignment does not ask for, and submit again."
    ).format(size=MAX_CODE_BYTES // 2**20)


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
    digest: bytes = field(default=b"", repr=False)  # SHA-256 of the bytes read, for resuming
    student: Student | None = None  # who it belongs to, when intake knows


class Format(Enum):
    """How a file's code is laid out, told by its name."""

    NOTEBOOK = "notebook"
    SCRIPT = "script"


# What browsers and LMSs do to a notebook's name: `.IPYNB`, and `.ipynb.txt` when a download
# is saved as text. Both are notebooks all the same.
_FORMATS = ((".ipynb", Format.NOTEBOOK), (".ipynb.txt", Format.NOTEBOOK), (".py", Format.SCRIPT))


def format_of(name: str) -> Format | None:
    """The format a file name announces, suffixes compared case-insensitively; None if neither."""
    lowered = name.lower()
    for suffix, found in _FORMATS:
        if lowered.endswith(suffix) and len(lowered) > len(suffix):
            return found
    return None


def stem_of(name: str) -> str:
    """A file name without its submission suffix (`hw.ipynb.txt` → `hw`), or without its last
    suffix if it has no submission suffix."""
    lowered = name.lower()
    for suffix, _format in _FORMATS:
        if lowered.endswith(suffix) and len(lowered) > len(suffix):
            return name[: -len(suffix)]
    return name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name


class Unreadable(Exception):
    """The file is not a notebook or script we can grade; the message says why."""


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


def read_submission(
    submission_id: str, source: str, path: Path, student: Student | None = None
) -> Submission:
    """Read one file into code cells, or into a plain-language error."""
    hasher = hashlib.sha256()
    try:
        descriptor, size = _open_regular(path)
        try:
            cells = _decode(path.name, size, functools.partial(os.read, descriptor), hasher)
        finally:
            os.close(descriptor)
    except Unreadable as problem:
        return Submission(submission_id, source, (), str(problem), hasher.digest(), student)
    return Submission(submission_id, source, cells, None, hasher.digest(), student)


def read_stream(
    submission_id: str,
    source: str,
    name: str,
    size: int,
    read: Callable[[int], bytes],
    student: Student | None = None,
) -> Submission:
    """Read a file that is not on disk (an archive's member) of `size` bytes announced, through
    `read(n)`, which raises `Unreadable` for damage it finds."""
    hasher = hashlib.sha256()
    try:
        if size > MAX_FILE_BYTES:
            raise Unreadable(_file_too_large(size))
        cells = _decode(name, size, read, hasher)
    except Unreadable as problem:
        return Submission(submission_id, source, (), str(problem), hasher.digest(), student)
    return Submission(submission_id, source, cells, None, hasher.digest(), student)


def _decode(name: str, size: int, read: Callable[[int], bytes], hasher: Any) -> tuple[Cell, ...]:
    """The code cells of a file of `size` bytes, read whole if small, else streamed."""
    script = format_of(name) is Format.SCRIPT
    if script and size > MAX_SCRIPT_BYTES:
        raise Unreadable(
            _(
                "The script is {size}, over the {limit} limit on code: remove pasted data and "
                "code the assignment does not ask for, and submit again."
            ).format(size=_size(size), limit=_size(MAX_SCRIPT_BYTES))
        )
    if script or size <= WHOLE_READ_BYTES:
        content = _read_all(read, size, WHOLE_READ_BYTES)
        hasher.update(content)
        return parse(content, ".py" if script else ".ipynb")
    return _cells_of(_streamed_notebook(_JsonStream(read, hasher.update)))


def _open_regular(path: Path) -> tuple[int, int]:
    """An open descriptor on the file and its size, for a regular file under the size cap."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        raise Unreadable(_("The file does not exist.")) from None
    except OSError as problem:
        raise Unreadable(
            _("The file could not be opened ({reason}).").format(reason=problem.strerror)
        ) from None
    if stat.S_ISLNK(info.st_mode):
        raise Unreadable(_("This is a symbolic link, not a file: submit the notebook itself."))
    if not stat.S_ISREG(info.st_mode):
        raise Unreadable(_("This is not a regular file."))
    if info.st_size > MAX_FILE_BYTES:
        raise Unreadable(_file_too_large(info.st_size))
    # Not following a link, nor waiting on a FIFO, should the file be swapped since lstat().
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        return os.open(path, flags), info.st_size
    except OSError as problem:
        raise Unreadable(
            _("The file could not be opened ({reason}).").format(reason=problem.strerror)
        ) from None


def _read_all(read: Callable[[int], bytes], size: int, limit: int) -> bytes:
    """The file of `size` bytes, in one read and one to see its end; a file that grew past
    `limit` is cut short."""
    chunks, count = [], 0
    try:
        while count <= limit and (chunk := read(min(size, limit) + 1)):
            chunks.append(chunk)
            count += len(chunk)
    except OSError as problem:
        raise Unreadable(
            _("The file could not be read ({reason}).").format(reason=problem.strerror)
        ) from None
    return b"".join(chunks)


def _size(count: int) -> str:
    return f"{count / 2**30:.1f} GiB" if count >= 2**30 else f"{count / 2**20:.0f} MiB"


def _file_too_large(size: int) -> str:
    return _(
        "The file is {size}, over the {limit} limit on any file: clear the notebook's outputs "
        "(Edit > Clear All Outputs in Jupyter), save it and submit again."
    ).format(size=_size(size), limit=_size(MAX_FILE_BYTES))


def parse(content: bytes, suffix: str) -> tuple[Cell, ...]:
    """Decode a notebook or script held in memory into its code cells."""
    if not content.strip():
        raise Unreadable(_("The file is empty."))
    if b"\0" in content[:8192]:
        raise Unreadable(_(_BINARY))
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as problem:
        raise Unreadable(
            _("The file is not UTF-8 text (undecodable byte at position {position}).").format(
                position=problem.start
            )
        ) from None
    if suffix.lower() == ".py":
        return _script_cells(text)
    try:
        notebook = json.loads(text)
    except RecursionError:
        raise Unreadable(_("The notebook's JSON is nested too deeply to be a notebook.")) from None
    except json.JSONDecodeError as problem:
        raise Unreadable(
            _invalid_json(
                _("{problem} at line {line}, column {column}").format(
                    problem=problem.msg, line=problem.lineno, column=problem.colno
                )
            )
        ) from None
    return _cells_of(notebook)


_BINARY = N_("This is a binary file, not a notebook (.ipynb) or Python script (.py).")


def _invalid_json(what: str) -> str:
    return _(
        "The notebook is not valid JSON ({problem}); it may be truncated or edited by hand. "
        "Re-download it from Jupyter (File > Download as > .ipynb)."
    ).format(problem=what)


def _script_cells(text: str) -> tuple[Cell, ...]:
    starts = [m.start() for m in _SCRIPT_CELL.finditer(text)] or [0]
    if starts[0] != 0:
        starts.insert(0, 0)
    bounds = zip(starts, starts[1:] + [len(text)], strict=True)
    pieces = [text[a:b] for a, b in bounds]
    return tuple(Cell(n, piece) for n, piece in enumerate(pieces, 1) if piece.strip())


def _cells_of(notebook: object) -> tuple[Cell, ...]:
    """The code cells of a decoded notebook, whether parsed whole or streamed."""
    if not isinstance(notebook, dict):
        raise Unreadable(_("The file is JSON but not a notebook: it has no cells."))
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
        raise Unreadable(
            _("Notebook format version {version} is not supported (only 3 and 4).").format(
                version=version
            )
        )
    else:
        raise Unreadable(_("The file is JSON but not a notebook: it has no cells."))
    cells = []
    code_bytes = 0
    for number, cell in enumerate(raw_cells, 1):
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            source = _text(cell.get(key, ""))
            code_bytes += len(source.encode())
            cells.append(Cell(number, source))
    if code_bytes > MAX_CODE_BYTES:
        raise Unreadable(_code_too_large())
    return tuple(cells)


def _list(value: object) -> list:
    if not isinstance(value, list):
        raise Unreadable(_("The notebook's structure is damaged: its cells are not a list."))
    return value


def _text(source: object) -> str:
    if isinstance(source, list):
        try:
            source = "".join(source)
        except TypeError:  # an item that is not a string
            source = None
    if isinstance(source, str):
        return _LONE_SURROGATE.sub("\ufffd", source)
    raise Unreadable(_("The notebook's structure is damaged: a cell's source is not text."))


# The streamed reading of a large notebook. Only the chunk being scanned is held, with the
# value being kept (a key, a number, a cell type, a code cell's source); every other value,
# outputs included, is skipped without being built, its brackets and strings matched but its
# content not checked: outputs never affect a grade, so JSON damaged inside them is no reason
# to refuse a notebook.

_QUOTE, _BACKSLASH, _COMMA, _COLON = b'"\\,:'
_OPEN_ARRAY, _CLOSE_ARRAY, _OPEN_OBJECT, _CLOSE_OBJECT = b"[]{}"
_CLOSER = {_OPEN_ARRAY: _CLOSE_ARRAY, _OPEN_OBJECT: _CLOSE_OBJECT}
_SPACE = re.compile(rb"[ \t\r\n]*+")
_SCALAR = re.compile(rb'[^ \t\r\n,:\[\]{}"]*+')
# Anything but brackets, and strings short enough to match here: a longer one stops the run at
# its opening quote, to be skipped by `bytes.find`, a hundred times faster.
_PLAIN_RUN = re.compile(rb'(?:[^"\[\]{}]++|"[^"\\]{0,4096}+(?:\\.[^"\\]{0,4096}+)*+")*+', re.DOTALL)
_KEY_CAP = 256
_SMALL_CAP = 1024
_TOO_LONG = object()  # a kept value over its cap: never a version, a cell type or text


class _JsonStream:
    """A JSON text read a chunk at a time, in which a value is either kept or skipped unbuilt."""

    def __init__(self, read: Callable[[int], bytes], consume: Callable[[bytes], None]) -> None:
        self._read_chunk = read
        self._consume = consume  # sees every byte read, in order
        self._buffer = b""
        self._position = 0
        self._read = 0
        self._mark: int | None = None  # the start of the value being kept, while it fits
        self._mark_cap = 0
        while len(self._buffer) < 8192 and self._more():
            pass
        if b"\0" in self._buffer[:8192]:
            raise Unreadable(_(_BINARY))
        if self._buffer.startswith(b"\xef\xbb\xbf"):
            self._position = 3

    def _more(self) -> bool:
        """Read the next chunk, dropping what is consumed and not kept; False at the end."""
        try:
            chunk = self._read_chunk(_CHUNK_BYTES)
        except OSError as problem:
            raise Unreadable(
                _("The file could not be read ({reason}).").format(reason=problem.strerror)
            ) from None
        if not chunk:
            return False
        self._read += len(chunk)
        if self._read > MAX_FILE_BYTES:  # it grew since it was measured
            raise Unreadable(_file_too_large(self._read))
        self._consume(chunk)
        keep = self._position
        if self._mark is not None:
            if len(self._buffer) - self._mark > self._mark_cap:
                self._mark = None
            else:
                keep, self._mark = self._mark, 0
        self._buffer = self._buffer[keep:] + chunk
        self._position -= keep
        return True

    def invalid(self, what: str) -> Unreadable:
        offset = self._read - len(self._buffer) + self._position
        return Unreadable(
            _invalid_json(_("{problem} at byte {offset}").format(problem=what, offset=offset))
        )

    def peek(self) -> int | None:
        """The next byte that is not white space, left unconsumed; None at the end."""
        while True:
            self._position = _SPACE.match(self._buffer, self._position).end()
            if self._position < len(self._buffer):
                return self._buffer[self._position]
            if not self._more():
                return None

    def finish(self) -> None:
        if self.peek() is not None:
            raise self.invalid("extra data after the notebook")

    def members(self) -> Iterator[str | None]:
        """Each key of the object starting here (None if too long); the caller takes its value."""
        self._take(_OPEN_OBJECT)
        if self.peek() == _CLOSE_OBJECT:
            self._position += 1
            return
        while True:
            if self.peek() != _QUOTE:
                raise self.invalid("a key was expected")
            raw = self.capture(_KEY_CAP)
            self._take(_COLON)
            yield None if raw is None else self.decoded(raw)
            if not self._another(_CLOSE_OBJECT):
                return

    def elements(self) -> Iterator[int | None]:
        """The first byte of each item of the array that starts here; the caller takes the item."""
        self._take(_OPEN_ARRAY)
        if self.peek() == _CLOSE_ARRAY:
            self._position += 1
            return
        while True:
            yield self.peek()
            if not self._another(_CLOSE_ARRAY):
                return

    def capture(self, cap: int) -> bytes | None:
        """The next value's JSON text, or None (the value skipped) if it is longer than `cap`."""
        self.peek()
        self._mark, self._mark_cap = self._position, cap
        try:
            self.skip()
        finally:
            start, self._mark = self._mark, None
        if start is None or self._position - start > cap:
            return None
        return self._buffer[start : self._position]

    def decoded(self, raw: bytes) -> Any:
        try:
            return json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise Unreadable(_("The file is not UTF-8 text.")) from None
        except json.JSONDecodeError as problem:
            raise self.invalid(problem.msg) from None

    def skip(self) -> None:
        """Consume the next value without building it."""
        first = self.peek()
        if first is None:
            raise self.invalid("the file ends where a value was expected")
        if first == _QUOTE:
            self._skip_string()
            return
        if first not in _CLOSER:
            self._skip_scalar()
            return
        closers = bytearray()
        while True:
            end = _PLAIN_RUN.match(self._buffer, self._position).end()
            self._position = end
            if end == len(self._buffer):
                if not self._more():
                    raise self.invalid("the file ends inside a value")
                continue
            byte = self._buffer[end]
            if byte == _QUOTE:  # a string too long for the run, or cut by the chunk's end
                self._skip_string()
                continue
            self._position += 1
            if byte in _CLOSER:
                closers.append(_CLOSER[byte])
            elif not closers or closers.pop() != byte:
                raise self.invalid(f"unexpected {chr(byte)!r}")
            if not closers:
                return

    def _take(self, expected: int) -> None:
        if self.peek() != expected:
            raise self.invalid(f"{chr(expected)!r} was expected")
        self._position += 1

    def _another(self, closer: int) -> bool:
        """After an item: True if a comma announces another, False at the closing bracket."""
        byte = self.peek()
        if byte is None:
            raise self.invalid("the file ends inside a value")
        if byte not in (_COMMA, closer):
            raise self.invalid(f"',' or {chr(closer)!r} was expected")
        self._position += 1
        return byte == _COMMA

    def _skip_scalar(self) -> None:
        length = 0
        while True:
            end = _SCALAR.match(self._buffer, self._position).end()
            length += end - self._position
            self._position = end
            if end < len(self._buffer) or not self._more():
                break
        if not length:
            raise self.invalid("a value was expected")

    def _skip_string(self) -> None:
        self._position += 1  # the opening quote
        while True:
            quote = self._buffer.find(b'"', self._position)
            if quote < 0:
                # Backslashes pair up from the run's start: an odd one out escapes the next
                # chunk's first byte, so it is kept.
                rest = self._buffer[self._position :]
                unpaired = (len(rest) - len(rest.rstrip(b"\\"))) % 2
                self._position = len(self._buffer) - unpaired
                if not self._more():
                    raise self.invalid("the file ends inside a string")
                continue
            start, self._position = self._position, quote + 1
            if quote == start or self._buffer[quote - 1] != _BACKSLASH:
                return
            body = self._buffer[start:quote]
            if (len(body) - len(body.rstrip(b"\\"))) % 2 == 0:
                return  # the backslashes before the quote escape one another, not it


class _CodeBudget:
    """The code still allowed in a streamed notebook, counted as its sources are kept."""

    def __init__(self) -> None:
        self.left = MAX_CODE_BYTES

    def text(self, stream: _JsonStream) -> str:
        # A string's JSON is at most six bytes per byte of its UTF-8 (an escape like \u0041),
        # so one longer than that is over the limit without being kept.
        raw = stream.capture(6 * self.left + 2)
        if raw is None:
            raise Unreadable(_code_too_large())
        text = stream.decoded(raw)
        self.left -= len(text.encode("utf-8", "surrogatepass"))
        if self.left < 0:
            raise Unreadable(_code_too_large())
        return text


def _streamed_notebook(stream: _JsonStream) -> object:
    """What `_cells_of` reads of a notebook, in the shape `json.loads` gives it."""
    budget = _CodeBudget()

    def cell(key: str | None, found: dict[str, object]) -> None:
        if key == "cell_type":
            found[key] = _small(stream)
        elif key in ("source", "input") and found.get("cell_type", "code") == "code":
            found[key] = _streamed_source(stream, budget)
        elif key in ("source", "input"):
            # Not code, so not text to `_cells_of`: the cell is refused if a second cell_type
            # (JSON's last one wins) makes it code after all.
            stream.skip()
            found[key] = None
        else:
            stream.skip()

    def cells() -> list | None:
        return _streamed_array(stream, lambda: _streamed_object(stream, cell))

    def worksheet(key: str | None, found: dict[str, object]) -> None:
        if key == "cells":
            found[key] = cells()
        else:
            stream.skip()

    def notebook(key: str | None, found: dict[str, object]) -> None:
        if key == "nbformat":
            found[key] = _small(stream)
        elif key == "cells":
            found[key] = cells()
        elif key == "worksheets":
            found[key] = _streamed_array(stream, lambda: _streamed_object(stream, worksheet))
        else:
            stream.skip()

    if stream.peek() != _OPEN_OBJECT:
        return None  # not a notebook, whatever follows
    document = _streamed_object(stream, notebook)
    stream.finish()
    return document


def _streamed_object(
    stream: _JsonStream, take_member: Callable[[str | None, dict[str, object]], None]
) -> dict[str, object] | None:
    if stream.peek() != _OPEN_OBJECT:
        stream.skip()
        return None
    found: dict[str, object] = {}
    for key in stream.members():
        take_member(key, found)
    return found


def _streamed_array(stream: _JsonStream, take_item: Callable[[], object]) -> list | None:
    if stream.peek() != _OPEN_ARRAY:
        stream.skip()
        return None
    return [take_item() for _ in stream.elements()]


def _streamed_source(stream: _JsonStream, budget: _CodeBudget) -> object:
    first = stream.peek()
    if first == _QUOTE:
        return budget.text(stream)
    if first != _OPEN_ARRAY:
        return _small(stream)
    lines: list[str | None] = []
    for item in stream.elements():
        if item == _QUOTE:
            lines.append(budget.text(stream))
        else:
            stream.skip()
            lines.append(None)
    return lines


def _small(stream: _JsonStream) -> object:
    raw = stream.capture(_SMALL_CAP)
    return _TOO_LONG if raw is None else stream.decoded(raw)
