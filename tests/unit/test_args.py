"""Argument-level learning (issue 9): the table, the rules it yields, the SYSCALL join, the CLI."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from learn.arglearn import ArgUsage, learned_rules
from learn.argrules import ARITY, IOCTLS, MAX_INDEX, ROWS, ROWS_BY_SYSCALL, Kind, rows_for, snapd_name
from learn.model import Action, SeccompEvent
from learn.pipeline import build_profile, events_from, learn_from_logs
from learn.profile import Profile, Rule, merge
from learn.select import Selection
from parsers import auparse_reader
from parsers.syscall_join import SyscallJoin
from tests.conftest import SAMPLE_LOGS
from tests.unit.test_cli import learn

ARGS_LOGS = SAMPLE_LOGS / "auditd-args"
LOG64 = ARGS_LOGS / "argcalls.audit.log"
LOG32 = ARGS_LOGS / "argcalls32.audit.log"
EVERY_ACTION = Selection(actions=frozenset(Action))
TIOCSTI, TCGETS = 0x5412, 0x5401
AF_UNIX, AF_INET, AF_NETLINK, AF_PACKET, AF_ALG = 1, 2, 16, 17, 38
SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_CLOEXEC = 1, 2, 3, 0o2000000
CLONE_NEWUSER, CLONE_NEWNS, SIGCHLD = 0x10000000, 0x20000, 17


def _event(arch: str, name: str, nr: int, args: tuple[int, int, int, int] | None) -> SeccompEvent:
    return SeccompEvent(arch, nr, name, Action.LOG, None, 1, "t", "/t", None, "-", 1, args=args)


def _learned(calls: list[tuple[str, int, tuple[int, int, int, int] | None]], arch: str = "x86_64") -> Profile:
    usage = ArgUsage()
    for name, nr, args in calls:
        usage.add(_event(arch, name, nr, args))
    names = {arch: tuple(sorted({c[0] for c in calls} | {"exit_group"}))}
    result = learned_rules(names, usage)
    return Profile(result.allowed, rules=result.rules)


# -- the table -----------------------------------------------------------------------------


def test_no_row_reaches_past_its_syscalls_arity_or_a3() -> None:
    for row in ROWS:
        assert row.index < ARITY[row.syscall], row
        assert row.index <= MAX_INDEX, row  # a SYSCALL record carries a0..a3 only
        if row.when is not None:
            assert row.when[0] < ARITY[row.syscall]
    assert set(ROWS_BY_SYSCALL) == set(ARITY)


def test_the_issues_rows_are_there() -> None:
    assert [r.index for r in ROWS_BY_SYSCALL["socket"]] == [0, 1, 2]
    assert ROWS_BY_SYSCALL["socket"][2].when == (0, AF_NETLINK)
    assert ROWS_BY_SYSCALL["ioctl"][0].mask == 0xFFFFFFFF  # CVE-2019-7303: the kernel reads 32 bits
    assert ROWS_BY_SYSCALL["clone"][0].kind is Kind.FLAGS and ROWS_BY_SYSCALL["unshare"][0].kind is Kind.FLAGS
    for name in ("prctl", "personality", "setns", "setsockopt", "getsockopt", "keyctl", "bpf", "ptrace", "fcntl",
                 "mprotect", "pkey_mprotect", "mmap"):  # fmt: skip
        assert name in ROWS_BY_SYSCALL
    assert rows_for("x86", "mmap") == ()  # old_mmap: the arguments are in memory
    assert rows_for("s390x", "clone") == ()  # clone(stack, flags) there
    assert IOCTLS[TIOCSTI] == "TIOCSTI"


def test_snapd_names_only_what_snap_seccomp_knows() -> None:
    assert snapd_name("socket", 0, AF_UNIX) == "AF_UNIX"
    assert snapd_name("prctl", 0, 15) == "PR_SET_NAME"
    assert snapd_name("ioctl", 1, TCGETS) is None  # snap-seccomp has no TCGETS
    assert snapd_name("write", 0, 1) is None


# -- the rules -----------------------------------------------------------------------------


def test_enum_values_flags_and_the_done_when_calls() -> None:
    p = _learned([
        ("socket", 41, (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, 0)),
        ("socket", 41, (AF_INET, SOCK_DGRAM, 0, 0)),
        ("socket", 41, (AF_NETLINK, SOCK_RAW, 0, 0)),  # NETLINK_ROUTE
        ("ioctl", 16, (0, TCGETS, 0x7FFE0000, 0)),
        ("clone", 56, (0x1200000 | SIGCHLD, 0, 0, 0)),
        ("prctl", 157, (15, 0, 0, 0)),
    ])  # fmt: skip
    assert "socket" not in p.allowed["x86_64"] and "exit_group" in p.allowed["x86_64"]
    allowed = Action.ALLOW

    def verdict(name: str, *args: int) -> Action:
        return p.decide("x86_64", name, args).action

    assert verdict("socket", AF_UNIX, SOCK_STREAM) is allowed
    assert verdict("socket", AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC) is allowed
    assert verdict("socket", AF_INET, SOCK_DGRAM, 17) is allowed
    assert verdict("socket", AF_NETLINK, SOCK_RAW, 0) is allowed
    for denied in [(AF_INET, SOCK_STREAM), (AF_PACKET, SOCK_RAW), (AF_ALG, 5), (AF_NETLINK, SOCK_RAW, 9)]:
        assert verdict("socket", *denied) is Action.ERRNO, denied
    assert verdict("ioctl", 1, TCGETS) is allowed
    assert verdict("ioctl", 1, (1 << 32) | TCGETS) is allowed  # the kernel truncates: the same call
    assert verdict("ioctl", 1, TIOCSTI) is Action.ERRNO
    assert verdict("ioctl", 1, (1 << 32) | TIOCSTI) is Action.ERRNO
    assert verdict("clone", SIGCHLD) is allowed
    assert verdict("clone", CLONE_NEWUSER | SIGCHLD) is Action.ERRNO
    assert verdict("prctl", 15) is allowed and verdict("prctl", 22) is Action.ERRNO
    assert p.decide("x86_64", "clone3").errno == 38  # ENOSYS: libc falls back to clone


def test_a_call_without_arguments_keeps_its_syscall_name_only() -> None:
    usage = ArgUsage()
    usage.add(_event("x86_64", "socket", 41, (AF_UNIX, SOCK_STREAM, 0, 0)))
    usage.add(_event("x86_64", "socket", 41, None))
    result = learned_rules({"x86_64": ("socket",)}, usage)
    assert result.allowed == {"x86_64": ("socket",)} and result.rules == ()
    assert any("socket was seen without its arguments" in n for n in result.notes)


def test_clone3_seen_without_clone_keeps_clone_by_name() -> None:
    usage = ArgUsage()
    result = learned_rules({"x86_64": ("clone3", "read")}, usage)
    assert result.allowed == {"x86_64": ("clone", "read")}
    assert result.rules == (Rule(("clone3",), Action.ERRNO, 38, (), ("x86_64",)),)


def test_merge_unites_values_and_name_only_wins() -> None:
    unix = _learned([("socket", 41, (AF_UNIX, SOCK_STREAM, 0, 0))])
    inet = _learned([("socket", 41, (AF_INET, SOCK_DGRAM, 0, 0))])
    both = merge(unix, inet)
    assert both.decide("x86_64", "socket", (AF_UNIX, SOCK_STREAM)).action is Action.ALLOW
    assert both.decide("x86_64", "socket", (AF_INET, SOCK_DGRAM)).action is Action.ALLOW
    assert both.decide("x86_64", "socket", (AF_PACKET, SOCK_RAW)).action is Action.ERRNO
    names = Profile({"x86_64": ("exit_group", "socket")})
    for united in (merge(unix, names), merge(names, unix)):
        assert not [r for r in united.rules if "socket" in r.names]
        assert united.decide("x86_64", "socket", (AF_PACKET, SOCK_RAW)).action is Action.ALLOW


# -- the join ------------------------------------------------------------------------------


def _joined(path: Path) -> list[SeccompEvent]:
    return [e for e in events_from([str(path)], args=True) if isinstance(e, SeccompEvent)]


@pytest.mark.parametrize("log", [LOG64, LOG32], ids=["x86_64", "x86"])
def test_join_agrees_with_auparse(log: Path) -> None:
    """Every table call's arguments are those of a SYSCALL record auparse reads for that pid and call."""
    if not auparse_reader.available():
        pytest.skip("python3-audit (auparse) is not installed")
    import auparse

    text = log.read_text()
    au = auparse.AuParser(auparse.AUSOURCE_BUFFER, text)
    oracle: Counter[tuple[int, int, tuple[int, ...]]] = Counter()
    while au.parse_next_event():
        for index in range(au.get_num_records()):
            au.goto_record_num(index)
            if au.get_type() != 1300:  # SYSCALL
                continue
            f = auparse_reader._fields(au)
            if f.get("key") == '"learn-args"' and "argcalls" in f.get("exe", ""):
                args = tuple(int(f[f"a{i}"], 16) for i in range(4))
                oracle[(int(f["pid"]), int(f["syscall"]), args)] += 1
    joined = Counter((e.pid, e.nr, e.args) for e in _joined(log) if e.syscall in ROWS_BY_SYSCALL and e.args is not None)
    assert joined and joined == oracle
    assert all(
        e.args is not None for e in _joined(log) if e.syscall in ROWS_BY_SYSCALL and e.exe != "/usr/bin/python3.11"
    )


def test_join_pairs_by_pid_and_call_and_keeps_the_order() -> None:
    seccomp = ('type=SECCOMP msg=audit(1.000:{s}): auid=0 uid=0 gid=0 ses=1 pid={pid} comm="t" exe="/t" sig=0 '
               'arch=c000003e syscall=41 compat=0 ip=0x1 code=0x7ffc0000\n')  # fmt: skip
    syscall = ("type=SYSCALL msg=audit(1.000:{s}): arch=c000003e syscall=41 success=yes exit=3 a0={a0} a1=1 a2=0 "
               'a3=0 items=0 ppid=1 pid={pid} auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 '
               'tty=(none) ses=1 comm="t" exe="/t" key="learn-args"\n')  # fmt: skip
    lines = [
        syscall.format(s=1, a0=9, pid=7),  # before any SECCOMP event: a call the filter allowed silently
        seccomp.format(s=2, pid=7),
        seccomp.format(s=3, pid=8),
        syscall.format(s=4, a0=2, pid=8),
        "Dec  2 10:00:00 host logger: " + syscall.format(s=5, a0=17, pid=7),  # forged in a syslog: ignored
        syscall.format(s=6, a0=1, pid=7),
    ]
    from parsers import parse_numbered

    join = SyscallJoin()
    events = [
        e for e in join.items(parse_numbered(join.lines(enumerate(lines, 1)), "-")) if isinstance(e, SeccompEvent)
    ]
    assert [(e.pid, e.args) for e in events] == [(7, (1, 1, 0, 0)), (8, (2, 1, 0, 0))]


def test_an_event_without_its_syscall_record_leaves_after_the_window() -> None:
    line = ('type=SECCOMP msg=audit(1.000:1): auid=0 uid=0 gid=0 ses=1 pid=7 comm="t" exe="/t" sig=0 '
            "arch=c000003e syscall=41 compat=0 ip=0x1 code=0x7ffc0000\n")  # fmt: skip
    from parsers import parse_numbered

    join = SyscallJoin(window=2)
    filler = ["noise\n"] * 3
    out = []
    for item in join.items(parse_numbered(join.lines(enumerate([line, *filler, line, *filler], 1)), "-")):
        out.append((join.records, item))
    assert [records for records, _ in out] == [5, 8]  # the first left once it was older than the window
    assert all(isinstance(i, SeccompEvent) and i.args is None for _, i in out)


# -- the pipeline and the CLI --------------------------------------------------------------


def test_suggest_args_from_the_sample_log() -> None:
    findings = learn_from_logs([str(LOG64)], EVERY_ACTION, args=True)
    profile = build_profile(findings)
    assert "socket" not in profile.allowed["x86_64"]
    assert profile.decide("x86_64", "socket", (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC)).action is Action.ALLOW
    assert profile.decide("x86_64", "socket", (AF_ALG, 5)).action is Action.ERRNO
    without = build_profile(learn_from_logs([str(LOG64)], EVERY_ACTION))
    assert "socket" in without.allowed["x86_64"] and not without.rules


def test_cli_suggest_args_summary_and_events_args() -> None:
    result = learn("suggest", "--args", LOG64, "-f", "snapd")
    assert "socket AF_UNIX" in result.stdout and "prctl PR_SET_NAME" in result.stdout
    assert "x86_64 socket: AF_UNIX, SOCK_STREAM ×1; AF_INET, SOCK_DGRAM ×1" in result.stderr
    assert "x86_64 ioctl: TCGETS ×2" in result.stderr
    assert "clone3 gets ENOSYS" in result.stderr
    events = [json.loads(line) for line in learn("events", LOG64).stdout.splitlines()]
    sockets = [e["args"] for e in events if e["syscall"] == "socket"]
    assert sockets == [[AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, 0], [AF_INET, SOCK_DGRAM, 0, 0]]
    assert all(e["args"] is None for e in events if e["syscall"] == "execve")


def test_deny_removes_an_argument_checked_syscall() -> None:
    result = learn("suggest", "--args", "--deny", "socket", LOG64)
    assert result.returncode == 0, result.stderr
    assert "removed by --deny" in result.stderr and "socket" not in result.stdout


def test_systemd_falls_back_to_names() -> None:
    result = learn("suggest", "--args", LOG64, "-f", "systemd")
    assert "allowed by name: clone clone3 ioctl mmap mprotect prctl socket" in result.stderr
    allowed = " ".join(line for line in result.stdout.splitlines() if line.startswith("SystemCallFilter="))
    assert " socket" in allowed and " clone3" in allowed


def test_cli_merge_of_two_args_profiles(tmp_path: Path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert learn("suggest", "-q", "--args", LOG64, "-o", a).returncode == 0
    assert learn("suggest", "-q", "--args", LOG32, "-o", b).returncode == 0
    merged = learn("merge", a, b, "-f", "snapd")
    assert merged.returncode == 0, merged.stderr
    assert merged.stdout.count("socket AF_UNIX") == 1 and "prctl PR_SET_NAME" in merged.stdout
    names = learn("merge", a, tmp_path / "names.json")
    assert names.returncode == 2  # a missing file is a usage error, not a traceback
    assert "Traceback" not in names.stderr


def test_the_learning_bundle_gives_clone3_enosys_with_args(tmp_path: Path) -> None:
    from learn.kernel.oci import learning_bundle

    (tmp_path / "config.json").write_text(json.dumps({"process": {"args": ["/x"]}, "root": {"path": "rootfs"}}))
    with learning_bundle(str(tmp_path), Profile({}), args=True) as copy:
        rules = json.loads((Path(copy) / "config.json").read_text())["linux"]["seccomp"]["syscalls"]
    assert rules == [{"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]
    with learning_bundle(str(tmp_path), Profile({})) as copy:
        assert "syscalls" not in json.loads((Path(copy) / "config.json").read_text())["linux"]["seccomp"]


def test_formats_without_per_arch_rules_say_it_once_for_learned_rules() -> None:
    result = learn("suggest", "-q", "--args", LOG32)
    assert result.returncode == 0, result.stderr
    assert "rules for x86 apply to all arches (clone clone3 ioctl mmap2 mprotect prctl socket)" in result.stderr
    assert "'socket: allow if" not in result.stderr


def test_a_denied_call_never_takes_a_later_calls_values() -> None:
    """A call the filter denies gets no SYSCALL record; the next allowed call's record is not its."""
    denied = ('type=SECCOMP msg=audit(1.000:1): auid=0 uid=0 gid=0 ses=1 pid=7 comm="t" exe="/t" sig=0 '
              "arch=c000003e syscall=16 compat=0 ip=0x1 code=0x50000\n")  # fmt: skip
    allowed = ("type=SYSCALL msg=audit(1.000:2): arch=c000003e syscall=16 success=no exit=-25 a0=0 a1=5401 a2=0 "
               'a3=0 items=0 ppid=1 pid=7 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 '
               'tty=(none) ses=1 comm="t" exe="/t" key="learn-args"\n')  # fmt: skip
    from parsers import parse_numbered

    join = SyscallJoin()
    events = [e for e in join.items(parse_numbered(join.lines(enumerate([denied, allowed], 1)), "-"))]
    assert [(e.action, e.args) for e in events if isinstance(e, SeccompEvent)] == [(Action.ERRNO, None)]


def test_an_x86_ioctl_rule_still_masks_the_high_word_where_oci_applies_it_to_x86_64(tmp_path: Path) -> None:
    out = tmp_path / "p32.json"
    assert learn("suggest", "-q", "--args", LOG32, "-o", out).returncode == 0
    ioctl = [r for r in json.loads(out.read_text())["syscalls"] if r["names"] == ["ioctl"]]
    assert ioctl[0]["args"] == [{"index": 1, "value": 0xFFFFFFFF, "valueTwo": 0x5401, "op": "SCMP_CMP_MASKED_EQ"}]
    lint = learn("lint", out)
    assert "64 bits of ioctl" not in lint.stdout + lint.stderr
