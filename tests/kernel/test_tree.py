"""The whole process tree on the real kernel: `learn run` keeps learning until the last process
of the target's audit session has exited, so a shell's background job is learned as strace -f
sees it; `--until-exit` stops at the started process's exit and says what was still running."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from learn.kernel import tree
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


def test_members_reads_the_session_of_this_process() -> None:
    mine = int(Path("/proc/self/sessionid").read_text())
    pids = {p.pid for p in tree.members(mine)}
    assert os.getpid() in pids
