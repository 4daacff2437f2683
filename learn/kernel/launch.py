"""Start the target under a seccomp filter, in its own audit session, and wait for it.

The child writes /proc/self/loginuid before anything else: the kernel then gives it a fresh
audit session id (`ses=` in every record), which its whole process tree inherits, children,
threads and exec'd programs alike. That id tells the run's records apart from those of any
other process logging SECCOMP records at the same time. The filter is built before fork
(libseccomp allocates) and loaded in the child right before execve, so the only records of
learn's own are those of the last instructions before the exec and the execve itself.

The target dies with learn: the child asks for SIGKILL when its parent dies (PR_SET_PDEATHSIG),
after changing user (a change of credentials clears it), then checks that learn is still its
parent (learn may have died before the request). The kernel clears it again when the target
execs a set-user-ID or set-group-ID program, so such a target outlives a killed learn. It is
the thread that forked that counts, so start() must be called from a thread that outlives the
target (learn calls it from its main thread). Only the direct child is covered: what the
target starts in the background is not.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import grp
import os
import pwd
import shutil
import signal
import struct
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from learn.errors import KernelError, UsageError

# Sent to the child, not taken by learn: the target decides what a signal means.
FORWARDED = (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2, signal.SIGWINCH)
_ERR = struct.Struct("=ii")  # (stage, errno) the child reports before it dies
_STAGES = {
    1: "set its audit session (loginuid)",
    2: "change user",
    3: "load the seccomp filter",
    4: "exec",
    5: "ask to die with learn (PR_SET_PDEATHSIG)",
}
UNSET_LOGINUID = 4294967295
PR_SET_PDEATHSIG = 1


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


@functools.cache
def _prctl() -> Callable[..., int]:
    """libc's prctl, looked up in the parent: the child of a threaded process must not dlopen."""
    function: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    return function


def _child(
    program: str,
    argv: Sequence[str],
    install: Callable[[], None],
    creds: Credentials | None,
    loginuid: int,
    report: int,
    parent: int,
) -> None:
    stage = 1
    try:
        # First: a signal learn forwards before the exec must act on the child as it would on
        # the target, not run learn's Python handlers copied by fork.
        for sig in (*FORWARDED, signal.SIGINT, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        with open("/proc/self/loginuid", "w") as f:
            f.write(str(loginuid))
        stage = 2
        if creds is not None:
            os.setgroups(list(creds.groups))
            os.setgid(creds.gid)
            os.setuid(creds.uid)
        stage = 5  # after setuid, which clears it
        if _prctl()(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl")
        if os.getppid() != parent:  # learn died before the request: nobody is left to wait for us
            os._exit(127)
        stage = 3
        install()
        stage = 4
        os.execv(program, list(argv))
    except BaseException as error:
        code = getattr(error, "errno", None) or 0
        with contextlib.suppress(OSError):
            os.write(report, _ERR.pack(stage, code))
    finally:
        os._exit(127)


def start(
    argv: Sequence[str],
    install: Callable[[], None],
    creds: Credentials | None = None,
    on_forked: Callable[[int], None] | None = None,
) -> Target:
    """Fork; in the child, install the filter and exec argv. Returns once the target runs.

    on_forked(pid) runs in learn right after the fork: a SignalPolicy passed as
    `policy.running` forwards signals from then on, so one sent while the exec completes (the
    target may already print) is not taken as a signal to learn alone."""
    program = find_program(argv)
    loginuid = os.getuid() if os.getuid() != 0 else int(os.environ.get("SUDO_UID", "0"))
    parent = os.getpid()
    _prctl()
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        _child(program, argv, install, creds, loginuid, write_end, parent)
    os.close(write_end)
    try:
        if on_forked is not None:
            on_forked(pid)
        with os.fdopen(read_end, "rb") as pipe:
            failure = pipe.read(_ERR.size)  # EOF means execve succeeded (the pipe is close-on-exec)
    except BaseException:  # a signal ended learn before the target ran: it must not run alone
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise
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


# After the target has exited, these ask learn to stop; the other forwarded ones mean nothing.
STOPPING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


class SignalPolicy:
    """What a signal sent to learn means at each stage of a supervised run.

    Before the target runs, INT/TERM/HUP/QUIT/USR1/USR2 end learn (SystemExit(128+N), so
    cleanups run). While it runs, they are passed on to it: the target decides what a signal
    means (Ctrl-C from the terminal reaches it directly). Once it has exited, learn is only
    reading what it collected, and a signal must not throw the run away: the first one says
    what learn is finishing, the second asks it to stop decoding and write what it learned so
    far (stop_signal, which the decoder polls), a third ends learn at once, writing nothing.
    """

    def __init__(self) -> None:
        self.pid: int | None = None
        self.exited = False
        # While learn follows the target's tree (its audit session) past the target's exit,
        # signals go to every process left in it.
        self.tree: int | None = None
        self.target_gone = False
        self.received: list[int] = []
        self.finishing: Callable[[], str] = lambda: "collecting its last records"
        self.stopping: Callable[[], str] = lambda: "writing what was learned so far"
        self._installed = False

    @property
    def stop_signal(self) -> int | None:
        """The signal that asked learn to stop decoding, once one did."""
        return self.received[1] if len(self.received) > 1 else None

    def running(self, pid: int) -> None:
        """The target runs: pass signals on to it."""
        self.pid = pid
        # The terminal sends Ctrl-C to the whole foreground group, target included: passing it on
        # would deliver it twice. A SIGINT for learn alone (kill -INT) is passed on.
        if self._installed and _in_foreground():
            signal.signal(signal.SIGINT, signal.SIG_IGN)

    def follow(self, session: int) -> None:
        """Once the target has exited, pass signals on to what is left of its audit session."""
        self.tree = session

    def target_exited(self) -> None:
        """Called once the target is dead but not yet reaped, so its pid cannot be reused meanwhile."""
        if self.tree is not None and not self.target_gone:
            self.target_gone = True  # its tree may live on: signals go there until tree_exited()
            if self._installed:  # a daemon left the terminal's group: Ctrl-C reaches it through learn
                signal.signal(signal.SIGINT, self._handle)
            return
        self.exited = True
        if self._installed:
            signal.signal(signal.SIGINT, self._handle)

    def tree_exited(self) -> None:
        """The last process of the followed session is gone: learn is only decoding now."""
        self.tree = None
        self.target_exited()

    def _handle(self, signum: int, _frame: object) -> None:
        if self.pid is None:
            if signum != signal.SIGWINCH:
                raise SystemExit(128 + signum)
            return
        if not self.exited:
            if self.target_gone and self.tree is not None:
                from learn.kernel.tree import signal_members  # not at import: tree reads /proc

                # The terminal's own Ctrl-C already reached the tree's processes in its foreground group.
                foreground = _foreground_group() if signum == signal.SIGINT else None
                if signal_members(self.tree, signum, skip_group=foreground):
                    return
                # The tree has just ended (learn has not noticed yet): the signal is for learn.
            else:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signum)
                return
        if signum not in STOPPING:
            return
        self.received.append(signum)
        name = signal.Signals(signum).name
        if len(self.received) == 1:
            _say(f"learn: {name}: finishing: the target has exited; {self.finishing()} "
                 "(signal again to stop there and keep what was learned so far, marked incomplete)")  # fmt: skip
        elif len(self.received) == 2:
            _say(f"learn: {name}: stopping: {self.stopping()} (signal again to quit at once, writing nothing)")
        else:
            _say(f"learn: {name}: quitting, nothing written")
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)


_active: SignalPolicy | None = None


@contextlib.contextmanager
def signal_policy() -> Iterator[SignalPolicy]:
    """Install a SignalPolicy for the block; a nested call shares the outer one.

    Only the main thread may handle signals: elsewhere the policy is not installed (it still
    records the target's life) and the caller's own handling stands.
    """
    global _active
    if _active is not None:
        yield _active
        return
    policy = SignalPolicy()
    if threading.current_thread() is not threading.main_thread():
        yield policy
        return
    handled = (*FORWARDED, signal.SIGINT)
    previous = {sig: signal.getsignal(sig) for sig in handled}
    for sig in handled:
        signal.signal(sig, policy._handle)
    policy._installed = True
    _active = policy
    try:
        yield policy
    finally:
        _active = None
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def wait(pid: int, policy: SignalPolicy | None = None) -> int:
    """The target's exit status as a shell reports it: its code, or 128+N if killed by N."""
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # dead, not reaped: no forward hits a new pid
    if policy is not None:
        policy.target_exited()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


def _say(text: str) -> None:
    with contextlib.suppress(OSError):  # stderr may be a closed terminal (SIGHUP)
        os.write(2, (text + "\n").encode())


def _foreground_group() -> int | None:
    try:
        return os.tcgetpgrp(0)
    except OSError:
        return None


def _in_foreground() -> bool:
    try:
        return os.tcgetpgrp(0) == os.getpgrp()
    except OSError:
        return False
