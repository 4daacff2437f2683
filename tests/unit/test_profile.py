"""learn.profile: the model, its reference semantics (decide), merge and diff."""

from __future__ import annotations

import pytest

from learn.diff import diff
from learn.errors import ProfileError
from learn.model import Action
from learn.profile import EPERM, U32, Arg, Op, Profile, Rule, Verdict, merge

TIOCSTI = 0x5412
ALLOW = Verdict(Action.ALLOW, None)
DENY = Verdict(Action.ERRNO, EPERM)
EACCES = Verdict(Action.ERRNO, 13)


def test_the_old_constructor_and_accessors_still_work() -> None:
    p = Profile({"x86_64": ("read", "write"), "x86": ("read",)}, Action.ERRNO, 1, ("from x",), True)
    assert p.arches == ("x86", "x86_64")
    assert p.names() == ("read", "write")
    assert p.rules == () and p.incomplete and p.provenance == ("from x",)


@pytest.mark.parametrize(
    ("arg", "value", "expected"),
    [
        (Arg(0, Op.EQ, 5), 5, True),
        (Arg(0, Op.EQ, 5), 6, False),
        (Arg(0, Op.NE, 5), 6, True),
        (Arg(0, Op.LT, 5), 4, True),
        (Arg(0, Op.LT, 5), 5, False),
        (Arg(0, Op.LE, 5), 5, True),
        (Arg(0, Op.GT, 5), 6, True),
        (Arg(0, Op.GE, 5), 5, True),
        (Arg(0, Op.MASKED_EQ, 0x7E020000, 0), 0x11, True),  # moby's clone: no namespace flags
        (Arg(0, Op.MASKED_EQ, 0x7E020000, 0), 0x10000011, False),  # CLONE_NEWUSER
        (Arg(1, Op.MASKED_EQ, 0o4000, 0o4000), 0o4755, True),  # snapd's |S_ISUID
        (Arg(1, Op.MASKED_EQ, 0x3, 0x7), 0x3, True),  # libseccomp masks the datum too
    ],
)
def test_arg_matches(arg: Arg, value: int, expected: bool) -> None:
    assert arg.matches(value) is expected


def test_32_bit_abis_compare_the_low_word_only() -> None:
    rule = Rule(("ioctl",), Action.ERRNO, 13, (Arg(1, Op.EQ, TIOCSTI),))
    p = Profile({"x86_64": ("ioctl",), "x86": ("ioctl",)}, rules=(rule,))
    high = (1 << 32) | TIOCSTI
    assert p.decide("x86_64", "ioctl", (0, high)) == ALLOW
    assert p.decide("x86", "ioctl", (0, high)) == EACCES


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"names": ()}, "at least one syscall"),
        ({"names": ("a",), "args": (Arg(0, Op.EQ, 1), Arg(0, Op.EQ, 2))}, "compares one argument twice"),
        ({"names": ("a",), "action": Action.LOG, "errno": 3}, "takes no errno"),
        ({"names": ("a",), "action": Action.ERRNO, "errno": -1}, "outside 0.."),
        ({"names": ("a",), "action": Action.TRACE, "errno": 1 << 16}, "outside 0..65535"),
    ],
)
def test_rules_refuse_what_libseccomp_refuses(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        Rule(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "message"),
    [((6, Op.EQ, 0), "index 6"), ((0, Op.EQ, 1 << 64), "64 unsigned"), ((0, Op.EQ, 1, 2), "one value")],
)
def test_args_are_checked(args: tuple[int, Op, int], message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        Arg(*args)


def test_rules_are_normalized() -> None:
    a = Rule(("write", "read", "read"), Action.ERRNO, None, (Arg(2, Op.EQ, 1), Arg(0, Op.EQ, 1)), ("x86_64", "x86"))
    b = Rule(("read", "write"), Action.ERRNO, EPERM, (Arg(0, Op.EQ, 1), Arg(2, Op.EQ, 1)), ("x86", "x86_64"))
    assert a == b
    assert a.describe() == "read write: errno(1) if a0 == 1 && a2 == 1"


def test_a_rule_for_an_arch_the_profile_lacks_is_refused() -> None:
    with pytest.raises(ProfileError, match="arches the profile lacks"):
        Profile({"x86_64": ()}, rules=(Rule(("read",), arches=("x86",)),))


SNAPD_LIKE = Profile(
    {"x86_64": ("ioctl", "read")},
    rules=(
        Rule(("ioctl",), Action.ERRNO, 13, (Arg(1, Op.EQ, TIOCSTI),)),
        Rule(("socket",), Action.ALLOW, None, (Arg(0, Op.EQ, 1),)),
        Rule(("openat2",), Action.ERRNO, 13),
        Rule(("ptrace",), Action.KILL_PROCESS, None, (Arg(0, Op.EQ, 16),)),
        Rule(("ptrace",), Action.LOG),
    ),
)


@pytest.mark.parametrize(
    ("arch", "name", "args", "expected"),
    [
        ("x86_64", "read", (), ALLOW),
        ("x86_64", "ioctl", (0, 0x5401), ALLOW),
        ("x86_64", "ioctl", (0, TIOCSTI), EACCES),  # the denial beats the unconditional allow
        ("x86_64", "socket", (1,), ALLOW),
        ("x86_64", "socket", (2,), DENY),
        ("x86_64", "openat2", (), EACCES),  # an explicit rule beats the default
        ("x86_64", "ptrace", (16,), Verdict(Action.KILL_PROCESS, None)),
        ("x86_64", "ptrace", (0,), Verdict(Action.LOG, None)),
        ("x86_64", "write", (), DENY),
        ("x86", "read", (), DENY),  # an arch outside the profile: the default
    ],
)
def test_decide_takes_the_most_restrictive_matching_rule(
    arch: str, name: str, args: tuple[int, ...], expected: Verdict
) -> None:
    assert SNAPD_LIKE.decide(arch, name, args) == expected


def test_ties_between_errnos_go_to_the_earlier_rule() -> None:
    rules = (Rule(("a",), Action.ERRNO, 38), Rule(("a",), Action.ERRNO, 13))
    assert Profile({"x86_64": ()}, rules=rules).decide("x86_64", "a") == Verdict(Action.ERRNO, 38)


def test_merge_unites_names_and_keeps_every_rule() -> None:
    a = Profile({"x86_64": ("read",)}, rules=(Rule(("ioctl",), Action.ERRNO, 13, (Arg(1, Op.EQ, TIOCSTI),)),))
    b = Profile({"x86_64": ("ioctl", "write"), "x86": ("read",)}, Action.KILL_PROCESS, None, ("b",), True)
    with pytest.raises(ProfileError, match="default actions differ"):
        merge(a, b)
    m = merge(a, b, default=Verdict(Action.ERRNO, 1))
    assert m.allowed == {"x86": ("read",), "x86_64": ("ioctl", "read", "write")}
    assert (m.default_action, m.incomplete, m.provenance) == (Action.ERRNO, True, ("b",))
    # a's rule covered a's arches only, and stays so; its denial survives b's allow.
    assert m.rules == (Rule(("ioctl",), Action.ERRNO, 13, (Arg(1, Op.EQ, TIOCSTI),), ("x86_64",)),)
    assert m.decide("x86_64", "ioctl", (0, TIOCSTI)) == EACCES
    assert merge(a, a).rules == a.rules


def test_merge_of_unconditional_profiles_is_unchanged() -> None:
    a, b = Profile({"x86_64": ("read",)}), Profile({"x86_64": ("write",)})
    assert merge(a, b) == Profile({"x86_64": ("read", "write")})


def test_diff_per_arch_names_rules_and_default() -> None:
    a = Profile({"x86_64": ("read", "write"), "x86": ("read",)}, rules=(Rule(("socket",), args=(Arg(0, Op.EQ, 1),)),))
    b = Profile(
        {"x86_64": ("read", "openat")},
        Action.KILL_PROCESS,
        rules=(Rule(("socket",), args=(Arg(0, Op.EQ, 2),)),),
    )
    d = diff(a, b)
    assert d.added == {"x86_64": ("openat",)}
    assert d.removed == {"x86": ("read",), "x86_64": ("write",)}
    assert d.rules_added == {"x86_64": ("socket: allow if a0 == 2",)}
    assert d.rules_removed == {"x86": ("socket: allow if a0 == 1",), "x86_64": ("socket: allow if a0 == 1",)}
    assert d.arches_removed == ("x86",) and d.arches_added == ()
    assert d.default == ("errno(1)", "kill_process")
    assert "+x86_64 openat" in d.lines() and "-x86_64 socket: allow if a0 == 1" in d.lines()
    assert not diff(a, a)


def test_u32_constant() -> None:
    assert U32 == 0xFFFFFFFF
