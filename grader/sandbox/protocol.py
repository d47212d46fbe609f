"""The wire format between grader, worker and sandboxed child: length-prefixed JSON frames.

Values are plain data only. Numbers, strings, lists, dicts and numpy arrays are tagged so they
decode to exactly those types; anything else is refused. Never pickle.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import struct
from typing import Any

import numpy as np

MAX_FRAME_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 32
MAX_ITEMS = 200_000
MAX_INT_BITS = 1023  # larger integers cannot be compared as floats: the judge would fail
_HEADER = struct.Struct(">I")
# A pipe holds 64 KiB: asking for more would only make each read allocate (and map) more.
READ_BYTES = 1 << 16
_DTYPE = re.compile(r"^[<>|=]?(b1|[iu][1248]|f[248]|c(8|16))$")


class ProtocolError(Exception):
    """A frame or value broke the format: the sender is misbehaving."""


class Unencodable(Exception):
    """A value is not plain data and cannot cross the sandbox boundary."""


def encode(value: Any, depth: int = 0) -> Any:
    """Turn plain data into JSON-ready tagged data."""
    if depth > MAX_DEPTH:
        raise Unencodable("the value is nested too deeply")
    if value is None or type(value) in (bool, str):
        return value
    if type(value) is int:
        if value.bit_length() > MAX_INT_BITS:
            raise Unencodable("the integer is too large to be compared as a number")
        return value if abs(value) < 2**53 else {"$i": str(value)}
    if type(value) is float:
        return value if math.isfinite(value) else {"$f": repr(value)}
    if isinstance(value, np.generic) and value.dtype.kind in "biufc":
        return encode(value.item(), depth)
    if type(value) is complex:
        return {"$c": [encode(value.real), encode(value.imag)]}
    if isinstance(value, np.ndarray) and value.dtype.kind in "biufc":
        data = base64.b64encode(value.tobytes(order="C")).decode("ascii")
        return {"$a": [value.dtype.str, list(value.shape), data]}
    if type(value) in (list, tuple):
        return [encode(item, depth + 1) for item in value]
    if type(value) is dict:
        if not all(type(key) is str for key in value):
            raise Unencodable("a dict has keys that are not strings")
        return {"$d": [[key, encode(item, depth + 1)] for key, item in value.items()]}
    raise Unencodable(f"a value of type {type(value).__name__} is not plain data")


def decode(data: Any) -> Any:
    """Validate tagged data strictly and rebuild the plain values."""
    budget = [MAX_ITEMS]
    return _decode(data, 0, budget)


def _decode(data: Any, depth: int, budget: list[int]) -> Any:
    budget[0] -= 1
    if budget[0] < 0 or depth > MAX_DEPTH:
        raise ProtocolError("value too large or too deeply nested")
    if data is None or type(data) in (bool, float, str):
        return data
    if type(data) is int:
        return _checked_int(data)
    if type(data) is list:
        return [_decode(item, depth + 1, budget) for item in data]
    if type(data) is not dict or len(data) != 1:
        raise ProtocolError("malformed value")
    ((tag, body),) = data.items()
    if tag == "$f" and body in ("nan", "inf", "-inf"):
        return float(body)
    if tag == "$i" and type(body) is str and re.fullmatch(r"-?\d{1,400}", body):
        return _checked_int(int(body))
    if tag == "$c" and type(body) is list and len(body) == 2:
        real, imag = (_decode(part, depth + 1, budget) for part in body)
        if type(real) is not float or type(imag) is not float:
            raise ProtocolError("malformed complex number")
        return complex(real, imag)
    if tag == "$a":
        return _decode_array(body, budget)
    if tag == "$d" and type(body) is list:
        result = {}
        for pair in body:
            if type(pair) is not list or len(pair) != 2 or type(pair[0]) is not str:
                raise ProtocolError("malformed dict")
            result[pair[0]] = _decode(pair[1], depth + 1, budget)
        return result
    raise ProtocolError("unknown value tag")


def _checked_int(value: int) -> int:
    if value.bit_length() > MAX_INT_BITS:
        raise ProtocolError("integer too large to be compared as a number")
    return value


def _decode_array(body: Any, budget: list[int]) -> np.ndarray:
    if type(body) is not list or len(body) != 3:
        raise ProtocolError("malformed array")
    dtype, shape, data = body
    if type(dtype) is not str or not _DTYPE.match(dtype) or type(data) is not str:
        raise ProtocolError("array of a type that is not numeric")
    if (
        type(shape) is not list
        or len(shape) > 32
        or not all(type(n) is int and 0 <= n < 2**31 for n in shape)
    ):
        raise ProtocolError("malformed array shape")
    raw = base64.b64decode(data, validate=True)
    dt = np.dtype(dtype)
    if math.prod(shape) * dt.itemsize != len(raw):
        raise ProtocolError("array data does not match its shape")
    budget[0] -= len(raw) // 64
    return np.frombuffer(raw, dtype=dt).reshape(shape).copy()


def compact(value: Any) -> str:
    """JSON as every message is written: no spaces, no NaN."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def call_key(name: str, args: Any, kwargs: Any) -> str:
    """A call to a reference function, as a key: its name and its encoded arguments."""
    return compact([name, args, kwargs])


def dumps(message: dict) -> bytes:
    """One frame: header and compact JSON."""
    return frame(compact(message).encode())


def frame(body: bytes) -> bytes:
    """A frame body with its header; one over the size limit is refused."""
    if len(body) > MAX_FRAME_BYTES:
        raise Unencodable(f"the value is larger than {MAX_FRAME_BYTES // 2**20} MiB")
    return _HEADER.pack(len(body)) + body


def write_frame(fd: int, message: dict) -> None:
    _write_all(fd, dumps(message))


def write_frames(fd: int, frames: list[bytes]) -> None:
    """Write frames made by `dumps` in one go."""
    _write_all(fd, b"".join(frames))


def write_body(fd: int, body: bytes) -> None:
    """Write an already encoded frame body (e.g. relayed unparsed), with its header."""
    _write_all(fd, frame(body))


def _write_all(fd: int, frame: bytes) -> None:
    data = memoryview(frame)
    while data:
        data = data[os.write(fd, data) :]


def read_exact(fd: int, size: int) -> bytes | None:
    """Read exactly `size` bytes, or None at end of stream."""
    chunks, remaining = [], size
    while remaining:
        chunk = os.read(fd, min(remaining, READ_BYTES))
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int) -> dict | None:
    """The next frame's message, or None at end of stream."""
    body = read_body(fd)
    return None if body is None else read_frame_body(body)


def read_body(fd: int) -> bytes | None:
    """The next frame's body, unparsed, or None at end of stream."""
    header = read_exact(fd, _HEADER.size)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    if size > MAX_FRAME_BYTES:
        raise ProtocolError("frame larger than the limit")
    body = read_exact(fd, size)
    if body is None:
        raise ProtocolError("truncated frame")
    return body


class FrameReader:
    """Frames from a stream, read in large chunks: one system call brings many frames."""

    def __init__(self, fd: int) -> None:
        self.fd, self.buffer = fd, bytearray()

    def next(self) -> dict | None:
        """The next frame's message, or None at end of stream."""
        body = self.next_body()
        return None if body is None else read_frame_body(body)

    def next_body(self) -> bytes | None:
        """The next frame's body, unparsed, or None at end of stream."""
        while True:
            if len(self.buffer) >= _HEADER.size:
                (size,) = _HEADER.unpack_from(self.buffer)
                if size > MAX_FRAME_BYTES:
                    raise ProtocolError("frame larger than the limit")
                end = _HEADER.size + size
                if len(self.buffer) >= end:
                    body = bytes(self.buffer[_HEADER.size : end])
                    del self.buffer[:end]
                    return body
            chunk = self.read_chunk()
            if not chunk:
                if self.buffer:
                    raise ProtocolError("truncated frame")
                return None
            self.buffer += chunk

    def read_chunk(self) -> bytes:
        return os.read(self.fd, READ_BYTES)


def read_frame_body(body: bytes) -> dict:
    """Parse a frame's body into its message."""
    try:
        message = json.loads(body)
    except (ValueError, RecursionError):
        raise ProtocolError("frame is not valid JSON") from None
    if type(message) is not dict:
        raise ProtocolError("frame is not an object")
    return message
