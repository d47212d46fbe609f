"""Find every input under the paths given, tell whose each is, and plan one submission per
student; everything else is listed as skipped, with the reason.

Only names are looked at here (and Gradescope's metadata): nothing is decompressed or read but
archive directories, so this stays cheap per file. Which of a student's files is graded is
decided when they are read (`grader.intake.choose`).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from grader.i18n import N_, _
from grader.intake import gradescope
from grader.intake.archive import Archive, Member, NotAnArchive
from grader.intake.identity import (
    CanvasName,
    Layout,
    Student,
    attempt_of,
    canvas_name,
    moodle_file,
    moodle_folder,
    student,
)
from grader.intake.roster import Roster
from grader.read import Format, Submission, format_of, read_submission, stem_of

MAX_METADATA_BYTES = 16 * 2**20
_MACOS_METADATA = "__MACOSX"
_GRADESCOPE_FOLDER = re.compile(r"submission_\d+\Z")
_NUMBER = re.compile(r"(\d+)")
NOT_GRADABLE = N_("not a notebook (.ipynb), a script (.py) or a zip")


class MissingInput(Exception):
    """A path given does not exist: a usage error, not a student's."""


@dataclass(frozen=True)
class Skipped:
    """An input that is not graded, and why."""

    input: str
    reason: str
    student: Student | None = None
    origin: str = ""  # the file on disk it came from (itself, or its archive), resolved

    def to_json(self) -> dict[str, Any]:
        who = self.student.to_json() if self.student else None
        return {"input": self.input, "reason": self.reason, "student": who}


@dataclass(frozen=True)
class Found:
    """A file that may be a submission: on disk, or a member of an archive."""

    source: str  # as the user is shown it
    parts: tuple[str, ...]  # its path below the class root
    modified: float
    origin: str
    where: str | Member  # the file on disk (resolved), or the archive's member

    def read(self, submission_id: str, owner: Student | None) -> Submission:
        if isinstance(self.where, Member):
            return self.where.read(submission_id, owner)
        return read_submission(submission_id, self.source, Path(self.where), owner)


@dataclass(frozen=True)
class Candidate:
    """A student's file that may be the one graded."""

    found: Found
    original: str  # the name the student gave it, without what the LMS added
    family: tuple[str, Format]  # attempts of one file share it
    order: tuple  # a later attempt sorts after an earlier one
    late: bool | None  # what the LMS says, if it says

    @property
    def format(self) -> Format:
        return self.family[1]


@dataclass(frozen=True)
class Planned:
    """One student's submission, to be read: every candidate file of theirs."""

    student: Student
    folder: str
    candidates: tuple[Candidate, ...]


@dataclass
class Intake:
    planned: list[Planned]
    skipped: list[Skipped]
    examined: list[str]  # the paths given, resolved: what this run looked at
    archives: list[Archive] = field(default_factory=list)

    def close(self) -> None:
        for archive in self.archives:
            archive.close()

    def __enter__(self) -> Intake:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def gather(
    paths: Sequence[str],
    support_modules: Iterable[str] = (),
    roster: Roster | None = None,
    output: Path | None = None,
) -> Intake:
    """Every input under `paths`, as planned submissions and skipped inputs; raises
    `MissingInput` before anything is read if a path does not exist. The `output` folder, if
    it lies under a path, is not read: its reports are not submissions."""
    missing = [given for given in paths if not os.path.lexists(given)]
    if missing:
        raise MissingInput(f"no such file or folder: {', '.join(missing)}")
    support = {name.removesuffix(".py").casefold() for name in support_modules}
    intake = Intake([], [], [str(Path(given).resolve()) for given in paths])
    by_student: dict[tuple[Layout, str], list[tuple[Candidate, Student]]] = {}
    for given in paths:
        listing = _Listing(intake, str(output.resolve()) if output is not None else None)
        listing.root(given)
        for candidate, owner in listing.candidates(support):
            if roster is not None:
                owner = roster.named(owner, listing.emails.get(owner.id))
            by_student.setdefault((owner.layout, owner.id), []).append((candidate, owner))
    folders: dict[str, Student] = {}
    for owned in by_student.values():
        latest = max(owned, key=lambda item: item[0].order)[1]  # its name, if names differ
        folder = latest.folder
        if folder in folders:  # only ids made to meet a digest get here
            for candidate, _ in owned:
                intake.skipped.append(
                    Skipped(
                        candidate.found.source,
                        f"its output folder {folder} is already that of {folders[folder].shown}",
                        latest,
                        candidate.found.origin,
                    )
                )
            continue
        folders[folder] = latest
        intake.planned.append(Planned(latest, folder, tuple(c for c, _ in owned)))
    intake.planned.sort(key=lambda planned: planned.folder)
    return intake


class _Listing:
    """The files under one path given, below its class root."""

    def __init__(self, intake: Intake, output: str | None = None) -> None:
        self._intake = intake
        self._output = output
        self.found: list[Found] = []
        self.metadata: list[Found] = []
        self.emails: dict[str, str] = {}

    def skip(self, source: str, reason: str, origin: str) -> None:
        self._intake.skipped.append(Skipped(source, reason, None, origin))

    def root(self, given: str) -> None:
        path = Path(given)
        origin = str(path.resolve())
        if path.is_dir():
            self._folder(str(path), origin)
        elif path.name.lower().endswith(".zip"):
            self._archive(Archive(given, path=Path(origin)), (), origin)
        else:
            # A file given alone keeps the Moodle folder it sits in: it says whose it is.
            parent = Path(origin).parent.name
            parts = (parent, path.name) if moodle_folder(parent) else (path.name,)
            self._file(given, origin, parts, None)

    def _folder(self, shown_root: str, real_root: str) -> None:
        """Every file under a folder, in name order; links are listed, never followed."""
        pending: list[tuple[str, str, tuple[str, ...]]] = [(shown_root, real_root, ())]
        while pending:
            shown, real, parts = pending.pop()
            try:
                entries = sorted(os.scandir(real), key=lambda entry: entry.name)
            except OSError as problem:
                self.skip(shown, f"the folder could not be listed ({problem.strerror})", real)
                continue
            folders = []
            for entry in entries:
                source, origin = os.path.join(shown, entry.name), os.path.join(real, entry.name)
                if entry.is_symlink():
                    self.skip(source, "a symbolic link: links are not followed", origin)
                elif entry.is_dir(follow_symlinks=False):
                    if origin == self._output:
                        self.skip(
                            source, "the output folder (--out): its reports are not read", origin
                        )
                    elif _hidden(entry.name):
                        self.skip(source, _hidden_reason(entry.name, folder=True), origin)
                    else:
                        folders.append((source, origin, (*parts, entry.name)))
                else:
                    self._file(source, origin, (*parts, entry.name), entry)
            pending.extend(reversed(folders))

    def _file(
        self, source: str, origin: str, parts: tuple[str, ...], entry: os.DirEntry | None
    ) -> None:
        name = parts[-1]
        if _hidden(name):
            self.skip(source, _hidden_reason(name, folder=False), origin)
            return
        try:
            info = entry.stat(follow_symlinks=False) if entry else os.lstat(origin)
        except OSError as problem:
            self.skip(source, f"it could not be examined ({problem.strerror})", origin)
            return
        if stat.S_ISLNK(info.st_mode):
            self.skip(source, "a symbolic link: links are not followed", origin)
        elif not stat.S_ISREG(info.st_mode):
            self.skip(source, "not a regular file", origin)
        elif name.lower().endswith(".zip"):
            self._archive(Archive(source, path=Path(origin)), parts, origin)
        elif name == gradescope.METADATA:
            self.metadata.append(Found(source, parts, info.st_mtime, origin, origin))
        elif format_of(name) is None:
            self.skip(source, _(NOT_GRADABLE), origin)
        else:
            self.found.append(Found(source, parts, info.st_mtime, origin, origin))

    def _archive(self, archive: Archive, parts: tuple[str, ...], origin: str) -> None:
        """The archive's members, below `parts` (its own path; empty for a class zip given)."""
        try:
            members, refused = archive.members()
        except NotAnArchive as problem:
            self.skip(archive.source, _phrase(str(problem)), origin)
            return
        self._intake.archives.append(archive)
        for refusal in refused:
            self.skip(refusal.source, f"refused: {refusal.reason}", origin)
        for member in members:
            inner = (*parts, *member.parts)
            name = member.parts[-1]
            hidden = next((part for part in member.parts if _hidden(part)), None)
            if hidden is not None:
                self.skip(member.source, _hidden_reason(hidden, folder=hidden != name), origin)
            elif name.lower().endswith(".zip"):
                if archive.nested:
                    self.skip(member.source, "a zip inside a zip inside a zip: not opened", origin)
                else:
                    self._archive(Archive(member.source, outer=member), inner, origin)
            elif name == gradescope.METADATA:
                self.metadata.append(Found(member.source, inner, member.modified, origin, member))
            elif format_of(name) is None:
                self.skip(member.source, _(NOT_GRADABLE), origin)
            else:
                self.found.append(Found(member.source, inner, member.modified, origin, member))

    def candidates(self, support: set[str]) -> list[tuple[Candidate, Student]]:
        """Each file found, with its owner, below the class root; support modules skipped."""
        depth = self._wrappers()
        submitters = self._gradescope(depth)
        # The files at the class root, zips included, say whether it is a Canvas download.
        canvas = _mostly_canvas(
            {
                found.parts[depth]
                for found in self.found
                if len(found.parts) == depth + 1 or found.parts[depth].lower().endswith(".zip")
            }
        )
        owned = []
        for found in self.found:
            parts = found.parts[depth:]
            owner, original, canvas_info = self._owner(parts, submitters, canvas)
            stem, number = attempt_of(stem_of(original), canvas_info is not None)
            file_format = format_of(original) or format_of(parts[-1]) or Format.NOTEBOOK
            if file_format is Format.SCRIPT and stem.casefold() in support:
                self._intake.skipped.append(
                    Skipped(
                        found.source,
                        _(
                            "a support module the assignment provides{renamed}, not a submission"
                        ).format(renamed=_as(original, parts)),
                        owner,
                        found.origin,
                    )
                )
                continue
            attachment = canvas_info.attachment if canvas_info else -1
            order = (attachment, number, found.modified, _natural(found.source))
            late = canvas_info.late if canvas_info else None
            family = (stem.casefold(), file_format)
            owned.append((Candidate(found, original, family, order, late), owner))
        return owned

    def _wrappers(self) -> int:
        """How many folders that hold nothing but one folder lead to the class root."""
        every = [found.parts for found in (*self.found, *self.metadata)]
        depth = 0
        while every and all(len(parts) > depth + 1 for parts in every):
            top = {parts[depth] for parts in every}
            if len(top) != 1:
                break
            (name,) = top
            if name.lower().endswith(".zip") or _names_student(name):
                break  # a student's zip, or a class of one whose folder says whose it is
            depth += 1
        return depth

    def _gradescope(self, depth: int) -> dict[str, list[gradescope.Submitter]]:
        """Who submitted each folder, from Gradescope's metadata at the class root."""
        found: dict[str, list[gradescope.Submitter]] = {}
        for metadata in self.metadata:
            if len(metadata.parts) != depth + 1:
                reason = "Gradescope metadata away from the folders it describes, not read"
            else:
                try:
                    found.update(gradescope.submitters(_small_text(metadata)))
                    reason = "Gradescope's list of who submitted what: read for the names"
                except (gradescope.MetadataError, ValueError, OSError) as problem:
                    reason = f"Gradescope metadata that could not be read ({_phrase(str(problem))})"
            self.skip(metadata.source, reason, metadata.origin)
        for people in found.values():
            for person in people:
                if person.email:
                    self.emails[person.student.id] = person.email
        return found

    def _owner(
        self,
        parts: tuple[str, ...],
        submitters: dict[str, list[gradescope.Submitter]],
        canvas: bool,
    ) -> tuple[Student, str, CanvasName | None]:
        """Whose a file is, the name the student gave it, and what Canvas says of it."""
        top = parts[0]
        original = parts[-1]
        if canvas and (said := canvas_name(top)):
            return said.student, said.original if len(parts) == 1 else original, said
        if owner := moodle_folder(top):
            return owner, original, None
        if flattened := moodle_file(top):
            return flattened[0], flattened[1] if len(parts) == 1 else original, None
        if people := submitters.get(top):
            first = people[0].student
            names = " & ".join(person.student.name for person in people if person.student.name)
            return replace(first, name=names or None), original, None
        if len(parts) == 1:
            return student(Layout.FILES, stem_of(top)), original, None
        if top.lower().endswith(".zip"):  # a student's zip at the class root
            return student(Layout.FILES, top[: -len(".zip")]), original, None
        return student(Layout.FILES, top), original, None


def _as(original: str, parts: tuple[str, ...]) -> str:
    """` (name)`: the name the student gave a file, where the LMS renamed it."""
    return f" ({original})" if original != parts[-1] else ""


def _names_student(folder: str) -> bool:
    return bool(moodle_folder(folder) or _GRADESCOPE_FOLDER.match(folder) or canvas_name(folder))


def _mostly_canvas(names: set[str]) -> bool:
    """Whether a class root's files are named as Canvas names them: at least half of them, so
    that one flat file such as `lab_1_2_final.ipynb` is not taken for Canvas's."""
    matches = sum(canvas_name(name) is not None for name in names)
    return matches > 0 and 2 * matches >= len(names)


def _small_text(found: Found) -> str:
    """A small text file's content (Gradescope's metadata)."""
    if isinstance(found.where, Member):
        if found.where.size > MAX_METADATA_BYTES:
            raise ValueError("it is too large")
        archive = found.where.archive
        with archive.opened() as opened, archive.stream(opened, found.where.info) as data:
            return data.read(MAX_METADATA_BYTES).decode("utf-8-sig")
    path = Path(found.where)
    if path.stat().st_size > MAX_METADATA_BYTES:
        raise ValueError("it is too large")
    return path.read_text(encoding="utf-8-sig")


def _phrase(sentence: str) -> str:
    """A message's sentence as a phrase in a list: `The x.` → `the x`."""
    return sentence[:1].lower() + sentence[1:].rstrip(".")


def _hidden(name: str) -> bool:
    return name.startswith(".") or name == _MACOS_METADATA


def _hidden_reason(name: str, folder: bool) -> str:
    if name == _MACOS_METADATA:
        return _("macOS's metadata folder (__MACOSX), not a submission")
    if name == ".ipynb_checkpoints":
        return _("Jupyter's checkpoints folder, not a submission")
    return _("a hidden folder, not read") if folder else _("a hidden file, not read")


def _natural(text: str) -> tuple:
    """A sort key in which `attempt_10` comes after `attempt_9`."""
    return tuple(int(piece) if piece.isdigit() else piece for piece in _NUMBER.split(text))
