"""The kernel's audit backlog limit, raised while any learn run needs it, restored by the last.

A larger backlog lets the target run ahead of kauditd instead of sleeping in audit_log_start.
The limit is one knob for the whole kernel, so runs share it through a state file,
/run/learn/backlog.json: the limit found before the first run raised it, the limit it was
raised to, and the runs using it (pid and start time, so that a reused pid is not taken for a
run). The first run raises the limit, the last one to end restores it. A run killed by
SIGKILL cannot restore anything, so every run first drops the runs that are gone and, if none
is left, puts the original limit back itself. Each step holds an flock on
/run/learn/backlog.lock. If someone else changed the limit meanwhile (auditctl -b, a rules
reload), their value wins: it is restored only while it is still the one learn set.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import FrameType

from learn.kernel.features import audit_status, set_backlog_limit

STATE_DIR = "/run/learn"
_STATE = "backlog.json"
_LOCK = "backlog.lock"

Run = tuple[int, int]  # (pid, start time in clock ticks after boot)
Handler = Callable[[int, FrameType | None], object] | int | signal.Handlers | None


@dataclass
class _State:
    original: int  # the limit before the first run raised it
    raised_to: int
    runs: list[Run] = field(default_factory=list)


@contextlib.contextmanager
def raised_backlog_limit(limit: int, state_dir: str | None = STATE_DIR) -> Iterator[int]:
    """Raise the audit backlog limit to at least limit for the block; yield the limit in force.

    On the way out (also on an exception or SIGTERM) the original limit comes back once no
    other run uses the raised one. state_dir None: no sharing (restore on the way out).
    """
    me = (os.getpid(), _start_time(os.getpid()) or 0)
    with _signals_unwind():
        shared = state_dir is not None and _usable(state_dir)
        if not shared:
            with _unshared(limit) as in_force:
                yield in_force
            return
        assert state_dir is not None
        joined, in_force = _join(state_dir, limit, me)
        try:
            yield in_force
        finally:
            if joined:
                _leave(state_dir, me)


def _join(state_dir: str, limit: int, me: Run) -> tuple[bool, int]:
    with _locked(state_dir):
        state = _repaired(state_dir)
        current = audit_status().backlog_limit
        if state is None:
            if current == 0 or current >= limit:  # 0 is unlimited already: nothing to raise or restore
                return False, current
            set_backlog_limit(limit)
            state = _State(current, limit)
        elif current != 0 and current < limit:  # lowered meanwhile: raise it again, for every run
            set_backlog_limit(limit)
            state.raised_to = limit
        state.runs.append(me)
        _write(state_dir, state)
        return True, audit_status().backlog_limit


def _leave(state_dir: str, me: Run) -> None:
    with _locked(state_dir):
        state = _read(state_dir)
        if state is None:  # repaired by someone else already
            return
        if me in state.runs:
            state.runs.remove(me)
        state.runs = [run for run in state.runs if _alive(run)]
        if state.runs:
            _write(state_dir, state)
        else:
            _restore(state_dir, state)


def _repaired(state_dir: str) -> _State | None:
    """The state with the runs that are gone dropped; None (and the limit restored) if none is left."""
    state = _read(state_dir)
    if state is None:
        return None
    state.runs = [run for run in state.runs if _alive(run)]
    if state.runs:
        return state
    _restore(state_dir, state)
    return None


def _restore(state_dir: str, state: _State) -> None:
    if audit_status().backlog_limit == state.raised_to:
        set_backlog_limit(state.original)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(state_dir, _STATE))


def _usable(state_dir: str) -> bool:
    try:
        os.makedirs(state_dir, mode=0o700, exist_ok=True)
    except OSError:
        return False
    return os.access(state_dir, os.W_OK)


@contextlib.contextmanager
def _locked(state_dir: str) -> Iterator[None]:
    fd = os.open(os.path.join(state_dir, _LOCK), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _read(state_dir: str) -> _State | None:
    try:
        fd = os.open(os.path.join(state_dir, _STATE), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        with os.fdopen(fd) as handle:
            data = json.loads(handle.read(1 << 16))
        runs = [(int(pid), int(start)) for pid, start in data["runs"]]
        return _State(int(data["original"]), int(data["raised_to"]), runs)
    except (OSError, ValueError, KeyError, TypeError):  # unreadable: as if no run were using it
        return None


def _write(state_dir: str, state: _State) -> None:
    path = os.path.join(state_dir, _STATE)
    tmp = f"{path}.{os.getpid()}"
    text = json.dumps({"original": state.original, "raised_to": state.raised_to, "runs": state.runs})
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600), "w") as out:
        out.write(text + "\n")
    os.replace(tmp, path)


def _start_time(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat: with the pid, it names one process for the whole uptime."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
        return int(stat[stat.rindex(b")") + 2 :].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _alive(run: Run) -> bool:
    return _start_time(run[0]) == run[1]


@contextlib.contextmanager
def _unshared(limit: int) -> Iterator[int]:
    """Without a state directory: raise, and restore on the way out if the limit is still ours."""
    before = audit_status().backlog_limit
    if before == 0 or before >= limit:
        yield before
        return
    try:
        set_backlog_limit(limit)
        yield limit
    finally:
        if audit_status().backlog_limit == limit:
            set_backlog_limit(before)


def _raise_exit(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def _signals_unwind() -> Iterator[None]:
    """Turn SIGTERM (and SIGINT if it would kill outright) into SystemExit, so finally blocks run.

    Only the main thread may set handlers; elsewhere the caller's own handling stands.
    """
    saved: dict[signal.Signals, Handler] = {}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            if signal.getsignal(sig) == signal.SIG_DFL:
                saved[sig] = signal.signal(sig, _raise_exit)
    except ValueError:  # not the main thread
        pass
    try:
        yield
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
