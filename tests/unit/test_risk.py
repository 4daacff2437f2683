"""The risk table: data that names real syscalls, flags what a profile allows, and reaches the summary."""

from __future__ import annotations

from pathlib import Path

from learn.formats.common import known_anywhere
from learn.model import Action
from learn.profile import Arg, Op, Profile, Rule
from learn.risk import AF_PACKET, RISKY_ARGUMENTS, RISKY_SYSCALLS, TIOCSTI, assess, summary_lines

ISSUE_NAMES = [
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "keyctl",
    "add_key",
    "request_key",
    "unshare",
    "setns",
    "mount",
    "umount2",
    "pivot_root",
    "move_mount",
    "fsopen",
    "init_module",
    "finit_module",
    "delete_module",
    "kexec_load",
    "kexec_file_load",
    "open_by_handle_at",
    "iopl",
    "ioperm",
    "swapon",
    "swapoff",
    "reboot",
    "acct",
    "settimeofday",
    "clock_settime",
    "adjtimex",
    "personality",
    "io_uring_setup",
]


def test_every_row_names_known_syscalls_with_a_one_line_reason_and_reference() -> None:
    names = [n for risk in RISKY_SYSCALLS for n in risk.names] + [row.name for row in RISKY_ARGUMENTS]
    assert all(known_anywhere(n) for n in names)
    assert len(names) == len(set(names)) + len(RISKY_ARGUMENTS) - len({r.name for r in RISKY_ARGUMENTS})
    for row in (*RISKY_SYSCALLS, *RISKY_ARGUMENTS):
        assert row.reason and row.reference and "\n" not in row.reason + row.reference
    assert set(ISSUE_NAMES) <= set(names)
    assert {r.label for r in RISKY_ARGUMENTS} == {"AF_PACKET", "AF_ALG", "AF_NETLINK", "CLONE_NEWUSER", "TIOCSTI"}


def test_a_plain_profile_has_no_flags() -> None:
    assert assess(Profile({"x86_64": ("read", "write", "exit_group")})) == []


def test_risky_syscalls_and_unrestricted_arguments_are_flagged() -> None:
    flags = assess(Profile({"x86_64": ("ptrace", "socket", "read"), "x86": ("read",)}))
    assert [(f.what, f.arches) for f in flags] == [
        ("ptrace", ("x86_64",)),
        ("socket AF_PACKET", ("x86_64",)),
        ("socket AF_ALG", ("x86_64",)),
        ("socket AF_NETLINK", ("x86_64",)),
    ]


def test_an_argument_rule_that_excludes_the_value_is_not_flagged() -> None:
    unix_only = Rule(("socket",), Action.ALLOW, args=(Arg(0, Op.EQ, 1),))
    no_tiocsti = Rule(("ioctl",), Action.ERRNO, args=(Arg(1, Op.EQ, TIOCSTI),))
    profile = Profile({"x86_64": ("ioctl",)}, rules=(unix_only, no_tiocsti))
    assert assess(profile) == []
    packet = Rule(("socket",), Action.ALLOW, args=(Arg(0, Op.EQ, AF_PACKET),))
    assert [f.what for f in assess(Profile({"x86_64": ()}, rules=(packet,)))] == ["socket AF_PACKET"]


def test_summary_lines_give_reason_reference_and_executables() -> None:
    flags = assess(Profile({"x86_64": ("ptrace", "socket")}))
    lines = summary_lines(flags, {"ptrace": ["/usr/bin/gdb"], "socket": ["/usr/bin/ip"]})
    assert lines[0].startswith("risk: the profile allows calls that widen a sandbox a lot")
    assert lines[1].startswith("  ptrace (x86_64): reads and writes other processes' memory")
    assert "[ptrace(2)" in lines[1] and lines[1].endswith("; made by /usr/bin/gdb")
    assert lines[2].startswith("  socket (x86_64), made by /usr/bin/ip, is allowed with these values")
    assert lines[3].startswith("    AF_PACKET: raw link-layer frames")
    assert summary_lines([]) == []


def test_suggest_flags_a_risky_syscall_and_deny_drops_it(tmp_path: Path) -> None:
    from tests.unit.test_cli import learn

    record = (
        "type=SECCOMP msg=audit(1795346503.904:{serial}): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=7094 "
        'comm="gdb" exe="/usr/bin/gdb" sig=0 arch=c000003e syscall={nr} compat=0 ip=0x7fc2cb3c6ad7 code=0x7ffc0000\n'
    )
    log = tmp_path / "gdb.log"
    log.write_text(record.format(serial=1, nr=101) + record.format(serial=2, nr=0))  # ptrace, read
    done = learn("suggest", log)
    assert done.returncode == 0, done.stderr
    assert "ptrace (x86_64): reads and writes other processes' memory" in done.stderr
    assert "made by /usr/bin/gdb" in done.stderr
    denied = learn("suggest", log, "--deny", "ptrace")
    assert '"ptrace"' not in denied.stdout and "risk:" not in denied.stderr
    assert "removed by --deny (the program made these calls; it gets EPERM now): ptrace" in denied.stderr


def test_readme_lists_every_row() -> None:
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Risk") :]
    for row in RISKY_SYSCALLS:
        assert row.reason in section and all(f"`{n}`" in section for n in row.names)
    for arg in RISKY_ARGUMENTS:
        assert f"`{arg.label}`" in section
