"""Confinement applied inside a freshly forked child just before untrusted student code runs.

:func:`confine` stacks these protections, in this order, skipping any that the host lacks:

``rlimits``
    CPU seconds, address space, file size, open files, processes (soft = hard, so they
    cannot be raised again) and no core dumps.
``unprivileged``
    Root drops to ``Confinement.uid`` (groups, gid and uid) and ``PR_SET_NO_NEW_PRIVS`` is
    set, so no set-uid binary or file capability can give privileges back.
``landlock``
    Files can be read and executed only under ``read_paths``, written or created only under
    ``write_paths``; with Landlock ABI >= 4 no TCP bind or connect at all.
``landlock-scope``
    Landlock ABI >= 6: no signal to, and no abstract unix socket of, a process outside the
    child's own domain.
``seccomp``
    A classic BPF filter: no sockets, no new processes (threads are allowed), no signals to
    other processes (nor SIGIO aimed at them), no debugging, namespaces, mounts, keyrings,
    BPF, io_uring, System V / POSIX IPC, kernel modules or reboot, no raising of rlimits or
    priority, no TIOCSTI/TIOCLINUX; a foreign syscall ABI kills the process.

Descriptors the child inherited stay open and usable: closing what the student must not
reach is the caller's job. Landlock and seccomp bind the calling thread and its later threads,
so call :func:`confine` in a single-threaded, freshly forked child.

The host probes and the seccomp program are built when this module is imported (once, in the
worker, before it forks), so :func:`confine` costs only a few dozen system calls.
"""

import ctypes
import errno
import json
import os
import resource
import signal
import stat
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Resource limits; each is set as both soft and hard limit."""

    cpu_seconds: int = 10
    memory_bytes: int = 1 << 30  # RLIMIT_AS
    file_bytes: int = 16 << 20  # RLIMIT_FSIZE
    open_files: int = 64  # RLIMIT_NOFILE
    # RLIMIT_NPROC when running unprivileged (0 = no new processes). The kernel counts every
    # task (threads too) of the real uid across all processes, so 0 also forbids threads.
    processes: int = 0


@dataclass(frozen=True)
class Confinement:
    """What the confined process may touch."""

    read_paths: tuple[str, ...]  # readable (and executable) trees
    write_paths: tuple[str, ...]  # writable trees (the private scratch dir)
    limits: Limits = Limits()
    uid: int | None = 65534  # when root, drop to this uid and gid; None keeps root
    # A Landlock ruleset for these paths made once by `landlock_ruleset`; None: make one here.
    ruleset: int | None = None


PROTECTIONS = ("rlimits", "unprivileged", "landlock", "landlock-scope", "seccomp")

_LINUX = sys.platform.startswith("linux")
_MACHINE = os.uname().machine
_libc = ctypes.CDLL(None, use_errno=True)
if _LINUX:
    # Every argument is a C long (pointers as addresses of buffers built at import), so a call
    # in the child creates no ctypes objects.
    _syscall = _libc.syscall
    _syscall.restype = ctypes.c_long
    _syscall.argtypes = (ctypes.c_long,) * 5
    _prctl = _libc.prctl
    _prctl.argtypes = (ctypes.c_int,) + (ctypes.c_ulong,) * 4

_PR_SET_PDEATHSIG = 1
_PR_SET_SECCOMP = 22
_PR_SET_CHILD_SUBREAPER = 36
_PR_SET_NO_NEW_PRIVS = 38
_SECCOMP_MODE_FILTER = 2


def end_with_parent() -> None:
    """Have the kernel kill the calling process when the thread that forked it ends."""
    if _LINUX:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def adopt_orphans() -> None:
    """Become the reaper of descendants whose parent ends, so that none escapes a kill."""
    if _LINUX:
        _prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _check(result: int, what: str, path: str | None = None) -> int:
    """Raise OSError with the C errno when a libc call returned -1."""
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}", path)
    return result


# --- Landlock ---------------------------------------------------------------------------------

_LANDLOCK_CREATE_RULESET, _LANDLOCK_ADD_RULE, _LANDLOCK_RESTRICT_SELF = 444, 445, 446
_LANDLOCK_CREATE_RULESET_VERSION = 1
_LANDLOCK_RULE_PATH_BENEATH = 1

_FS_EXECUTE, _FS_WRITE_FILE, _FS_READ_FILE, _FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_FS_ABI1 = (1 << 13) - 1  # EXECUTE .. MAKE_SYM
_FS_REFER, _FS_TRUNCATE, _FS_IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15  # ABI 2, 3, 5
_FS_READ = _FS_EXECUTE | _FS_READ_FILE | _FS_READ_DIR
# The only rights a rule on a non-directory may carry.
_FS_FILE = _FS_EXECUTE | _FS_WRITE_FILE | _FS_READ_FILE | _FS_TRUNCATE | _FS_IOCTL_DEV
_NET_BIND_TCP, _NET_CONNECT_TCP = 1 << 0, 1 << 1  # ABI 4
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6
_LANDLOCK_MAX_ABI = 7


def _probe_landlock() -> tuple[int, str | None]:
    """Return (ABI in use, reason Landlock is off or None)."""
    if not _LINUX:
        return 0, "not Linux"
    if _MACHINE.startswith(("alpha", "mips")):
        return 0, f"Landlock syscall numbers unknown on {_MACHINE}"
    abi = _syscall(_LANDLOCK_CREATE_RULESET, 0, 0, _LANDLOCK_CREATE_RULESET_VERSION, 0)
    if abi >= 1:
        return min(abi, _LANDLOCK_MAX_ABI), None
    err = ctypes.get_errno()
    reasons = {
        errno.ENOSYS: "kernel built without Landlock",
        errno.EOPNOTSUPP: "Landlock disabled at boot (not in lsm=)",
    }
    return 0, reasons.get(err, f"Landlock probe failed: {os.strerror(err)}")


_LANDLOCK_ABI, _LANDLOCK_OFF = _probe_landlock()
_FS_HANDLED = (
    _FS_ABI1
    | (_FS_REFER if _LANDLOCK_ABI >= 2 else 0)
    | (_FS_TRUNCATE if _LANDLOCK_ABI >= 3 else 0)
    | (_FS_IOCTL_DEV if _LANDLOCK_ABI >= 5 else 0)
)
_NET_HANDLED = _NET_BIND_TCP | _NET_CONNECT_TCP if _LANDLOCK_ABI >= 4 else 0
_SCOPED = _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL if _LANDLOCK_ABI >= 6 else 0
# struct landlock_ruleset_attr; older kernels accept it as long as the fields they lack are 0.
_RULESET_ATTR = ctypes.create_string_buffer(struct.pack("=QQQ", _FS_HANDLED, _NET_HANDLED, _SCOPED))
_RULE = ctypes.create_string_buffer(12)  # struct landlock_path_beneath_attr (packed)


def _add_path_rule(ruleset: int, path: str, access: int, missing_ok: bool) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        if missing_ok:  # a tree this process cannot reach is denied anyway
            return
        raise
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            access &= _FS_FILE
        struct.pack_into("=Qi", _RULE, 0, access & _FS_HANDLED, fd)
        result = _syscall(
            _LANDLOCK_ADD_RULE, ruleset, _LANDLOCK_RULE_PATH_BENEATH, ctypes.addressof(_RULE), 0
        )
        _check(result, "landlock_add_rule", path)
    finally:
        os.close(fd)


def landlock_ruleset(confinement: Confinement) -> int | None:
    """A Landlock ruleset for `confinement`'s paths, as a descriptor; None without Landlock.

    Made once before forking, it spares each child some fifty system calls: the child still
    enforces it itself, as a domain of its own (see `Confinement.ruleset`).
    """
    if not _LANDLOCK_ABI:
        return None
    ruleset = _check(
        _syscall(
            _LANDLOCK_CREATE_RULESET, ctypes.addressof(_RULESET_ATTR), len(_RULESET_ATTR), 0, 0
        ),
        "landlock_create_ruleset",
    )
    try:
        for path in confinement.read_paths:
            _add_path_rule(ruleset, path, _FS_READ, missing_ok=True)
        for path in confinement.write_paths:
            _add_path_rule(ruleset, path, _FS_HANDLED, missing_ok=False)
    except BaseException:
        os.close(ruleset)
        raise
    return ruleset


def _apply_landlock(confinement: Confinement) -> tuple[str, ...]:
    if not _LANDLOCK_ABI:
        return ()
    ruleset = confinement.ruleset
    if ruleset is None:
        ruleset = landlock_ruleset(confinement)
    try:
        _check(_syscall(_LANDLOCK_RESTRICT_SELF, ruleset, 0, 0, 0), "landlock_restrict_self")
    finally:
        os.close(ruleset)
    return ("landlock", "landlock-scope") if _SCOPED else ("landlock",)


# --- seccomp ----------------------------------------------------------------------------------

_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_X32_SYSCALL_BIT = 0x40000000

# name: (x86_64, aarch64); None where the architecture has no such syscall.
_SYSCALLS: dict[str, tuple[int | None, int]] = {
    "socket": (41, 198),
    "socketpair": (53, 199),
    "connect": (42, 203),
    "bind": (49, 200),
    "listen": (50, 201),
    "accept": (43, 202),
    "accept4": (288, 242),
    "fork": (57, None),
    "vfork": (58, None),
    "clone": (56, 220),
    "clone3": (435, 435),
    "kill": (62, 129),
    "tkill": (200, 130),
    "tgkill": (234, 131),
    "rt_sigqueueinfo": (129, 138),
    "rt_tgsigqueueinfo": (297, 240),
    "pidfd_open": (434, 434),
    "pidfd_send_signal": (424, 424),
    "pidfd_getfd": (438, 438),
    "ptrace": (101, 117),
    "process_vm_readv": (310, 270),
    "process_vm_writev": (311, 271),
    "process_madvise": (440, 440),
    "kcmp": (312, 272),
    "mount": (165, 40),
    "umount2": (166, 39),
    "pivot_root": (155, 41),
    "chroot": (161, 51),
    "unshare": (272, 97),
    "setns": (308, 268),
    "open_tree": (428, 428),
    "move_mount": (429, 429),
    "fsopen": (430, 430),
    "fsconfig": (431, 431),
    "fsmount": (432, 432),
    "fspick": (433, 433),
    "mount_setattr": (442, 442),
    "open_by_handle_at": (304, 265),
    "bpf": (321, 280),
    "perf_event_open": (298, 241),
    "keyctl": (250, 219),
    "add_key": (248, 217),
    "request_key": (249, 218),
    "userfaultfd": (323, 282),
    "io_uring_setup": (425, 425),
    "io_uring_enter": (426, 426),
    "io_uring_register": (427, 427),
    "kexec_load": (246, 104),
    "kexec_file_load": (320, 294),
    "init_module": (175, 105),
    "finit_module": (313, 273),
    "delete_module": (176, 106),
    "reboot": (169, 142),
    "swapon": (167, 224),
    "swapoff": (168, 225),
    "setrlimit": (160, 164),
    "prlimit64": (302, 261),
    "setpriority": (141, 140),
    # System V and POSIX message queues, semaphores, shared memory: they outlive the child
    # and would let one submission talk to the next.
    "shmget": (29, 194),
    "shmat": (30, 196),
    "shmctl": (31, 195),
    "semget": (64, 190),
    "semop": (65, 193),
    "semtimedop": (220, 192),
    "semctl": (66, 191),
    "msgget": (68, 186),
    "msgsnd": (69, 189),
    "msgrcv": (70, 188),
    "msgctl": (71, 187),
    "mq_open": (240, 180),
    "mq_unlink": (241, 181),
    "ioctl": (16, 29),
    "fcntl": (72, 25),
}
# Where the filter sends each syscall above; those not named here fail with EPERM.
_TARGETS = {
    "clone3": "enosys",  # glibc then falls back to clone
    "clone": "clone",
    "kill": "own_pid",
    "tkill": "own_pid",
    "tgkill": "own_pid",
    "ioctl": "ioctl",
    "fcntl": "fcntl",
    "prlimit64": "prlimit64",
}

_CLONE_THREAD = 0x00010000
_CLONE_NEW_NAMESPACES = 0x7E020000  # NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET
_TIOCSTI, _TIOCLINUX = 0x5412, 0x541C  # push input into, or drive, a terminal
_FIOSETOWN, _SIOCSPGRP, _F_SETOWN, _F_SETOWN_EX = 0x8901, 0x8902, 8, 15  # SIGIO to any pid

_RET_KILL_PROCESS = 0x80000000
_RET_ALLOW = 0x7FFF0000
_RET_EPERM = 0x00050000 | errno.EPERM
_RET_ENOSYS = 0x00050000 | errno.ENOSYS
_BPF_LD_W_ABS, _BPF_RET_K = 0x20, 0x06
_BPF_JUMPS = {"jeq": 0x15, "jge": 0x35, "jset": 0x45}
_SECCOMP_NR, _SECCOMP_ARCH = 0, 4  # offsets in struct seccomp_data


def _arg_low(index: int) -> int:
    """Offset of the low 32 bits of syscall argument ``index`` (little-endian only)."""
    return 16 + 8 * index


def _assemble(program: list[tuple]) -> tuple[bytes, dict[str, int]]:
    """Assemble (op, k, [jump_true, jump_false]) and ("label", name) into struct sock_filter[].

    Jump targets are label names, or None to fall through to the next instruction.
    """
    labels: dict[str, int] = {}
    code: list[tuple] = []
    for instruction in program:
        if instruction[0] == "label":
            labels[instruction[1]] = len(code)
        else:
            code.append(instruction)
    out = bytearray()
    for index, (op, k, *targets) in enumerate(code):
        if op == "ld":
            out += struct.pack("=HBBI", _BPF_LD_W_ABS, 0, 0, k)
        elif op == "ret":
            out += struct.pack("=HBBI", _BPF_RET_K, 0, 0, k)
        else:
            jt, jf = (0 if t is None else labels[t] - index - 1 for t in targets)
            out += struct.pack("=HBBI", _BPF_JUMPS[op], jt, jf, k)
    return bytes(out), labels


def _dispatch(cases: list[tuple[int, str]], name: str) -> list[tuple]:
    """Binary search over sorted (syscall number, label); other numbers go to "allow".

    A tree rather than a chain keeps both the kernel's per-syscall constant-action cache,
    computed when the filter is installed, and every later syscall cheap.
    """
    if len(cases) <= 4:
        *head, (last, target) = cases
        return [("jeq", nr, to, None) for nr, to in head] + [("jeq", last, target, "allow")]
    middle, upper = len(cases) // 2, f"{name}u"
    return [
        ("jge", cases[middle][0], upper, None),
        *_dispatch(cases[:middle], f"{name}l"),
        ("label", upper),
        *_dispatch(cases[middle:], upper),
    ]


def _seccomp_program(arch: str) -> tuple[bytes, int]:
    """Return the filter for ``arch`` and the byte offset of the own-pid constant to patch."""
    column = 0 if arch == "x86_64" else 1
    nr = {name: numbers[column] for name, numbers in _SYSCALLS.items()}
    program: list[tuple] = [
        ("ld", _SECCOMP_ARCH),
        ("jeq", _AUDIT_ARCH[arch], None, "kill"),
        ("ld", _SECCOMP_NR),
    ]
    if arch == "x86_64":  # x32 syscalls share AUDIT_ARCH_X86_64
        program.append(("jge", _X32_SYSCALL_BIT, "kill", None))
    cases = sorted(
        (number, _TARGETS.get(name, "deny")) for name, number in nr.items() if number is not None
    )
    program += _dispatch(cases, "n")
    program += [
        ("label", "clone"),  # threads only, in no new namespace
        ("ld", _arg_low(0)),
        ("jset", _CLONE_THREAD, None, "deny"),
        ("jset", _CLONE_NEW_NAMESPACES, "deny", "allow"),
        ("label", "own_pid"),  # kill(pid), tkill(tid), tgkill(tgid): arg0 is our pid
        ("ld", _arg_low(0)),
        ("jeq", 0, "allow", "deny"),  # k is patched with getpid() in confine()
        ("label", "ioctl"),  # the kernel reads cmd as a 32-bit int
        ("ld", _arg_low(1)),
        ("jeq", _TIOCSTI, "deny", None),
        ("jeq", _TIOCLINUX, "deny", None),
        ("jeq", _FIOSETOWN, "deny", None),
        ("jeq", _SIOCSPGRP, "deny", "allow"),
        ("label", "fcntl"),  # so is the fcntl command
        ("ld", _arg_low(1)),
        ("jeq", _F_SETOWN, "deny", None),
        ("jeq", _F_SETOWN_EX, "deny", "allow"),
        ("label", "prlimit64"),  # reading limits (new_limit == NULL) is fine
        ("ld", _arg_low(2)),
        ("jeq", 0, None, "deny"),
        ("ld", _arg_low(2) + 4),
        ("jeq", 0, "allow", "deny"),
        ("label", "allow"),
        ("ret", _RET_ALLOW),
        ("label", "deny"),
        ("ret", _RET_EPERM),
        ("label", "enosys"),
        ("ret", _RET_ENOSYS),
        ("label", "kill"),
        ("ret", _RET_KILL_PROCESS),
    ]
    code, labels = _assemble(program)
    return code, (labels["own_pid"] + 1) * 8 + 4


def _probe_seccomp() -> str | None:
    """Return why seccomp filters cannot be used here, or None."""
    if not _LINUX:
        return "not Linux"
    if _MACHINE not in _AUDIT_ARCH:
        return f"no syscall table for architecture {_MACHINE!r}"
    if struct.calcsize("P") != 8:
        return "32-bit process on a 64-bit kernel"
    # A NULL program fails with EFAULT only once the kernel has accepted the mode.
    _prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, 0, 0, 0)
    err = ctypes.get_errno()
    if err == errno.EFAULT:
        return None
    if err == errno.EINVAL:
        return "kernel built without seccomp filters"
    return f"seccomp probe failed: {os.strerror(err)}"


_SECCOMP_OFF = _probe_seccomp()
if _SECCOMP_OFF is None:
    _FILTER_CODE, _FILTER_PID_OFFSET = _seccomp_program(_MACHINE)
    _FILTER = ctypes.create_string_buffer(_FILTER_CODE, len(_FILTER_CODE))
    # struct sock_fprog {unsigned short len; struct sock_filter *filter;}
    _FPROG = ctypes.create_string_buffer(
        struct.pack("HP", len(_FILTER) // 8, ctypes.addressof(_FILTER))
    )


def _apply_seccomp(confinement: Confinement) -> tuple[str, ...]:
    if _SECCOMP_OFF is not None:
        return ()
    struct.pack_into("=I", _FILTER, _FILTER_PID_OFFSET, os.getpid())
    _check(
        _prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.addressof(_FPROG), 0, 0),
        "prctl(PR_SET_SECCOMP)",
    )
    return ("seccomp",)


# --- rlimits and privileges -------------------------------------------------------------------


def _apply_rlimits(confinement: Confinement) -> tuple[str, ...]:
    limits = confinement.limits
    for limit, value in (
        (resource.RLIMIT_CPU, limits.cpu_seconds),
        (resource.RLIMIT_AS, limits.memory_bytes),
        (resource.RLIMIT_FSIZE, limits.file_bytes),
        (resource.RLIMIT_NOFILE, limits.open_files),
        (resource.RLIMIT_NPROC, limits.processes),
        (resource.RLIMIT_CORE, 0),
    ):
        hard = resource.getrlimit(limit)[1]
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)  # an unprivileged process cannot raise its hard limit
        resource.setrlimit(limit, (value, value))
    return ("rlimits",)


def _drop_privileges(confinement: Confinement) -> tuple[str, ...]:
    uid = confinement.uid
    if uid is not None and 0 in (os.getuid(), os.geteuid()):
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    if not _LINUX:
        return ()
    _check(_prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
    return () if 0 in os.getresuid() else ("unprivileged",)


_STEPS: tuple[tuple[Callable[[Confinement], tuple[str, ...]], tuple[str, ...]], ...] = (
    (_apply_rlimits, ("rlimits",)),
    (_drop_privileges, ("unprivileged",)),
    (_apply_landlock, ("landlock", "landlock-scope")),
    (_apply_seccomp, ("seccomp",)),
)

# Why a protection is not in force when its step returned without it.
_OFF = {
    "unprivileged": "still root (uid=None)" if _LINUX else "not Linux: no PR_SET_NO_NEW_PRIVS",
    "landlock": _LANDLOCK_OFF,
    "landlock-scope": _LANDLOCK_OFF or f"Landlock ABI {_LANDLOCK_ABI} < 6",
    "seccomp": _SECCOMP_OFF,
}


def confine(confinement: Confinement) -> tuple[str, ...]:
    """Apply every available protection to the calling process; return the names in force.

    A protection the host lacks is skipped; one that is available but fails to apply raises,
    and the caller must then abandon the child.
    """
    active: list[str] = []
    for step, _ in _STEPS:
        active += step(confinement)
    return tuple(active)


def protections() -> dict[str, str]:
    """Probe this host (in a throwaway forked child): protection name -> 'on' or why it is off."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_fd)
            os.write(write_fd, json.dumps(_probe()).encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        report = pipe.read()
    _, status = os.waitpid(pid, 0)
    if not report:
        raise RuntimeError(f"protection probe died (wait status {status:#x})")
    return json.loads(report)


def _probe() -> dict[str, str]:
    """Run each step of confine() and record what it achieved or why it failed."""
    confinement = Confinement(read_paths=(), write_paths=())
    report = {name: _OFF.get(name) or "not in force" for name in PROTECTIONS}
    for step, names in _STEPS:
        try:
            report.update(dict.fromkeys(step(confinement), "on"))
        except Exception as exc:  # reported, so that one broken layer hides no other
            report.update(dict.fromkeys(names, f"failed to apply: {exc!r}"))
    return report
