"""The whole process tree on the real kernel: `learn run` keeps learning until the last process
of the target's audit session has exited, so a shell's background job is learned as strace -f
sees it; `--until-exit` stops at the started process's exit and says what was still running."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from learn.kernel import launch, tree
from tests.kernel.conftest import learn_run, strace_names
from tests.kernel.test_run import assert_same_as_strace, events

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: seccomp filters and audit records"),
]

BACKGROUND = ["/bin/sh", "-c", "(sleep 1; ls /) &"]


def test_a_background_child_is_learned_to_its_end(tmp_path: Path) -> None:
    run = learn_run(BACKGROUND, tmp_path / "learn")
    assert run.status == 0, run.stderr
    assert run.log is not None
    assert "/usr/bin/ls" in {r["exe"] for r in events(run.log)}
    assert "getdents64" in run.names()  # ls's, made a second after sh had exited
    assert_same_as_strace(run.names(), strace_names(BACKGROUND, tmp_path / "strace"))
    assert "still running" not in run.stderr


def test_until_exit_stops_at_the_started_process_and_lists_the_rest(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    run = learn_run(BACKGROUND, tmp_path, "--until-exit", "--report-json", str(report))
    assert run.status == 0, run.stderr
    assert "getdents64" not in run.names()
    assert "still running when learning stopped" in run.stderr
    assert "(sleep)" in run.stderr or "(sh)" in run.stderr
    data = json.loads(report.read_text())
    left = data["target"]["still_running"]
    assert left and {p["comm"] for p in left} <= {"sh", "sleep", "ls"}
    assert "still-running" in {p["kind"] for p in data["code_paths"]}
    snapd = tmp_path / "snapd"
    run = learn_run(BACKGROUND, snapd, "--until-exit", "--format", "snapd")
    assert "# POSSIBLY INCOMPLETE: processes still running when learning stopped" in run.text()


NO_SUCH_SESSION = 4294967294  # no process has it: a tree that has ended


def test_the_unset_and_learns_own_session_are_never_a_tree() -> None:
    """With audit sessions unset, the unset session is nearly every process of the host."""
    with pytest.raises(ValueError, match="not a target's own"):
        tree.members(tree.UNSET_SESSION)
    with pytest.raises(ValueError, match="not a target's own"):
        tree.members(int(Path("/proc/self/sessionid").read_text()))


def test_a_signal_after_the_tree_ended_is_for_learn() -> None:
    """The race a lifecycle test once lost: the first of two signals went to an empty tree."""
    policy = launch.SignalPolicy()
    policy.running(12345)
    policy.follow(NO_SUCH_SESSION)
    policy.target_exited()
    assert policy.target_gone and not policy.exited
    policy._handle(signal.SIGTERM, None)
    assert policy.received == [signal.SIGTERM]


def test_a_signal_while_the_tree_lives_goes_to_its_processes() -> None:
    # A process in an audit session of its own, as learn's target is (root writes its loginuid).
    child = subprocess.Popen(["/bin/sh", "-c", "echo 0 > /proc/self/loginuid && exec sleep 30"])
    try:
        own = Path("/proc/self/sessionid").read_text()
        deadline = time.monotonic() + 10
        while (session := Path(f"/proc/{child.pid}/sessionid").read_text()) == own:
            assert time.monotonic() < deadline, "the child did not get a session of its own"
            time.sleep(0.01)
        assert [p.pid for p in tree.members(int(session))] == [child.pid]
        policy = launch.SignalPolicy()
        policy.running(12345)
        policy.follow(int(session))
        policy.target_exited()
        policy._handle(signal.SIGUSR1, None)
        assert child.wait(timeout=10) == -signal.SIGUSR1
        assert policy.received == []
    finally:
        child.kill()
        child.wait()
