"""Containment tests: each attack runs in a forked child after confine(); the parent judges.

Tests that must show a layer working (not plain Unix permissions) keep the child's uid
(``uid=None``): run as root, as here and in CI, the child then passes every permission check,
so only the sandbox can say no.
"""

import ctypes
import errno
import fcntl
import functools
import os
import resource
import select
import shutil
import signal
import site
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from grader.sandbox import isolation
from grader.sandbox.isolation import PROTECTIONS, Confinement, Limits, confine, protections

LINUX = sys.platform.startswith("linux")
ROOT = os.geteuid() == 0
NOBODY = 65534
READ_PATHS = tuple(
    dict.fromkeys(
        [sys.prefix, sys.base_prefix, *site.getsitepackages(), "/usr/lib", "/lib", "/lib64"]
        + ["/etc/ld.so.cache"]
    )
)
libc = ctypes.CDLL(None, use_errno=True)
# Syscalls that glibc does not wrap: name -> (x86_64, aarch64).
RAW_SYSCALLS = {"bpf": (321, 280), "io_uring_setup": (425, 425), "userfaultfd": (323, 282)}
CONFINE_FAILED = "confine failed: "


@functools.cache
def host() -> dict[str, str]:
    return protections()


def needs(*names: str) -> pytest.MarkDecorator:
    """Skip where this host lacks a protection (test_every_protection_on_linux catches that)."""
    off = {name: reason for name, reason in host().items() if name in names and reason != "on"}
    return pytest.mark.skipif(bool(off), reason=f"protection off on this host: {off}")


def run_child(
    attack: Callable[[], str], confinement: Confinement, timeout: float = 10
) -> tuple[str, int]:
    """Fork; the child confines itself and runs attack. Return (its report, wait status)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_fd)
            try:
                confine(confinement)
            except BaseException as exc:
                os.write(write_fd, f"{CONFINE_FAILED}{exc!r}".encode())
                raise
            try:
                report = attack()
            except BaseException as exc:
                report = f"{type(exc).__name__}: {exc}"
            os.write(write_fd, report.encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    chunks = []
    deadline = time.monotonic() + timeout
    with os.fdopen(read_fd, "rb") as pipe:
        while select.select([pipe], [], [], max(0.0, deadline - time.monotonic()))[0]:
            chunk = os.read(pipe.fileno(), 65536)
            if not chunk:
                break
            chunks.append(chunk)
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail(f"confined child still running after {timeout} s")
    _, status = os.waitpid(pid, 0)
    return b"".join(chunks).decode(), status


def outcome(attack: Callable[[], str], confinement: Confinement) -> str:
    """The attack's report from a confined child that confined itself and exited normally."""
    report, status = run_child(attack, confinement)
    assert not report.startswith(CONFINE_FAILED), report
    assert os.WIFEXITED(status), f"child died: status {status:#x}, report {report!r}"
    return report


def errno_of(call: Callable[[], object]) -> str:
    """Run call; return "ok", or the errno name of the OSError it raised."""
    try:
        call()
    except OSError as exc:
        return errno.errorcode.get(exc.errno or 0, repr(exc))
    return "ok"


def c_call(function: Callable[..., int], *args: object) -> Callable[[], None]:
    """A call of a libc function that raises OSError when it returns -1."""

    def call() -> None:
        if function(*args) == -1:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))

    return call


needs_root = pytest.mark.skipif(not ROOT, reason="about dropping root to uid 65534")


def keep_uid(tmp_path: Path, **changes: object) -> Confinement:
    """A confinement with a scratch dir in tmp_path that keeps the uid (root here)."""
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    return replace(Confinement(READ_PATHS, (str(scratch),), uid=None), **changes)


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A scratch dir the dropped uid can reach and write (tmp_path is root-only)."""
    path = Path(tempfile.mkdtemp(prefix="grader-isolation-"))
    if ROOT:
        os.chown(path, NOBODY, NOBODY)
    yield path
    shutil.rmtree(path)


@pytest.fixture
def victim() -> Iterator[subprocess.Popen]:
    """A process outside the sandbox for the child to attack."""
    process = subprocess.Popen(["sleep", "60"])
    yield process
    process.kill()
    process.wait()


# --- the host and the API ---------------------------------------------------------------------


def test_every_protection_on_linux() -> None:
    if not LINUX:
        pytest.skip("Landlock, seccomp and PR_SET_NO_NEW_PRIVS exist only on Linux")
    assert host() == dict.fromkeys(PROTECTIONS, "on")


@needs(*PROTECTIONS)
def test_confine_returns_all_names(scratch: Path) -> None:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(write_fd, ",".join(confine(Confinement(READ_PATHS, (str(scratch),)))).encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        names = pipe.read().decode()
    os.waitpid(pid, 0)
    assert names == ",".join(PROTECTIONS)


@needs("landlock")
def test_missing_read_path_is_skipped_missing_write_path_fails(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-dir")
    assert outcome(lambda: "ok", Confinement((*READ_PATHS, missing), (), uid=None)) == "ok"
    report, _ = run_child(lambda: "ran", Confinement(READ_PATHS, (missing,), uid=None))
    assert report.startswith(CONFINE_FAILED + "FileNotFoundError")


# --- network ----------------------------------------------------------------------------------


@needs("seccomp")
@pytest.mark.parametrize(
    "attack",
    [
        lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM).close(),
        lambda: socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).close(),
        lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).close(),
        lambda: [s.close() for s in socket.socketpair()],
    ],
    ids=["inet-tcp", "inet6-udp", "unix", "socketpair"],
)
def test_sockets_denied(tmp_path: Path, attack: Callable[[], object]) -> None:
    assert outcome(lambda: errno_of(attack), keep_uid(tmp_path)) == "EPERM"


# --- processes, threads, signals --------------------------------------------------------------


def fork_and_reap() -> None:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)


@needs("seccomp")
@pytest.mark.parametrize(
    "attack",
    [fork_and_reap, lambda: subprocess.run(["/bin/true"], check=True)],
    ids=["fork", "subprocess"],
)
def test_new_processes_denied(tmp_path: Path, attack: Callable[[], object]) -> None:
    assert outcome(lambda: errno_of(attack), keep_uid(tmp_path)) == "EPERM"


def thread_result() -> str:
    results: list[float] = []
    thread = threading.Thread(target=lambda: results.append(float(np.linalg.norm([3.0, 4.0]))))
    thread.start()
    thread.join()
    return str(results)


@needs_root
@needs("seccomp", "unprivileged")
def test_threads_still_work(scratch: Path) -> None:
    # RLIMIT_NPROC counts the threads of the dropped uid, so allow a few.
    confinement = Confinement(READ_PATHS, (str(scratch),), Limits(processes=16))
    assert outcome(thread_result, confinement) == "[5.0]"


@needs_root
@needs("unprivileged")
def test_default_process_limit_also_stops_threads(scratch: Path) -> None:
    report = outcome(thread_result, Confinement(READ_PATHS, (str(scratch),)))
    assert report == "RuntimeError: can't start new thread"


@needs("seccomp")
def test_clone3_reports_enosys_so_glibc_falls_back(tmp_path: Path) -> None:
    attack = c_call(libc.syscall, 435, None, 0)  # clone3(NULL, 0): EINVAL when unfiltered
    assert outcome(lambda: errno_of(attack), keep_uid(tmp_path)) == "ENOSYS"


def signal_attacks(victim_pid: int) -> str:
    attacks = {
        "victim": lambda: os.kill(victim_pid, signal.SIGTERM),
        "parent": lambda: os.kill(os.getppid(), 0),
        "init": lambda: os.kill(1, 0),
        "group": lambda: os.kill(0, 0),
        "pidfd": lambda: os.pidfd_open(victim_pid),
        "sigio": lambda: fcntl.fcntl(os.pipe()[0], fcntl.F_SETOWN, victim_pid),
        "self": lambda: os.kill(os.getpid(), 0),
    }
    return " ".join(f"{name}={errno_of(attack)}" for name, attack in attacks.items())


@needs("seccomp", "landlock-scope")
def test_signals_only_to_self(tmp_path: Path, victim: subprocess.Popen) -> None:
    report = outcome(lambda: signal_attacks(victim.pid), keep_uid(tmp_path))
    assert (
        report == "victim=EPERM parent=EPERM init=EPERM group=EPERM pidfd=EPERM sigio=EPERM self=ok"
    )
    assert victim.poll() is None


def layer_child(
    step: Callable[[Confinement], object], confinement: Confinement, action: Callable[[], str]
) -> tuple[int, int]:
    """Fork a child that applies one layer alone, then writes what `action` returns on a pipe.

    Returns the child's pid and the pipe's reading end.
    """
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            isolation._drop_privileges(confinement)  # PR_SET_NO_NEW_PRIVS only: uid=None
            step(confinement)
            os.write(write_fd, action().encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    return pid, read_fd


@pytest.mark.parametrize("layer", ["landlock-scope", "seccomp"])
def test_each_layer_alone_stops_signals(
    tmp_path: Path, victim: subprocess.Popen, layer: str
) -> None:
    if host()[layer] != "on":
        pytest.skip(f"{layer} off on this host: {host()[layer]}")
    step = isolation._apply_seccomp if layer == "seccomp" else isolation._apply_landlock
    confinement = Confinement(READ_PATHS, (), uid=None)
    pid, report = layer_child(
        step, confinement, lambda: errno_of(lambda: os.kill(victim.pid, signal.SIGTERM))
    )
    with os.fdopen(report, "rb") as pipe:
        assert pipe.read() == b"EPERM"
    os.waitpid(pid, 0)
    assert victim.poll() is None


def test_a_ruleset_made_once_still_gives_each_child_its_own_domain() -> None:
    if host()["landlock-scope"] != "on":
        pytest.skip(f"landlock-scope off on this host: {host()['landlock-scope']}")
    ruleset = isolation.landlock_ruleset(Confinement(READ_PATHS, (), uid=None))
    confinement = Confinement(READ_PATHS, (), uid=None, ruleset=ruleset)
    hold_r, hold_w = os.pipe()
    landlock = isolation._apply_landlock

    def wait() -> str:  # confined, until the test ends
        return os.read(hold_r, 1).decode()

    sibling, sibling_report = layer_child(landlock, confinement, wait)
    try:
        attacker, report = layer_child(
            landlock,
            confinement,
            lambda: f"{errno_of(lambda: os.kill(sibling, 0))} "
            f"{errno_of(Path('/etc/hostname').read_text)}",
        )
        with os.fdopen(report, "rb") as pipe:
            assert pipe.read() == b"EPERM EACCES"  # scoped apart, and the rules hold
        os.waitpid(attacker, 0)
    finally:
        os.close(ruleset)
        os.write(hold_w, b"x")
        os.waitpid(sibling, 0)
        os.close(sibling_report)


# --- file system ------------------------------------------------------------------------------


@needs("landlock")
def test_reads_only_under_read_paths(tmp_path: Path) -> None:
    public, private = tmp_path / "public", tmp_path / "private"
    public.mkdir()
    private.mkdir()
    (public / "notes.txt").write_text("visible")
    (private / "canary.txt").write_text("SECRET")
    confinement = keep_uid(tmp_path, read_paths=(*READ_PATHS, str(public)))

    def attack() -> str:
        seen = (public / "notes.txt").read_text()
        canary = errno_of((private / "canary.txt").read_text)
        return f"{seen} {canary} {errno_of(lambda: os.listdir(private))}"

    assert outcome(attack, confinement) == "visible EACCES EACCES"


@needs("landlock")
def test_writes_only_under_write_paths(tmp_path: Path) -> None:
    confinement = keep_uid(tmp_path)
    inside, outside = tmp_path / "scratch" / "out.txt", tmp_path / "escaped.txt"
    kept = tmp_path / "kept.txt"
    kept.write_text("intact")

    def attack() -> str:
        inside.write_text("result")
        return " ".join(
            [
                errno_of(lambda: outside.write_text("x")),
                errno_of(lambda: os.rename(inside, outside)),
                errno_of(lambda: os.link(inside, outside)),
                errno_of(lambda: (tmp_path / "scratch" / "sub").mkdir()),
                errno_of(lambda: os.rename(inside, tmp_path / "scratch" / "sub" / "moved")),
                errno_of(lambda: os.truncate(kept, 0)),
                errno_of(lambda: kept.write_text("overwritten")),
            ]
        )

    # Renames between directories of the scratch tree need (and have) LANDLOCK_ACCESS_FS_REFER.
    assert outcome(attack, confinement) == "EACCES EACCES EACCES ok ok EACCES EACCES"
    assert (tmp_path / "scratch" / "sub" / "moved").read_text() == "result"
    assert kept.read_text() == "intact"
    assert not outside.exists()


# --- privileges and limits --------------------------------------------------------------------


@needs_root
@needs("unprivileged")
def test_root_is_dropped_for_good(scratch: Path) -> None:
    def attack() -> str:
        no_new_privs = libc.prctl(39, 0, 0, 0, 0)  # PR_GET_NO_NEW_PRIVS
        regain = errno_of(lambda: os.setuid(0))
        return f"{os.getresuid()} {os.getresgid()} {os.getgroups()} {no_new_privs} {regain}"

    expected = f"{(NOBODY,) * 3} {(NOBODY,) * 3} [] 1 EPERM"
    assert outcome(attack, Confinement(READ_PATHS, (str(scratch),))) == expected


@needs_root
@needs("rlimits", "seccomp")
@pytest.mark.parametrize("drop_root", [False, True], ids=["root", "nobody"])
def test_limits_cannot_be_raised(tmp_path: Path, scratch: Path, drop_root: bool) -> None:
    confinement = Confinement(READ_PATHS, (str(scratch),)) if drop_root else keep_uid(tmp_path)
    unlimited = (resource.RLIM_INFINITY, resource.RLIM_INFINITY)

    def attack() -> str:
        raise_as = c_call(libc.setrlimit, resource.RLIMIT_AS, (ctypes.c_ulong * 2)(*unlimited))
        raise_cpu = c_call(
            libc.prlimit, 0, resource.RLIMIT_CPU, (ctypes.c_ulong * 2)(*unlimited), None
        )
        lower = c_call(libc.setrlimit, resource.RLIMIT_AS, (ctypes.c_ulong * 2)(1 << 20, 1 << 20))
        now = resource.getrlimit(resource.RLIMIT_AS)  # prlimit64 with new_limit NULL
        return f"{errno_of(raise_as)} {errno_of(raise_cpu)} {errno_of(lower)} {now}"

    assert outcome(attack, confinement) == f"EPERM EPERM EPERM {(1 << 30, 1 << 30)}"


@needs("rlimits")
def test_memory_limit(tmp_path: Path) -> None:
    def attack() -> str:
        small = np.ones((100 << 20) // 8)
        try:
            np.ones((2 << 30) // 8)
        except MemoryError:
            return f"small ok ({small.nbytes >> 20} MiB), 2 GiB: MemoryError"
        return "2 GiB allocated"

    assert outcome(attack, keep_uid(tmp_path)) == "small ok (100 MiB), 2 GiB: MemoryError"


@needs("rlimits")
def test_file_size_and_descriptor_limits(tmp_path: Path) -> None:
    big = tmp_path / "scratch" / "big.bin"

    def attack() -> str:
        too_big = errno_of(lambda: big.write_bytes(b"\0" * (17 << 20)))
        too_many = errno_of(lambda: [os.open("/dev/null", os.O_RDONLY) for _ in range(100)])
        return f"{too_big} {too_many}"

    confinement = keep_uid(tmp_path, read_paths=(*READ_PATHS, "/dev/null"))
    assert outcome(attack, confinement) == "EFBIG EMFILE"
    assert big.stat().st_size == 16 << 20


@needs("rlimits")
def test_cpu_limit_kills(tmp_path: Path) -> None:
    def spin() -> str:
        while True:
            pass

    report, status = run_child(spin, keep_uid(tmp_path, limits=Limits(cpu_seconds=1)))
    assert report == ""
    assert os.WIFSIGNALED(status)
    assert os.WTERMSIG(status) in (signal.SIGKILL, signal.SIGXCPU)


# --- kernel interfaces ------------------------------------------------------------------------


def raw(name: str, *args: object) -> Callable[[], None]:
    number = RAW_SYSCALLS[name][os.uname().machine == "aarch64"]
    return c_call(libc.syscall, number, *args)


KERNEL_ATTACKS: dict[str, Callable[[], Callable[[], object]]] = {
    # Each would fail with another errno (or succeed harmlessly) when not filtered.
    "ptrace-traceme": lambda: c_call(libc.ptrace, 0, 0, None, None),
    "process_vm_readv": lambda: c_call(libc.process_vm_readv, os.getppid(), None, 0, None, 0, 0),
    "unshare-user": lambda: c_call(libc.unshare, 0x10000000),
    "mount": lambda: c_call(libc.mount, b"none", b"/no-such-dir", b"tmpfs", 0, None),
    "chroot": lambda: c_call(libc.chroot, b"/no-such-dir"),
    "setns": lambda: c_call(libc.setns, 0, 0),
    "shmget": lambda: c_call(libc.shmget, 0x7A11, 4096, 0),
    "setpriority": lambda: lambda: os.setpriority(os.PRIO_PROCESS, 0, 19),
    "bpf": lambda: raw("bpf", 0, None, 0),
    "io_uring_setup": lambda: raw("io_uring_setup", 1, None),
    "userfaultfd": lambda: raw("userfaultfd", 0),
    "tiocsti": lambda: lambda: fcntl.ioctl(os.pipe()[1], termios.TIOCSTI, b"x"),
}


@needs("seccomp")
@pytest.mark.parametrize("name", KERNEL_ATTACKS)
def test_kernel_interfaces_denied(tmp_path: Path, name: str) -> None:
    assert outcome(lambda: errno_of(KERNEL_ATTACKS[name]()), keep_uid(tmp_path)) == "EPERM"


@needs("seccomp")
@pytest.mark.skipif(os.uname().machine != "x86_64", reason="x32 syscalls exist on x86_64 only")
def test_x32_syscall_kills_the_process(tmp_path: Path) -> None:
    report, status = run_child(
        lambda: str(libc.syscall(0x40000000 | 39)),  # x32 getpid
        keep_uid(tmp_path),
    )
    assert report == ""
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSYS


# --- what the student's code needs ------------------------------------------------------------


def test_numpy_still_works(scratch: Path) -> None:
    def compute() -> str:
        import numpy  # already imported before the fork

        matrix = numpy.arange(9.0).reshape(3, 3)
        return f"{numpy.linalg.norm([3.0, 4.0])} {(matrix @ matrix).trace()}"

    assert outcome(compute, Confinement(READ_PATHS, (str(scratch),))) == "5.0 180.0"


# --- the filter itself, for both architectures (aarch64 cannot run here) ---------------------

ALLOW, EPERM, ENOSYS, KILL = 0x7FFF0000, 0x50001, 0x50026, 0x80000000
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
# name: (x86_64, aarch64) from the kernel's syscall tables, independent of the module's.
NR = {
    "read": (0, 63),
    "socket": (41, 198),
    "fork": (57, None),
    "clone": (56, 220),
    "clone3": (435, 435),
    "kill": (62, 129),
    "tgkill": (234, 131),
    "ptrace": (101, 117),
    "unshare": (272, 97),
    "ioctl": (16, 29),
    "fcntl": (72, 25),
    "prlimit64": (302, 261),
    "setrlimit": (160, 164),
    "mmap": (9, 222),
}


def run_filter(code: bytes, arch: int, nr: int, *args: int) -> int:
    """Interpret a classic BPF seccomp filter on one struct seccomp_data."""
    data = struct.pack("<iIQ6Q", nr, arch, 0, *args, *[0] * (6 - len(args)))
    pc = accumulator = 0
    while True:
        op, jump_true, jump_false, k = struct.unpack_from("=HBBI", code, 8 * pc)
        pc += 1
        if op == 0x06:  # ret k
            return k
        if op == 0x20:  # ld [k]
            accumulator = struct.unpack_from("<I", data, k)[0]
            continue
        taken = {0x15: accumulator == k, 0x35: accumulator >= k, 0x45: accumulator & k}[op]
        pc += jump_true if taken else jump_false


@pytest.mark.parametrize("arch", AUDIT_ARCH)
def test_filter_decisions(arch: str) -> None:
    code, pid_offset = isolation._seccomp_program(arch)
    code = bytearray(code)
    struct.pack_into("=I", code, pid_offset, 4242)
    column = arch == "aarch64"

    def decide(name: str, *args: int) -> int:
        return run_filter(bytes(code), AUDIT_ARCH[arch], NR[name][column], *args)

    thread_flags = 0x3D0F00  # what glibc's pthread_create passes, CLONE_THREAD included
    assert run_filter(bytes(code), 0x40000003, 0) == KILL  # i386 on x86_64
    assert decide("read") == decide("mmap") == ALLOW
    assert decide("socket") == decide("ptrace") == decide("unshare") == EPERM
    assert decide("clone", thread_flags) == ALLOW
    assert decide("clone", signal.SIGCHLD) == EPERM
    assert decide("clone", thread_flags | 0x10000000) == EPERM  # + CLONE_NEWUSER
    assert decide("clone3") == ENOSYS
    assert decide("kill", 4242, signal.SIGTERM) == decide("tgkill", 4242, 4243) == ALLOW
    assert decide("kill", 4243, 0) == decide("tgkill", 1, 1) == EPERM
    assert decide("ioctl", 0, termios.FIONREAD) == ALLOW
    assert decide("ioctl", 0, termios.TIOCSTI) == decide("ioctl", 0, 1 << 32 | 0x5412) == EPERM
    assert decide("fcntl", 0, fcntl.F_GETFL) == ALLOW
    assert decide("fcntl", 0, fcntl.F_SETOWN) == EPERM
    assert decide("prlimit64", 0, 9, 0, 0x7FFF0000) == ALLOW  # read only: new_limit NULL
    assert decide("prlimit64", 0, 9, 0x1000) == decide("prlimit64", 0, 9, 1 << 40) == EPERM
    assert decide("setrlimit", 9, 0x1000) == EPERM
    if arch == "x86_64":
        assert decide("fork") == EPERM
        assert run_filter(bytes(code), AUDIT_ARCH[arch], 0x40000000 | 39) == KILL  # x32
