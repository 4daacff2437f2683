"""Read the seccomp filters a running process's threads hold, as the kernel keeps them.

`/proc/PID/status` says the mode (`Seccomp:` 0 none, 1 strict, 2 filter) and, since Linux 5.9,
how many filters are stacked (`Seccomp_filters:`). The programs themselves come from
PTRACE_SECCOMP_GET_FILTER (Linux 4.4, CONFIG_CHECKPOINT_RESTORE): index 0 is the oldest filter,
a NULL buffer returns the instruction count, ENOENT ends the list. The request needs
CAP_SYS_ADMIN, a caller that is itself not under seccomp, and a tracee in a ptrace stop.

So each thread is attached with PTRACE_SEIZE (no SIGSTOP, nothing the process can see but the
stop), stopped with PTRACE_INTERRUPT, read, and detached at once. SIGINT, SIGTERM, SIGHUP and
SIGQUIT are held back meanwhile, so Ctrl-C cannot leave a thread stopped (they are delivered
right after); if learn is killed outright, the kernel detaches its tracees itself. A signal
that arrived for the thread while it was stopped is handed back to it at detach.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass

from learn.errors import KernelError

PTRACE_DETACH = 17
PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207
PTRACE_SECCOMP_GET_FILTER = 0x420C
PTRACE_EVENT_STOP = 128
WALL = 0x40000000  # __WALL: wait for threads too
INSTRUCTION_BYTES = 8
MODES = {0: "disabled", 1: "strict", 2: "filter"}
_HELD = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT}
NEEDS_ROOT = "run learn as root (CAP_SYS_ADMIN and CAP_SYS_PTRACE)"
NEEDS_CR = (
    "the kernel must be built with CONFIG_CHECKPOINT_RESTORE (Linux 4.4+) to hand out filters; "
    "where it is not, the filter cannot be read back"
)


class ProcessError(KernelError):
    hint = "check the pid: ps -p PID"


@dataclass(frozen=True)
class ThreadFilters:
    tid: int
    programs: tuple[bytes, ...]  # oldest first, as the kernel numbers them
    blocked_in: int | None = None  # the syscall the thread was blocked in when stopped


@dataclass(frozen=True)
class ProcessFilters:
    pid: int
    comm: str
    count: int | None  # Seccomp_filters: of the main thread, where the kernel says it
    mode: int  # Seccomp: of the main thread (another thread may hold filters all the same)
    threads: tuple[ThreadFilters, ...]

    def groups(self) -> list[tuple[tuple[int, ...], tuple[bytes, ...]]]:
        """Threads holding the same stack of programs, main thread's group first."""
        by_programs: dict[tuple[bytes, ...], list[int]] = {}
        for thread in self.threads:
            by_programs.setdefault(thread.programs, []).append(thread.tid)
        return [(tuple(tids), programs) for programs, tids in by_programs.items()]


def status(path: str) -> dict[str, str]:
    with open(path, encoding="utf-8", errors="replace") as f:
        return {k: v.strip() for k, _, v in (line.partition(":") for line in f)}


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    libc.ptrace.restype = ctypes.c_long
    return libc


def _ptrace(libc: ctypes.CDLL, request: int, tid: int, addr: int = 0, data: object = None) -> int:
    ctypes.set_errno(0)
    result: int = libc.ptrace(request, tid, addr, data)
    if result == -1 and ctypes.get_errno():
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return result


def read_filters(pid: int) -> ProcessFilters:
    """Every thread's filters; one-line errors for each reason they cannot be read."""
    if pid <= 0:
        raise ProcessError(f"{pid} is not a process id")
    try:
        main = status(f"/proc/{pid}/status")
    except FileNotFoundError:
        raise ProcessError(f"no process {pid}") from None
    except PermissionError:
        raise KernelError(f"process {pid}: /proc/{pid}/status is not readable", NEEDS_ROOT) from None
    comm = main.get("Name", "?")
    who = f"process {pid} ({comm})"
    if "Seccomp" not in main:
        raise KernelError("this kernel has no seccomp (no Seccomp: line in /proc/PID/status)")
    mode = int(main["Seccomp"])
    if mode == 1:
        raise KernelError(
            f"{who} is in seccomp strict mode: it may only read, write, exit and sigreturn; no filter to show",
            "strict mode has no program; nothing else can be read",
        )
    own = status("/proc/self/status").get("Seccomp", "0")
    if own != "0":
        raise KernelError(
            f"learn itself runs under seccomp (Seccomp: {own} in /proc/self/status), and the kernel shows "
            "filters only to an unconfined process",
            "run learn on the host, outside any container or sandbox",
        )
    tids = _threads(pid)
    blocked = {tid: _blocked_in(pid, tid) for tid in tids}  # before the stop changes it
    threads = tuple(ThreadFilters(tid, _read_thread(pid, tid, who), blocked[tid]) for tid in tids)
    if not any(t.programs for t in threads):
        raise KernelError(
            f"{who} has no seccomp filter (Seccomp: 0 in /proc/{pid}/status)",
            "nothing confines it: every syscall is allowed",
        )
    count = main.get("Seccomp_filters")
    return ProcessFilters(pid, comm, int(count) if count and count.isdigit() else None, mode, threads)


def _threads(pid: int) -> list[int]:
    try:
        tids = sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))
    except FileNotFoundError:
        raise ProcessError(f"no process {pid}") from None
    return sorted(tids, key=lambda t: t != pid)  # the main thread first


def _blocked_in(pid: int, tid: int) -> int | None:
    """The syscall number /proc/PID/task/TID/syscall shows the thread in (None: running, or unknown)."""
    try:
        with open(f"/proc/{pid}/task/{tid}/syscall", encoding="ascii") as f:
            first = f.read().split(maxsplit=1)
    except OSError:
        return None
    return int(first[0]) if first and first[0].lstrip("-").isdigit() and int(first[0]) >= 0 else None


def _read_thread(pid: int, tid: int, who: str) -> tuple[bytes, ...]:
    try:
        mode = status(f"/proc/{pid}/task/{tid}/status").get("Seccomp", "0")
    except FileNotFoundError:
        return ()  # the thread ended meanwhile
    if mode != "2":
        return ()
    libc = _libc()
    with _signals_held():
        try:
            _ptrace(libc, PTRACE_SEIZE, tid)
        except OSError as e:
            if e.errno == errno.ESRCH:
                if tid == pid:
                    raise ProcessError(f"{who} exited") from None
                return ()
            raise KernelError(
                f"{who}: attaching to thread {tid} is not permitted ({e.strerror})",
                f"{NEEDS_ROOT}; a process already traced (strace, gdb) cannot be attached, and "
                "kernel.yama.ptrace_scope=3 forbids attaching at all",
            ) from None
        pending = 0
        try:
            _ptrace(libc, PTRACE_INTERRUPT, tid)
            pending = _wait_stop(tid, who)
            return tuple(_programs(libc, tid, who))
        finally:
            with contextlib.suppress(OSError):  # a thread that died is detached already
                _ptrace(libc, PTRACE_DETACH, tid, 0, ctypes.c_void_p(pending) if pending else None)


def _wait_stop(tid: int, who: str) -> int:
    """Wait for the thread's stop; the signal to hand back at detach (0 for PTRACE_INTERRUPT's own)."""
    _, wait_status = os.waitpid(tid, WALL)
    if not os.WIFSTOPPED(wait_status):
        raise ProcessError(f"{who} exited while its filters were being read")
    if wait_status >> 16 == PTRACE_EVENT_STOP:
        return 0
    return os.WSTOPSIG(wait_status)  # a signal-delivery stop: the signal is the thread's


def _programs(libc: ctypes.CDLL, tid: int, who: str) -> Iterator[bytes]:
    index = 0
    while True:
        try:
            count = _ptrace(libc, PTRACE_SECCOMP_GET_FILTER, tid, index, None)
            buffer = ctypes.create_string_buffer(count * INSTRUCTION_BYTES)
            _ptrace(libc, PTRACE_SECCOMP_GET_FILTER, tid, index, buffer)
        except OSError as e:
            if e.errno == errno.ENOENT:
                return
            raise _get_filter_error(e, who) from None
        yield buffer.raw
        index += 1


def _get_filter_error(e: OSError, who: str) -> KernelError:
    if e.errno == errno.EACCES:
        return KernelError(f"{who}: reading its filters is not permitted (EACCES)", NEEDS_ROOT)
    if e.errno in (errno.EIO, errno.EINVAL):
        return KernelError(f"{who}: the kernel does not hand out seccomp filters ({e.strerror})", NEEDS_CR)
    if e.errno == errno.EMEDIUMTYPE:
        return KernelError(f"{who}: the kernel kept no copy of the filter's classic BPF (EMEDIUMTYPE)", NEEDS_CR)
    return KernelError(f"{who}: PTRACE_SECCOMP_GET_FILTER: {e.strerror}")


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT, SIGTERM, SIGHUP and SIGQUIT wait until the thread is detached again."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
