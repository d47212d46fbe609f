"""Runs inside the confined child: define each graded function in a fresh namespace, run it.

The child is forked before the job exists, so everything it knows arrived on its pipe: each
function's code and the calls to run. The worker sends every function's public calls first and
hidden calls only after all public output exists, so nothing a student prints in a public case
can contain a hidden input. Results leave as plain data; the grader judges them.
"""

from __future__ import annotations

import gc
import io
import linecache
import sys
import time
import traceback
import types
from typing import Any

import numpy as np

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
    frames = [
        f for f in traceback.extract_tb(error.__traceback__) if f.filename.startswith("cell ")
    ]
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


def serve(base: dict, calls_in: int, results_out: int, protections: tuple[str, ...]) -> None:
    """Run the functions the worker sends, one after another, until it closes the pipe.

    After each function the child reports whether it is still clean: no thread left running and
    no shared module changed. A child that is not clean is replaced before the next function.
    """
    baseline = _shared_state()
    while (message := protocol.read_frame(calls_in)) is not None:
        if message.get("type") != "function":
            return
        _serve_function(dict(base), message, calls_in, results_out, protections)
        gc.collect()
        clean = len(sys._current_frames()) == 1 and _shared_state() == baseline
        protocol.write_frame(results_out, {"type": "ended", "clean": clean})
        if not clean:
            return


class WatchedModule(types.ModuleType):
    """A module that notes any attribute set or deleted on it, e.g. a monkeypatched numpy."""

    def __setattr__(self, name: str, value: Any) -> None:
        _CHANGED[0] = True
        super().__setattr__(name, value)

    def __delattr__(self, name: str) -> None:
        _CHANGED[0] = True
        super().__delattr__(name)


_CHANGED = [False]


def watch(modules: list[types.ModuleType]) -> None:
    """Mark shared modules, in the worker before it forks, so a child sees changes to them."""
    for module in modules:
        module.__class__ = WatchedModule


def _shared_state() -> tuple:
    """What one function could change for the next: modules, hooks, settings.

    Cheap by design: reading every module's contents would copy the forked memory.
    """
    return (
        _CHANGED[0],
        len(sys.modules),
        sys.gettrace(),
        sys.getprofile(),
        sys.getrecursionlimit(),
        tuple(sorted(np.geterr().items())),
        sys.stdout,
        sys.stderr,
    )


def _serve_function(
    namespace: dict,
    message: dict,
    calls_in: int,
    results_out: int,
    protections: tuple[str, ...],
) -> None:
    for name in message["rpc"]:
        namespace[name] = _stub(name, calls_in, results_out)
    real_stdout = sys.stdout
    defined = {"type": "defined", "protections": list(protections)}
    try:
        target = define(namespace, message["chunks"], message["name"])
    except BaseException as error:  # noqa: BLE001 - any failure to define is reported
        target, defined["error"] = None, describe_error(error)
    protocol.write_frame(results_out, defined)
    if target is not None:
        _run_batch(target, message["calls"], real_stdout, results_out)


def _run_batch(target: Any, calls: list, real_stdout: Any, results_out: int) -> None:
    for args in calls:
        reply = _run_one(target, args, real_stdout)
        try:
            protocol.write_frame(results_out, reply)
        except protocol.Unencodable as problem:
            error = {"type": "Ungradable", "message": str(problem)}
            protocol.write_frame(results_out, {"type": "result", "error": error})


def _run_one(target: Any, encoded_args: Any, real_stdout: Any) -> dict:
    """Call the function once; the reply carries its value or error, its output and time."""
    args = protocol.decode(encoded_args)
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
    return reply
