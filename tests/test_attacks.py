"""End-to-end attacks: hostile notebooks graded by the real pipeline (`grade_batch`).

Every attack lives in one graded function of one submission. The tests check that it is
contained (nothing escaped, leaked or was written), that it costs only that function (the
submission's other functions and a correct submission in the same batch keep their points),
and that the grader survives with no sandbox process or scratch folder left behind.

The sandbox user cannot read the standard library that the worker did not import, so the
attacks reach the kernel through ctypes and libc, as a real attacker would. Attack output is
printed during the public case (the only output a report shows) between markers assembled at
run time, so the code listing in the report never matches them.
"""

from __future__ import annotations

import ctypes
import dataclasses
import html
import json
import math
import os
import re
import resource
import secrets
import shutil
import socket
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from grader.extract import extract
from grader.grade import grade_batch
from grader.intake.identity import Layout, folder_name
from grader.read import Cell, parse, stem_of
from grader.run import function_jobs, sandbox_setup
from grader.sandbox.isolation import protections
from grader.sandbox.pool import WorkerPool
from grader.sandbox.protocol import Unencodable
from grader.spec import Assignment
from tests.conftest import BACKWARD, CHECK, CHECK_N, FORWARD, IMPORTS, ROOT, notebook

_OFF = {name: state for name, state in protections().items() if state != "on"}
# The attacks assume every layer; test_isolation reports a host that lacks one.
pytestmark = pytest.mark.skipif(bool(_OFF), reason=f"sandbox protections off here: {_OFF}")

FUNCTIONS = ("forward_propagation", "backward_propagation", "gradient_check", "gradient_check_n")
CORRECT_CELLS = dict(zip(FUNCTIONS, (FORWARD, BACKWARD, CHECK, CHECK_N), strict=True))
CORRECT_PARSED = parse(notebook(IMPORTS, *CORRECT_CELLS.values()).encode(), ".ipynb")
SIGNATURES = {
    "forward_propagation": "x, theta",
    "backward_propagation": "x, theta",
    "gradient_check": "x, theta, epsilon=1e-7, print_msg=False",
    "gradient_check_n": "parameters, gradients, X, Y, epsilon=1e-7, print_msg=False",
}
TIME_LIMIT = 2.0
PR_SET_CHILD_SUBREAPER = 36
STOPPED = "BLOCKED"
ESCAPED = "ESCAPED"

# Helpers every hostile cell carries. Only definitions, imports and literals of a graded cell
# reach the sandbox, so everything here is a function.
KIT = r'''
import ctypes, gc, json, os, struct, sys, time

def libc(name, *args):
    """Call libc directly, as an attacker would; a failure becomes OSError."""
    result = getattr(ctypes.CDLL(None, use_errno=True), name)(*args)
    if result < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return result

def attempt(label, action):
    """One attack step: print what stopped it, or what it got."""
    try:
        result = action()
    except BaseException as error:
        print(label + ": " + "BLO" + "CKED " + type(error).__name__ + " " + str(error)[:80])
    else:
        print(label + ": " + "ESC" + "APED " + repr(result)[:200])

def public_case(x, theta):
    """True in the public case (2, 4), whose printed output the report shows."""
    return type(x) is int and type(theta) is int and (x, theta) == (2, 4)

def hidden_case(x, theta):
    """True in a hidden case: neither the public case nor a probe, which the grader makes in
    the open to tell mistakes apart."""
    return not public_case(x, theta) and (x, theta) not in PROBED

def stolen(data):
    """Print exfiltrated data between markers the test looks for."""
    print("STO" + "LEN[" + str(data)[:3500] + "]STO" + "LEN")

def send(message):
    """Write a frame on the results pipe, as if the harness had sent it."""
    body = json.dumps(message).encode()
    data = len(body).to_bytes(4, "big") + body
    while data:
        data = data[os.write(4, data):]

def hidden_calls_at_definition(function):
    """A decorator that raises, quoting the calls being sent, unless they are the public one."""
    frame = sys._getframe()
    while frame is not None:
        message = frame.f_locals.get("message")
        calls = message.get("calls") if isinstance(message, dict) else None
        if any(isinstance(call, list) and call != [2, 4] for call in calls or ()):
            raise ValueError(repr(calls)[:1500])  # public calls come as {"$shared": index}
        frame = frame.f_back
    return function

def forged(*messages):
    """A decorator that forges frames while the function is being defined."""
    def decorate(function):
        for message in messages:
            send(message)
        return function
    return decorate
'''
# The (x, θ) of the probes (see test_the_attacks_know_the_probes).
PROBED = {(3, -1.5), (3, 1.5), (2, 3), (1.5, 3)}
KIT += f"\nPROBED = {PROBED!r}\n"


@dataclass(frozen=True)
class Attack:
    """A hostile version of one graded function and how its own grading must end."""

    target: str
    body: str
    status: frozenset[str]
    stopped: int = 0  # attack steps that must each be reported as stopped
    decorator: str = ""
    others: dict[str, str] = field(default_factory=dict)  # further functions replaced
    file_name: str = ""


def attack(target: str, body: str, *status: str, stopped: int = 0, **extra: Any) -> Attack:
    """An attack on `target` whose grading must end in one of `status`."""
    return Attack(target, body, frozenset(status), stopped, **extra)


FORWARD_OK = "return theta * x"

ATTACKS: dict[str, Attack] = {
    # --- network ------------------------------------------------------------------------------
    "net": attack(
        "forward_propagation",
        r'''
        def address(family, port=0, path=b""):
            if family == 1:
                return struct.pack("<H", 1) + path
            loopback = bytes([127, 0, 0, 1]) + bytes(8)
            return struct.pack("<H", 2) + struct.pack(">H", port) + loopback

        def connect(family, kind, where):
            fd = libc("socket", family, kind, 0)
            return libc("connect", fd, where, len(where))

        def send_udp():
            fd = libc("socket", 2, 2, 0)
            where = address(2, WORLD["udp"])
            return libc("sendto", fd, b"leak", 4, 0, where, len(where))

        if public_case(x, theta):
            attempt("tcp connect", lambda: connect(2, 1, address(2, WORLD["tcp"])))
            attempt("udp send", send_udp)
            unix, abstract = WORLD["unix"].encode(), b"\0" + WORLD["abstract"].encode()
            attempt("unix connect", lambda: connect(1, 1, address(1, path=unix)))
            attempt("abstract unix", lambda: connect(1, 1, address(1, path=abstract)))
            pair = ctypes.create_string_buffer(8)
            attempt("socketpair", lambda: libc("socketpair", 1, 1, 0, pair))
        return theta * x
        ''',
        "passed",
        stopped=5,
    ),
    # --- peeking ------------------------------------------------------------------------------
    "peek_files": attack(
        "forward_propagation",
        r'''
        def read(path):
            with open(path, "rb") as handle:
                return handle.read(300)

        if public_case(x, theta):
            for label, path in WORLD["secrets"].items():
                attempt("read " + label, lambda path=path: read(path))
            attempt("read the worker's environ", lambda: read(f"/proc/{os.getppid()}/environ"))
            attempt("list submissions", lambda: os.listdir(WORLD["subs"]))
            attempt("list the output", lambda: os.listdir(WORLD["out"]))
            attempt("list other scratch folders", lambda: os.listdir(".."))
            attempt("list /tmp", lambda: os.listdir("/tmp"))
            canary = WORLD["canary"]
            attempt("hard link the canary", lambda: (os.link(canary, "hard"), read("hard")))
            attempt("symlink the canary", lambda: (os.symlink(canary, "soft"), read("soft")))
        return theta * x
        ''',
        "passed",
        stopped=7,  # plus one per secret file, added by the test
    ),
    "peek_env": attack(
        "forward_propagation",
        r'''
        if public_case(x, theta):
            stolen(dict(os.environ))
            attempt("secret variable", lambda: os.environ["GRADER_TEST_SECRET"])
        return theta * x
        ''',
        "passed",
        stopped=1,
    ),
    "leak_hidden_by_exception_name": attack(
        "forward_propagation",
        r'''
        if hidden_case(x, theta):
            raise type("V" + repr(theta * x), (Exception,), {})()
        return theta * x
        ''',
        "error",
    ),
    "leak_hidden_by_exit_code": attack(
        "backward_propagation",
        r'''
        if hidden_case(x, theta):
            os._exit(int(abs(float(np.ravel(x)[0])) * 1000) % 200 + 50)
        return x
        ''',
        "error",
    ),
    # A child defines a function once, for its public calls. This one leaves the child unclean
    # (a shared module changed), so its hidden calls go to a new child that must define it anew,
    # with the hidden calls at hand.
    "leak_hidden_at_definition": attack(
        "forward_propagation",
        r'''
        json.__dict__["dirty"] = True
        return theta * x
        ''',
        "error",
        decorator="@hidden_calls_at_definition",
    ),
    "leak_hidden_to_next_function": attack(
        "backward_propagation",
        r'''
        if public_case(x, theta):
            found = list(getattr(json, "stash", []))
            try:
                with open("stash.txt") as handle:
                    found.append(handle.read())
            except OSError:
                pass
            stolen(found)
        return x
        ''',
        "passed",
        others={
            "forward_propagation": r'''
            json.__dict__.setdefault("stash", []).append(repr((x, theta)))
            with open("stash.txt", "a") as handle:
                handle.write(repr((x, theta)) + "\n")
            return theta * x
            ''',
        },
    ),
    "rpc_own_reference": attack(
        "gradient_check_n",
        r'''
        from grader.sandbox import protocol
        arguments = protocol.encode([parameters, gradients, X, Y, epsilon])
        send({"type": "call", "name": "gradient_check_n", "args": arguments, "kwargs": {"$d": []}})
        reply = protocol.read_frame(3)
        return protocol.decode(reply["value"])
        ''',
        "error",
    ),
    "rpc_flood": attack(
        "backward_propagation",
        r'''
        if public_case(x, theta):
            attempt("repeat a list in the grader", lambda: forward_propagation([0], 2 * 10**7))
            side = np.ones(300)
            cube = (side.reshape(-1, 1, 1), side.reshape(1, -1, 1), side.reshape(1, 1, -1))
            attempt("broadcast in the grader", lambda: gradient_check(*cube))
        return x
        ''',
        "passed",
        stopped=2,
    ),
    # --- writing ------------------------------------------------------------------------------
    "write": attack(
        "forward_propagation",
        r'''
        def write(path):
            with open(path, "ab") as handle:
                return handle.write(b"owned")

        if public_case(x, theta):
            for label, path in WORLD["targets"].items():
                attempt("write " + label, lambda path=path: write(path))
            attempt("make a folder in the output", lambda: os.mkdir(WORLD["out"] + "/evil"))
            attempt("truncate the canary", lambda: os.truncate(WORLD["canary"], 0))
            attempt("rename the canary", lambda: os.rename(WORLD["canary"], "mine"))
            attempt("chmod the canary", lambda: os.chmod(WORLD["canary"], 0o777))
            attempt("set the canary's times", lambda: os.utime(WORLD["canary"], (0, 0)))
            attempt("remove the canary", lambda: os.unlink(WORLD["canary"]))
            attempt("write in the scratch root", lambda: write("../evil"))
        return theta * x
        ''',
        "passed",
        stopped=7,  # plus one per target, added by the test
    ),
    # --- faking -------------------------------------------------------------------------------
    "fake_float": attack(
        "forward_propagation",
        r'''
        class Always(float):
            def __eq__(self, other):
                return True
            def __ne__(self, other):
                return False
            __hash__ = float.__hash__
        return Always(0.0)
        ''',
        "error",
        "failed",
    ),
    "fake_array_protocol": attack(
        "forward_propagation",
        r'''
        class Lookalike:
            def __array__(self, dtype=None, copy=None):
                return np.asarray(theta * x, dtype=dtype)
            def __eq__(self, other):
                return True
        return Lookalike()
        ''',
        "error",
        "failed",
    ),
    "fake_ndarray_subclass": attack(
        "forward_propagation",
        r'''
        class Agreeable(np.ndarray):
            def __eq__(self, other):
                return np.ones(np.shape(other), dtype=bool)
        return np.zeros(3).view(Agreeable)
        ''',
        "error",
        "failed",
    ),
    "fake_frames": attack(
        "forward_propagation",
        r'''
        print("All tests passed")
        lies = [
            {"type": "ended", "clean": True},
            {"type": "function", "name": "forward_propagation", "status": "ok",
             "results": [{"value": 8}] * 3},
            {"type": "job_done", "protections": []},
        ]
        for fd in range(21):
            for lie in lies:
                body = json.dumps(lie).encode()
                try:
                    os.write(fd, len(body).to_bytes(4, "big") + body)
                except OSError:
                    pass
        return 0
        ''',
        "error",
        "failed",
    ),
    "fake_monkeypatch": attack(
        "forward_propagation",
        r'''
        import builtins, math
        np.linalg.norm = lambda *args, **kwargs: 0.0
        np.allclose = np.isclose = lambda *args, **kwargs: True
        math.isclose = lambda *args, **kwargs: True
        math.isfinite = lambda *args: True
        builtins.abs = lambda value: 0
        return 0
        ''',
        "error",
        "failed",
    ),
    "fake_monkeypatch_quietly": attack(
        "forward_propagation",
        r'''
        np.linalg.__dict__["norm"] = lambda *args, **kwargs: 0.0
        np.__dict__["allclose"] = lambda *args, **kwargs: True
        return 0
        ''',
        "error",
        "failed",
    ),
    "fake_system_exit": attack("forward_propagation", "raise SystemExit(0)", "error"),
    "fake_os_exit": attack(
        "forward_propagation",
        r'''
        print("All tests passed")
        sys.stdout.flush()
        os._exit(0)
        ''',
        "error",
    ),
    "fake_nan": attack("forward_propagation", 'return float("nan")', "failed"),
    "fake_huge_int": attack("forward_propagation", "return 10**400", "error", "failed"),
    "fake_huge_int_list": attack("backward_propagation", "return [10**400]", "error", "failed"),
    # --- malformed frames that must not take the grader down ----------------------------------
    "forged_define_error": attack(
        "forward_propagation",
        FORWARD_OK,
        "error",
        decorator='@forged({"type": "defined", "error": [1, 2]})',
    ),
    "forged_protections": attack(
        "forward_propagation",
        FORWARD_OK,
        "error",
        decorator='@forged({"type": "defined", "protections": 5})',
    ),
    "forged_huge_define_error": attack(
        "forward_propagation",
        FORWARD_OK,
        "error",
        decorator='@forged({"type": "defined", "error": {"type": "T" * 3000000, '
        '"message": "M" * 3000000, "where": "W" * 3000000}})',
    ),
    "forged_seconds": attack(
        "forward_propagation",
        r'''
        send({"type": "result", "value": 0, "seconds": "soon", "stdout": ["not", "text"]})
        return 0
        ''',
        "error",
        "failed",
    ),
    "forged_call_name": attack(
        "forward_propagation",
        r'''
        send({"type": "call", "name": ["forward_propagation"], "args": []})
        return 0
        ''',
        "error",
        "failed",
    ),
    "forged_huge_error": attack(
        "forward_propagation",
        # Each field hundreds of times what a report keeps, yet small enough to be sent and
        # checked far within the time limit on a slow machine (it must end in error, not time).
        r'''
        text = {"type": "T" * 1000000, "message": "M" * 1000000, "where": "W" * 1000000}
        send({"type": "result", "error": text, "stdout": "S" * 1000000})
        return 0
        ''',
        "error",
        "failed",
    ),
    "results_flood": attack(
        "forward_propagation",
        r'''
        for _ in range(4):
            send({"type": "result", "value": "x" * (15 << 20)})
        return 0
        ''',
        "error",
        "failed",
        "timeout",
    ),
    # --- limits -------------------------------------------------------------------------------
    "infinite_loop": attack("forward_propagation", "while True:\n    pass", "timeout"),
    "sleep": attack("forward_propagation", "time.sleep(3600)", "timeout"),
    "stop_itself": attack(
        "forward_propagation", "os.kill(os.getpid(), 19)\nreturn theta * x", "timeout"
    ),
    "allocate": attack("forward_propagation", "blob = bytearray(8 << 30)\nreturn 8", "error"),
    "allocate_numpy": attack("forward_propagation", "return np.ones(1 << 31)", "error"),
    "fork_bomb": attack("forward_propagation", "while True:\n    os.fork()", "error"),
    "raw_fork": attack("forward_propagation", 'libc("fork")\nreturn theta * x', "error"),
    "subprocess": attack(
        "forward_propagation",
        r'''
        if public_case(x, theta):
            shell = ["sh", "-c", "echo owned > " + WORLD["exec_proof"]]
            attempt("posix_spawn", lambda: os.posix_spawn("/bin/sh", shell, {}))
            attempt("execv", lambda: os.execv("/bin/sh", shell))
            attempt("execv python", lambda: os.execv(sys.executable, ["python", "-c", "1"]))
        return theta * x
        ''',
        "passed",
        stopped=3,
    ),
    "thread_bomb": attack(
        "forward_propagation",
        r'''
        import threading
        for _ in range(10000):
            threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()
        return theta * x
        ''',
        "error",
    ),
    "double_fork_setsid": attack(
        "forward_propagation",
        r'''
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                time.sleep(3600)
            os._exit(0)
        return theta * x
        ''',
        "error",
    ),
    "kill": attack(
        "forward_propagation",
        r'''
        if public_case(x, theta):
            attempt("kill -1", lambda: os.kill(-1, 9))
            attempt("killpg 0", lambda: os.killpg(0, 9))
            attempt("kill the worker", lambda: os.kill(os.getppid(), 9))
            attempt("kill the worker's group", lambda: os.killpg(os.getpgid(os.getppid()), 9))
            attempt("kill the grader", lambda: os.kill(WORLD["grader"], 9))
            attempt("stop the worker", lambda: os.kill(os.getppid(), 19))
        return theta * x
        ''',
        "passed",
        stopped=6,
    ),
    "big_file": attack(
        "forward_propagation",
        r'''
        with open("big", "wb") as handle:
            for _ in range(100):
                handle.write(b"x" * (1 << 20))
        return theta * x
        ''',
        "error",
    ),
    "fill_the_disk": attack(
        "forward_propagation",
        r'''
        if public_case(x, theta):
            import stat
            block, written, stop = b"x" * (1 << 20), 0, time.monotonic() + 1
            try:
                for fd in (1, 2):  # the standard streams, open before confinement
                    on_disk = stat.S_ISREG(os.fstat(fd).st_mode)
                    while time.monotonic() < stop - (0.5 if fd == 1 else 0):
                        written += os.write(fd, block) if on_disk else 0
            except OSError:
                pass
            try:
                for n in range(100000):
                    if time.monotonic() > stop:
                        break
                    with open(f"fill{n}", "wb") as handle:
                        for _ in range(15):
                            written += handle.write(block)
            except OSError:
                pass
            print("WROTE", written >> 20, "MiB")
        return theta * x
        ''',
        "passed",
    ),
    "many_files": attack(
        "forward_propagation",
        "handles = [open('/dev/null') for _ in range(10000)]\nreturn theta * x",
        "error",
    ),
    "raise_rlimits": attack(
        "forward_propagation",
        r'''
        import resource
        if public_case(x, theta):
            unlimited = (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
            for name in ("RLIMIT_CPU", "RLIMIT_AS", "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_CORE"):
                limit = getattr(resource, name)
                attempt("raise " + name, lambda limit=limit: resource.setrlimit(limit, unlimited))
            attempt("prlimit", lambda: resource.prlimit(0, resource.RLIMIT_CPU, unlimited))
        return theta * x
        ''',
        "passed",
        stopped=6,
    ),
    "deep_recursion": attack(
        "forward_propagation",
        r'''
        sys.setrecursionlimit(10**6)

        def deeper(depth):
            # Each call goes through C (a method-wrapper), so an 8 MiB C stack overflows
            # after about 16,000 calls: milliseconds on any machine.
            return deeper.__call__(depth + 1)

        return deeper(0)
        ''',
        "error",
    ),
    "segfault": attack("forward_propagation", "ctypes.string_at(0)\nreturn theta * x", "error"),
    "print_flood": attack(
        "forward_propagation",
        r'''
        chunk, block = "x" * (1 << 26), b"x" * (1 << 20)
        for _ in range(32):
            print(chunk)
        for fd in (1, 2):
            try:
                for _ in range(20):
                    os.write(fd, block)
            except OSError:
                pass
        return theta * x
        ''',
        "passed",
    ),
    "keyboard_interrupt": attack("forward_propagation", "raise KeyboardInterrupt", "error"),
    "sigint": attack(
        "forward_propagation", "os.kill(os.getpid(), 2)\nreturn theta * x", "error"
    ),
    # --- reports ------------------------------------------------------------------------------
    "html": attack(
        "forward_propagation",
        r'''
        # </code></pre><script>alert("code")</script>
        print("<script>alert('printed')</script>")
        if public_case(x, theta):
            raise ValueError("<script>alert('raised')</script>")
        return theta * x
        ''',
        "error",
        file_name="html_<img src=x onerror=alert(1)>.ipynb",
    ),
    "lone_surrogates": attack(
        "forward_propagation",
        r'''
        print("printed " + chr(0xD800))
        if public_case(x, theta):
            raise ValueError("raised " + chr(0xDFFF))
        return chr(0xD800) * 3
        ''',
        "error",
        "failed",
    ),
    "chatty": attack(
        "forward_propagation",
        r'''
        if public_case(x, theta):
            print(WORLD["chatty"])
        return theta * x
        ''',
        "passed",
    ),
}


# --- building submissions ---------------------------------------------------------------------


def graded_cell(function: str, body: str, world: dict, decorator: str = "") -> str:
    """A graded cell holding the attack kit, the world's facts and a hostile function."""
    lines = [f"# GRADED FUNCTION: {function}", KIT, f"WORLD = {world!r}"]
    if decorator:
        lines.append(decorator)
    lines.append(f"def {function}({SIGNATURES[function]}):")
    lines.append(textwrap.indent(textwrap.dedent(body).strip("\n"), "    "))
    return "\n".join(lines) + "\n"


def hostile(item: Attack, world: dict) -> str:
    """The notebook of a submission whose functions are correct except the attacked ones."""
    cells = dict(CORRECT_CELLS)
    for function, body in {**item.others, item.target: item.body}.items():
        decorator = item.decorator if function == item.target else ""
        cells[function] = graded_cell(function, body, world, decorator)
    return notebook(IMPORTS, *cells.values())


# --- what the grader must never reveal ----------------------------------------------------------


def _leaves(value: Any) -> Iterator[float]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _leaves(item)
    else:
        yield from (float(v) for v in np.ravel(np.asarray(value, dtype=float)))


def _distinctive(number: float) -> bool:
    """Numbers a student could not write down by chance: not round, not tiny integers."""
    return math.isfinite(number) and number != 0 and len(f"{abs(number):.6g}".strip("0.")) > 4


def hidden_numbers(assignment: Assignment, functions: tuple[str, ...] = FUNCTIONS) -> list[float]:
    """Every input and expected value of the hidden cases of `functions`."""
    numbers: set[float] = set()
    for case in assignment.cases:
        if case.hidden and case.function in functions:
            numbers.update(_leaves(case.args))
            numbers.update(_leaves(getattr(case.expect, "expected", [])))
    return sorted(n for n in numbers if _distinctive(n))


_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+)(?:[eE][-+]?\d+)?")


def leaked(text: str, numbers: list[float]) -> list[str]:
    """The numbers in `text` that equal a hidden number (to the printed precision)."""
    found = []
    for token in _NUMBER.findall(text):
        value = float(token)
        if any(math.isclose(value, n, rel_tol=1e-6) for n in numbers):
            found.append(token)
    return found


def stolen_text(report: str) -> list[str]:
    """What hostile code printed between the STOLEN markers."""
    pattern = re.compile(r"STOLEN\[(.*?)(?:\]STOLEN|</pre>)", re.S)
    return [html.unescape(chunk) for chunk in pattern.findall(report)]


def steps(report: str, verdict: str) -> list[str]:
    """Attack steps the hostile code reported with `verdict` (BLOCKED or ESCAPED)."""
    return re.findall(rf"^(.+?): {verdict} ", html.unescape(report), re.M)


# --- processes and scratch space ----------------------------------------------------------------


def _status(pid: str) -> dict[str, str]:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def descendants() -> list[tuple[int, str, str]]:
    """Live (not zombie) processes below this one: (pid, uid, name)."""
    table = {}
    for pid in os.listdir("/proc"):
        if pid.isdigit() and (status := _status(pid)):
            table[int(pid)] = status
    below, frontier = set(), {os.getpid()}
    while frontier:
        frontier = {p for p, s in table.items() if int(s["PPid"]) in frontier} - below
        below |= frontier
    return [
        (pid, table[pid]["Uid"].split()[0], table[pid]["Name"])
        for pid in sorted(below)
        if not table[pid]["State"].startswith(("Z", "X"))
    ]


def reap() -> None:
    """Reap children that became ours while this process was a subreaper."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def survivors(grace: float = 3.0) -> list[tuple[int, str, str]]:
    """Processes below this one still alive after `grace` seconds."""
    deadline = time.monotonic() + grace
    while (left := descendants()) and time.monotonic() < deadline:
        reap()
        time.sleep(0.05)
    return left


class ScratchWatch(threading.Thread):
    """Notes, while a batch runs, the scratch roots its sandbox children work in.

    Other batches may run on this host at the same time: only our descendants count.
    """

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.roots: set[Path] = set()
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.02):
            for pid, _, _ in descendants():
                try:
                    cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
                except OSError:
                    continue
                if cwd.parent.name.startswith("grader-"):
                    self.roots.add(cwd.parent)


def set_subreaper(on: bool) -> None:
    """Make orphans below this process its children, so that none escapes the checks."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0)


# --- the batches ---------------------------------------------------------------------------------


@dataclass
class Arena:
    """A batch of every attack next to a correct submission, and what it left behind."""

    assignment: Assignment
    root: Path
    out: Path
    secret: str
    canary: Path
    canary_stat: os.stat_result
    decoy: Path
    sockets: dict[str, socket.socket]
    results: dict[str, dict]
    reports: dict[str, str]
    ids: dict[str, str]
    survivors: list[tuple[int, str, str]]
    leftovers: list[Path]
    seconds: float
    memory_growth: int
    world: dict = field(default_factory=dict)

    def function(self, name: str, function: str) -> dict:
        return self.results[self.ids[name]]["functions"][function]

    def tests_of(self, name: str, function: str) -> list[dict]:
        return [
            t for t in self.results[self.ids[name]]["tests"] if t["name"].startswith(function + ":")
        ]


def fast(assignment: Assignment) -> Assignment:
    """The assignment with a short time limit, so that timeouts cost little."""
    return dataclasses.replace(assignment, time_limit=TIME_LIMIT)


def _world_folder(parent: Path, name: str, mode: int) -> Path:
    folder = parent / name
    folder.mkdir()
    folder.chmod(mode)
    return folder


def _open_sockets(root: Path, tag: str) -> dict[str, socket.socket]:
    tcp = socket.create_server(("127.0.0.1", 0))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.bind(str(root / "listening.sock"))
    (root / "listening.sock").chmod(0o777)
    unix.listen()
    abstract = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    abstract.bind(f"\0grader-attack-{tag}")
    abstract.listen()
    for sock in (tcp, udp, unix, abstract):
        sock.setblocking(False)
    return {"tcp": tcp, "udp": udp, "unix": unix, "abstract": abstract}


@pytest.fixture(scope="module")
def arena(assignment: Assignment) -> Iterator[Arena]:
    secret = secrets.token_hex(12)  # only in files and variables the sandbox must hide
    tag = secrets.token_hex(4)  # names the hostile code may know
    root = Path(tempfile.mkdtemp(prefix="attack-"))
    root.chmod(0o755)  # everything here is open to every user: only the sandbox protects it
    subs = _world_folder(root, "subs", 0o755)
    out = _world_folder(root, "out", 0o777)
    canary = root / "canary.txt"
    canary.write_text(f"CANARY-{secret}\n")
    canary.chmod(0o666)
    decoy = _world_folder(out, "decoy", 0o777) / "results.json"
    decoy.write_text(json.dumps({"secret": f"DECOY-{secret}"}))
    decoy.chmod(0o666)
    sockets = _open_sockets(root, tag)
    other = subs / "a_correct.ipynb"
    other.write_text(notebook(f"# OTHER-{secret}", *CORRECT_CELLS.values(), IMPORTS))
    other.chmod(0o666)
    reference = ROOT / "reference_solutions" / "gradient_checking"
    in_repo = ROOT / ".pytest_cache" / f"attack-canary-{tag}"  # ignored by git
    in_repo.parent.mkdir(exist_ok=True)
    in_repo.write_text("intact")
    in_repo.chmod(0o666)
    world = {
        "tcp": sockets["tcp"].getsockname()[1],
        "udp": sockets["udp"].getsockname()[1],
        "unix": str(root / "listening.sock"),
        "abstract": f"grader-attack-{tag}",
        "subs": str(subs),
        "out": str(out),
        "canary": str(canary),
        "grader": os.getpid(),
        "exec_proof": str(root / "exec-proof"),
        "chatty": f"CHATTY-{tag}",
        "secrets": {
            "solution.py": str(reference / "solution.py"),
            "assignment.py": str(reference / "assignment.py"),
            "another submission": str(other),
            "another results.json": str(decoy),
            "the canary": str(canary),
            "the grader's environ": f"/proc/{os.getpid()}/environ",
            "the grader's memory": f"/proc/{os.getpid()}/mem",
            "own environ": "/proc/self/environ",
        },
        "targets": {
            "the canary": str(canary),
            "another results.json": str(decoy),
            "another submission": str(other),
            "a new file in the output": str(out / "evil.txt"),
            "a file in the repository": str(in_repo),
            "a new file in the repository": str(ROOT / f"evil-{tag}.py"),
            "/tmp": str(Path(tempfile.gettempdir()) / f"grader-attack-{tag}"),
            "/dev/shm": f"/dev/shm/grader-attack-{tag}",
        },
    }
    ids = {"correct": "a_correct"}
    for name, item in ATTACKS.items():
        path = subs / (item.file_name or f"{name}.ipynb")
        known = {k: v for k, v in world.items() if k != "chatty" or name == "chatty"}
        path.write_text(hostile(item, known))
        ids[name] = folder_name(Layout.FILES, stem_of(path.name))
    canary_stat = canary.stat()
    watch = ScratchWatch()
    watch.start()
    os.environ["GRADER_TEST_SECRET"] = secret
    set_subreaper(True)
    memory = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    try:
        grade_batch([str(subs)], fast(assignment), out, jobs=2, force=True)
        seconds = time.monotonic() - started
        memory_growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - memory) * 1024
        left = survivors()
    finally:
        watch.done.set()
        watch.join()
        set_subreaper(False)
        reap()
        del os.environ["GRADER_TEST_SECRET"]
    assert watch.roots, "no sandbox child was seen"
    leftovers = [root for root in watch.roots if root.exists()]
    results = {i: json.loads((out / i / "results.json").read_text()) for i in ids.values()}
    reports = {i: (out / i / "report.html").read_text() for i in ids.values()}
    yield Arena(
        assignment, root, out, secret, canary, canary_stat, decoy, sockets, results, reports, ids,
        left, leftovers, seconds, memory_growth, world,
    )
    for sock in sockets.values():
        sock.close()
    shutil.rmtree(root, ignore_errors=True)
    for path in (in_repo, ROOT / f"evil-{tag}.py"):
        path.unlink(missing_ok=True)


# --- every attack costs only its own function ----------------------------------------------------


def test_the_attacks_know_the_probes(arena: Arena) -> None:
    scalar = [p.args[:2] for p in arena.assignment.probes if not isinstance(p.args[0], dict)]
    assert scalar and set(scalar) <= PROBED


def test_the_correct_submission_graded_alongside_keeps_full_marks(arena: Arena) -> None:
    result = arena.results["a_correct"]
    assert result["score"] == result["max_score"] == 100
    assert all(f["status"] == "passed" for f in result["functions"].values())


@pytest.mark.parametrize("name", ATTACKS)
def test_an_attack_costs_only_its_own_function(arena: Arena, name: str) -> None:
    item = ATTACKS[name]
    attacked = arena.function(name, item.target)
    assert attacked["status"] in item.status, attacked["message"]
    if item.status == {"passed"}:
        assert attacked["score"] == attacked["max_score"]
    else:
        assert attacked["score"] < attacked["max_score"]
    for function in FUNCTIONS:
        if function != item.target and function not in item.others:
            other = arena.function(name, function)
            assert (other["status"], other["score"]) == ("passed", other["max_score"]), (
                function,
                other["message"],
            )


@pytest.mark.parametrize("name", [n for n, a in ATTACKS.items() if a.stopped])
def test_every_attack_step_is_stopped(arena: Arena, name: str) -> None:
    report = arena.reports[arena.ids[name]]
    expected = ATTACKS[name].stopped
    expected += len(arena.world["secrets"]) if name == "peek_files" else 0
    expected += len(arena.world["targets"]) if name == "write" else 0
    assert steps(report, ESCAPED) == []
    assert len(steps(report, STOPPED)) == expected, steps(report, STOPPED)


@pytest.mark.parametrize(
    "name, words",
    [
        ("infinite_loop", "time limit"),
        ("sleep", "time limit"),
        ("fork_bomb", "PermissionError"),
        ("raw_fork", "Operation not permitted"),
        ("double_fork_setsid", "PermissionError"),
        ("thread_bomb", "RuntimeError"),
        ("allocate", "MemoryError"),
        ("allocate_numpy", "MemoryError"),
        ("big_file", "Permission denied"),
        ("many_files", "Too many open files"),
        # CPython 3.12 guards its C stack and raises instead of overflowing it.
        ("deep_recursion", "SIGSEGV" if sys.version_info < (3, 12) else "RecursionError"),
        ("segfault", "SIGSEGV"),
        ("keyboard_interrupt", "KeyboardInterrupt"),
        ("sigint", "KeyboardInterrupt"),
        ("fake_system_exit", "SystemExit"),
    ],
)
def test_a_limit_hit_says_what_happened(arena: Arena, name: str, words: str) -> None:
    attacked = arena.function(name, ATTACKS[name].target)
    assert words in attacked["message"]


# --- no network ----------------------------------------------------------------------------------


def test_no_connection_or_datagram_reached_the_listeners(arena: Arena) -> None:
    for kind in ("tcp", "unix", "abstract"):
        with pytest.raises(BlockingIOError):
            arena.sockets[kind].accept()
    with pytest.raises(BlockingIOError):
        arena.sockets["udp"].recv(100)


# --- no peeking ----------------------------------------------------------------------------------


def _everything_written(arena: Arena) -> Iterator[tuple[Path, str]]:
    for path in arena.out.rglob("*"):
        if path.is_file() and path != arena.decoy:
            yield path, path.read_text(errors="replace")


def _shown(name: str, arena: Arena) -> str:
    """Everything a submission's student gets to see: results.json and the report."""
    submission = arena.ids[name]
    return json.dumps(arena.results[submission]) + html.unescape(arena.reports[submission])


def _hidden(arena: Arena) -> list[float]:
    return hidden_numbers(arena.assignment)


def test_no_secret_reaches_any_report_results_or_gradebook(arena: Arena) -> None:
    assert "PATH" in "".join(stolen_text(arena.reports[arena.ids["peek_env"]]))
    for path, text in _everything_written(arena):
        assert arena.secret not in text, path


def test_an_exception_name_does_not_reveal_a_hidden_case(arena: Arena) -> None:
    tests = arena.tests_of("leak_hidden_by_exception_name", "forward_propagation")
    assert any(t["status"] == "failed" for t in tests)
    assert leaked(_shown("leak_hidden_by_exception_name", arena), _hidden(arena)) == []


def test_an_exit_code_does_not_reveal_a_hidden_input(arena: Arena) -> None:
    cases = arena.assignment.cases
    case = next(c for c in cases if c.hidden and c.function == "backward_propagation")
    code = int(abs(float(np.ravel(case.args[0])[0])) * 1000) % 200 + 50
    shown = _shown("leak_hidden_by_exit_code", arena)
    assert f"code {code}" not in shown and "exited with code" not in shown


def test_a_definition_error_does_not_reveal_the_hidden_calls(arena: Arena) -> None:
    tests = arena.tests_of("leak_hidden_at_definition", "forward_propagation")
    assert [t["status"] for t in tests] == ["passed", "failed", "failed"]
    assert leaked(_shown("leak_hidden_at_definition", arena), _hidden(arena)) == []


def test_hidden_inputs_do_not_reach_the_next_function(arena: Arena) -> None:
    assert stolen_text(arena.reports[arena.ids["leak_hidden_to_next_function"]]), "not run"
    assert leaked(_shown("leak_hidden_to_next_function", arena), _hidden(arena)) == []


def test_a_function_cannot_call_its_own_reference(arena: Arena) -> None:
    cheat = arena.function("rpc_own_reference", "gradient_check_n")
    assert cheat["score"] == 0, cheat["message"]


# --- no writing ----------------------------------------------------------------------------------


def test_nothing_outside_the_scratch_folder_was_written(arena: Arena) -> None:
    stat = arena.canary.stat()
    assert arena.canary.read_text() == f"CANARY-{arena.secret}\n"
    assert (stat.st_mode, stat.st_mtime_ns, stat.st_size) == (
        arena.canary_stat.st_mode,
        arena.canary_stat.st_mtime_ns,
        arena.canary_stat.st_size,
    )
    assert json.loads(arena.decoy.read_text()) == {"secret": f"DECOY-{arena.secret}"}
    for label, target in arena.world["targets"].items():
        if label.startswith("a new file") or label in ("/tmp", "/dev/shm"):
            assert not Path(target).exists(), label
    assert Path(arena.world["targets"]["a file in the repository"]).read_text() == "intact"
    assert not any("evil" in p.name for p in arena.out.rglob("*"))
    assert not Path(arena.world["exec_proof"]).exists()
    assert not (Path(arena.world["out"]).parent / "evil").exists()


# --- no faking: the scores -----------------------------------------------------------------------


def test_fakes_score_nothing_for_the_faked_function(arena: Arena) -> None:
    for name, item in ATTACKS.items():
        if name.startswith(("fake_", "forged_", "results_flood")):
            assert arena.function(name, item.target)["score"] == 0, name


# --- limits: the grader and the host are fine ---------------------------------------------------


def test_every_submission_was_graded(arena: Arena) -> None:
    assert set(arena.results) == set(arena.ids.values())
    rows = (arena.out / "gradebook.csv").read_text().splitlines()
    assert len(rows) == 1 + len(arena.ids)


def test_no_sandbox_process_survives_the_batch(arena: Arena) -> None:
    assert arena.survivors == []


def test_no_scratch_folder_survives_the_batch(arena: Arena) -> None:
    assert arena.leftovers == []


def test_no_attack_holds_the_batch_up(arena: Arena) -> None:
    # About 6 s here: timeouts cost TIME_LIMIT each, and a busy host more; a hang costs more.
    assert arena.seconds < 45


def test_a_function_cannot_fill_the_disk(arena: Arena) -> None:
    report = html.unescape(arena.reports[arena.ids["fill_the_disk"]])
    written = re.findall(r"WROTE (\d+) MiB", report)
    assert written, "the attack did not run"
    assert int(written[0]) <= 16  # the file size limit, if anything were writable


def test_reference_calls_cannot_make_the_grader_allocate(arena: Arena) -> None:
    assert arena.memory_growth < 150 << 20, f"{arena.memory_growth >> 20} MiB"


def test_outputs_stay_small_whatever_is_printed_or_forged(arena: Arena) -> None:
    for name in ("print_flood", "forged_huge_error", "forged_huge_define_error", "results_flood"):
        folder = arena.out / arena.ids[name]
        assert (folder / "results.json").stat().st_size < 64 << 10, name
        assert (folder / "report.html").stat().st_size < 256 << 10, name
    assert (arena.out / "index.html").stat().st_size < 1 << 20


# --- reports are safe ----------------------------------------------------------------------------


def test_html_from_a_submission_is_escaped(arena: Arena) -> None:
    report = arena.reports[arena.ids["html"]]
    for page in (report, (arena.out / "index.html").read_text()):
        assert "<script>alert" not in page
        assert "<img src=x" not in page
    assert "&lt;script&gt;alert(" in report.replace("&#34;", '"').replace("&#39;", "'")


def test_a_report_never_shows_another_students_output(arena: Arena) -> None:
    chatty = arena.world["chatty"]
    assert chatty in arena.reports[arena.ids["chatty"]]
    for submission, report in arena.reports.items():
        if submission != arena.ids["chatty"]:
            assert chatty not in report, submission


# --- one worker, one submission after another: nothing of the first reaches the second ----------

PEEKER = r'''
import re
victim = re.compile(("VIC" + "TIM-").encode() + rb"[0-9a-f]{16}")
found, floats, calls = set(), set(), []

def search(value):
    text = value if isinstance(value, bytes) else repr(value).encode(errors="replace")
    found.update(match.decode() for match in victim.findall(text))

if public_case(x, theta):
    frame = sys._getframe()
    while frame is not None:
        for name, value in list(frame.f_locals.items()):
            search(value)
            if name in ("job", "function", "message"):
                calls.append(repr(value)[:1000])
        frame = frame.f_back
    for obj in gc.get_objects():
        if type(obj) is dict:
            if "calls" in obj:
                calls.append(json.dumps(obj["calls"])[:1000])
            items = list(obj.values())
        elif type(obj) in (list, tuple):
            items = list(obj)
        else:
            continue
        for item in items:
            if type(item) in (str, bytes):
                search(item)
            elif type(item) is float:
                floats.add(item)
    lib = ctypes.CDLL(None, use_errno=True)
    read_end, write_end = os.pipe()
    anchors = {id(o) >> 20 for o in gc.get_objects()}
    anchors.add(ctypes.addressof(ctypes.create_string_buffer(1 << 16)) >> 20)
    seen, stop = set(), time.monotonic() + 3
    for block in sorted(anchors):
        for page in range((block - 2) << 20, (block + 3) << 20, 4096):
            if page in seen or page <= 0 or time.monotonic() > stop:
                continue
            seen.add(page)
            if lib.write(write_end, ctypes.c_void_p(page), 4096) == 4096:
                search(os.read(read_end, 4096))
    print("scanned", len(seen), "pages")
    stolen(sorted(found))
    stolen(sorted(floats, key=abs)[-150:])
    stolen(calls)
return theta * x
'''


@pytest.fixture(scope="module")
def one_after_another(assignment: Assignment, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A victim, then a peeker, graded in turn by the same (single) worker."""
    folder = tmp_path_factory.mktemp("sequential")
    canary = f"VICTIM-{secrets.token_hex(8)}"
    victim = FORWARD.replace("return J", f"print({canary!r})  # {canary}\n    return J")
    (folder / "a_victim.ipynb").write_text(notebook(IMPORTS, victim, BACKWARD, CHECK, CHECK_N))
    peeker = graded_cell("forward_propagation", PEEKER, {})
    (folder / "b_peeker.ipynb").write_text(notebook(IMPORTS, peeker, BACKWARD, CHECK, CHECK_N))
    out = folder / "out"
    grade_batch([str(folder)], dataclasses.replace(assignment, time_limit=6.0), out, jobs=1)
    return {
        "canary": canary,
        "victim": (out / "a_victim" / "report.html").read_text(),
        "peeker": (out / "b_peeker" / "report.html").read_text(),
        "results": json.loads((out / "b_peeker" / "results.json").read_text()),
    }


def test_the_next_submission_finds_nothing_of_the_previous_one(
    one_after_another: dict, assignment: Assignment
) -> None:
    assert one_after_another["canary"] in one_after_another["victim"]
    peeker = one_after_another["peeker"]
    assert "scanned" in peeker, "the peeker did not run"
    assert one_after_another["canary"] not in peeker
    assert leaked("".join(stolen_text(peeker)), hidden_numbers(assignment)) == []
    assert one_after_another["results"]["score"] == 100


def test_no_submission_is_shown_a_hidden_input_or_expected_value(arena: Arena) -> None:
    numbers = _hidden(arena)
    leaks = {name: leaked(_shown(name, arena), numbers) for name in arena.ids}
    assert {name: found for name, found in leaks.items() if found} == {}


def test_a_passing_hidden_case_does_not_show_its_value(arena: Arena) -> None:
    # For backward_propagation the expected value is the hidden input itself.
    assert leaked(_shown("correct", arena), _hidden(arena)) == []


# --- faults in the grader's own stages cost the submission, never the batch -----------------


def _batch_with_a_correct_submission(folder: Path, assignment: Assignment) -> dict[str, dict]:
    """Grade `folder` next to a correct submission; return every results.json by id."""
    (folder / "a_correct.ipynb").write_text(notebook(*CORRECT_CELLS.values(), IMPORTS))
    out = folder.parent / f"{folder.name}-out"
    grade_batch([str(folder)], fast(assignment), out, jobs=1)
    return {p.parent.name: json.loads(p.read_text()) for p in out.glob("*/results.json")}


def test_a_deeply_nested_expression_costs_only_its_submission(
    tmp_path: Path, assignment: Assignment
) -> None:
    # ast.parse raises MemoryError (or RecursionError) on it, in the grader's extract stage.
    deep = FORWARD.replace("J = theta * x", "J = theta * x\n    y = " + "-" * 200_000 + "1")
    (tmp_path / "deep.ipynb").write_text(notebook(IMPORTS, deep, BACKWARD, CHECK, CHECK_N))
    results = _batch_with_a_correct_submission(tmp_path, assignment)
    assert results["a_correct"]["score"] == 100
    assert results["deep"]["functions"]["forward_propagation"]["score"] == 0


def test_a_lone_surrogate_in_the_code_costs_only_its_submission(
    tmp_path: Path, assignment: Assignment
) -> None:
    # A \ud800 escape in the notebook's JSON: the report's code listing cannot be UTF-8.
    cells = notebook(IMPORTS, FORWARD.replace("J = theta * x", "J = theta * x  # SURROGATE"))
    (tmp_path / "odd.ipynb").write_text(cells.replace("SURROGATE", "\\ud800"))
    results = _batch_with_a_correct_submission(tmp_path, assignment)
    assert results["a_correct"]["score"] == 100 and "odd" in results


def test_a_job_too_large_to_send_leaves_the_pool_its_worker(assignment: Assignment) -> None:
    # Reading refuses this much code; the pool must still survive it from any other caller.
    huge = FORWARD.replace("J = theta * x", 'J = theta * x\n    """' + "x" * (17 << 20) + '"""')
    jobs = [
        function_jobs(assignment, extract(cells, assignment.functions, assignment.provided))
        for cells in ((Cell(1, IMPORTS), Cell(2, huge)), CORRECT_PARSED)
    ]
    finished: list = []
    set_subreaper(True)
    try:
        with WorkerPool(sandbox_setup(fast(assignment)), 1) as pool:
            scratch = Path(pool.workers[0].scratch)
            with pytest.raises(Unencodable):  # grade_batch logs it and fails that submission
                pool.run(jobs[0])
            run = threading.Thread(target=lambda: finished.append(pool.run(jobs[1])), daemon=True)
            run.start()
            run.join(30)
        left = survivors()
    finally:
        set_subreaper(False)
        reap()
    assert finished, "the pool lost its only worker: every later submission would wait forever"
    assert not scratch.exists(), "the replaced worker's scratch folder was left behind"
    assert left == []


def test_a_symlinked_submission_reads_nothing_outside_the_folder(
    tmp_path: Path, assignment: Assignment
) -> None:
    (tmp_path / "sneaky.py").symlink_to(ROOT / "reference_solutions/gradient_checking/solution.py")
    results = _batch_with_a_correct_submission(tmp_path, assignment)
    assert "sneaky" not in results  # a link is listed as not graded, never read
