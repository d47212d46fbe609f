"""An LMS's CSV file, filled in place: every byte of it kept but the cells an export writes.

LMS imports are picky and exports are messy (a BOM, `\\r\\n`, quoted fields with commas and
line breaks, blank lines, a spreadsheet's semicolons). Rather than parse and re-write the file,
which would re-quote and re-terminate what the LMS wrote, the file is split into fields by
their spans in the text, and only the spans of filled cells are replaced.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from grader.exports import ExportError
from grader.i18n import N_, _

BOM = "\ufeff"
_DELIMITERS = (",", ";", "\t")
# A spreadsheet program runs a cell that starts with one of these as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@")


@dataclass(frozen=True)
class Field:
    start: int  # span of the field's text, quotes included, in the file's text
    end: int
    value: str


@dataclass(frozen=True)
class Record:
    fields: tuple[Field, ...]

    def value(self, column: int) -> str:
        """The cell in `column`; a row cut short has empty cells past its end."""
        return self.fields[column].value if column < len(self.fields) else ""

    @property
    def blank(self) -> bool:
        return all(not field.value for field in self.fields)


@dataclass(frozen=True)
class FillReport:
    """What an export wrote, for the command's summary."""

    filled: int  # LMS rows given a result
    without_result: int  # LMS rows left untouched: the student has no result
    missing: tuple[str, ...]  # students with a result but no row in the LMS file
    notes: tuple[str, ...] = ()


class CsvText:
    """A CSV file's text and its records, with the spans of every field."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            raw = path.read_bytes()
        except OSError as problem:
            raise ExportError(f"cannot read {path}: {problem.strerror or problem}") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ExportError(
                f"{path} is not UTF-8 text: download it again from the LMS, or save it from a "
                "spreadsheet as 'CSV UTF-8'"
            ) from None
        self.bom = text.startswith(BOM)
        self.text = text.removeprefix(BOM)
        self.delimiter = _delimiter(self.text)
        self.records = _records(self.text, self.delimiter, path)
        header_at = next((i for i, r in enumerate(self.records) if not r.blank), None)
        if header_at is None:
            raise ExportError(f"{path} is empty: export it from the LMS again")
        self.header = [field.value.strip() for field in self.records[header_at].fields]
        self.rows = self.records[header_at + 1 :]

    def column(self, name: str) -> int | None:
        """The index of the first column named `name`, or None."""
        return self.header.index(name) if name in self.header else None

    def write_filled(self, cells: dict[tuple[int, int], str], output: Path) -> None:
        """Write the file to `output` with `cells` ((row, column) → text) replaced.

        Rows count from the first after the header. Every other byte is the input's; the file
        appears whole or not at all.
        """
        by_row: dict[int, dict[int, str]] = {}
        for (row, column), text in cells.items():
            by_row.setdefault(row, {})[column] = self.encode(text)
        pieces, done = [], 0
        for row, columns in sorted(by_row.items()):
            fields = self.rows[row].fields
            raw = [self.text[f.start : f.end] for f in fields]
            raw += [""] * (max(columns) + 1 - len(raw))
            for column, encoded in columns.items():
                raw[column] = encoded
            pieces += [self.text[done : fields[0].start], self.delimiter.join(raw)]
            done = fields[-1].end
        pieces.append(self.text[done:])
        content = (BOM if self.bom else "") + "".join(pieces)
        _write_atomic(output, content.encode("utf-8"))

    def encode(self, text: str) -> str:
        """A cell's text as this file writes it: quoted only when it must be."""
        if any(mark in text for mark in (self.delimiter, '"', "\r", "\n")):
            return '"' + text.replace('"', '""') + '"'
        return text


def points(value: float) -> str:
    """A score as an LMS reads it: no needless decimals (100, 37.5), at most four."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def on_scale(score: float, max_score: float, possible: float | None) -> tuple[float, bool]:
    """`score` out of `max_score` as points out of the LMS's `possible`, and whether it was
    scaled: only when the LMS names a different, positive maximum."""
    if possible and possible > 0 and max_score and possible != max_score:
        return score * possible / max_score, True
    return score, False


def parse_points(text: str) -> float | None:
    """A points cell as an LMS writes it ("10.00", "10,00"), or None if it holds no number."""
    cleaned = text.strip().replace(",", ".") if "." not in text else text.strip()
    try:
        value = float(cleaned)
    except ValueError:
        return None
    return value if value == value and abs(value) != float("inf") else None


def guarded(text: str) -> str:
    """Text that a spreadsheet program shows as text, never runs as a formula."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _delimiter(text: str) -> str:
    """The file's separator: the one its header line uses most (outside quotes)."""
    header = re.sub(r'"[^"]*"', "", text.lstrip("\r\n").split("\n", 1)[0])
    return max(_DELIMITERS, key=header.count) if any(d in header for d in _DELIMITERS) else ","


def _records(text: str, delimiter: str, path: Path) -> list[Record]:
    """Split `text` into records of fields, as Python's csv module does, keeping spans."""
    plain_end = re.compile(f"[{re.escape(delimiter)}\r\n]")
    records: list[Record] = []
    fields: list[Field] = []
    i, size = 0, len(text)
    while i < size:
        start = i
        value = ""
        if text[i] == '"':
            i += 1
            while True:
                close = text.find('"', i)
                if close < 0:
                    line = text.count("\n", 0, start) + 1
                    raise ExportError(
                        f"{path}, line {line}: a quoted field is never closed; the file is cut "
                        "short or damaged: export it from the LMS again"
                    )
                value += text[i:close]
                if text.startswith('""', close):
                    value += '"'
                    i = close + 2
                else:
                    i = close + 1
                    break
        found = plain_end.search(text, i)
        end = found.start() if found else size
        value += text[i:end]  # after a closing quote, csv keeps stray text too
        fields.append(Field(start, end, value))
        i = end
        if i < size and text[i] == delimiter:
            i += 1
            if i == size:
                fields.append(Field(i, i, ""))
            continue
        records.append(Record(tuple(fields)))
        fields = []
        i += 2 if text.startswith("\r\n", i) else 1
    if fields:
        records.append(Record(tuple(fields)))
    return records


def _write_atomic(path: Path, content: bytes) -> None:
    if not path.parent.is_dir():
        raise ExportError(f"cannot write {path}: its folder {path.parent} does not exist")
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        temporary.write_bytes(content)
        os.replace(temporary, path)
    except OSError as problem:
        temporary.unlink(missing_ok=True)
        raise ExportError(f"cannot write {path}: {problem.strerror or problem}") from None


def status_in_words(status: str) -> str:
    """A function's status (results.json's value) as feedback words it, in the active language;
    one this version does not know, as it is."""
    words = _STATUS_WORDS.get(status)
    return status if words is None else _(words)


_STATUS_WORDS = {
    "passed": N_("passed"),
    "failed": N_("failed"),
    "error": N_("error"),
    "timeout": N_("timeout"),
    "missing": N_("missing"),
    "syntax_error": N_("syntax error"),
}
