"""`learn run --args` on the real kernel (issue 9's done-when): learned, then enforced.

The argument rules of a learned profile must let the calls the program made through and
give EPERM to the risky values it never used, on x86_64 and on an i386 (-m32) build."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from learn.kernel import auditrules, features
from tests.kernel.conftest import learn_argv, learn_run

pytestmark = pytest.mark.kernel

MADE = {"socket_unix": 0, "socket_inet_dgram": 0, "ioctl_tcgets": 25, "clone_plain": 0, "prctl_set_name": 0}
DENIED = ["socket_packet", "socket_alg", "socket_netlink", "socket_inet_stream", "ioctl_tiocsti",
          "clone_newuser", "unshare_newns", "prctl_set_seccomp"]  # fmt: skip
EPERM, ENOTTY = 1, 25


def _results(text: str) -> dict[str, int]:
    return {name: int(code) for name, _, code in (line.split() for line in text.splitlines())}


def _our_rules() -> list[str]:
    return [k for _, k in auditrules.listed_rules() if k is not None and k.startswith(auditrules.KEY_PREFIX)]


@pytest.mark.parametrize("program", ["argcalls", "argcalls32"])
def test_learned_argument_rules_allow_what_was_made_and_deny_the_rest(
    program: str, programs: dict[str, Path], tmp_path: Path
) -> None:
    if program not in programs:
        pytest.skip("gcc cannot build -m32 programs here (gcc-multilib)")
    enabled_before = features.audit_status().enabled
    learned = learn_run([str(programs[program])], tmp_path, "--args", stdout=tmp_path / "learn.out")
    assert learned.status == 0, learned.stderr
    arch = "x86" if program.endswith("32") else "x86_64"
    assert f"{arch} socket: AF_UNIX, SOCK_STREAM ×1; AF_INET, SOCK_DGRAM ×1" in learned.stderr
    assert f"{arch} prctl: PR_SET_NAME ×1" in learned.stderr
    assert "clone3 gets ENOSYS" in learned.stderr
    assert not _our_rules(), "the run's audit rules must be gone"
    assert features.audit_status().enabled == enabled_before or _our_rules()  # or another learn --args runs
    with open(os.devnull, "rb") as stdin:  # ioctl(0, TCGETS): ENOTTY, the filter let it through
        enforced = subprocess.run(
            [*learn_argv(), "enforce", str(learned.output), "--", str(programs[program]), "probe"],
            stdin=stdin, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert enforced.returncode == 0, enforced.stderr
    got = _results(enforced.stdout)
    for name, code in MADE.items():
        assert got[name] == code, (name, enforced.stdout)
    for name in DENIED:
        assert got[name] == EPERM, (name, enforced.stdout)
    if arch == "x86_64":  # TIOCSTI with the high 32 bits set is still TIOCSTI; TCGETS likewise
        assert got["ioctl_tiocsti_high"] == EPERM and got["ioctl_tcgets_high"] == ENOTTY


def test_stale_rules_of_a_dead_learn_are_removed_and_others_kept(programs: dict[str, Path], tmp_path: Path) -> None:
    dead = auditrules.AuditRule(0xC000003E, (41,), 4242, f"{auditrules.KEY_PREFIX}999999999:1")
    auditrules._send(auditrules.AUDIT_ADD_RULE, dead.pack())
    foreign = ["-a", "exit,always", "-F", "arch=b64", "-S", "socket", "-F", "sessionid=4243", "-k", "not-learn"]
    subprocess.run(["auditctl", *foreign], check=True, capture_output=True)
    try:
        learned = learn_run([str(programs["argcalls"])], tmp_path, "--args")
        assert learned.status == 0, learned.stderr
        assert not _our_rules()
        assert "not-learn" in [k for _, k in auditrules.listed_rules()]
    finally:
        subprocess.run(["auditctl", "-d", *foreign[1:]], check=False, capture_output=True)
        auditrules.remove_stale()


def test_rules_are_removed_when_the_target_cannot_start(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-program"
    result = learn_run([str(missing)], tmp_path, "--args")
    assert result.status != 0 and "Traceback" not in result.stderr
    assert not _our_rules()


def test_check_args_complain_names_each_call_with_its_arguments(programs: dict[str, Path], tmp_path: Path) -> None:
    learned = learn_run([str(programs["argcalls"])], tmp_path, "--args")
    assert learned.status == 0, learned.stderr
    with open(os.devnull, "rb") as stdin:
        checked = subprocess.run(
            [*learn_argv(), "check", "--args", "--complain", str(learned.output), "--", str(programs["argcalls"]),
             "probe"],
            stdin=stdin, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert checked.returncode == 3, checked.stderr
    verb = "would be denied (complain mode)"
    exe = str(programs["argcalls"])
    for call in ("socket(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT)", "socket(AF_PACKET, SOCK_RAW)", "ioctl(TIOCSTI)",
                 "clone(CLONE_NEWUSER|SIGCHLD)", "unshare(CLONE_NEWNS)", "prctl(PR_SET_SECCOMP)"):  # fmt: skip
        assert f"{call} {verb} " in checked.stderr and exe in checked.stderr, (call, checked.stderr)
    assert "socket(AF_UNIX" not in checked.stderr
    assert not _our_rules()


def test_an_incremental_pass_unites_the_values(programs: dict[str, Path], tmp_path: Path) -> None:
    """--profile BASE --args: the base's values stay, the new run's are added."""
    from learn.formats import load_profile
    from learn.model import Action

    first = learn_run([str(programs["argcalls"])], tmp_path / "first", "--args")
    assert first.status == 0, first.stderr
    second = learn_run([str(programs["argcalls"]), "probe"], tmp_path / "second", "--args", "--profile",
                       str(first.output))  # fmt: skip
    assert second.status == 0, second.stderr
    united = load_profile(str(second.output)).profile
    for family, kind in ((1, 1), (2, 2), (17, 3), (16, 3)):  # AF_UNIX, AF_INET (base); AF_PACKET, AF_NETLINK (new)
        assert united.decide("x86_64", "socket", (family, kind, 9)).action is Action.ALLOW, family
    assert united.decide("x86_64", "socket", (40, 1, 0)).action is Action.ERRNO  # AF_VSOCK: never made
    assert united.decide("x86_64", "ioctl", (0, 0x5401)).action is Action.ALLOW
    assert not _our_rules()


def _wait_for(predicate: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_rules_go_on_a_signal_and_after_a_killed_learn(how: int, tmp_path: Path) -> None:
    """SIGTERM: learn passes it on, the target dies, the rules go. SIGKILL: they stay, and the
    next --args run removes them (their key names a learn that is gone)."""
    enabled_before = features.audit_status().enabled
    learn = subprocess.Popen(
        [*learn_argv(), "run", "--args", "-q", "-o", str(tmp_path / "p.json"), "--", "sleep", "30"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    try:
        _wait_for(lambda: bool(_our_rules()), "learn's audit rules")
        learn.send_signal(how)
        learn.wait(timeout=30)
        if how == signal.SIGKILL:
            os.killpg(learn.pid, signal.SIGKILL)  # the target dies with learn (PDEATHSIG); be sure
            assert _our_rules(), "a learn killed outright cannot remove its rules"
            again = learn_run(["/bin/true"], tmp_path / "again", "--args")
            assert again.status == 0, again.stderr
        assert not _our_rules()
    finally:
        if learn.poll() is None:
            os.killpg(learn.pid, signal.SIGKILL)
            learn.wait()
        auditrules.remove_stale()
    # the next run turned it off for the killed one (unless another learn --args runs meanwhile)
    assert features.audit_status().enabled == enabled_before or _our_rules()


def test_the_saved_log_relearns_the_same_argument_rules(programs: dict[str, Path], tmp_path: Path) -> None:
    """--save-log keeps the SYSCALL records too: suggest --args on it gives the run's profile."""
    learned = learn_run([str(programs["argcalls"])], tmp_path, "--args")
    assert learned.status == 0 and learned.log is not None, learned.stderr
    assert "type=SYSCALL " in learned.log.read_text()
    again = tmp_path / "again.json"
    suggested = subprocess.run([*learn_argv(), "suggest", "-q", "--args", str(learned.log), "-o", str(again)],
                               capture_output=True, text=True, timeout=60)  # fmt: skip
    assert suggested.returncode == 0, suggested.stderr
    diff = subprocess.run([*learn_argv(), "diff", str(learned.output), str(again)], capture_output=True, text=True)
    assert diff.returncode == 0 and "no differences" in diff.stdout, diff.stdout + diff.stderr


def test_the_enabled_flag_is_shared_by_runs_and_repaired_after_a_killed_one(tmp_path: Path) -> None:
    """Two overlapping runs: the flag stays on until the last leaves; a run that died is dropped."""
    from learn.kernel import auditenabled

    if features.audit_status().enabled != 0 or features.audit_status().pid:
        pytest.skip("audit is on already (auditd, or another run): learn leaves it alone then")
    other = subprocess.Popen(["sleep", "30"])
    try:
        start = auditenabled._start_time(other.pid)
        with auditenabled.audit_enabled(str(tmp_path)):
            assert features.audit_status().enabled == 1
            state = tmp_path / "audit-enabled.json"
            runs = json.loads(state.read_text())["runs"]
            state.write_text(json.dumps({"runs": [*runs, [other.pid, start]]}))  # a second run joins
        assert features.audit_status().enabled == 1, "the other run still needs it"
        other.kill()
        other.wait()
        with auditenabled.audit_enabled(str(tmp_path)):  # the dead run is dropped, the flag taken over
            assert features.audit_status().enabled == 1
        assert features.audit_status().enabled == 0
        assert not (tmp_path / "audit-enabled.json").exists()
    finally:
        if other.poll() is None:
            other.kill()
            other.wait()
