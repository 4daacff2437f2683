"""The audit backlog limit learn raises for a run, against the running kernel (root only).

Each test keeps its state file in a temporary directory (not /run/learn) and picks a limit no
one else is likely to set, so real runs on the host and these tests do not mix.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from learn.kernel import features
from learn.kernel.backlog import raised_backlog_limit

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: the audit backlog limit"),
]

HOLDER = textwrap.dedent("""
    import sys
    from learn.kernel.backlog import raised_backlog_limit
    with raised_backlog_limit(int(sys.argv[1]), sys.argv[2]):
        sys.stdout.write("raised\\n"); sys.stdout.flush()
        sys.stdin.readline()
""")


def limit() -> int:
    return features.audit_status().backlog_limit


@pytest.fixture
def apart() -> Iterator[tuple[int, int]]:
    """The current limit and one above it no one else is likely to pick; the limit is put back after."""
    before = limit()
    if before == 0:
        pytest.skip("the backlog is unlimited here; nothing to raise")
    yield before, before + 4321
    if limit() in (before + 4321, before + 4322):
        features.set_backlog_limit(before)


def hold(target: int, state_dir: Path) -> subprocess.Popen[str]:
    """Another run: a process inside raised_backlog_limit until its stdin closes."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(target), str(state_dir)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    assert proc.stdout.readline() == "raised\n"
    return proc


def release(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    assert proc.wait(timeout=10) == 0


def test_restores_after_an_exception(apart: tuple[int, int], tmp_path: Path) -> None:
    before, target = apart
    with pytest.raises(RuntimeError), raised_backlog_limit(target, str(tmp_path)) as in_force:
        assert in_force == target == limit()
        raise RuntimeError("boom")
    assert limit() == before
    assert not (tmp_path / "backlog.json").exists()


def test_never_lowers(tmp_path: Path) -> None:
    before = limit()
    with raised_backlog_limit(1, str(tmp_path)) as in_force:
        assert in_force == before
    assert limit() == before


def test_leaves_a_limit_someone_else_set(apart: tuple[int, int], tmp_path: Path) -> None:
    _, target = apart
    with raised_backlog_limit(target, str(tmp_path)):
        features.set_backlog_limit(target + 1)  # as auditctl -b would, meanwhile
    assert limit() == target + 1


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_restores_on_a_signal(signum: int, apart: tuple[int, int], tmp_path: Path) -> None:
    before, target = apart
    child = hold(target, tmp_path)
    try:
        assert limit() == target
        child.send_signal(signum)
        code = child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
    assert code != 0  # it still dies of the signal, after cleaning up
    assert limit() == before


def test_overlapping_runs_keep_it_raised_until_the_last_ends(apart: tuple[int, int], tmp_path: Path) -> None:
    before, target = apart
    first = hold(target, tmp_path)
    second = hold(target, tmp_path)
    state = json.loads((tmp_path / "backlog.json").read_text())
    assert state["original"] == before and state["raised_to"] == target
    assert [pid for pid, _ in state["runs"]] == [first.pid, second.pid]
    release(first)
    assert limit() == target  # the second run still needs it
    release(second)
    assert limit() == before
    assert not (tmp_path / "backlog.json").exists()


def test_a_killed_runs_raise_is_repaired_by_the_next_run(apart: tuple[int, int], tmp_path: Path) -> None:
    before, target = apart
    killed = hold(target, tmp_path)
    killed.kill()  # SIGKILL: no cleanup can run
    killed.wait(timeout=10)
    assert limit() == target  # left raised, and the state file says by whom
    with raised_backlog_limit(target, str(tmp_path)):
        state = json.loads((tmp_path / "backlog.json").read_text())
        assert state["original"] == before  # not the raised value the killed run left
        assert [pid for pid, _ in state["runs"]] == [os.getpid()]
    assert limit() == before


def test_a_reused_pid_is_not_taken_for_the_run(apart: tuple[int, int], tmp_path: Path) -> None:
    """The state names a run by pid and start time: a live process with that pid but another
    start time is not it."""
    before, target = apart
    features.set_backlog_limit(target)
    state = {"original": before, "raised_to": target, "runs": [[os.getpid(), 1]]}
    (tmp_path / "backlog.json").write_text(json.dumps(state))
    with raised_backlog_limit(before, str(tmp_path)) as in_force:
        assert in_force == before  # repaired: the original is back
    assert limit() == before
