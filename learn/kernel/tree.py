"""The target's whole process tree: every process of its audit session.

The target's child writes /proc/self/loginuid, so the target and everything it starts share an
audit session id that nothing else on the host has (learn.kernel.launch). A daemon that forks
twice and leaves its parent, a shell's background job, a process that calls setsid(): all keep
that id, so "the session has no process left" is "the target's tree has ended". learn makes
itself a child subreaper (PR_SET_CHILD_SUBREAPER), so orphans of the tree become its children,
not init's: it reaps them, and they stay in reach of its signals.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from learn.errors import KernelError

PR_SET_CHILD_SUBREAPER = 36
POLL_SECONDS = 0.05
UNSET_SESSION = 4294967295  # (u32)-1: every process that never set a loginuid has it


@dataclass(frozen=True)
class Process:
    pid: int
    comm: str
    exe: str | None

    def as_dict(self) -> dict[str, object]:
        return {"pid": self.pid, "comm": self.comm, "exe": self.exe}

    def __str__(self) -> str:
        return f"{self.pid} ({self.comm})"


def become_subreaper() -> None:
    """Orphans of learn's descendants become learn's children (Linux 3.4+)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        error = ctypes.get_errno()
        raise KernelError(f"cannot become a child subreaper (PR_SET_CHILD_SUBREAPER): {os.strerror(error)}")


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _stat(pid: int) -> tuple[str, str, int] | None:
    """(comm, state, ppid) from /proc/PID/stat; comm may hold spaces and parentheses."""
    text = _read(f"/proc/{pid}/stat")
    if text is None:
        return None
    head, _, tail = text.rpartition(")")
    fields = tail.split()
    if len(fields) < 2:
        return None
    return head.partition("(")[2], fields[0], int(fields[1])


def _own_session() -> int | None:
    text = _read("/proc/self/sessionid")
    return int(text) if text and text.strip().isdigit() else None


def members(session: int) -> list[Process]:
    """The live (not zombie) processes of the audit session; zombies that are learn's own
    children are reaped on the way.

    The unset session and learn's own are refused: they hold processes that are none of the
    target's (with audit sessions unset, that is nearly every process of the host), and
    signal_members() must never reach them."""
    if session == UNSET_SESSION or session == _own_session():
        raise ValueError(f"audit session {session} is not a target's own: refusing to treat it as its tree")
    out = []
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        if _read(f"/proc/{pid}/sessionid") != str(session):
            continue
        stat = _stat(pid)
        if stat is None:
            continue
        comm, state, ppid = stat
        if state in ("Z", "X"):
            if ppid == me:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
            continue
        exe = None
        with contextlib.suppress(OSError):
            exe = os.readlink(f"/proc/{pid}/exe")
        out.append(Process(pid, comm, exe))
    return sorted(out, key=lambda p: p.pid)


def signal_members(session: int, signum: int, skip_group: int | None = None) -> int:
    """signum to every live process of the session (but those of process group skip_group);
    how many live processes the session had (0: it has ended)."""
    left = members(session)
    for process in left:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if skip_group is None or os.getpgid(process.pid) != skip_group:
                os.kill(process.pid, signum)
    return len(left)


def wait_for_session(session: int, stop: Callable[[], bool] = lambda: False) -> list[Process]:
    """Until no process of the session is left (or stop() says so); what is left then."""
    while True:
        left = members(session)
        if not left or stop():
            return left
        time.sleep(POLL_SECONDS)
