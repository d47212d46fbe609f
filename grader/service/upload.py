"""Receive an upload form as it streams in: the file goes to disk, counted, never whole in memory.

An upload over the limit is refused by its Content-Length before anything is read, or, sent
without one, as soon as the count passes the limit.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from grader.service.errors import ApiError
from grader.service.records import stored_suffix

FILE_FIELD = "file"
MAX_FIELD_BYTES = 4096  # a text field: a student's name, a callback URL
MAX_PARTS = 16
FORM_OVERHEAD_BYTES = 64 * 1024  # what a form may hold besides the file: boundaries, fields
INCOMING_PREFIX = ".incoming-"
DEFAULT_FILENAME = "submission.ipynb"


@dataclass
class ReceivedForm:
    """A form whose file part is in `path` (the caller removes or keeps it)."""

    path: Path | None = None
    filename: str = DEFAULT_FILENAME
    size: int = 0
    digest: str = ""
    fields: dict[str, str] = field(default_factory=dict)

    def discard(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def too_large(max_bytes: int) -> ApiError:
    return ApiError(
        413,
        "upload_too_large",
        f"The upload is over {max_bytes:,} bytes, the most this service accepts. Clear the "
        "notebook's outputs (Edit > Clear All Outputs in Jupyter), save it and upload it again.",
    )


async def receive_form(request: Request, folder: Path, max_bytes: int) -> ReceivedForm:
    """Read a multipart form, its `file` into a new file in `folder`, at most `max_bytes` of it."""
    kind, options = parse_options_header(request.headers.get("content-type"))
    if kind != b"multipart/form-data":
        raise ApiError(
            415,
            "not_multipart",
            "Send the upload as multipart/form-data, with the notebook in a field named `file` "
            "(and optionally `student` and `callback_url`).",
        )
    boundary = options.get(b"boundary")
    if not boundary:
        raise _malformed("the Content-Type header has no boundary")
    declared = request.headers.get("content-length")
    if (
        declared is not None
        and declared.isdigit()
        and int(declared) > max_bytes + FORM_OVERHEAD_BYTES
    ):
        raise too_large(max_bytes)
    reader = _FormReader(folder, max_bytes)
    try:
        parser = MultipartParser(boundary, reader.callbacks())
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > max_bytes + FORM_OVERHEAD_BYTES:
                raise too_large(max_bytes)
            parser.write(chunk)
        parser.finalize()
        return reader.finished()
    except FormParserError as problem:  # a malformed form, or a boundary over 256 bytes
        reader.abandon()
        raise _malformed(str(problem)) from None
    except BaseException:  # cut short, over the limit, or the disk failed: nothing is kept
        reader.abandon()
        raise


def _malformed(why: str) -> ApiError:
    return ApiError(
        422,
        "malformed_form",
        f"The multipart form could not be read ({why}): send it again as multipart/form-data "
        "with the notebook in a field named `file`.",
    )


class _FormReader:
    """python-multipart's callbacks: each part's headers, then its data to a file or a field."""

    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder, self.max_bytes = folder, max_bytes
        self.form = ReceivedForm()
        self.parts = 0
        self.complete = False
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._name = ""
        self._text: bytearray | None = None
        self._file: BinaryIO | None = None
        self._hasher = hashlib.sha256()

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda data, start, end: self._header_name.extend(data[start:end]),
            "on_header_value": lambda data, start, end: self._header_value.extend(data[start:end]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    def _part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise _malformed(f"more than {MAX_PARTS} fields")
        self._headers.clear()

    def _header_end(self) -> None:
        self._headers[bytes(self._header_name).lower()] = bytes(self._header_value)
        self._header_name.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        disposition, options = parse_options_header(self._headers.get(b"content-disposition"))
        if disposition != b"form-data" or b"name" not in options:
            raise _malformed("a part has no Content-Disposition: form-data with a name")
        self._name = options[b"name"].decode("utf-8", "replace")
        if self._name == FILE_FIELD:
            if self.form.path is not None:
                raise _malformed("it has more than one `file` field")
            given = options.get(b"filename", b"").decode("utf-8", "replace")
            self.form.filename = _base_name(given) or DEFAULT_FILENAME
            suffix = stored_suffix(self.form.filename)
            self.form.path = self.folder / f"{INCOMING_PREFIX}{secrets.token_hex(8)}{suffix}"
            descriptor = os.open(self.form.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            self._file = os.fdopen(descriptor, "wb")
        else:
            if self._name in self.form.fields:
                raise _malformed(f"it has more than one `{self._name}` field")
            self._text = bytearray()

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._file is not None:
            self.form.size += end - start
            if self.form.size > self.max_bytes:
                raise too_large(self.max_bytes)
            piece = data[start:end]
            self._file.write(piece)
            self._hasher.update(piece)
        elif self._text is not None:
            self._text.extend(data[start:end])
            if len(self._text) > MAX_FIELD_BYTES:
                raise _malformed(f"the `{self._name}` field is over {MAX_FIELD_BYTES} bytes")

    def _part_end(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        elif self._text is not None:
            try:
                self.form.fields[self._name] = self._text.decode("utf-8")
            except UnicodeDecodeError:
                raise _malformed(f"the `{self._name}` field is not UTF-8 text") from None
            self._text = None

    def _end(self) -> None:
        self.complete = True

    def finished(self) -> ReceivedForm:
        if not self.complete:
            self.abandon()
            raise _malformed("it ended before its closing boundary; the upload was cut short")
        if self.form.path is None:
            raise ApiError(
                422,
                "missing_file",
                "The form has no `file` field: send the notebook (.ipynb) or script (.py) as "
                "the form's `file` field.",
            )
        self.form.digest = self._hasher.hexdigest()
        return self.form

    def abandon(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self.form.discard()


def _base_name(given: str) -> str:
    """The file's name without any folder a browser or client put before it."""
    return given.replace("\\", "/").rsplit("/", 1)[-1].strip()[:255]
