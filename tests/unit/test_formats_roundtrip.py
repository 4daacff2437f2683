"""Write, read back: nothing a format can express is lost. Random profiles with per-arch names
libseccomp knows on x86_64 or x86 and random argument conditions go through OCI, snapd and SPO;
each comparison is on what that format can say (one name set for all arches, and for snapd
only allow and EACCES rules, one line per syscall)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from learn.formats import OutputFormat, oci, render, snapd, spo, write
from learn.formats.common import HostContext
from learn.formats.snapd_names import NEG_ARGS_MASK_HI32
from learn.model import Action
from learn.profile import U32, Arg, Op, Profile, Rule
from learn.syscalls import syscall_name

HOST = HostContext("x86_64", "x86", kernel=(6, 18))
NAMES = sorted({n for arch in ("x86_64", "x86") for nr in range(460) if (n := syscall_name(arch, nr))})
SNAPD_NAMES = [n for n in NAMES if n not in NEG_ARGS_MASK_HI32]


def _args(max_value: int) -> st.SearchStrategy[tuple[Arg, ...]]:
    values = st.integers(0, max_value) | st.sampled_from([0, 1, 0x5412, max_value])
    one = st.builds(
        lambda i, op, v, w: Arg(i, op, v, w if op is Op.MASKED_EQ else 0),
        st.integers(0, 5),
        st.sampled_from(list(Op)),
        values,
        values,
    )
    return st.lists(one, max_size=3, unique_by=lambda a: a.index).map(tuple)


def profiles(
    names: list[str],
    effects: list[tuple[Action, int | None]],
    defaults: list[tuple[Action, int | None]],
    max_value: int,
) -> st.SearchStrategy[Profile]:
    rule = st.builds(
        lambda ns, effect, args, arches: Rule(tuple(ns), effect[0], effect[1], args, arches),
        st.lists(st.sampled_from(names), min_size=1, max_size=3),
        st.sampled_from(effects),
        _args(max_value),
        st.none() | st.just(("x86",)),
    )
    return st.builds(
        lambda x64, x86, rules, default, incomplete: Profile(
            {"x86_64": tuple(sorted(set(x64))), "x86": tuple(sorted(set(x86)))}, default[0], default[1],
            rules=tuple(rules), incomplete=incomplete,
        ),
        st.lists(st.sampled_from(names), max_size=8),
        st.lists(st.sampled_from(names), max_size=8),
        st.lists(rule, max_size=5),
        st.sampled_from(defaults),
        st.booleans(),
    )  # fmt: skip


def _union(p: Profile) -> tuple[str, ...]:
    extra = {n for r in p.rules if r.action is Action.ALLOW and not r.args for n in r.names}
    return tuple(sorted(set(p.names()) | extra))


def _oci_view(p: Profile) -> tuple[object, ...]:
    rules = tuple(replace(r, arches=None) for r in p.rules if r.action is not Action.ALLOW or r.args)
    return p.arches, _union(p), rules, p.default_verdict()


def _snapd_view(p: Profile) -> tuple[object, ...]:
    lines = tuple(
        (n, r.action, r.errno, r.args) for r in p.rules if r.action is not Action.ALLOW or r.args for n in r.names
    )
    return _union(p), lines, p.default_verdict(), p.incomplete


ALL_EFFECTS = [(a, e) for a, e in [(Action.ALLOW, None), (Action.ERRNO, 13), (Action.ERRNO, 38), (Action.LOG, None),
               (Action.KILL_PROCESS, None), (Action.TRAP, None), (Action.TRACE, 7)]]  # fmt: skip
ALL_DEFAULTS = [
    (Action.ERRNO, 1),
    (Action.ERRNO, 38),
    (Action.KILL_PROCESS, None),
    (Action.LOG, None),
    (Action.TRACE, 3),
]
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(profiles(NAMES, ALL_EFFECTS, ALL_DEFAULTS, (1 << 64) - 1))
def test_oci_round_trip(p: Profile) -> None:
    back = oci.read(render(p, OutputFormat.OCI), "p.json", HOST).profile
    assert _oci_view(back) == _oci_view(p)


@SETTINGS
@given(profiles(NAMES, ALL_EFFECTS, [(Action.ERRNO, 1), (Action.KILL_PROCESS, None), (Action.TRACE, 1)], (1 << 63) - 1))
def test_spo_round_trip(p: Profile) -> None:
    back = spo.read(render(p, OutputFormat.SPO), "p.yaml", HOST).profile
    assert _oci_view(back) == _oci_view(p)


@SETTINGS
@given(profiles(SNAPD_NAMES, [(Action.ALLOW, None), (Action.ERRNO, 13)], [(Action.ERRNO, 1), (Action.LOG, None)], U32))
def test_snapd_round_trip(p: Profile) -> None:
    result = write(p, OutputFormat.SNAPD)
    # all else is expressible here (socketcall(2) aside, which no format can deny)
    assert all("per-arch" in n or "socketcall(2)" in n for n in result.notes)
    back = snapd.read(result.text, "p.seccomp", HOST).profile
    assert _snapd_view(back) == _snapd_view(p)
    assert back.arches == ("x86", "x86_64")  # the host's, as snap-seccomp compiles for it


@SETTINGS
@given(profiles(NAMES, ALL_EFFECTS, ALL_DEFAULTS, (1 << 64) - 1))
def test_snapd_says_what_it_loses(p: Profile) -> None:
    result = write(p, OutputFormat.SNAPD)
    back = snapd.read(result.text, "p.seccomp", HOST).profile
    if _snapd_view(back) != _snapd_view(p):
        assert any("per-arch" not in n for n in result.notes)
