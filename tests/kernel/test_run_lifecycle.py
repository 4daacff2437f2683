"""`learn run` and `learn check` under signals, SIGKILL and big runs, on the real kernel.

Once the target has exited, a signal to learn must not throw the run away; a learn killed
outright must not leave its target running or the audit backlog limit raised; --save-log
must not hold the run in memory.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from learn.kernel import features
from learn.kernel.backlog import STATE_DIR
from learn.supervise import BACKLOG_LIMIT
from tests.kernel.conftest import learn_argv

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: seccomp filters and audit records"),
]

CALLS = 300_000


def start_learn(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    cwd.mkdir(parents=True, exist_ok=True)
    with (cwd / "stdout").open("wb") as out:
        return subprocess.Popen([*learn_argv(), *args], stdout=out, stderr=subprocess.PIPE, text=True, cwd=cwd)


def target_of(learn: subprocess.Popen[str], comm: str, timeout: float = 30) -> int:
    """The pid of learn's child named comm, once it has exec'd."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for task in Path(f"/proc/{learn.pid}/task").glob("*"):
            for pid in (task / "children").read_text().split():
                try:
                    if Path(f"/proc/{pid}/comm").read_text().strip() == comm:
                        return int(pid)
                except OSError:
                    continue
        time.sleep(0.005)
    raise AssertionError(f"no {comm} child of learn in {timeout}s")


def gone(pid: int) -> bool:
    """Exited: reaped, or a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists():
            return True
        time.sleep(0.005)
    return False


def signal_after_exit(learn: subprocess.Popen[str], target: int, *signums: int, gap: float = 1.0) -> tuple[int, str]:
    """Once learn has reaped its target, send it signums, gap seconds apart; its status and stderr."""
    assert wait_gone(target, 60), "the target did not end"
    for n, signum in enumerate(signums):
        if n:
            time.sleep(gap)
        learn.send_signal(signum)
    _, stderr = learn.communicate(timeout=120)
    return learn.returncode, stderr


# -- a signal once the target has exited -----------------------------------------------------


def test_sigterm_after_the_target_exited_still_writes_the_profile(programs: dict[str, Path], tmp_path: Path) -> None:
    learn = start_learn(["run", "-o", "p.json", "--", str(programs["burst"]), str(CALLS)], tmp_path)
    code, stderr = signal_after_exit(learn, target_of(learn, "burst"), signal.SIGTERM)
    assert code == 0, stderr
    assert "learn: SIGTERM: finishing: the target has exited" in stderr
    assert "signal again to stop" in stderr
    names = {n for rule in json.loads((tmp_path / "p.json").read_text())["syscalls"] for n in rule["names"]}
    assert {"getppid", "execve", "exit_group"} <= names
    assert "INCOMPLETE" not in stderr


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_second_signal_stops_decoding_and_writes_an_incomplete_profile(
    signum: int, programs: dict[str, Path], tmp_path: Path
) -> None:
    args = ["run", "-f", "snapd", "-o", "p.snapd", "--save-log", "p.log", "--"]
    learn = start_learn([*args, str(programs["burst"]), "1000000"], tmp_path)
    code, stderr = signal_after_exit(learn, target_of(learn, "burst"), signum, signum, gap=1.0)
    assert code == 128 + signum, stderr
    assert f"learn: {signal.Signals(signum).name}: stopping: writing what was learned from" in stderr
    assert "stopped decoding after" in stderr and "INCOMPLETE" in stderr
    profile = (tmp_path / "p.snapd").read_text()
    assert "# INCOMPLETE" in profile and "getppid" in profile.split()
    saved = (tmp_path / "p.log").read_text().count(" syscall=110 ")  # the part decoded is saved too
    assert 0 < saved < 1_000_000


def test_check_after_the_target_exited_still_reports(programs: dict[str, Path], tmp_path: Path) -> None:
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "empty.json").write_text(json.dumps({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": []}))
    learn = start_learn(
        ["check", "--complain", "empty.json", "--", str(programs["burst"]), str(CALLS)], tmp_path
    )  # fmt: skip
    code, stderr = signal_after_exit(learn, target_of(learn, "burst"), signal.SIGTERM)
    assert code == 3, stderr  # the report: everything it called would be denied
    assert "finishing: the target has exited" in stderr
    assert "getppid" in stderr


# -- learn killed outright ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [["run", "-o", "p.json"], ["run", "--user", "nobody", "-o", "p.json"], ["check", "--complain", "empty.json"]],
    ids=["run", "run-as-nobody", "check"],
)
def test_sigkill_of_learn_kills_the_target(args: list[str], tmp_path: Path) -> None:
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "empty.json").write_text(json.dumps({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": []}))
    learn = start_learn([*args, "--", "/usr/bin/sleep", "60"], tmp_path)
    target = target_of(learn, "sleep")
    time.sleep(0.2)
    learn.kill()
    learn.communicate(timeout=10)
    deadline = time.monotonic() + 5
    while not gone(target) and time.monotonic() < deadline:
        time.sleep(0.01)
    if not gone(target):
        os.kill(target, signal.SIGKILL)
        raise AssertionError("the target outlived learn")


def test_a_killed_runs_backlog_limit_is_restored_by_the_next_run(tmp_path: Path) -> None:
    deadline = time.monotonic() + 30  # another learn (not sharing the state file) may hold it raised
    while (before := features.audit_status().backlog_limit) >= BACKLOG_LIMIT and time.monotonic() < deadline:
        time.sleep(0.5)
    if before == 0 or before >= BACKLOG_LIMIT:
        pytest.skip(f"the backlog limit is {before}: learn does not raise it here")
    learn = start_learn(["run", "-o", "p.json", "--", "/usr/bin/sleep", "60"], tmp_path)
    target_of(learn, "sleep")
    state = json.loads((Path(STATE_DIR) / "backlog.json").read_text())
    assert learn.pid in [pid for pid, _ in state["runs"]] and state["original"] == before
    learn.kill()
    learn.communicate(timeout=10)
    assert features.audit_status().backlog_limit == BACKLOG_LIMIT  # nothing could restore it
    done = subprocess.run(
        [*learn_argv(), "run", "-q", "-o", str(tmp_path / "true.json"), "--", "/usr/bin/true"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert features.audit_status().backlog_limit == before


# -- --save-log ----------------------------------------------------------------------------------


def peak_rss_kib(args: list[str], cwd: Path) -> int:
    cwd.mkdir(parents=True, exist_ok=True)
    with (cwd / "stdout").open("wb") as out:
        proc = subprocess.Popen([*learn_argv(), *args], stdout=out, stderr=subprocess.DEVNULL, cwd=cwd)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0
    return usage.ru_maxrss


def test_save_log_streams_instead_of_holding_the_run(programs: dict[str, Path], tmp_path: Path) -> None:
    argv = ["--", str(programs["burst"]), str(CALLS)]
    without = peak_rss_kib(["run", "-q", "-o", "p.json", *argv], tmp_path / "without")
    with_log = peak_rss_kib(["run", "-q", "-o", "p.json", "--save-log", "p.log", *argv], tmp_path / "with")
    assert (tmp_path / "with" / "p.log").read_text().count(" syscall=110 ") == CALLS
    assert with_log - without < 20 * 1024, (without, with_log)  # holding 300k lines took ~100 MB


def test_save_log_that_cannot_be_written_fails_before_the_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    done = subprocess.run(
        [*learn_argv(), "run", "-o", str(tmp_path / "p.json"), "--save-log", str(tmp_path / "no" / "such.log"),
         "--", "/usr/bin/touch", str(marker)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("learn: error: ") and "Traceback" not in done.stderr
    assert not marker.exists()
