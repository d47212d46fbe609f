"""Zip archives read where they are: members are decompressed into memory a chunk at a time,
or, for a zip inside a zip, into an anonymous temporary file; nothing is ever written under a
member's own name.

A member that could hurt (a name climbing out of the archive, a link, a bomb) is refused on
its own with a reason, and the rest of the archive is read as usual.
"""

from __future__ import annotations

import lzma
import os
import re
import struct
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from grader.intake import SEPARATOR
from grader.intake.identity import Student
from grader.read import MAX_FILE_BYTES, Submission, Unreadable, read_stream

MAX_MEMBERS = 10_000  # members read from one archive; a class of 400 with 3 files each is 1,200
MAX_LISTED = 100_000  # an archive listing more is refused whole, before its directory is parsed
MAX_DIRECTORY_BYTES = 64 * 2**20
MAX_MEMBER_BYTES = MAX_FILE_BYTES
MAX_RATIO = 200  # deflate reaches about 1,000 to 1 on repeated bytes; notebooks, 5 to 30
RATIO_FLOOR = 2**20  # a member smaller than this is never a bomb, however well it compresses
MAX_ARCHIVE_BYTES = 4 * 2**30  # decompressed from one archive in all
KEEP_OPEN_MEMBERS = 64  # a larger archive on disk stays open for the batch instead of reopened
_CHUNK = 2**20
_END_OF_DIRECTORY = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"
_UNICODE_PATH = 0x7075  # Info-ZIP's extra field with the member's name in UTF-8
_READABLE_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
_LINK = 0o120000
_FILE_TYPE = 0o170000
_UNIX = 3
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # shown as �: a name must not move a terminal's cursor
_DAMAGE = (zipfile.BadZipFile, zlib.error, EOFError, lzma.LZMAError, OSError, ValueError)


class NotAnArchive(Exception):
    """The file is not a zip that can be read; the message says why."""


@dataclass(frozen=True)
class Member:
    """A file in an archive, named as the archive names it, decoded."""

    archive: Archive
    info: zipfile.ZipInfo
    parts: tuple[str, ...]  # the member's path, a folder at a time
    modified: float  # seconds since the epoch, as the archive records it (local time)

    @property
    def source(self) -> str:
        return f"{self.archive.source}{SEPARATOR}{_CONTROL.sub(chr(0xFFFD), '/'.join(self.parts))}"

    @property
    def size(self) -> int:
        return self.info.file_size

    def read(self, submission_id: str, student: Student | None) -> Submission:
        """The member as a submission, decompressed a chunk at a time."""
        try:
            with self.archive.opened() as archive, self.archive.stream(archive, self.info) as data:
                return read_stream(
                    submission_id, self.source, self.parts[-1], self.size, _guarded(data.read),
                    student,
                )  # fmt: skip
        except NotAnArchive as problem:  # its archive, inside another one, is gone or damaged
            return Submission(submission_id, self.source, error=str(problem), student=student)


@dataclass(frozen=True)
class Refusal:
    """A member not read, and why."""

    source: str
    reason: str


def _guarded(read: Callable[[int], bytes]) -> Callable[[int], bytes]:
    """`read`, with a damaged member's errors (bad CRC, truncated data) as `Unreadable`."""

    def guarded(count: int) -> bytes:
        try:
            return read(count)
        except _DAMAGE as problem:
            raise Unreadable(
                f"The file is damaged inside its archive ({problem}): download it again."
            ) from None

    return guarded


class Archive:
    """A zip on disk, or a member of another zip (spooled to an anonymous temporary file each
    time it is opened, so a class of student zips holds no memory or descriptors meanwhile)."""

    def __init__(self, source: str, path: Path | None = None, outer: Member | None = None):
        self.source = source
        self._path = path
        self._outer = outer
        self._lock = threading.Lock()  # zipfile counts a shared file's users without a lock
        self._kept: zipfile.ZipFile | None = None
        self._kept_file: BinaryIO | None = None

    @property
    def nested(self) -> bool:
        return self._outer is not None

    def members(self) -> tuple[list[Member], list[Refusal]]:
        """The members to read, and those refused with the reason; folders are neither."""
        with self.opened() as archive:
            infos = archive.infolist()
            if self._path is not None and len(infos) > KEEP_OPEN_MEMBERS:
                self._keep()
            return _screen(self, infos)

    def close(self) -> None:
        if self._kept is not None and self._kept_file is not None:
            self._kept.close()
            self._kept_file.close()
            self._kept = self._kept_file = None

    @contextmanager
    def opened(self) -> Iterator[zipfile.ZipFile]:
        """The archive, open for reading; raises `NotAnArchive`."""
        if self._kept is not None:
            yield self._kept
            return
        with self._file() as file:
            archive = _open_zip(file, self.source)
            try:
                yield archive
            finally:
                archive.close()

    @contextmanager
    def stream(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[BinaryIO]:
        """A member's decompressed bytes; opened and closed under the lock, read without it."""
        try:
            with self._lock:
                data = archive.open(info)
        except _DAMAGE as problem:
            raise NotAnArchive(
                f"The file could not be read from {self.source} ({problem})."
            ) from None
        try:
            yield data
        finally:
            with self._lock:
                data.close()

    def _keep(self) -> None:
        """Keep a large archive open for the batch: its directory is parsed once."""
        file = open(self._path, "rb")  # closed by close()
        self._kept_file, self._kept = file, _open_zip(file, self.source)

    @contextmanager
    def _file(self) -> Iterator[BinaryIO]:
        if self._outer is None:
            try:
                file = open(self._path, "rb")
            except OSError as problem:
                raise NotAnArchive(
                    f"The archive could not be opened ({problem.strerror})."
                ) from None
            with file:
                yield file
            return
        outer = self._outer
        with tempfile.TemporaryFile() as spool:  # no name: nothing else can open it
            with outer.archive.opened() as archive:
                with outer.archive.stream(archive, outer.info) as data:
                    copied = _copy(data, spool, outer.size)
            if copied > outer.size:
                raise NotAnArchive(f"{self.source} holds more than its archive says it does.")
            spool.seek(0)
            yield spool


def _copy(data: BinaryIO, spool: BinaryIO, size: int) -> int:
    """Copy at most `size` + 1 bytes (one more shows a member larger than it says)."""
    copied = 0
    read = _guarded(data.read)
    try:
        while copied <= size and (chunk := read(min(_CHUNK, size + 1 - copied))):
            spool.write(chunk)
            copied += len(chunk)
    except Unreadable as problem:
        raise NotAnArchive(str(problem)) from None
    return copied


def _open_zip(file: BinaryIO, source: str) -> zipfile.ZipFile:
    """A zip whose directory is small enough to parse; raises `NotAnArchive`."""
    listed, directory_bytes = _directory_size(file)
    if listed > MAX_LISTED:
        raise NotAnArchive(
            f"The archive lists {listed:,} members, more than the {MAX_LISTED:,} read from one "
            "archive: unpack it and give the folders instead."
        )
    if directory_bytes > MAX_DIRECTORY_BYTES:
        raise NotAnArchive(
            f"The archive's directory takes {directory_bytes >> 20} MiB, more than the "
            f"{MAX_DIRECTORY_BYTES >> 20} MiB read: unpack it and give the folders instead."
        )
    try:
        return zipfile.ZipFile(file)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as problem:
        raise NotAnArchive(f"This is not a zip archive that can be read ({problem}).") from None


def _directory_size(file: BinaryIO) -> tuple[int, int]:
    """How many members the archive's directory lists and its size in bytes, from its end
    records, before zipfile builds an object per member. (0, 0) if there are none to read."""
    try:
        end = file.seek(0, os.SEEK_END)
        file.seek(max(0, end - 65_557))  # the end record and the longest comment
        tail = file.read()
    except OSError:
        return 0, 0
    at = tail.rfind(_END_OF_DIRECTORY)
    if at < 0 or len(tail) < at + 22:
        return 0, 0  # not a zip: zipfile says so
    listed, directory_bytes = struct.unpack("<H I", tail[at + 10 : at + 16])
    locator = at - 20
    if locator >= 0 and tail[locator : locator + 4] == _ZIP64_LOCATOR:
        (record,) = struct.unpack("<Q", tail[locator + 8 : locator + 16])
        try:
            file.seek(record)
            zip64 = file.read(56)
        except (OSError, ValueError, OverflowError):
            return 0, 0
        if len(zip64) == 56:
            listed, directory_bytes = struct.unpack("<Q Q", zip64[32:48])
    return listed, directory_bytes


def _screen(archive: Archive, infos: list[zipfile.ZipInfo]) -> tuple[list[Member], list[Refusal]]:
    """Each member's name decoded and checked, its size weighed against the limits."""
    members: list[Member] = []
    refused: list[Refusal] = []
    budget = MAX_ARCHIVE_BYTES
    files = 0
    for info in infos:
        name = _decoded_name(info)
        shown = f"{archive.source}{SEPARATOR}{_CONTROL.sub(chr(0xFFFD), name)}"
        if info.is_dir() or name.endswith(("/", "\\")):
            continue
        files += 1
        reason = _unsafe(info, name)
        if reason is None and files > MAX_MEMBERS:
            reason = f"past the {MAX_MEMBERS:,} members read from one archive; unpack it instead"
        if reason is None and info.file_size > budget:
            reason = (
                f"the archive's members add up to more than {MAX_ARCHIVE_BYTES >> 30} GiB, "
                "the most read from one archive"
            )
        if reason is not None:
            refused.append(Refusal(shown, reason))
            continue
        budget -= info.file_size
        parts = tuple(part for part in name.replace("\\", "/").split("/") if part not in ("", "."))
        members.append(Member(archive, info, parts, _timestamp(info.date_time)))
    return members, refused


def _unsafe(info: zipfile.ZipInfo, name: str) -> str | None:
    """Why a member must not be read, or None."""
    parts = name.replace("\\", "/").split("/")
    if "\0" in info.orig_filename:
        return "its name holds a NUL character (a name made to deceive)"
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "its name is an absolute path, outside the archive"
    if ".." in parts:
        return "its name climbs out of the archive (..)"
    if info.create_system == _UNIX and (info.external_attr >> 16) & _FILE_TYPE == _LINK:
        return "it is a symbolic link, not a file"
    if info.flag_bits & 0x1:
        return "it is encrypted"
    if info.compress_type not in _READABLE_METHODS:
        return f"it is compressed by a method not readable here (method {info.compress_type})"
    if info.file_size > MAX_MEMBER_BYTES:
        return (
            f"it is {info.file_size / 2**30:.1f} GiB uncompressed, over the "
            f"{MAX_MEMBER_BYTES >> 30} GiB limit on any file"
        )
    if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        ratio = info.file_size / max(info.compress_size, 1)
        return (
            f"it is compressed {ratio:,.0f} to 1, more than the {MAX_RATIO} to 1 any real file "
            "reaches (a zip bomb)"
        )
    return None


def _decoded_name(info: zipfile.ZipInfo) -> str:
    """A member's name: UTF-8 when flagged so, or given in Info-ZIP's Unicode path field, or
    valid UTF-8 anyway (as macOS and Linux write it); else cp437, the zip standard's own."""
    if info.flag_bits & 0x800:
        return info.orig_filename
    raw = info.orig_filename.encode("cp437")  # zipfile decoded it as cp437: undone exactly
    unicode_path = _unicode_path(info.extra, raw)
    if unicode_path is not None:
        return unicode_path
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return info.orig_filename


def _unicode_path(extra: bytes, raw: bytes) -> str | None:
    at = 0
    while at + 4 <= len(extra):
        kind, length = struct.unpack("<H H", extra[at : at + 4])
        body = extra[at + 4 : at + 4 + length]
        at += 4 + length
        if kind == _UNICODE_PATH and len(body) >= 5 and body[0] == 1:
            (checksum,) = struct.unpack("<I", body[1:5])
            if checksum == zlib.crc32(raw):  # the field describes this name, not an older one
                try:
                    return body[5:].decode("utf-8")
                except UnicodeDecodeError:
                    return None
    return None


def _timestamp(date_time: tuple[int, ...]) -> float:
    try:
        return datetime(*date_time).timestamp()
    except (ValueError, OverflowError):  # zeros where an archiver wrote no date
        return 0.0
