"""learn.formats.snapd: snap-seccomp's syntax, read and written."""

from __future__ import annotations

import os
import socket
import stat
import termios

import pytest

from learn.errors import ProfileError
from learn.formats import snapd
from learn.formats.common import HostContext
from learn.formats.snapd_names import CONSTANTS
from learn.model import Action
from learn.profile import U32, Arg, Op, Profile, Rule, Verdict
from tests.conftest import SHARED

PROFILES = SHARED / "corpus" / "profiles"
HOST = HostContext("x86_64", "x86")


def _read(text: str, strict: bool = False) -> snapd.ReadResult:
    return snapd.read(text, "p.seccomp", HOST, strict)


def _rule(line: str) -> Rule:
    (rule,) = _read(line + "\n").profile.rules
    return rule


def test_constants_agree_with_this_host() -> None:
    from_python = {
        "AF_UNIX": socket.AF_UNIX,
        "AF_INET6": socket.AF_INET6,
        "AF_NETLINK": socket.AF_NETLINK,
        "AF_PACKET": socket.AF_PACKET,
        "AF_VSOCK": socket.AF_VSOCK,
        "AF_ALG": socket.AF_ALG,
        "SOCK_SEQPACKET": socket.SOCK_SEQPACKET,
        "NETLINK_ROUTE": socket.NETLINK_ROUTE,
        "NETLINK_CRYPTO": socket.NETLINK_CRYPTO,
        "TIOCSTI": termios.TIOCSTI,
        "O_CREAT": os.O_CREAT,
        "O_TMPFILE": os.O_TMPFILE,
        "O_NOTIFICATION_PIPE": os.O_EXCL,
        "S_ISUID": stat.S_ISUID,
        "S_IFSOCK": stat.S_IFSOCK,
        "PRIO_PROCESS": os.PRIO_PROCESS,
    }
    assert {k: CONSTANTS[k] for k in from_python} == from_python


@pytest.mark.parametrize(
    ("line", "args"),
    [
        ("socket AF_UNIX", (Arg(0, Op.EQ, 1),)),
        ("socket AF_NETLINK - NETLINK_ROUTE", (Arg(0, Op.EQ, 16), Arg(2, Op.EQ, 0))),
        ("nice <=19", (Arg(0, Op.LE, 19),)),
        ("setpriority PRIO_PROCESS 0 <=19", (Arg(0, Op.EQ, 0), Arg(1, Op.EQ, 0), Arg(2, Op.LE, 19))),
        ("read >=3 <3 >4 !5", (Arg(0, Op.GE, 3), Arg(1, Op.LT, 3), Arg(2, Op.GT, 4), Arg(3, Op.NE, 5))),
        ("mknod - |S_IFREG -", (Arg(1, Op.MASKED_EQ, 0o100000, 0o100000),)),
        ("ioctl - 4294967295|TIOCSTI", (Arg(1, Op.MASKED_EQ, U32, 0x5412),)),
        ("kcmp - - KCMP_FILE", (Arg(2, Op.EQ, 0),)),
        # the id calls: -1 is allowed, and every value compares the low 32 bits only
        ("chown - u:root -1", (Arg(1, Op.MASKED_EQ, U32, 0), Arg(2, Op.MASKED_EQ, U32, U32))),
        ("setgid g:root", (Arg(0, Op.MASKED_EQ, U32, 0),)),
        ("copy_file_range - - - - - 0", (Arg(5, Op.MASKED_EQ, U32, 0),)),
    ],
)
def test_argument_tokens(line: str, args: tuple[Arg, ...]) -> None:
    assert _rule(line) == Rule((line.split()[0],), Action.ALLOW, None, args)


def test_deny_lines_are_eacces_rules() -> None:
    assert _rule("~ioctl - TIOCSTI") == Rule(("ioctl",), Action.ERRNO, 13, (Arg(1, Op.EQ, 0x5412),))
    assert _rule("~openat2") == Rule(("openat2",), Action.ERRNO, 13)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("read 1 2 3 4 5 6 7", "p.seccomp:1: too many arguments"),
        ("read x", "p.seccomp:1: cannot parse token 'x'"),
        ("read -1", "cannot parse token '-1'"),  # negative only for the id calls
        ("read 4294967296", "cannot parse token"),
        ("setuid >0", "unsupported comparison"),
        ("setuid |1", "unsupported comparison"),
        ("read 1|2|3", "cannot parse masked equal"),
        ("setgid g:###GROUP###", "'###GROUP###' must be a valid user or group name"),
        ("setuid u:no-such-user-here", "no such user"),
        ("~ptrce", "p.seccomp:1: unknown syscall 'ptrce'"),
    ],
)
def test_errors_name_the_line(line: str, message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        _read(line + "\n")


def test_unknown_allowed_names_are_noted_or_refused() -> None:
    r = _read("read\n\n# x\nraed\n")
    assert r.profile.names() == ("read",)
    assert r.notes == ("p.seccomp:4: unknown syscall 'raed': libseccomp knows it on no arch; left out",)
    with pytest.raises(ProfileError, match=r"p\.seccomp:4: unknown syscall 'raed'"):
        _read("read\n\n# x\nraed\n", strict=True)


def test_names_some_arches_lack_are_kept() -> None:
    p = _read("socketcall\nnewfstatat\n").profile
    assert p.allowed == {"x86": ("newfstatat", "socketcall"), "x86_64": ("newfstatat", "socketcall")}


def test_directives_count_anywhere() -> None:
    complain = _read("read\n  @complain  \n").profile
    assert complain.default_action is Action.LOG
    unrestricted = _read("read\n~ptrace\n@unrestricted\n")
    assert unrestricted.profile.default_action is Action.ALLOW and not unrestricted.profile.rules
    assert "@unrestricted" in unrestricted.notes[0]


def test_the_default_template_loads_and_means_what_snapd_means() -> None:
    r = snapd.read((PROFILES / "snapd_defaultTemplate.seccomp").read_text(), "t", HOST)
    p = r.profile
    assert p.arches == ("x86", "x86_64") and len(p.names()) > 300
    assert p.decide("x86_64", "ioctl", (0, 0x5412)) == Verdict(Action.ERRNO, 13)
    assert p.decide("x86_64", "ioctl", (0, 0x5401)) == Verdict(Action.ALLOW, None)
    assert p.decide("x86_64", "socket", (16, 3, 0)) == Verdict(Action.ERRNO, 1)
    # libc names and syscalls newer than libseccomp 2.5.4, as snap-seccomp skips them
    assert {n.split("'")[1] for n in r.notes} >= {"_exit", "pread", "mseal"}


def test_the_snippets_load_or_say_why_not() -> None:
    for name in (
        "barePrivDropSyscalls",
        "bindSyscallWorkaround",
        "rootSetUidGidSyscalls",
        "socketcallSyscallDeprecated",
    ):
        snapd.read((PROFILES / f"snapd_{name}.seccomp").read_text(), name, HOST)
    with pytest.raises(ProfileError, match=r":3: g:###GROUP###"):
        snapd.read((PROFILES / "snapd_privDropAndChownSyscalls.seccomp").read_text(), "privdrop", HOST)


def test_unconditional_output_is_unchanged() -> None:
    p = Profile({"x86_64": ("read", "write")}, provenance=("learned from x",), incomplete=True)
    assert snapd.write(p) == (
        "# learned from x\n# arches: x86_64\n"
        "# INCOMPLETE: records were lost while learning; the program may need more\nread\nwrite\n"
    )
    assert snapd.read(snapd.write(p), "p", HOST).profile.incomplete


def test_rules_and_directives_are_written() -> None:
    rules = (
        Rule(("ioctl",), Action.ERRNO, 13, (Arg(1, Op.MASKED_EQ, U32, 0x5412),)),
        Rule(("mknod", "mknodat"), args=(Arg(1, Op.MASKED_EQ, 0o10000, 0o10000),)),
        Rule(("chown",), args=(Arg(1, Op.MASKED_EQ, U32, 0), Arg(2, Op.MASKED_EQ, U32, U32))),
        Rule(("nice",), args=(Arg(0, Op.LE, 19),)),
    )
    result = snapd.write_result(Profile({"x86_64": ("read",)}, Action.LOG, rules=rules))
    assert result.text.splitlines()[1:] == [
        "@complain",
        "read",
        "~ioctl - 4294967295|21522",
        "mknod - |4096",
        "mknodat - |4096",
        "chown - 0 4294967295",
        "nice <=19",
    ]
    assert result.notes == ()


@pytest.mark.parametrize(
    ("rule", "note"),
    [
        (Rule(("clone3",), Action.ERRNO, 38), "becomes errno(13)"),
        (Rule(("read",), Action.TRACE, 1), "no trace rules"),
        (Rule(("read",), args=(Arg(0, Op.EQ, 1 << 32),)), "cannot say 'a0 == 0x100000000'"),
        (Rule(("setuid",), args=(Arg(0, Op.EQ, 0),)), "cannot say 'a0 == 0' for setuid"),
    ],
)
def test_what_snapd_cannot_say_is_noted(rule: Rule, note: str) -> None:
    assert any(note in n for n in snapd.write_result(Profile({"x86_64": ()}, rules=(rule,))).notes)


def test_per_arch_differences_are_noted() -> None:
    notes = snapd.write_result(Profile({"x86_64": ("read",), "x86": ("write",)})).notes
    assert notes == ("snapd has no per-arch rules: every name allowed on some arch is allowed on all",)
