"""Gradescope's export: `submission_metadata.yml` says who submitted each `submission_N` folder.

The file is YAML as Ruby writes it (symbol keys such as `:submitters:`). Only the block
mappings, block sequences and scalars it uses are read here, which spares a YAML dependency;
anything else (flow collections, multi-line scalars) is skipped as text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from grader.intake.identity import Layout, Student, student

METADATA = "submission_metadata.yml"
_ESCAPES = {"0": "\0", "a": "\a", "b": "\b", "t": "\t", "n": "\n", "v": "\v", "f": "\f",
            "r": "\r", "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\", "N": "\x85",
            "_": "\xa0", "L": "\u2028", "P": "\u2029"}  # fmt: skip
_HEX_ESCAPE = re.compile(r"\\(?:x([0-9A-Fa-f]{2})|u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))")


class MetadataError(Exception):
    """The metadata file could not be read; the message says why."""


@dataclass(frozen=True)
class Submitter:
    student: Student
    email: str | None


def submitters(text: str) -> dict[str, list[Submitter]]:
    """Each submission folder's submitters, in the order the file lists them."""
    document = _parse(text)
    if not isinstance(document, dict):
        raise MetadataError(f"{METADATA} does not map submission folders to their submitters.")
    found: dict[str, list[Submitter]] = {}
    for folder, entry in document.items():
        people = entry.get("submitters") if isinstance(entry, dict) else None
        listed = []
        for person in people if isinstance(people, list) else []:
            if not isinstance(person, dict):
                continue
            sid, email, name = (_text(person.get(key)) for key in ("sid", "email", "name"))
            identifier = sid or email
            if identifier:
                listed.append(Submitter(student(Layout.GRADESCOPE, identifier, name), email))
        found[folder] = listed
    return found


def _text(value: object) -> str | None:
    return str(value).strip() or None if isinstance(value, str | int | float) else None


def _parse(text: str) -> object:
    """The document's block structure: dicts, lists and strings."""
    lines = []
    for raw in text.replace("\r\n", "\n").split("\n"):
        content = raw.rstrip()
        stripped = content.lstrip(" ")
        if not stripped or stripped.startswith("#") or stripped in ("---", "..."):
            continue
        lines.append((len(content) - len(stripped), stripped))
    value, _ = _block(lines, 0, lines[0][0] if lines else 0)
    return value


def _block(lines: list[tuple[int, str]], index: int, indent: int) -> tuple[object, int]:
    """The mapping or sequence whose lines start at `index` with `indent` spaces."""
    if index < len(lines) and _is_item(lines[index][1]):
        items: list[object] = []
        while index < len(lines) and lines[index][0] == indent and _is_item(lines[index][1]):
            rest = lines[index][1][1:].lstrip(" ")
            if not rest:  # the item's content is on the lines below
                item, index = _nested(lines, index + 1, indent)
            else:  # the item starts on this line: read it as a block one level in
                inner = indent + len(lines[index][1]) - len(rest)
                lines[index] = (inner, rest)
                item, index = (
                    _block(lines, index, inner) if _is_key(rest) else (_scalar(rest), index + 1)
                )
            items.append(item)
        return items, index
    mapping: dict[str, object] = {}
    while index < len(lines) and lines[index][0] == indent:
        found = _KEY.match(lines[index][1])
        if not found:
            break
        key = _scalar(found.group().rstrip().removesuffix(":").rstrip()).removeprefix(":")
        rest = lines[index][1][found.end() :].strip()
        if rest:
            mapping[key] = _scalar(rest)
            index += 1
            while index < len(lines) and lines[index][0] > indent:  # a multi-line scalar
                index += 1
        else:
            mapping[key], index = _nested(lines, index + 1, indent)
    return mapping, index


def _nested(lines: list[tuple[int, str]], index: int, parent: int) -> tuple[object, int]:
    """The block under a key or an item, or None if the next line is not inside it. A
    sequence may sit at its key's own indentation, as Ruby writes it."""
    if index >= len(lines):
        return None, index
    indent, content = lines[index]
    if indent > parent or (indent == parent and _is_item(content)):
        return _block(lines, index, indent)
    return None, index


# A key: quoted, or plain text up to the first ": " (or a ":" ending the line).
_KEY = re.compile(
    r"""(?:"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s"'#\-?][^#]*?|-\S[^#]*?)\s*:(?:\s|\Z)"""
)


def _is_item(content: str) -> bool:
    return content == "-" or content.startswith("- ")


def _is_key(content: str) -> bool:
    return _KEY.match(content) is not None


def _scalar(text: str) -> str:
    """A plain, single-quoted or double-quoted scalar as text; a comment after it dropped."""
    if text.startswith("'"):
        end = re.match(r"'((?:[^']|'')*)'", text)
        return end.group(1).replace("''", "'") if end else text
    if text.startswith('"'):
        end = re.match(r'"((?:[^"\\]|\\.)*)"', text, re.DOTALL)
        return _unescape(end.group(1)) if end else text
    return re.sub(r"\s+#.*\Z", "", text).strip()


def _unescape(body: str) -> str:
    def one(found: re.Match) -> str:
        code = found.group(1) or found.group(2) or found.group(3)
        if code:
            return chr(int(code, 16))
        return _ESCAPES.get(found.group(4), found.group(4))

    return _HEX_ESCAPE.sub(one, body)
