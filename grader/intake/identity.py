"""Who a submission belongs to, read from the names LMS downloads give files and folders.

The output folder's name follows from the student alone, so adding or removing another
student never renames it.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Layout(StrEnum):
    """Where a student's identity was read from."""

    CANVAS = "canvas"
    MOODLE = "moodle"
    GRADESCOPE = "gradescope"
    FILES = "files"  # a folder or file name in a plain folder tree


@dataclass(frozen=True)
class Student:
    id: str
    name: str | None
    layout: Layout

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "layout": self.layout.value}

    @classmethod
    def from_json(cls, document: object, submission: str) -> Student:
        """The student of a results.json; one written before students existed is the
        submission's folder name."""
        if isinstance(document, dict) and isinstance(document.get("id"), str):
            name = document.get("name")
            try:
                layout = Layout(document.get("layout"))
            except ValueError:
                layout = Layout.FILES
            return cls(document["id"], name if isinstance(name, str) else None, layout)
        return cls(submission, None, Layout.FILES)

    @property
    def shown(self) -> str:
        """What a page calls the student: the name, or the id when there is none."""
        return self.name or self.id

    @property
    def folder(self) -> str:
        return folder_name(self.layout, self.id)


def student(layout: Layout, student_id: str, name: str | None = None) -> Student:
    """A student with its id and name in one Unicode form (a macOS zip writes NFD), and spaces
    trimmed, so the same person from two downloads is one student."""
    clean_id = unicodedata.normalize("NFC", student_id).strip()
    clean_name = unicodedata.normalize("NFC", name).strip() if name else None
    return Student(clean_id, clean_name or None, layout)


_MAX_FOLDER_BYTES = 150  # with a prefix, well under the 255 bytes a file name may take
_DIGEST_CHARS = 12
_LOOKS_HASHED = re.compile(rf"-[0-9a-f]{{{_DIGEST_CHARS}}}\Z")
_LMS_PREFIX = re.compile(r"(?:canvas|moodle|gradescope)-", re.IGNORECASE)
_PLAIN = re.compile(r"[\w -]+")  # what `_allowed` allows, bar combining marks: checked first
_WINDOWS_DEVICES = re.compile(r"(?:con|prn|aux|nul|com\d|lpt\d)\Z", re.IGNORECASE)


def folder_name(layout: Layout, student_id: str) -> str:
    """The output folder of a student: its id as it is where that is a safe folder name, else
    the id made safe plus a digest of it. Never a dot, so never a class file's name."""
    prefix = "" if layout is Layout.FILES else f"{layout.value}-"
    if _kept_whole(student_id, layout):
        return prefix + student_id
    safe = "".join(
        character if _allowed(character) and character != " " else "_" for character in student_id
    )
    safe = re.sub(r"_{2,}", "_", safe).strip(" _-")
    while len(safe.encode()) > _MAX_FOLDER_BYTES - _DIGEST_CHARS - 1:
        safe = safe[:-1]
    digest = hashlib.sha256(f"{layout.value}\0{student_id}".encode()).hexdigest()
    return f"{prefix}{safe or 'student'}-{digest[:_DIGEST_CHARS]}"


def _allowed(character: str) -> bool:
    """Letters and digits of any script (with their combining marks), `_`, `-` and space."""
    return (
        character.isalnum() or character in "_- " or unicodedata.category(character).startswith("M")
    )


def _kept_whole(student_id: str, layout: Layout) -> bool:
    """Whether an id can be its own folder name without meeting another id's: no character
    made safe, nothing a hashed or an LMS folder name looks like, nothing a file system
    treats specially."""
    return (
        bool(student_id)
        and (_PLAIN.fullmatch(student_id) or all(map(_allowed, student_id)))
        and student_id[0] not in " -"
        and not student_id.endswith(" ")
        and len(student_id.encode()) <= _MAX_FOLDER_BYTES
        and not _LOOKS_HASHED.search(student_id)
        and not (layout is Layout.FILES and _LMS_PREFIX.match(student_id))
        and not _WINDOWS_DEVICES.match(student_id)
    )


@dataclass(frozen=True)
class CanvasName:
    """What a Canvas bulk download's file name says."""

    student: Student
    late: bool
    attachment: int
    original: str  # the name the student's file had


# {sortablename}_{LATE_}{user id}_{attachment id}_{original name}; anonymous grading puts
# anon_{anonymous id} in place of the name and user id.
_CANVAS_ANONYMOUS = re.compile(r"anon_(LATE_)?([A-Za-z0-9]+)_(\d+)_(.+)\Z", re.DOTALL)
_CANVAS = re.compile(r"([^_]+(?:_[^_\d][^_]*)*?)_(LATE_)?(\d+)_(\d+)_(.+)\Z", re.DOTALL)


def canvas_name(file_name: str) -> CanvasName | None:
    """The student, lateness and original name in a Canvas download's file name, if it is one."""
    found = _CANVAS_ANONYMOUS.match(file_name)
    if found:
        late, anonymous_id, attachment, original = found.groups()
        who = student(Layout.CANVAS, f"anon_{anonymous_id}")
        return CanvasName(who, bool(late), int(attachment), original)
    found = _CANVAS.match(file_name)
    if found:
        name, late, user_id, attachment, original = found.groups()
        who = student(Layout.CANVAS, user_id, name)
        return CanvasName(who, bool(late), int(attachment), original)
    return None


# {Full Name}_{participant id}_assignsubmission_{plugin}_ as a folder (recent versions drop the
# last underscore), or with the file's name after it where older versions flatten the folder.
_MOODLE_FOLDER = re.compile(r"(.+)_(\d+)_assign(?:submission|feedback)_([a-z]+)_?\Z", re.DOTALL)
_MOODLE_FILE = re.compile(r"(.+)_(\d+)_assignsubmission_([a-z]+)_(.+)\Z", re.DOTALL)
_BLIND = "Participant"


def moodle_folder(folder: str) -> Student | None:
    """The participant whose folder this is, in a Moodle download."""
    found = _MOODLE_FOLDER.match(folder)
    return _moodle_student(found.group(1), found.group(2)) if found else None


def moodle_file(file_name: str) -> tuple[Student, str] | None:
    """The participant and the original name of a file an older Moodle flattened."""
    found = _MOODLE_FILE.match(file_name)
    if not found:
        return None
    return _moodle_student(found.group(1), found.group(2)), found.group(4)


def _moodle_student(name: str, participant: str) -> Student:
    return student(Layout.MOODLE, participant, None if name == _BLIND else name)


# What marks a file as another attempt of the same file: Canvas's `-1` before the suffix (kept
# for Canvas names only), a browser's ` (1)` for any.
_BROWSER_COPY = re.compile(r" \((\d+)\)\Z")
_CANVAS_COPY = re.compile(r"-(\d+)\Z")


def attempt_of(stem: str, canvas: bool) -> tuple[str, int]:
    """A file's stem without its resubmission suffix, and the suffix's number (0 if none)."""
    for pattern in (_BROWSER_COPY, _CANVAS_COPY) if canvas else (_BROWSER_COPY,):
        found = pattern.search(stem)
        if found:
            return stem[: found.start()], int(found.group(1))
    return stem, 0
