"""The grader's side of the sandbox: a pool of warm workers and the calls it answers for them.

Each worker is a fresh interpreter started with a clean environment, so no expected value,
hidden case or secret is ever in its memory. Reference functions run here, in the grader.
"""

from __future__ import annotations

import builtins
import queue
import shutil
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from grader.sandbox import protocol
from grader.sandbox.launch import cpu_set, discard, pin, start_worker

MAX_REFERENCE_CALLS = 100_000
MAX_STDOUT_CHARS = 8000
# What of an error the child reports is kept, and how much: the child may have forged it.
ERROR_FIELDS = {"type": 100, "message": 2000, "where": 500}
# The only exception names a hidden case may report: a name the student chose could spell out
# the hidden input.
HIDDEN_ERROR_TYPES = frozenset(
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
) | {"Ungradable"}
HIDDEN_CRASH = "the process ended during a hidden case"
# A reference call may carry at most this many times the numbers of the job's largest case:
# references run here, so arguments of any size would cost the grader memory and time.
REFERENCE_ARGUMENTS_FACTOR = 2


@dataclass(frozen=True)
class CallResult:
    value: Any = None
    error: dict | None = None
    stdout: str = ""
    # The other graded functions the student's code called during this call.
    called: frozenset[str] = frozenset()


@dataclass(frozen=True)
class FunctionRun:
    """What came back from running one graded function on its cases."""

    name: str
    status: str  # "ok", "timeout", "crashed" or "define_error"
    results: tuple[CallResult, ...] = ()
    detail: str = ""
    define_error: dict | None = None


@dataclass(frozen=True)
class FunctionJob:
    name: str
    chunks: tuple[dict, ...]
    calls: tuple[Any, ...]
    public: int
    rpc: tuple[str, ...]
    time_limit: float
    # Per call: the reference's answers to the calls it makes itself on that case (see
    # grader.run.reference_answers); the child answers those without a round trip.
    answers: tuple[dict[str, Any], ...]
    # Per call: where its arguments are in `Setup.public_args`, or None: then they are sent.
    shared: tuple[int | None, ...]
    # Per call: the model (a name in `Setup.models`) that answers its calls, or None.
    models: tuple[str | None, ...]


@dataclass
class Setup:
    """What every worker is given once: the public support code and the limits."""

    modules: dict[str, str]
    prelude: str
    references: dict[str, Callable[..., Any]] = field(default_factory=dict)
    # By model name, the functions that answer a model case's calls instead of the references.
    # Like the references, they stay in the grader's process.
    models: Mapping[str, Mapping[str, Callable[..., Any]]] = field(default_factory=dict)
    limits: dict[str, int] = field(default_factory=dict)
    # The arguments of the public cases, decoded once by each worker before its zygote exists,
    # so every child has them: a job names them instead of sending them. Never a hidden case.
    public_args: list[tuple] = field(default_factory=list)


class SandboxUnavailable(RuntimeError):
    """The sandbox could not start, or lacks protections that were demanded."""


class _Worker:
    def __init__(self, setup: Setup, process: subprocess.Popen, core: int | None = None) -> None:
        """Send the worker its setup; `wait_ready` then waits until it has taken it."""
        self.process, self.core = process, core
        if core is not None:
            pin(process, core)  # before the setup: the zygote it makes inherits the core
        self.to_worker = self.process.stdin.fileno()
        self.from_worker = protocol.FrameReader(self.process.stdout.fileno())
        message = {
            "type": "setup",
            "modules": setup.modules,
            "prelude": setup.prelude,
            "public_args": [_encoded_call(args)[0] for args in setup.public_args],
            "limits": setup.limits,
        }
        protocol.write_frame(self.to_worker, message)
        self.host_protections: dict[str, str] = {}
        self.scratch: str | None = None

    def wait_ready(self) -> None:
        ready = self.from_worker.next()
        if not ready or ready.get("type") != "ready":
            raise SandboxUnavailable("the sandbox worker did not start")
        self.host_protections = ready["protections"]
        self.scratch = ready.get("scratch")

    def run(
        self, jobs: list[FunctionJob], setup: Setup
    ) -> tuple[list[FunctionRun], tuple[str, ...]]:
        functions = ",".join(_job_json(j) for j in jobs)
        protocol.write_body(self.to_worker, f'{{"type":"job","functions":[{functions}]}}'.encode())
        runs: list[FunctionRun] = []
        budget = MAX_REFERENCE_CALLS
        largest = max((_encoded_call(args)[1] for j in jobs for args in j.calls), default=0)
        limit = REFERENCE_ARGUMENTS_FACTOR * largest
        while True:
            message = self.from_worker.next()
            if message is None:
                raise SandboxUnavailable("the sandbox worker stopped")
            kind = message.get("type")
            if kind == "call":
                budget -= 1
                names = {name for job in jobs for name in job.rpc}
                reply = (
                    _answer(message, _answering(setup, message, names), limit)
                    if budget >= 0
                    else {"error": "too many calls"}
                )
                try:
                    protocol.write_frame(self.to_worker, reply)
                except protocol.Unencodable:
                    protocol.write_frame(self.to_worker, {"error": "the result is too large"})
            elif kind == "function":
                job = next(j for j in jobs if j.name == message["name"])
                count = message.get("results")
                if type(count) is not int or not 0 <= count <= len(job.calls):
                    raise protocol.ProtocolError("malformed function report")
                message["results"] = [
                    _parsed(self.from_worker.next_body()) for _ in range(count)
                ]
                runs.append(_function_run(message, job))
            elif kind == "job_done":
                return runs, tuple(message.get("protections", ()))

    def close(self) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
        self.process.stdout.close()

    def kill(self) -> None:
        """End the worker now; its zygote and children follow it (parent-death signal).

        Killed, it cannot remove its scratch folder: that is done here.
        """
        self.process.kill()
        self.process.wait()
        self.process.stdin.close()
        self.process.stdout.close()
        if self.scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)


_JOBS: dict[tuple, tuple[FunctionJob, str]] = {}


def _job_json(job: FunctionJob) -> str:
    """A function's job message as JSON. All but its code is the same for every submission
    (the same case objects): that part is encoded once."""
    key = (job.name, job.rpc, job.public, job.time_limit, job.shared, job.models)
    key += (*map(id, job.calls + job.answers),)
    hit = _JOBS.get(key)
    if hit is None:  # the job kept in the entry keeps its cases alive: their ids stay theirs
        fixed = {
            "name": job.name,
            "rpc": list(job.rpc),
            "calls": [
                _encoded_call(args)[0] if index is None else {"$shared": index}
                for args, index in zip(job.calls, job.shared, strict=True)
            ],
            "public": job.public,
            "time_limit": job.time_limit,
            "answers": list(job.answers),
            "models": list(job.models),
        }
        hit = _JOBS[key] = (job, protocol.compact(fixed))
    return f'{hit[1][:-1]},"chunks":{protocol.compact(list(job.chunks))}}}'


_ENCODED: dict[int, tuple[Any, Any, int]] = {}


def _encoded_call(args: tuple) -> tuple[Any, int]:
    """A case's arguments encoded, and how many numbers they hold; worked out once, as the
    same case objects are sent for every submission."""
    hit = _ENCODED.get(id(args))
    if hit is None or hit[0] is not args:
        hit = _ENCODED[id(args)] = (args, protocol.encode(list(args)), _numbers(args))
    return hit[1], hit[2]


def _answering(setup: Setup, message: dict, names: set[str]) -> dict[str, Callable[..., Any]]:
    """The functions that may answer a child's call: the references of the job's functions,
    or, for a call made under a model, that model's functions in their place."""
    allowed = {name: f for name, f in setup.references.items() if name in names}
    model = message.get("model")
    if type(model) is str and model in setup.models:
        allowed.update((n, f) for n, f in setup.models[model].items() if n in allowed)
    return allowed


def _answer(message: dict, references: Mapping[str, Callable[..., Any]], limit: int) -> dict:
    """Run a reference function for the child, on arguments decoded strictly.

    Arguments are numbers, numeric arrays and dicts of them, `limit` numbers in all: no string
    or list that a reference could repeat (theta * x with x = [0]), no array large enough to
    broadcast into gigabytes.
    """
    name = message.get("name")
    function = references.get(name) if type(name) is str else None
    if function is None:
        return {"error": "no such reference function"}
    try:
        args = protocol.decode(message.get("args"))
        kwargs = protocol.decode(message.get("kwargs") or {"$d": []})
        if type(args) is not list or type(kwargs) is not dict:
            raise protocol.ProtocolError("malformed call")
        values = [*args, *kwargs.values()]
        if not all(map(_numeric, values)):
            raise ValueError("arguments must be numbers, arrays or dicts of them")
        if _numbers(values) > limit:
            raise ValueError("arguments larger than the cases of this assignment")
        return {"value": protocol.encode(function(*args, **kwargs))}
    except Exception as problem:  # noqa: BLE001 - any failure is the caller's to see
        return {"error": f"{type(problem).__name__}: {problem}"[:500]}


def _numeric(value: Any) -> bool:
    if isinstance(value, np.ndarray):
        return True
    if type(value) is dict:
        return all(map(_numeric, value.values()))
    return value is None or type(value) in (bool, int, float, complex)


def _numbers(value: Any) -> int:
    """How many numbers a value holds; an array counts its elements."""
    if isinstance(value, np.ndarray):
        return value.size
    if isinstance(value, dict):
        return sum(map(_numbers, value.values()))
    if isinstance(value, list | tuple):
        return sum(map(_numbers, value))
    return 1


def _parsed(body: bytes | None) -> dict:
    """A result frame the child wrote, relayed unparsed by the worker: parsed strictly here."""
    if body is None:
        raise protocol.ProtocolError("the sandbox worker stopped")
    try:
        return protocol.read_frame_body(body)
    except protocol.ProtocolError:
        return {"error": {"type": "Ungradable", "message": "malformed result"}}


def _function_run(message: dict, job: FunctionJob) -> FunctionRun:
    """A function's run as the worker relayed it; every field the child wrote is checked.

    Results from the `public`-th on answer hidden cases: only what cannot encode a hidden
    input is kept of them, and a process that ended after seeing them does not say how.
    """
    results = []
    for index, raw in enumerate(message.get("results", [])):
        try:
            value = protocol.decode(raw["value"]) if "value" in raw else None
            error = _error(raw.get("error"))
        except (protocol.ProtocolError, ValueError, TypeError):
            value, error = None, {"type": "Ungradable", "message": "malformed value"}
        stdout = raw.get("stdout")
        stdout = _text(stdout, MAX_STDOUT_CHARS) if type(stdout) is str else ""
        called = raw.get("called")
        called = frozenset(called if type(called) is list else ()).intersection(job.rpc)
        if index >= job.public:
            stdout = ""
            if error is not None:
                kind = error["type"] if error["type"] in HIDDEN_ERROR_TYPES else "Exception"
                error = {"type": kind, "message": "", "where": ""}
        results.append(CallResult(value, error, stdout, called))
    detail = message.get("detail", "")
    has_hidden = len(job.calls) > job.public
    if message["status"] == "crashed" and has_hidden and len(results) >= job.public:
        detail = HIDDEN_CRASH
    return FunctionRun(
        name=message["name"],
        status=message["status"],
        results=tuple(results),
        detail=detail,
        define_error=_error(message.get("define_error")),
    )


def _error(raw: Any) -> dict | None:
    """An error as short text fields, whatever the child sent."""
    if raw is None:
        return None
    if type(raw) is not dict:
        return {"type": "Error", "message": "malformed error"}
    return {key: _text(str(raw.get(key, "")), limit) for key, limit in ERROR_FIELDS.items()}


def _text(text: str, limit: int) -> str:
    """At most `limit` characters of valid UTF-8: a lone surrogate would stop the report."""
    return text[:limit].encode("utf-8", "replace").decode("utf-8")


class WorkerPool:
    """`size` warm workers; `run` borrows one, so it may be called from `size` threads at once."""

    def __init__(
        self,
        setup: Setup,
        size: int,
        require_isolation: bool = False,
        started: Sequence[subprocess.Popen] = (),
    ) -> None:
        """`started`: processes from `start_worker()` to adopt, so their start-up overlaps ours."""
        self.setup = setup
        self.idle: queue.Queue[_Worker] = queue.Queue()
        self.lock = threading.Lock()
        self.workers: list[_Worker] = []
        # All start at once; each then gets its setup while the others are still loading.
        processes = [*started, *(start_worker() for _ in range(max(1, size) - len(started)))]
        # A pool that covers every core pins one worker per core; a smaller one (a check, a
        # service) leaves placement to the system, as others may run next to it.
        cores = cpu_set() if len(processes) >= len(cpu_set()) else []
        try:
            workers = [
                _Worker(setup, process, cores[index % len(cores)] if cores else None)
                for index, process in enumerate(processes)
            ]
            for worker in workers:  # each set itself up while we sent the others theirs
                worker.wait_ready()
                self._add(worker)
        except BaseException:
            for process in processes:
                discard(process)
            raise
        self.host_protections = self.workers[0].host_protections
        missing = [name for name, state in self.host_protections.items() if state != "on"]
        if require_isolation and missing:
            self.close()
            reasons = "; ".join(f"{n}: {self.host_protections.get(n, 'unknown')}" for n in missing)
            raise SandboxUnavailable(f"required protections are off on this host ({reasons})")

    def _add(self, worker: _Worker) -> None:
        with self.lock:
            self.workers.append(worker)
        self.idle.put(worker)

    def run(self, jobs: list[FunctionJob]) -> tuple[list[FunctionRun], tuple[str, ...]]:
        """Run one submission's functions in a worker; a dead worker is replaced."""
        worker = self.idle.get()
        try:
            result = worker.run(jobs, self.setup)
        except (SandboxUnavailable, protocol.ProtocolError, OSError):
            self._replace(worker)
            failed = [
                FunctionRun(j.name, "crashed", detail="the sandbox worker failed") for j in jobs
            ]
            return failed, ()
        except Exception:  # e.g. a job too large for a frame: the caller hears of it, and
            self._replace(worker)  # the pool keeps its size (else the next run waits forever)
            raise
        self.idle.put(worker)
        return result

    def _replace(self, worker: _Worker) -> None:
        with self.lock:
            self.workers.remove(worker)
        worker.kill()
        replacement = _Worker(self.setup, start_worker(), worker.core)
        replacement.wait_ready()
        self._add(replacement)

    def close(self) -> None:
        with self.lock:
            workers, self.workers = self.workers, []
        for worker in workers:
            worker.close()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
