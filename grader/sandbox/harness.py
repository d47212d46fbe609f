"""Runs inside the confined child: define the student's function, then answer calls one by one.

Calls arrive one at a time, public ones first, so nothing a student prints while a public case
runs can contain a hidden case's input. Results leave as plain data; the grader judges them.
"""

from __future__ import annotations

import io
import linecache
import sys
import time
import traceback
from typing import Any

from grader.sandbox import protocol

MAX_OUTPUT_CHARS = 4000


class CappedOutput(io.TextIOBase):
    """A stdout that keeps the first characters written and counts the rest."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.kept = 0
        self.dropped = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        text = str(text)
        room = MAX_OUTPUT_CHARS - self.kept
        self.parts.append(text[:room])
        self.kept += min(room, len(text))
        self.dropped += max(0, len(text) - room)
        return len(text)

    def text(self) -> str:
        note = f"\n… {self.dropped} more characters not shown" if self.dropped else ""
        return "".join(self.parts) + note


def _where(error: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename.startswith("cell ")]
    if not frames:
        return ""
    last = frames[-1]
    return f"{last.filename}, line {last.lineno}" + (f": {last.line}" if last.line else "")


def describe_error(error: BaseException) -> dict:
    """Type, message and place of an exception, robust to hostile exception objects."""
    try:
        message = str(error)[:2000]
    except BaseException:  # noqa: BLE001 - a hostile __str__ must not escape
        message = ""
    name = type(error).__name__ if isinstance(type(error).__name__, str) else "Exception"
    return {"type": name[:100], "message": message, "where": _where(error)[:500]}


def _stub(name: str, calls_in: int, results_out: int) -> Any:
    def call_reference(*args: Any, **kwargs: Any) -> Any:
        message = {"type": "call", "name": name, "args": protocol.encode(list(args))}
        message["kwargs"] = protocol.encode(kwargs)
        protocol.write_frame(results_out, message)
        reply = protocol.read_frame(calls_in)
        if reply is None or "error" in reply:
            reason = (reply or {}).get("error", "no answer")
            raise RuntimeError(f"the reference {name}() could not be called: {reason}")
        return protocol.decode(reply["value"])

    call_reference.__name__ = name
    return call_reference


def define(namespace: dict, chunks: list[dict], function: str) -> Any:
    """Execute the extracted chunks and return the graded function object."""
    for chunk in chunks:
        filename = f"cell {chunk['cell']}"
        source = "\n" * (chunk["first_line"] - 1) + chunk["code"]
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        code = compile(source, filename, "exec", dont_inherit=True)
        try:
            exec(code, namespace)
        except ImportError:
            if not chunk.get("optional"):
                raise
    target = namespace.get(function)
    if not callable(target):
        raise NameError(f"`{function}` is not defined as a function")
    return target


def serve(
    namespace: dict, chunks: list[dict], function: str, rpc: list[str], calls_in: int,
    results_out: int,
) -> None:
    """Define the function, then run each call the worker sends until it sends 'done'."""
    for name in rpc:
        namespace[name] = _stub(name, calls_in, results_out)
    real_stdout = sys.stdout
    try:
        target = define(namespace, chunks, function)
    except BaseException as error:  # noqa: BLE001 - any failure to define is reported
        protocol.write_frame(results_out, {"type": "defined", "error": describe_error(error)})
        return
    protocol.write_frame(results_out, {"type": "defined"})
    while True:
        message = protocol.read_frame(calls_in)
        if message is None or message.get("type") != "run":
            return
        args = protocol.decode(message["args"])
        output = CappedOutput()
        sys.stdout = output
        started = time.perf_counter()
        try:
            value = target(*args)
            reply = {"type": "result", "value": protocol.encode(value)}
        except protocol.Unencodable as problem:
            reply = {"type": "result", "error": {"type": "Ungradable", "message": str(problem)}}
        except BaseException as error:  # noqa: BLE001 - student errors cost the case only
            reply = {"type": "result", "error": describe_error(error)}
        finally:
            sys.stdout = real_stdout
        reply["seconds"] = time.perf_counter() - started
        reply["stdout"] = output.text()
        try:
            protocol.write_frame(results_out, reply)
        except protocol.Unencodable as problem:
            error = {"type": "Ungradable", "message": str(problem)}
            protocol.write_frame(results_out, {"type": "result", "error": error, "stdout": ""})
