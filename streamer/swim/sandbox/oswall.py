"""The second wall: an OS-level syscall allowlist (seccomp) and a Landlock ruleset for the worker process.

Linux only; stdlib and ctypes only (the worker imports it by path). After ``install()`` the process can
read and write the pipes it already holds, manage its own memory, read clocks, set its own resource
limits and exit; every other system call fails with ``EPERM``: no opening files, no sockets, no fork,
clone or exec, no signals to other processes. Landlock, where the kernel has it, additionally denies
every file-system access, TCP bind/connect, and signals outside the process. The filter is a small BPF
program of our own, installed with ``prctl``; a wrong architecture kills the process.
"""

from __future__ import annotations

import ctypes
import platform
import sys
from typing import NamedTuple

__all__ = ["OSWall", "install", "probe"]

_AUDIT_ARCH_X86_64 = 0xC000003E
_X32_BIT = 0x40000000
_SYS_SECCOMP = 317
_SYS_LANDLOCK_CREATE_RULESET = 444
_SYS_LANDLOCK_RESTRICT_SELF = 446
_SYS_PRLIMIT64 = 302

# x86_64 system calls a loaded operator's worker needs, and nothing else.
_ALLOWED_X86_64 = (
    0,  # read
    1,  # write
    3,  # close
    5,  # fstat
    8,  # lseek
    9,  # mmap
    10,  # mprotect
    11,  # munmap
    12,  # brk
    13,  # rt_sigaction
    14,  # rt_sigprocmask
    15,  # rt_sigreturn
    24,  # sched_yield
    25,  # mremap
    28,  # madvise
    39,  # getpid
    60,  # exit
    97,  # getrlimit
    98,  # getrusage
    131,  # sigaltstack
    186,  # gettid
    202,  # futex
    219,  # restart_syscall
    228,  # clock_gettime
    229,  # clock_getres
    230,  # clock_nanosleep
    231,  # exit_group
    262,  # newfstatat
    318,  # getrandom
    334,  # rseq
)

_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_SECCOMP_GET_ACTION_AVAIL = 2
_RET_KILL_PROCESS = 0x80000000
_RET_ERRNO_EPERM = 0x00050000 | 1
_RET_ALLOW = 0x7FFF0000

_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_RET_K = 0x06


class _SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    ]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


class _LandlockAttr(ctypes.Structure):
    _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]


class OSWall(NamedTuple):
    """What the kernel offers: a seccomp filter (x86_64 Linux) and the Landlock ABI version (0: none)."""

    seccomp: bool
    landlock: int

    def describe(self) -> str:
        """One line for people."""
        if not self.seccomp and not self.landlock:
            return (
                "no OS-level wall: this system offers neither seccomp (x86_64 Linux) nor Landlock, so "
                "generated operators are contained by the Python-level checks and resource limits only"
            )
        parts = ["seccomp syscall allowlist"] if self.seccomp else []
        parts += [f"Landlock ABI {self.landlock}"] if self.landlock else []
        return "OS-level wall: " + " + ".join(parts)


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def probe() -> OSWall:
    """Ask the kernel what it supports, changing nothing."""
    libc = _libc()
    if libc is None:
        return OSWall(False, 0)
    seccomp = False
    if platform.machine() == "x86_64":
        action = ctypes.c_uint32(_RET_ERRNO_EPERM & 0xFFFF0000)
        seccomp = libc.syscall(_SYS_SECCOMP, _SECCOMP_GET_ACTION_AVAIL, 0, ctypes.byref(action)) == 0
    abi = libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, None, 0, 1)
    return OSWall(seccomp, max(0, int(abi)))


def _program() -> list[tuple[int, int, int, int]]:
    """The BPF filter: check the architecture, allow prlimit64 on this process only, then the allowlist."""
    n = len(_ALLOWED_X86_64)
    prog: list[tuple[int, int, int, int]] = [
        (_LD_W_ABS, 0, 0, 4),  # seccomp_data.arch
        (_JEQ_K, 1, 0, _AUDIT_ARCH_X86_64),
        (_RET_K, 0, 0, _RET_KILL_PROCESS),
        (_LD_W_ABS, 0, 0, 0),  # seccomp_data.nr
        (_JGE_K, 0, 1, _X32_BIT),  # the x32 ABI is another numbering: refuse it
        (_RET_K, 0, 0, _RET_ERRNO_EPERM),
        (_JEQ_K, 0, 5, _SYS_PRLIMIT64),
        (_LD_W_ABS, 0, 0, 16),  # args[0], low half: pid 0 means this process
        (_JEQ_K, 0, 2, 0),
        (_LD_W_ABS, 0, 0, 20),  # args[0], high half
        (_JEQ_K, n + 3, 0, 0),  # -> allow (past the deny, the reload, the list and its deny)
        (_RET_K, 0, 0, _RET_ERRNO_EPERM),
        (_LD_W_ABS, 0, 0, 0),  # reload seccomp_data.nr
    ]
    for i, nr in enumerate(_ALLOWED_X86_64):
        prog.append((_JEQ_K, n - i, 0, nr))
    prog.append((_RET_K, 0, 0, _RET_ERRNO_EPERM))
    prog.append((_RET_K, 0, 0, _RET_ALLOW))
    return prog


def _landlock(libc: ctypes.CDLL, abi: int) -> bool:
    fs = (1 << 13) - 1  # execute .. make_sym (ABI 1)
    fs |= (1 << 13) if abi >= 2 else 0  # refer
    fs |= (1 << 14) if abi >= 3 else 0  # truncate
    fs |= (1 << 15) if abi >= 5 else 0  # ioctl_dev
    net = 0b11 if abi >= 4 else 0  # bind_tcp, connect_tcp
    scoped = 0b11 if abi >= 6 else 0  # abstract unix sockets, signals
    attr = _LandlockAttr(fs, net, scoped)
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    fd = libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), size, 0)
    if fd < 0:
        return False
    try:
        return bool(libc.syscall(_SYS_LANDLOCK_RESTRICT_SELF, fd, 0) == 0)
    finally:
        libc.close(fd)


def install() -> OSWall:
    """Wall this process in (Landlock first, then seccomp, which forbids Landlock calls); return what held.

    Raises OSError if the kernel offers a mechanism but installing it fails: a worker must not run an
    operator behind a wall it believes is there and is not.
    """
    offered = probe()
    libc = _libc()
    if libc is None or not (offered.seccomp or offered.landlock):
        return OSWall(False, 0)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    landlock = offered.landlock if offered.landlock and _landlock(libc, offered.landlock) else 0
    if offered.landlock and not landlock:
        raise OSError(ctypes.get_errno(), "Landlock is offered but restricting the worker failed")
    if offered.seccomp:
        prog = _program()
        filters = (_SockFilter * len(prog))(*[_SockFilter(*ins) for ins in prog])
        fprog = _SockFprog(len(prog), filters)
        if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")
    return OSWall(offered.seccomp, landlock)
