"""The baseline on the real kernel: a profile learned from a run that never showed a handler
returning, or an exit, still lets the program take those paths (and without the baseline, it
does not: the regression the baseline fixes)."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.kernel.conftest import learn_argv, learn_run

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: seccomp filters and audit records"),
]

SIGSEGV_STATUS = 128 + signal.SIGSEGV
HANDLER_RAN = 7  # handler.c's status when its SIGTERM handler ran and returned


def enforce_and_term(profile: Path, handler: Path, cwd: Path) -> int:
    """`learn enforce PROFILE handler wait`, SIGTERM once it is ready; learn's exit status."""
    learn = subprocess.Popen(
        [*learn_argv(), "enforce", str(profile), str(handler), "wait", "400"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=cwd,
    )  # fmt: skip
    assert learn.stdout is not None
    assert learn.stdout.readline() == b"ready\n"
    learn.send_signal(signal.SIGTERM)  # learn forwards it to the target
    return learn.wait(timeout=30)


def enforce(profile: Path, argv: list[str], cwd: Path) -> int:
    done = subprocess.run([*learn_argv(), "enforce", str(profile), *argv], cwd=cwd, capture_output=True, timeout=30)
    return done.returncode


@pytest.mark.parametrize("baseline", [True, False], ids=["baseline", "no-baseline"])
def test_a_returning_sigterm_handler_runs_under_the_learned_profile(
    baseline: bool, programs: dict[str, Path], tmp_path: Path
) -> None:
    options = () if baseline else ("--no-baseline",)
    run = learn_run([str(programs["handler"]), "wait", "2"], tmp_path, *options)
    assert run.status == 0, run.stderr
    names = run.names()
    if baseline:
        assert {"rt_sigreturn", "restart_syscall", "exit", "exit_group"} <= names
        assert "baseline: allowed though not in the records: exit restart_syscall rt_sigreturn" in run.stderr
        assert enforce_and_term(run.output, programs["handler"], tmp_path) == HANDLER_RAN
    else:
        assert "rt_sigreturn" not in names
        assert enforce_and_term(run.output, programs["handler"], tmp_path) == SIGSEGV_STATUS


@pytest.mark.parametrize("baseline", [True, False], ids=["baseline", "no-baseline"])
def test_an_error_exit_works_under_a_profile_learned_from_a_signal_death(
    baseline: bool, programs: dict[str, Path], tmp_path: Path
) -> None:
    options = () if baseline else ("--no-baseline",)
    run = learn_run([str(programs["handler"]), "die"], tmp_path, *options)
    assert run.status == 128 + signal.SIGKILL, run.stderr
    assert ("exit_group" in run.names()) is baseline
    status = enforce(run.output, [str(programs["handler"]), "fail"], tmp_path)
    assert status == (1 if baseline else SIGSEGV_STATUS)
