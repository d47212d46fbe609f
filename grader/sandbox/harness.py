"""Runs inside the confined child: define each graded function in a fresh namespace, run it.

The child is forked before the job exists, so all it knows of a submission arrived on its pipe:
each function's code and the calls to run (a public case's arguments only by name: the child is
born with those). The worker sends every function's public calls first and hidden calls only
after all public output exists, so nothing a student prints in a public case can contain a
hidden input. Results leave as plain data; the grader judges them. They are sent
in batches, but always before student code runs again: a function that never returns costs no
result already computed.
"""

from __future__ import annotations

import ctypes
import io
import linecache
import operator
import sys
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


def describe_error(error: BaseException, unavailable: dict[str, str] | None = None) -> dict:
    """Type, message and place of an exception, robust to hostile exception objects.

    A name left unbound because its import failed (`unavailable`: name -> why) is reported as
    the missing module it is, not as a NameError.
    """
    try:
        message = str(error)[:2000]
    except BaseException:  # noqa: BLE001 - a hostile __str__ must not escape
        message = ""
    name = type(error).__name__ if isinstance(type(error).__name__, str) else "Exception"
    missing = getattr(error, "name", None) if type(error) is NameError else None
    if unavailable and type(missing) is str and missing in unavailable:
        name, message = "ModuleNotFoundError", (
            f"`{missing}` is not available to graded code ({unavailable[missing]}); "
            f"available: {AVAILABLE}"
        )
    return {"type": name[:100], "message": message, "where": _where(error)[:500]}


AVAILABLE = "numpy, Python's standard library and the modules the assignment provides"


class Outbox:
    """Frames for the worker, held until the next flush: one write, one wake-up for several.

    It also counts the replies the current function's reference calls have read.
    """

    def __init__(self, fd: int) -> None:
        self.fd, self.frames, self.replies = fd, [], 0

    def put(self, message: dict) -> None:
        self.frames.append(protocol.dumps(message))

    def flush(self) -> None:
        if self.frames:
            frames, self.frames = self.frames, []
            protocol.write_frames(self.fd, frames)


class CallState:
    """What the stubs of one graded function know about the call being served: the answers
    traced for it, the model the grader answers it with, and which references it has called;
    and the names its imports could not bind."""

    def __init__(self) -> None:
        self.answers: dict[str, Any] = {}
        self.model: str | None = None
        self.called: set[str] = set()
        self.unavailable: dict[str, str] = {}

    def start(self, answers: dict[str, Any], model: str | None) -> None:
        self.answers, self.model, self.called = answers, model, set()


def _stub(name: str, calls_in: int, outbox: Outbox, state: CallState) -> Any:
    """The reference `name`: answered from the call's traced answers when the call is one the
    reference solution makes itself on the current case, else by the worker."""

    def call_reference(*args: Any, **kwargs: Any) -> Any:
        state.called.add(name)
        encoded_args, encoded_kwargs = protocol.encode(list(args)), protocol.encode(kwargs)
        answer = state.answers.get(protocol.call_key(name, encoded_args, encoded_kwargs))
        if answer is not None:
            return protocol.decode(answer)
        message = {"type": "call", "name": name, "args": encoded_args, "kwargs": encoded_kwargs}
        if state.model is not None:
            message["model"] = state.model
        outbox.put(message)
        outbox.flush()
        reply = protocol.read_frame(calls_in)
        outbox.replies += 1
        if reply is None or "error" in reply:
            reason = (reply or {}).get("error", "no answer")
            raise RuntimeError(f"the reference {name}() could not be called: {reason}")
        return protocol.decode(reply["value"])

    call_reference.__name__ = name
    return call_reference


def define(namespace: dict, chunks: list[dict], function: str, unavailable: dict[str, str]) -> Any:
    """Execute the extracted chunks and return the graded function object.

    An optional import that fails leaves its names unbound, and says why in `unavailable`.
    """
    for chunk in chunks:
        filename = f"cell {chunk['cell']}"
        source = "\n" * (chunk["first_line"] - 1) + chunk["code"]
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        code = compile(source, filename, "exec", dont_inherit=True)
        try:
            exec(code, namespace)
        except ImportError as error:
            if not chunk.get("optional"):
                raise
            if not _import_star_leniently(chunk["code"], namespace):
                reason = str(error)[:200]
                unavailable.update(dict.fromkeys(_imported_names(chunk["code"]), reason))
    target = namespace.get(function)
    if not callable(target):
        raise NameError(f"`{function}` is not defined as a function")
    return target


def _import_star_leniently(code: str, namespace: dict) -> bool:
    """`from module import *` that binds every public name the sandbox can import.

    numpy's star import reaches submodules such as `numpy.f2py`, which need modules a child
    cannot load; Jupyter would have bound the rest, and graded code uses the rest.
    """
    import ast  # only when an import has failed
    import importlib

    nodes = ast.parse(code).body
    if len(nodes) != 1 or not isinstance(nodes[0], ast.ImportFrom) or nodes[0].level:
        return False
    if [alias.name for alias in nodes[0].names] != ["*"]:
        return False
    try:
        module = importlib.import_module(nodes[0].module)
    except ImportError:
        return False
    public = getattr(module, "__all__", None)
    if public is None:
        public = [name for name in vars(module) if not name.startswith("_")]
    for name in public:
        try:
            namespace[name] = getattr(module, name)
        except (ImportError, AttributeError):
            continue
    return True


def _imported_names(code: str) -> set[str]:
    """The names the import statements of `code` bind."""
    import ast  # only when an import has failed

    return {
        (alias.asname or alias.name).split(".")[0]
        for node in ast.walk(ast.parse(code))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }


def serve(
    base: dict,
    calls_in: int,
    results_out: int,
    protections: tuple[str, ...],
    watch: ModuleWatch,
    shared: list[list],
) -> None:
    """Run the batches of functions the worker sends, one function after another.

    After each function the child reports whether it is still clean: no thread left running and
    no shared module changed; and how many replies to reference calls it read, so that the
    worker can tell whether an unread one is left for the next function. A child that is not
    clean stops; the worker replaces it.
    """
    outbox = Outbox(results_out)
    baseline = _shared_state(watch)
    # A function defined for its public calls serves its hidden ones.
    defined: dict[str, tuple[Any, CallState]] = {}
    while (message := protocol.read_frame(calls_in)) is not None:
        if "type" not in message:
            continue  # the answer to a call the last function forged and never read
        if message["type"] != "functions":
            return
        for function in message["functions"]:
            outbox.flush()
            outbox.replies = 0
            _serve_function(base, defined, function, calls_in, outbox, shared)
            clean = len(sys._current_frames()) == 1 and _shared_state(watch) == baseline
            ended = {"type": "ended", "clean": clean, "replies": outbox.replies}
            outbox.put({**ended, "protections": list(protections)})
            if not clean:
                outbox.flush()
                return
        outbox.flush()


# The name under which the worker reports how exactly ModuleWatch sees changes, beside the
# host's protections: `--require-isolation` refuses to grade unless it is "on".
MODULE_WATCH = "module-watch"


class ModuleWatch:
    """Notices any change to a loaded module's namespace, `__dict__` writes included.

    It never reads the namespaces, which would copy the forked child's memory page by page:
    CPython bumps a dict's version tag on every change, and the watch reads those tags from
    memory, through views made once, before the fork. Where that is unavailable it compares a
    few modules' contents instead.
    """

    FALLBACK = ("builtins", "math", "numpy", "numpy.linalg", "numpy.random")

    def __init__(self) -> None:
        modules = [
            module
            for name, module in sys.modules.items()
            if isinstance(module, types.ModuleType) and name not in ("sys", "__main__")
        ]
        self.tags = _version_tags([vars(m) for m in modules] + [sys.modules])
        self.fallback = [m for m in modules if m.__name__ in self.FALLBACK]

    def exactness(self) -> str:
        """'on' where every change is seen (CPython 3.11 to 3.13 keep dict version tags); else
        why only a few modules are compared."""
        if self.tags is not None:
            return "on"
        return (
            "approximate: this interpreter keeps no dict version tags (CPython 3.11 to 3.13 "
            "do), so only a few modules are compared between functions"
        )

    def state(self) -> tuple:
        if self.tags is not None:
            return tuple(map(_VALUE, self.tags))
        return (len(sys.modules), *(tuple(map(id, vars(m).values())) for m in self.fallback))


_VALUE = operator.attrgetter("value")


def _version_tags(namespaces: list[dict]) -> list | None:
    """Views of the dicts' version tags, if this interpreter bumps them reliably."""
    if sys.implementation.name != "cpython":
        return None
    offset = 3 * ctypes.sizeof(ctypes.c_ssize_t)

    def tag(namespace: dict) -> ctypes.c_uint64:
        return ctypes.c_uint64.from_address(id(namespace) + offset)

    probe: dict = {}
    view = tag(probe)
    seen = [view.value]
    for change in (lambda: probe.update(x=1), lambda: probe.update(x=2), probe.clear):
        change()
        seen.append(view.value)
    return [tag(n) for n in namespaces] if len(set(seen)) == len(seen) else None


def _shared_state(watch: ModuleWatch) -> tuple:
    """What one function could change for the next: modules, hooks, settings."""
    return (
        watch.state(),
        sys.gettrace(),
        sys.getprofile(),
        sys.getrecursionlimit(),
        tuple(sorted(np.geterr().items())),
        sys.stdout,
        sys.stderr,
    )


def _serve_function(
    base: dict,
    defined: dict[str, tuple[Any, CallState]],
    message: dict,
    calls_in: int,
    outbox: Outbox,
    shared: list[list],
) -> None:
    """Define the function in a namespace of its own, unless this child already has, and run
    its calls."""
    real_stdout = sys.stdout
    target, state = defined.get(message["name"], (None, CallState()))
    if target is None:
        namespace = dict(base)
        for name in message["rpc"]:
            namespace[name] = _stub(name, calls_in, outbox, state)
        try:
            target = define(namespace, message["chunks"], message["name"], state.unavailable)
        except BaseException as error:  # noqa: BLE001 - any failure to define is reported
            outbox.put({"type": "defined", "error": describe_error(error, state.unavailable)})
            return
        defined[message["name"]] = target, state
    for args, answers, model in zip(
        message["calls"], message["answers"], message["models"], strict=True
    ):
        outbox.flush()
        state.start(answers, model)
        reply = _run_one(target, _arguments(args, shared), real_stdout, state.unavailable)
        reply["called"] = sorted(state.called)
        try:
            outbox.put(reply)
        except protocol.Unencodable as problem:
            outbox.put({"type": "result", "error": {"type": "Ungradable", "message": str(problem)}})


def _arguments(encoded: Any, shared: list[list]) -> list:
    """A call's arguments: decoded, or fresh copies of public ones this child was born with."""
    if type(encoded) is dict and "$shared" in encoded:
        return [_fresh(value) for value in shared[encoded["$shared"]]]
    return protocol.decode(encoded)


def _fresh(value: Any) -> Any:
    """A copy as `protocol.decode` would make it: new arrays, dicts and lists."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if type(value) is dict:
        return {key: _fresh(item) for key, item in value.items()}
    if type(value) is list:
        return [_fresh(item) for item in value]
    return value


def _run_one(target: Any, args: list, real_stdout: Any, unavailable: dict[str, str]) -> dict:
    """Call the function once; the reply carries its value or error, and its output."""
    output = CappedOutput()
    sys.stdout = output
    try:
        value = target(*args)
        reply = {"type": "result", "value": protocol.encode(value)}
    except protocol.Unencodable as problem:
        reply = {"type": "result", "error": {"type": "Ungradable", "message": str(problem)}}
    except BaseException as error:  # noqa: BLE001 - student errors cost the case only
        reply = {"type": "result", "error": describe_error(error, unavailable)}
    finally:
        sys.stdout = real_stdout
    reply["stdout"] = output.text()
    return reply
