"""The filter learn builds decides every call as Profile.decide says: random profiles with
argument conditions and per-rule actions, built by learn.kernel.filters, run in the BPF
simulator. No root needed."""

from __future__ import annotations

import pyseccomp
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from learn.arch import AUDIT_ARCH_BY_NAME
from learn.errors import ProfileError
from learn.kernel.filters import Mode, build_filter, export_bpf, export_pfc, program
from learn.model import Action
from learn.profile import ARCHES_32, Arg, Op, Profile, Rule, Verdict
from tests.bpf_sim import run
from tests.kernel.test_filters import _data_arch, _nr

ARCHES = ("x86_64", "x86")
NAMES = ("read", "write", "ioctl", "openat", "close")  # none reached through a multiplexer
VALUES = (0, 1, 2, 7, 0x5412, 0xFFFFFFFF, 1 << 32, (1 << 32) | 0x5412, (1 << 64) - 1)

values = st.sampled_from(VALUES) | st.integers(0, 16)
args = st.builds(
    lambda i, op, v, w: Arg(i, op, v, w if op is Op.MASKED_EQ else 0),
    st.integers(0, 2),
    st.sampled_from(list(Op)),
    values,
    values,
)
effects = st.sampled_from(
    [(Action.ALLOW, None), (Action.ERRNO, 13), (Action.ERRNO, 1), (Action.LOG, None), (Action.KILL_PROCESS, None)]
)
rules = st.builds(
    lambda names, effect, a, arches: Rule(tuple(names), effect[0], effect[1], tuple(a), arches),
    st.lists(st.sampled_from(NAMES), min_size=1, max_size=2),
    effects,
    st.lists(args, max_size=2, unique_by=lambda x: x.index),
    st.none() | st.sampled_from([("x86_64",), ("x86",)]),
)
profiles = st.builds(
    lambda allowed, r: Profile(
        {a: tuple(sorted(set(n))) for a, n in zip(ARCHES, allowed, strict=True)}, rules=tuple(r)
    ),
    st.tuples(*(st.lists(st.sampled_from(NAMES), max_size=3) for _ in ARCHES)),
    st.lists(rules, max_size=4),
)
calls = st.tuples(st.sampled_from(ARCHES), st.sampled_from(NAMES), st.tuples(values, values, values))

RET = {Action.ALLOW: 0x7FFF0000, Action.LOG: 0x7FFC0000, Action.KILL_PROCESS: 0x80000000}


def _ret(v: Verdict) -> int:
    return 0x00050000 | (v.errno or 0) if v.action is Action.ERRNO else RET[v.action]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profiles, st.lists(calls, min_size=10, max_size=30))
def test_filters_decide_as_the_profile_says(profile: Profile, probes: list[tuple[str, str, tuple[int, ...]]]) -> None:
    try:
        prog = export_bpf(build_filter(profile, mode=Mode.ENFORCE).filter)
    except ProfileError as e:
        # Refused, not wrong: conditions that would need too many rules, or rules libseccomp
        # 2.5.4 compiles wrong both as a tree and as a chain (learn.bpf.verify; see the test below).
        assume("simplify their argument conditions" not in str(e) and "refusing to load it" not in str(e))
        raise
    for arch, name, a in probes:
        if arch in ARCHES_32:
            a = tuple(x & 0xFFFFFFFF for x in a)  # what the kernel hands a 32-bit ABI's filter
        got = run(prog, _nr(arch, name), _data_arch(arch), a).ret
        assert got == _ret(profile.decide(arch, name, a)), (arch, name, a)


def test_rules_libseccomp_compiles_wrong_every_way_are_refused_not_loaded() -> None:
    """Found by the property test above: overlapping conditional rules of three actions on one
    syscall, which libseccomp 2.5.4 turns into a filter that kills where the profile says
    EPERM, in its binary tree and in its linear chain alike. learn loads neither."""
    profile = Profile(
        {"x86_64": (), "x86": ()},
        rules=(
            Rule(("openat",), Action.ALLOW, None, (), None),
            Rule(("openat",), Action.ERRNO, 1, (Arg(1, Op.NE, 0), Arg(2, Op.NE, 0)), ("x86",)),
            Rule(("openat",), Action.KILL_PROCESS, None, (Arg(0, Op.LE, (1 << 64) - 1), Arg(1, Op.LT, 10)), None),
        ),
    )
    with pytest.raises(ProfileError, match=r"libseccomp builds a filter that gives openat\(.*refusing to load it"):
        build_filter(profile, mode=Mode.ENFORCE)


@pytest.mark.parametrize("arch", sorted(AUDIT_ARCH_BY_NAME))
def test_arches_32_is_what_libseccomp_does(arch: str) -> None:
    flt = pyseccomp.SyscallFilter(pyseccomp.ERRNO(1))
    token = AUDIT_ARCH_BY_NAME[arch]
    if token != pyseccomp.system_arch():
        flt.remove_arch(pyseccomp.Arch.NATIVE)
        flt.add_arch(token)
    flt.add_rule(pyseccomp.ALLOW, "read", pyseccomp.Arg(0, pyseccomp.EQ, (1 << 32) | 5))
    compares_high_word = "$a0.hi32" in export_pfc(flt)
    assert (arch in ARCHES_32) is not compares_high_word


# Calls x86 also reaches through socketcall(2) (issue 8): direct calls follow the profile exactly,
# and the multiplexer, which cannot see their arguments, never gives a call more than the profile
# would give it for any arguments (learn.kernel.multiplexers).
SOCKET_CALLS = {"socket": 1, "bind": 2, "connect": 3}
MUX_NAMES = (*SOCKET_CALLS, "read")
mux_rules = st.builds(
    lambda names, effect, a: Rule(tuple(names), effect[0], effect[1], tuple(a)),
    st.lists(st.sampled_from(MUX_NAMES), min_size=1, max_size=2),
    effects,
    st.lists(args, max_size=2, unique_by=lambda x: x.index),
)
mux_profiles = st.builds(
    lambda allowed, r: Profile({"x86": tuple(sorted(set(allowed)))}, rules=tuple(r)),
    st.lists(st.sampled_from(MUX_NAMES), max_size=3),
    st.lists(mux_rules, max_size=4),
)
ARGS_32 = st.tuples(*[st.sampled_from([0, 1, 2, 7, 0x5412, 0xFFFFFFFF]) | st.integers(0, 16)] * 3)
RANK = {ret: rank for rank, ret in enumerate([0x80000000, 0x00000000, 0x00030000, 0x00050000, 0x7FC00000,
                                               0x7FF00000, 0x7FFC0000, 0x7FFF0000])}  # fmt: skip


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mux_profiles, st.lists(st.tuples(st.sampled_from(MUX_NAMES), ARGS_32), min_size=20, max_size=40))
def test_multiplexers_never_give_more_than_the_profile(
    profile: Profile, probes: list[tuple[str, tuple[int, ...]]]
) -> None:
    try:
        prog = program(build_filter(profile, mode=Mode.ENFORCE))
    except ProfileError as e:
        assume("simplify their argument conditions" not in str(e))
        raise
    x86 = _data_arch("x86")
    for name, a in probes:
        assert run(prog, _nr("x86", name), x86, a).ret == _ret(profile.decide("x86", name, a)), (name, a)
    for name, call in SOCKET_CALLS.items():
        got = run(prog, _nr("x86", "socketcall"), x86, (call, 0x1000)).ret
        if not any(rule.args for rule in profile.rules_for("x86", name)):
            assert got == _ret(profile.decide("x86", name)), name
            continue
        seen = [_ret(profile.decide("x86", n, a)) for n, a in probes if n == name] + [_ret(profile.decide("x86", name))]
        assert RANK[got & 0xFFFF0000] <= min(RANK[r & 0xFFFF0000] for r in seen), (name, hex(got))


def test_libseccomps_binary_tree_miscompiling_32_bit_argument_rules_is_caught() -> None:
    """libseccomp 2.5.4's tree compares x86 write's a1 against a0's constant after a failed a1
    check (found by the decompiler's round trip; on the kernel: EACCES instead of EPERM)."""
    from learn.bpf.interpret import run
    from learn.bpf.verify import first_disagreement
    from learn.kernel.filters import Mode, build_filter, program
    from learn.model import Action
    from learn.profile import Arg, Op, Profile, Rule

    profile = Profile(
        {"x86_64": (), "x86": ()},
        rules=(
            Rule(("read",), Action.ALLOW, None),
            Rule(("read", "write"), Action.ERRNO, 13, (Arg(0, Op.EQ, 0),)),
            Rule(("write",), Action.ALLOW, None, (Arg(1, Op.EQ, 1),)),
        ),
    )
    tree = build_filter(profile, mode=Mode.ENFORCE, optimize=True)
    prog = program(tree)
    assert first_disagreement(prog, profile, tree.arches, profile.decide, lambda _a, _n: False) is None
    x86_write = 4
    assert run(prog, x86_write, 0x40000003, (1, 0)).ret == 0x00050001  # ERRNO(EPERM), not ERRNO(13)
