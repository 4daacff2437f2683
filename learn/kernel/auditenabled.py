"""The kernel's audit `enabled` flag, on while any `learn run --args` needs it, off again after the last.

The kernel writes SYSCALL records only while audit is enabled; SECCOMP records come either way,
so learn otherwise leaves the flag alone. Like the backlog limit (learn.kernel.backlog, whose
lock and run bookkeeping this shares), the flag is one knob for the whole kernel: runs share it
through /run/learn/audit-enabled.json (the runs using it, by pid and start time). The first run
that finds audit off turns it on; the last one to leave turns it off, if it is still on. A run
killed by SIGKILL cannot, so each run first drops the runs that are gone, and turns the flag
off itself if none is left. A flag found on (auditd, `auditctl -e 1`, locked) is not learn's to
turn off: no state is written and nothing is restored.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
from collections.abc import Iterator

from learn.errors import KernelError
from learn.kernel import features
from learn.kernel.backlog import STATE_DIR, Run, _alive, _locked, _start_time, _usable

_STATE = "audit-enabled.json"
AUDIT_STATUS_ENABLED = 0x0001
_STATUS = struct.Struct("=11I")


def set_enabled(enabled: int) -> None:
    features._request(features.AUDIT_SET, _STATUS.pack(AUDIT_STATUS_ENABLED, enabled, *[0] * 9))


@contextlib.contextmanager
def audit_enabled(state_dir: str = STATE_DIR) -> Iterator[None]:
    """Audit enabled for the block (join the runs that need it), off again after the last run."""
    me = (os.getpid(), _start_time(os.getpid()) or 0)
    if not _usable(state_dir):  # no shared state: turn on, and off on the way out if we did
        turned_on = features.audit_status().enabled == 0
        if turned_on:
            set_enabled(1)
        try:
            yield
        finally:
            if turned_on and features.audit_status().enabled == 1:
                set_enabled(0)
        return
    joined = _join(state_dir, me)
    try:
        yield
    finally:
        if joined:
            _leave(state_dir, me)


def _join(state_dir: str, me: Run) -> bool:
    with _locked(state_dir):
        runs = _live_runs(state_dir)
        if runs is None:
            if features.audit_status().enabled != 0:
                return False  # on already, and not by learn: not ours to turn off
            set_enabled(1)
            runs = []
        runs.append(me)
        _write(state_dir, runs)
        return True


def _leave(state_dir: str, me: Run) -> None:
    with _locked(state_dir):
        runs = _read(state_dir)
        if runs is None:
            return
        runs = [run for run in runs if run != me and _alive(run)]
        if runs:
            _write(state_dir, runs)
        else:
            _turn_off(state_dir)


def _live_runs(state_dir: str) -> list[Run] | None:
    """The runs still using the flag; None (and the flag off) when the state says none is left."""
    runs = _read(state_dir)
    if runs is None:
        return None
    runs = [run for run in runs if _alive(run)]
    if runs:
        return runs
    _turn_off(state_dir)
    return None


def _turn_off(state_dir: str) -> None:
    if features.audit_status().enabled == 1:
        with contextlib.suppress(OSError, KernelError):
            set_enabled(0)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(state_dir, _STATE))


def _read(state_dir: str) -> list[Run] | None:
    try:
        fd = os.open(os.path.join(state_dir, _STATE), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, encoding="utf-8") as handle:
            data = json.loads(handle.read(1 << 16))
        return [(int(pid), int(start)) for pid, start in data["runs"]]
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return []  # damaged: no live run is known, so the flag goes off


def _write(state_dir: str, runs: list[Run]) -> None:
    path = os.path.join(state_dir, _STATE)
    tmp = f"{path}.{os.getpid()}"
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600), "w") as out:
        out.write(json.dumps({"runs": runs}) + "\n")
    os.replace(tmp, path)
