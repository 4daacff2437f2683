"""`learn lint`: each check on a small profile, the output form and the exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from learn.baseline import baseline_for
from learn.lint import Severity, check, lint_file
from learn.model import Action
from learn.profile import Arg, Op, Profile, Rule
from tests.unit.test_cli import KUBE, assert_one_line_error, learn

HOST = ["x86_64", "x86", "x32"]
GOOD = Profile({"x86_64": tuple(sorted({*baseline_for("x86_64"), "execve", "read"}))})


def findings(profile: Profile) -> list[tuple[Severity, str]]:
    return list(check(profile, HOST))


def test_a_learned_profile_with_its_baseline_is_clean() -> None:
    assert findings(GOOD) == []


def test_a_default_that_lets_calls_through_is_an_error() -> None:
    for default in (Action.ALLOW, Action.LOG):
        [(severity, message)] = findings(
            Profile({"x86_64": ("read",)}, default, None, rules=(Rule(("ptrace",), Action.ERRNO),))
        )
        assert severity is Severity.ERROR and "let through" in message
    [(_, message)] = findings(Profile({"x86_64": ()}, Action.ALLOW, None))
    assert message.startswith("no filter at all")


def test_a_profile_that_allows_nothing_is_an_error() -> None:
    [(severity, message)] = findings(Profile({"x86_64": ()}))
    assert severity is Severity.ERROR and message.startswith("allows no syscall")


def test_none_of_the_hosts_abis_is_an_error() -> None:
    profile = Profile({"aarch64": tuple(sorted({*baseline_for("aarch64"), "read"}))})
    assert findings(profile) == [
        (Severity.ERROR, "lists none of this host's ABIs (x86_64 x86 x32) but aarch64: every call here gets the "
         "default errno(1)")
    ]  # fmt: skip


def test_a_missing_baseline_is_a_warning_per_arch() -> None:
    [(severity, message)] = findings(Profile({"x86_64": ("execve", "exit_group", "read")}))
    assert severity is Severity.WARNING
    assert message.startswith("x86_64: the baseline is not allowed: exit restart_syscall rt_sigreturn")


def test_shadowed_and_repeated_rules() -> None:
    allow_if = Rule(("read",), Action.ALLOW, args=(Arg(0, Op.EQ, 3),))
    deny_all = Rule(("socket",), Action.ERRNO)
    deny_some = Rule(("socket",), Action.ERRNO, errno=13, args=(Arg(0, Op.EQ, 17),))
    twice = Rule(("ioctl",), Action.ERRNO, args=(Arg(1, Op.MASKED_EQ, 0xFFFFFFFF, 0x5412),), arches=("x86_64",))
    profile = Profile({"x86_64": (*GOOD.allowed["x86_64"], "socket")}, rules=(allow_if, deny_all, deny_some, twice))
    profile = profile.with_rules((*profile.rules, Rule(("ioctl",), Action.ERRNO, args=twice.args)))
    messages = [m for s, m in findings(profile) if s is Severity.WARNING]
    assert "rule 'read: allow if a0 == 3' is shadowed: read is allowed unconditionally (x86_64)" in messages
    assert "rule 'socket: errno(13) if a0 == 17' is shadowed by 'socket: errno(1)' (x86_64)" in messages
    assert "socket is allowed unconditionally, but 'socket: errno(1)' decides every call (x86_64)" in messages
    assert "rule 'ioctl: errno(1) if a1 & 0xffffffff == 21522' is repeated (x86_64)" in messages


def test_ioctl_request_compared_on_64_bits() -> None:
    eq = Rule(("ioctl",), Action.ERRNO, args=(Arg(1, Op.EQ, 0x5412),))
    masked = Rule(("ioctl",), Action.ERRNO, errno=13, args=(Arg(1, Op.MASKED_EQ, 0xFFFFFFFF, 0x541C),))
    profile = Profile({"x86_64": GOOD.allowed["x86_64"], "x86": baseline_for("x86")}, rules=(eq, masked))
    warned = [m for s, m in findings(profile) if "64 bits of ioctl" in m]
    assert len(warned) == 1 and "a1 == 21522" in warned[0] and "on x86_64:" in warned[0]  # x86 compares 32 bits


def test_risky_calls_are_warnings_and_risky_values_notes() -> None:
    profile = Profile({"x86_64": (*GOOD.allowed["x86_64"], "ptrace", "socket")})
    got = findings(profile)
    assert got[0][0] is Severity.WARNING and got[0][1].startswith("risky: ptrace allowed (x86_64): reads and writes")
    assert [s for s, m in got if "socket AF_" in m] == [Severity.NOTE] * 3
    personality = Rule(("personality",), Action.ALLOW, args=(Arg(0, Op.EQ, 0),))
    [(severity, message)] = findings(GOOD.with_rules((personality,)))
    assert severity is Severity.NOTE and "personality allowed for some arguments (by a rule)" in message


def test_lint_file_reports_unknown_names_and_invalid_profiles(tmp_path: Path) -> None:
    snapd = tmp_path / "p.snapd"
    snapd.write_text("\n".join([*baseline_for("x86_64"), "sigreturn", "execve", "read", "notacall"]) + "\n")
    [finding] = lint_file(str(snapd))
    assert (
        str(finding)
        == f"{snapd}: warning: line 8: unknown syscall 'notacall': libseccomp knows it on no arch; left out"
    )
    broken = tmp_path / "broken.json"
    broken.write_text('{"defaultAction": "SCMP_ACT_NOPE"}')
    [finding] = lint_file(str(broken))
    assert finding.severity is Severity.ERROR and str(finding).startswith(f"{broken}: error: not a valid profile: ")


def test_cli_lint_exit_codes(tmp_path: Path) -> None:
    learned = tmp_path / "kube.json"
    assert learn("suggest", KUBE, "-o", learned).returncode == 0
    done = learn("lint", learned)
    assert done.returncode == 0 and done.stdout == "", done.stdout + done.stderr
    block_all = tmp_path / "block.json"
    block_all.write_text(json.dumps({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": []}))
    done = learn("lint", learned, block_all)
    assert done.returncode == 1
    assert done.stdout.startswith(f"{block_all}: error: allows no syscall")
    assert "learn: lint: 1 errors, 0 warnings" in done.stderr
    assert_one_line_error(learn("lint", tmp_path / "missing.json"), 2)
