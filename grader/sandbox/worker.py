"""The warm worker: a fresh interpreter that imports numpy once; a confined child per submission.

Started by the grader with a clean environment; it never holds expected values. It reads jobs
on stdin and answers on stdout, relaying the child's calls to reference functions. Children are
forked by a zygote, a copy of the worker made before the first job: a child forked from the
worker itself would inherit its memory of earlier submissions (their code, their output and
every hidden input), a few frames up its own stack.
"""

from __future__ import annotations

import dataclasses
import fcntl
import gc
import importlib
import math
import os
import select
import shutil
import signal
import socket
import sys
import tempfile
import time
import types
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

import numpy

from grader.sandbox import harness, isolation, protocol

PRELOADED = (
    "copy",
    "math",
    "cmath",
    "random",
    "functools",
    "itertools",
    "collections",
    "re",
    "time",
    "decimal",
    "fractions",
    "statistics",
    "typing",
    "dataclasses",
    "string",
    "operator",
    "numpy.linalg",
    "numpy.random",
    "json",
    "traceback",
    "linecache",
    "warnings",
    "unicodedata",
    "heapq",
    "bisect",
    "array",
    "struct",
    "textwrap",
    "pprint",
    "numbers",
    "abc",
    "enum",
    "contextlib",
    "inspect",
    "ast",
    "dis",
    "io",
    "datetime",
    "calendar",
    "hashlib",
    "base64",
    "encodings.idna",
    "encodings.utf_8",
    "encodings.latin_1",
    "encodings.ascii",
)
MAX_ANSWERS, MAX_ANSWER_BYTES = 4096, 1 << 16
RESULT_PREFIX = b'{"type":"result",'
MAX_CHILD_BYTES = 32 * 1024 * 1024
SANDBOX_UID = 65534
CHILD_FDS = 5  # a child keeps descriptors 0 to 4 (null, null, null, calls, results)


class Deadline(Exception):
    """The child used up its time."""


class ChildChannel(protocol.FrameReader):
    """Frames from a child's results pipe, read against a deadline and a byte budget.

    One per child: a read may bring the next function's frames along.
    """

    def __init__(self, fd: int) -> None:
        super().__init__(fd)
        self.deadline, self.total = 0.0, 0
        self.readable = select.poll()
        self.readable.register(fd, select.POLLIN)

    def start(self, deadline: float) -> None:
        """Give the next function its deadline and a new byte budget."""
        self.deadline, self.total = deadline, 0

    def read_chunk(self) -> bytes:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0 or not self.readable.poll(math.ceil(remaining * 1000)):
            raise Deadline
        chunk = os.read(self.fd, protocol.READ_BYTES)
        self.total += len(chunk)
        if self.total > MAX_CHILD_BYTES:
            raise protocol.ProtocolError("the function sent back too much data")
        return chunk


class Worker:
    def __init__(self, setup: dict, host: dict[str, str]) -> None:
        for name, source in setup["modules"].items():
            module = types.ModuleType(name)
            module.__file__ = f"<{name}>"
            sys.modules[name] = module
            exec(compile(source, f"<{name}>", "exec"), module.__dict__)
        self.namespace: dict = {"__name__": "__main__", "__builtins__": __builtins__}
        exec(compile(setup["prelude"], "<prelude>", "exec"), self.namespace)
        self.shared = [protocol.decode(args) for args in setup.get("public_args", [])]
        self.scratch_root = Path(tempfile.mkdtemp(prefix="grader-"))
        self.scratch_root.chmod(0o711)
        # Every child works in this empty folder, which stays root's and unlistable.
        self.workdir = self.scratch_root / "empty"
        self.workdir.mkdir(mode=0o711)
        self.uid = SANDBOX_UID if os.geteuid() == 0 else None
        limits = isolation.Limits(**setup.get("limits", {}))
        self.confinement = isolation.Confinement(
            read_paths=tuple(setup.get("read_paths", ())) + _python_paths(),
            write_paths=(),
            limits=limits,
            uid=self.uid,
        )
        with suppress(OSError):  # else each child makes its own
            if (made := isolation.landlock_ruleset(self.confinement)) is not None:
                ruleset = fcntl.fcntl(made, fcntl.F_DUPFD, CHILD_FDS)  # above the child's own
                os.close(made)
                self.confinement = dataclasses.replace(self.confinement, ruleset=ruleset)
        self.protections: tuple[str, ...] = ()
        self.retired: list[Child] = []
        self.children: dict[int, Child] = {}
        self.answers: dict[bytes, bytes] = {}
        self.watch = harness.ModuleWatch()
        self.host = {**host, harness.MODULE_WATCH: self.watch.exactness()}
        gc.freeze()
        self.contained = self.host.get("seccomp") == "on"
        self.zygote = Zygote(self._child)

    def spawn(self) -> Child:
        """Fork and confine a child that waits for functions on its pipe."""
        calls_r, calls_w = os.pipe()
        results_r, results_w = os.pipe()
        pid = self.zygote.spawn(calls_r, results_w)
        os.close(calls_r)
        os.close(results_w)
        child = Child(pid, calls_w, results_r, ChildChannel(results_r))
        self.children[pid] = child
        return child

    def retire(self, child: Child, wait: bool = False) -> str | None:
        """Kill a child; reap it now (to say how it ended) or at the next job."""
        os.close(child.calls_w)
        os.close(child.results_r)
        with suppress(ProcessLookupError):
            os.kill(child.pid, signal.SIGKILL)
        if wait:
            return self._end(child)
        self.retired.append(child)
        return None

    def _end(self, child: Child) -> str | None:
        self.children.pop(child.pid, None)
        return _end(child, self.contained, self.zygote)

    def shutdown(self) -> None:
        """Kill every child still alive and remove all scratch space."""
        for child in list(self.children.values()):
            with suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGKILL)
            self._end(child)
        self.zygote.close()
        shutil.rmtree(self.scratch_root, ignore_errors=True)

    def run_job(self, job: dict, child: Child) -> Child:
        """Run a submission's functions, in `child` while it stays clean; return the next spare.

        Every function's public calls run first; hidden inputs are sent only after all public
        output exists, so no output shown to the student can contain one.
        """
        for retired in self.retired:
            self._end(retired)
        self.retired.clear()
        functions = job["functions"]
        reports = [_new_report(function["name"]) for function in functions]
        for hidden in (False, True):
            batch = []
            for function, report in zip(functions, reports, strict=True):
                phase = slice(function["public"], None) if hidden else slice(function["public"])
                calls = function["calls"][phase]
                answers = (function["answers"][phase], function["models"][phase])
                if not hidden or (calls and report["status"] == "ok"):
                    batch.append((function, calls, answers, report))
            child = self.run_batch(child, batch)
            for *_, report in batch:
                if hidden and report["status"] == "define_error":
                    # Defined for its public calls, it failed once the hidden ones were at hand:
                    # its error could spell them out. It is reported as a crash, without it.
                    report.update(status="crashed", detail="", define_error=None)
        frames = []
        for report in reports:
            results = report.pop("results")
            frames.append(protocol.dumps({"type": "function", **report, "results": len(results)}))
            frames.extend(map(protocol.frame, results))
        frames.append(protocol.dumps({"type": "job_done", "protections": list(self.protections)}))
        protocol.write_frames(1, frames)
        if child is not None:
            self.retire(child)
        return self.spawn()

    def run_batch(
        self, child: Child | None, batch: list[tuple[dict, list, tuple[list, list], dict]]
    ) -> Child | None:
        """Send functions and their calls to a child in one message; replace it if it fails.

        Each function's time limit covers all its calls, public and hidden together, and starts
        when the function before it has ended.
        """
        while batch:
            child = child or self.spawn()
            function, *_, report = batch[0]
            deadline = time.monotonic() + function["time_limit"] - report["seconds"]
            specs = [
                {
                    "name": f["name"],
                    "chunks": [] if f["name"] in child.defined else f["chunks"],
                    "rpc": f["rpc"],
                    "calls": calls,
                    "answers": answers,
                    "models": models,
                }
                for f, calls, (answers, models), _ in batch
            ]
            try:
                _write_child(child.calls_w, {"type": "functions", "functions": specs}, deadline)
            except (Deadline, protocol.ProtocolError):
                pass  # the first function's reading of its results says what happened
            for done, (function, calls, _, report) in enumerate(batch, 1):
                if not self.run_function(child, function, len(calls), report):
                    ended = self.retire(child, wait=True)
                    if report["status"] == "crashed" and ended:
                        report["detail"] = ended
                    child, batch = None, batch[done:]
                    break
                if report["status"] == "ok":
                    child.defined.add(function["name"])  # it keeps the definition
            else:
                batch = []
        return child

    def run_function(self, child: Child, function: dict, calls: int, report: dict) -> bool:
        """Gather one function's results from the child; say if the child is still clean."""
        started = time.monotonic()
        channel = child.channel
        channel.start(started + function["time_limit"] - report["seconds"])
        clean = False
        try:
            clean = self._collect(channel, child.calls_w, function["rpc"], report, calls)
        except Deadline:
            report["status"] = "timeout"
        except protocol.ProtocolError as problem:
            report["status"], report["detail"] = "crashed", str(problem)
        report["seconds"] += time.monotonic() - started
        return clean

    def _collect(
        self, channel: ChildChannel, calls_w: int, rpc: list, report: dict, calls: int
    ) -> bool:
        """Gather a function's results until it ends, relaying its calls to reference functions.

        Only the references of `rpc` are relayed: never the function's own, whatever the child
        writes on its pipe. Any frame out of place, or a reply left unread (to a call the
        function forged), leaves the child unclean.
        """
        results = report["results"]
        until, first, replies = len(results) + calls, True, 0
        while True:
            body = channel.next_body()
            if body is None:
                raise protocol.ProtocolError("the process ended in the middle of a function")
            if body.startswith(RESULT_PREFIX) and len(results) < until:
                results.append(body)  # relayed as it is: the grader parses it strictly
                first = False
                continue
            message = protocol.read_frame_body(body)
            kind = message.get("type")
            if kind == "call":
                if message.get("name") in rpc:
                    reply = self._reference_answer(body)
                else:
                    reply = b'{"error":"no such reference function"}'
                _write_child(calls_w, reply, channel.deadline)
                replies += 1
            elif kind == "result" and len(results) < until:
                results.append(body)
                first = False
            elif kind == "defined" and first and "error" in message:
                error = message.get("error") if type(message.get("error")) is dict else {}
                short = {key: str(value)[:2000] for key, value in list(error.items())[:3]}
                report["status"], report["define_error"] = "define_error", short
                first = False
            elif kind == "ended":
                claimed = message.get("protections")  # written by the child: keep known names
                if type(claimed) is list:
                    self.protections = tuple(p for p in claimed if p in isolation.PROTECTIONS)
                finished = len(results) == until or report["status"] == "define_error"
                all_read = message.get("replies") == replies
                return message.get("clean") is True and finished and all_read
            elif len(results) < until and report["status"] == "ok":
                raise protocol.ProtocolError("unexpected message from the function")
            else:
                return False

    def _reference_answer(self, call: bytes) -> bytes:
        """The grader's answer to a call, remembered: students make the same calls.

        Safe to keep here: children are forked by the zygote and never see this memory.
        """
        reply = self.answers.get(call)
        if reply is None:
            protocol.write_body(1, call)
            reply = protocol.read_body(0) or b"{}"
            if reply.startswith(b'{"value"') and len(call) + len(reply) < MAX_ANSWER_BYTES:
                if len(self.answers) >= MAX_ANSWERS:
                    self.answers.clear()
                self.answers[call] = reply
        return reply

    def _child(self, calls_r: int, results_w: int) -> None:
        try:
            os.setpgid(0, 0)
            null = os.open(os.devnull, os.O_RDWR)
            for target, fd in ((0, null), (1, null), (2, null), (3, calls_r), (4, results_w)):
                os.dup2(fd, target)
            ruleset = self.confinement.ruleset  # kept for confine(), which closes it
            os.closerange(CHILD_FDS, CHILD_FDS if ruleset is None else ruleset)
            os.closerange(CHILD_FDS if ruleset is None else ruleset + 1, 1 << 16)
            os.chdir(self.workdir)
            # Nothing is writable, the working folder included: a function that could create
            # files could fill the disk at disk speed, file size limit or not.
            protections = isolation.confine(self.confinement)
            isolation.end_with_parent()
            harness.serve(self.namespace, 3, 4, protections, self.watch, self.shared)
        except BaseException:  # noqa: BLE001 - the child must never return into the worker loop
            os._exit(70)
        os._exit(0)


def _new_report(name: str) -> dict:
    return {"name": name, "results": [], "status": "ok", "detail": "", "seconds": 0.0}


@dataclasses.dataclass(frozen=True)
class Child:
    pid: int
    calls_w: int
    results_r: int
    channel: ChildChannel
    defined: set[str] = dataclasses.field(default_factory=set)  # need no code sent again


def _write_child(fd: int, message: dict | bytes, deadline: float) -> None:
    """Write a message, or a frame body relayed as it is, unless the deadline passes first."""
    frame = protocol.frame(message) if isinstance(message, bytes) else protocol.dumps(message)
    data = memoryview(frame)
    while data:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([], [fd], [], remaining)[1]:
            raise Deadline
        try:
            data = data[os.write(fd, data[: 1 << 16]) :]
        except BrokenPipeError:
            raise protocol.ProtocolError("the process stopped reading") from None


class Zygote:
    """The process that forks every child, forked itself before the worker sees any job.

    It gets a child's pipe ends over a socket, answers with the child's pid, and reaps
    children when asked (they are its own).
    """

    def __init__(self, make_child: Callable[[int, int], None]) -> None:
        self.socket, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.pid = os.fork()
        if self.pid == 0:
            self.socket.close()
            _serve_spawns(theirs, make_child)
        theirs.close()

    def spawn(self, calls_r: int, results_w: int) -> int:
        socket.send_fds(self.socket, [b"spawn"], [calls_r, results_w])
        return self._answer()

    def wait(self, pid: int) -> int:
        """The wait status of a child that was killed or has ended."""
        self.socket.send(b"wait %d" % pid)
        return self._answer()

    def _answer(self) -> int:
        answer = self.socket.recv(32)
        if not answer:
            raise RuntimeError("the zygote has stopped")
        return int(answer)

    def close(self) -> None:
        self.socket.close()
        with suppress(ChildProcessError):
            os.waitpid(self.pid, 0)


def _serve_spawns(requests: socket.socket, make_child: Callable[[int, int], None]) -> None:
    """The zygote's loop, until the worker closes its end (or dies: then so do we)."""
    try:
        isolation.end_with_parent()
        while True:
            data, fds, _, _ = socket.recv_fds(requests, 4096, 2)
            if not data:
                break
            if data.startswith(b"wait "):
                try:
                    answer = os.waitpid(int(data[5:]), 0)[1]
                except ChildProcessError:
                    answer = 0
            else:
                answer = os.fork()
                if answer == 0:
                    requests.close()
                    make_child(*fds)
                for fd in fds:
                    os.close(fd)
            requests.send(str(answer).encode())
    finally:
        os._exit(0)


def _end(child: Child, contained: bool, zygote: Zygote) -> str | None:
    """Kill the child and all it started; say how it ended (None: normally).

    Where seccomp stops the child from creating processes, nothing else can be left.
    """
    with suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)
    with suppress(ProcessLookupError):
        os.kill(child.pid, signal.SIGKILL)
    status = zygote.wait(child.pid)
    if not contained:
        _reap_orphans(zygote.pid)
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        if number == signal.SIGKILL:
            return None
        return f"the process was killed by {signal.Signals(number).name}"
    code = os.WEXITSTATUS(status)
    return None if code == 0 else f"the process exited with code {code}"


def _reap_orphans(zygote: int) -> None:
    """Kill and reap anything that escaped the child's process group (we are its subreaper)."""
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == zygote:
            continue
        with suppress(OSError, ValueError, IndexError):
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if parent == me:
                os.kill(int(entry.name), signal.SIGKILL)
    with suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def _python_paths() -> tuple[str, ...]:
    import sysconfig

    names = ("stdlib", "platstdlib", "purelib", "platlib")
    paths = {sysconfig.get_path(name) for name in names}
    paths.add(str(Path(numpy.__file__).parent))
    paths.add(str(Path(__file__).resolve().parent.parent))
    system = (
        "/usr/lib",
        "/usr/lib64",
        "/lib",
        "/lib64",
        "/etc/ld.so.cache",
        "/dev/null",
        "/dev/urandom",
    )
    return tuple(sorted(p for p in paths | set(system) if p and os.path.exists(p)))


def main() -> None:
    isolation.adopt_orphans()
    sys.stdout = sys.stderr
    for name in PRELOADED:  # while the grader is still loading the assignment
        importlib.import_module(name)
    host = isolation.protections()
    setup = protocol.read_frame(0)
    if setup is None:
        return
    worker = Worker(setup, host)
    ready = {"type": "ready", "protections": worker.host, "scratch": str(worker.scratch_root)}
    protocol.write_frame(1, ready)
    spare = worker.spawn()
    try:
        while (job := protocol.read_frame(0)) is not None:
            spare = worker.run_job(job, spare)
    finally:
        worker.shutdown()
    os._exit(0)  # nothing is buffered; tearing down numpy would only keep the grader waiting


if __name__ == "__main__":
    main()
