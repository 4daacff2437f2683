"""Start the target under a seccomp filter, in its own audit session, and wait for it.

The child writes /proc/self/loginuid before anything else: the kernel then gives it a fresh
audit session id (`ses=` in every record), which its whole process tree inherits, children,
threads and exec'd programs alike. That id tells the run's records apart from those of any
other process logging SECCOMP records at the same time. The filter is built before fork
(libseccomp allocates) and loaded in the child right before execve, so the only records of
learn's own are those of the last instructions before the exec and the execve itself.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import signal
import struct
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from learn.errors import KernelError, UsageError

# Sent to the child, not taken by learn: the target decides what a signal means.
FORWARDED = (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2, signal.SIGWINCH)
_ERR = struct.Struct("=ii")  # (stage, errno) the child reports before it dies
_STAGES = {1: "set its audit session (loginuid)", 2: "change user", 3: "load the seccomp filter", 4: "exec"}
UNSET_LOGINUID = 4294967295


@dataclass(frozen=True)
class Credentials:
    uid: int
    gid: int
    groups: tuple[int, ...]


@dataclass(frozen=True)
class Target:
    pid: int
    session: int  # audit session id (ses=) of the target's process tree


def resolve_user(user: str | None, group: str | None) -> Credentials | None:
    if user is None and group is None:
        return None
    try:
        entry = pwd.getpwnam(user) if user and not user.isdigit() else pwd.getpwuid(int(user or os.getuid()))
        gid = entry.pw_gid
        if group is not None:
            gid = grp.getgrnam(group).gr_gid if not group.isdigit() else int(group)
    except (KeyError, ValueError):
        raise UsageError(f"no such user or group: {user or ''}{':' + group if group else ''}") from None
    groups = tuple(g.gr_gid for g in grp.getgrall() if entry.pw_name in g.gr_mem)
    return Credentials(entry.pw_uid, gid, (gid, *groups))


def find_program(argv: Sequence[str]) -> str:
    """Resolve the program in the parent, so the child makes no PATH search under the filter."""
    program = argv[0] if "/" in argv[0] else shutil.which(argv[0])
    if program is None or not os.path.exists(program):
        raise UsageError(f"{argv[0]}: command not found", "give a path or a command on PATH")
    return program


def _child(
    program: str,
    argv: Sequence[str],
    install: Callable[[], None],
    creds: Credentials | None,
    loginuid: int,
    report: int,
) -> None:
    stage = 1
    try:
        with open("/proc/self/loginuid", "w") as f:
            f.write(str(loginuid))
        stage = 2
        if creds is not None:
            os.setgroups(list(creds.groups))
            os.setgid(creds.gid)
            os.setuid(creds.uid)
        stage = 3
        for sig in (*FORWARDED, signal.SIGINT, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        install()
        stage = 4
        os.execv(program, list(argv))
    except BaseException as error:
        code = getattr(error, "errno", None) or 0
        with contextlib.suppress(OSError):
            os.write(report, _ERR.pack(stage, code))
    finally:
        os._exit(127)


def start(argv: Sequence[str], install: Callable[[], None], creds: Credentials | None = None) -> Target:
    """Fork; in the child, install the filter and exec argv. Returns once the target runs."""
    program = find_program(argv)
    loginuid = os.getuid() if os.getuid() != 0 else int(os.environ.get("SUDO_UID", "0"))
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        _child(program, argv, install, creds, loginuid, write_end)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        failure = pipe.read(_ERR.size)  # EOF means execve succeeded (the pipe is close-on-exec)
    if failure:
        os.waitpid(pid, 0)
        stage, code = _ERR.unpack(failure)
        why = os.strerror(code) if code else "failed"
        hint = "loginuid is immutable here (audit=1 loginuid_immutable?); run as root" if stage == 1 else ""
        raise KernelError(f"the target could not {_STAGES[stage]}: {why}", hint or None)
    return Target(pid, _session_of(pid))


def _session_of(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/sessionid") as f:
            return int(f.read())
    except (OSError, ValueError):
        return UNSET_LOGINUID  # it exited already; its records still carry the id we read below


@contextlib.contextmanager
def forwarding(pid: int) -> Iterator[None]:
    """Signals sent to learn reach the target; Ctrl-C reaches it from the terminal directly."""
    previous = {sig: signal.getsignal(sig) for sig in (*FORWARDED, signal.SIGINT)}

    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    for sig in FORWARDED:
        signal.signal(sig, forward)
    # The terminal sends Ctrl-C to the whole foreground group, target included: passing it on
    # would deliver it twice. A SIGINT for learn alone (kill -INT) is passed on.
    signal.signal(signal.SIGINT, signal.SIG_IGN if _in_foreground() else forward)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def wait(pid: int) -> int:
    """The target's exit status as a shell reports it: its code, or 128+N if killed by N."""
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:  # pragma: no cover - PEP 475 retries for us
            continue
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


def _in_foreground() -> bool:
    try:
        return os.tcgetpgrp(0) == os.getpgrp()
    except OSError:
        return False
