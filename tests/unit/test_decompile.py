"""learn.bpf: filters learn builds, and one written by hand, decompiled back to profiles that
decide every call as the filter does (and, away from socketcall(2)/ipc(2), as the source
profile does). No root needed: the filters run in learn's BPF interpreter."""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from learn.arch import AUDIT_ARCH_BY_NAME, native_arch
from learn.bpf.argsets import TRUE, Sets
from learn.bpf.assemble import decompile, normalize
from learn.bpf.decompile import stack, verdict_of
from learn.bpf.interpret import run
from learn.diff import diff
from learn.errors import ProfileError
from learn.formats import load_profile
from learn.kernel.filters import Mode, build_filter, program
from learn.kernel.multiplexers import MULTIPLEXED
from learn.model import Action
from learn.profile import Arg, Op, Profile, Rule, Verdict
from tests.conftest import HAVE_CORPUS, NO_CORPUS, SHARED
from tests.kernel import test_filters as tables
from tests.kernel.test_filters import _data_arch, _nr
from tests.unit.test_profile_filters import profiles

x86_64_only = pytest.mark.skipif(native_arch() != "x86_64", reason="syscall numbers are x86_64's")
ROOT = Path(__file__).resolve().parents[2]
MULTIPLEXERS = {"socketcall", "ipc"}
HIGH = 1 << 32


def _through_multiplexer(arch: str, name: str) -> bool:
    return name in MULTIPLEXERS or (arch == "x86" and name in MULTIPLEXED)


def probes(profile: Profile, arches: Iterable[str]) -> list[tuple[str, str, tuple[int, ...]]]:
    """Calls that tell the profile's rules apart: each value a rule names, its neighbours, with
    and without high bits, in every argument position a rule uses."""
    values = {0, 1, 0xFFFFFFFF, (1 << 64) - 1, HIGH}
    for rule in profile.rules:
        for arg in rule.args:
            for v in (arg.value, arg.value2, arg.value & arg.value2):
                values |= {v, (v + 1) % (1 << 64), (v - 1) % (1 << 64), v | HIGH, v & 0xFFFFFFFF}
    names = set(profile.names()) | set(profile.rule_names()) | {"read", "uname", "kexec_load"}
    out = []
    for arch in arches:
        for name in sorted(names):
            try:
                _nr(arch, name)
            except StopIteration:
                continue
            out.append((arch, name, ()))
            indexes = sorted({a.index for r in profile.rules if name in r.names for a in r.args})
            for index in indexes:
                for v in sorted(values):
                    out.append((arch, name, tuple(v if i == index else 0 for i in range(index + 1))))
    return out


def bpf_verdict(prog: bytes, arch: str, name: str, args: Sequence[int]) -> Verdict:
    return verdict_of(run(prog, _nr(arch, name), _data_arch(arch), tuple(args)).ret)[0]


def round_trip(source: Profile, rows: Sequence[tuple[str, str, tuple[int, ...]]] = ()) -> Profile:
    """Build source's filter, decompile it, and check the result on rows and on probes."""
    built = build_filter(source, mode=Mode.ENFORCE)
    prog = program(built)
    result = decompile([prog]).profile
    calls = [*rows, *probes(source, ("x86_64", "x86", "x32"))]
    for arch, name, args in calls:
        filtered = bpf_verdict(prog, arch, name, args)
        assert result.decide(arch, name, args) == filtered, (arch, name, args)
        if not _through_multiplexer(arch, name):
            assert filtered == source.decide(arch, name, args), (arch, name, args)
    # The canonical forms agree line for line, but where learn's multiplexer guards decide.
    changes = diff(normalize(source, built.arches), result)
    assert [line for line in changes.lines() if not any(m in line for m in MULTIPLEXERS)] == []
    return result


def _rows(table: Iterable[tuple[str, str, tuple[int, ...], int]]) -> list[tuple[str, str, tuple[int, ...]]]:
    return [(arch, name, args) for arch, name, args, _ in table]


@x86_64_only
@pytest.mark.parametrize(
    ("profile", "table"),
    [
        (tables.PROFILE, tables.ENFORCE_TABLE),
        (tables.X32_PROFILE, tables.X32_TABLE),
        (Profile({"x86_64": ("read",)}, Action.KILL_PROCESS, None), []),
        (Profile({"x86_64": ("read",)}, Action.ERRNO, 38), []),
        (Profile({"x86_64": ()}, Action.ALLOW, None, rules=(Rule(("ptrace",), Action.ERRNO, 1),)), []),
    ],
)
def test_table_profiles_round_trip(profile: Profile, table: list[tuple[str, str, tuple[int, ...], int]]) -> None:
    result = round_trip(profile, _rows(table))
    for arch, name, args, expected in table:
        assert run_ret(result, arch, name, args) == expected


def run_ret(profile: Profile, arch: str, name: str, args: tuple[int, ...]) -> int:
    """The SECCOMP_RET_* value of profile.decide, as the tables spell verdicts."""
    from learn.kernel.filters import verdict_ret

    return verdict_ret(profile.decide(arch, name, args))


@x86_64_only
@pytest.mark.parametrize(("rules", "arch", "name", "args", "expected"), tables.MULTIPLEXER_TABLE)
def test_multiplexer_table_round_trips(
    rules: tuple[Rule, ...], arch: str, name: str, args: tuple[int, ...], expected: int
) -> None:
    allowed = ("connect", "read") if rules[0].action is Action.ERRNO else ("read",)
    result = round_trip(Profile({"x86": allowed}, rules=rules), [(arch, name, args)])
    assert run_ret(result, arch, name, args) == expected


CORPUS = sorted(p.name for p in (SHARED / "corpus" / "profiles").glob("*")) if HAVE_CORPUS else []
TABLES = {
    "snapd_defaultTemplate.seccomp": tables.SNAPD_TABLE,
    "moby-profiles_seccomp_default.json": tables.MOBY_TABLE,
    "containers-common_pkg_seccomp_seccomp.json": tables.CONTAINERS_COMMON_TABLE,
}


@x86_64_only
@pytest.mark.skipif(not HAVE_CORPUS, reason=NO_CORPUS)
@pytest.mark.parametrize("name", CORPUS)
def test_corpus_profiles_round_trip(name: str) -> None:
    try:
        source = tables._corpus_profile(name)
    except ProfileError as error:
        pytest.skip(f"not a profile learn reads: {error}")
    try:
        build_filter(source, mode=Mode.ENFORCE)
    except ProfileError as error:
        pytest.skip(f"no filter can enforce it: {error}")
    table = TABLES.get(name, [])
    result = round_trip(source, _rows(table))
    for arch, call, args, expected in table:
        assert run_ret(result, arch, call, args) == expected


LEARNED = sorted((ROOT / "tests" / "golden" / "cases").glob("*/profile.oci.json"))


@x86_64_only
@pytest.mark.parametrize("path", LEARNED, ids=[p.parent.name for p in LEARNED])
def test_learned_profiles_round_trip(path: Path) -> None:
    source = load_profile(str(path)).profile
    if not {"x86_64", "x86", "x32"} & set(source.arches):
        pytest.skip(f"learned for {', '.join(source.arches)}: no filter for this host")
    result = round_trip(Profile({a: n for a, n in source.allowed.items() if a in ("x86_64", "x86", "x32")}))
    assert result.default_verdict() == source.default_verdict()


@x86_64_only
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profiles)
def test_random_profiles_round_trip(profile: Profile) -> None:
    try:
        build_filter(profile, mode=Mode.ENFORCE)
    except ProfileError:
        return
    round_trip(profile)


# --- a filter libseccomp did not write ------------------------------------------------------------

X86_64 = AUDIT_ARCH_BY_NAME["x86_64"]
ALLOW, KILL, ENOSYS = 0x7FFF0000, 0x80000000, 0x00050026
READ, WRITE, IOCTL = 0, 1, 16


def bpf(*insns: tuple[int, int, int, int]) -> bytes:
    return b"".join(struct.pack("=HBBI", *i) for i in insns)


LD, JEQ, JGE, JGT, JSET, AND, RET = 0x20, 0x15, 0x35, 0x25, 0x45, 0x54, 0x06

# Hand-written: little-endian x86_64 only; x32 numbers get ENOSYS; read allowed; write only to
# fds 0..2 (a 64-bit compare, low word first, unlike libseccomp); ioctl denied with EACCES for
# the TTY requests 0x54xx (a mask on the low word, a bit test on the high word); else EPERM.
HAND_WRITTEN = bpf(
    (LD, 0, 0, 4),  # 0 arch
    (JEQ, 1, 0, X86_64),  # 1
    (RET, 0, 0, KILL),  # 2
    (LD, 0, 0, 0),  # 3 nr
    (JGE, 0, 1, 0x40000000),  # 4
    (RET, 0, 0, ENOSYS),  # 5
    (JEQ, 0, 1, READ),  # 6
    (RET, 0, 0, ALLOW),  # 7
    (JEQ, 0, 5, WRITE),  # 8 -> 14
    (LD, 0, 0, 16),  # 9 a0 low
    (JGT, 11, 0, 2),  # 10 -> 22
    (LD, 0, 0, 20),  # 11 a0 high
    (JEQ, 0, 9, 0),  # 12 -> 22
    (RET, 0, 0, ALLOW),  # 13
    (JEQ, 0, 7, IOCTL),  # 14 -> 22
    (LD, 0, 0, 28),  # 15 a1 high
    (JSET, 5, 0, 0xFFFFFFFF),  # 16 -> 22 (EPERM)
    (LD, 0, 0, 24),  # 17 a1 low
    (AND, 0, 0, 0xFF00),  # 18
    (JEQ, 0, 1, 0x5400),  # 19
    (RET, 0, 0, 0x0005000D),  # 20 EACCES
    (RET, 0, 0, ALLOW),  # 21
    (RET, 0, 0, 0x00050001),  # 22 EPERM
)


@x86_64_only
def test_a_hand_written_filter_decompiles() -> None:
    result = decompile([HAND_WRITTEN])
    profile = result.profile
    assert profile.arches == ("x32", "x86_64")
    assert profile.default_verdict() == Verdict(Action.ERRNO, 1)
    assert profile.allowed["x86_64"] == ("read",)
    lines = [f"{r.arches}: {r.describe()}" for r in profile.rules if r.arches == ("x86_64",)]
    assert lines == [
        "('x86_64',): ioctl: errno(13) if a1 & 0xffffffff0000ff00 == 21504",  # 0x54xx, high word 0
        # the JSET on the high word; the allow may take the 0x54xx calls too, the errno wins there
        "('x86_64',): ioctl: allow if a1 <= 0xffffffff",
        "('x86_64',): write: allow if a0 <= 2",  # low word first, then the high word: one range
    ]
    assert result.notes == ("calls from arches the filter does not check get kill_process, not the default errno(1)",)
    values = [0, 1, 2, 3, HIGH, HIGH | 1, 0x5400, 0x54FF, 0x5500, HIGH | 0x5412, 0x1005412]
    for name in ("read", "write", "ioctl", "close", "getpid"):
        for v in values:
            for args in ((v,), (0, v)):
                want = verdict_of(run(HAND_WRITTEN, _nr("x86_64", name), X86_64, args).ret)[0]
                assert profile.decide("x86_64", name, args) == want, (name, args)
    assert profile.decide("x32", "read", ()) == Verdict(Action.ERRNO, 38)


def test_stacked_filters_combine_as_the_kernel_does() -> None:
    sets = Sets()
    errno = {0x00050001: TRUE}
    # The most restrictive action wins, whichever filter says it; among equal actions the
    # most recently installed filter's data (its errno).
    assert stack(sets, [{ALLOW: TRUE}, {KILL: TRUE}]) == {KILL: TRUE}
    assert stack(sets, [{0x0005000D: TRUE}, errno]) == {0x0005000D: TRUE}
    assert stack(sets, [errno, {0x0005000D: TRUE}]) == errno
    assert stack(sets, [{0x7FFC0000: TRUE}, {ALLOW: TRUE}]) == {0x7FFC0000: TRUE}


def test_arguments_beyond_simple_comparisons_are_refused() -> None:
    from learn.bpf.decompile import DecompileError

    prog = bpf((LD, 0, 0, 16), (0x04, 0, 0, 1), (RET, 0, 0, ALLOW))  # a0 + 1: no generator does this
    with pytest.raises(DecompileError, match="computes add with an argument word"):
        decompile([prog])


def test_stacked_round_trip() -> None:
    outer = Profile({"x86_64": ("read", "write", "getpid")}, Action.ERRNO, 1)
    inner = Profile({"x86_64": ("read", "getpid", "uname")}, Action.ERRNO, 38)
    progs = [program(build_filter(p, mode=Mode.ENFORCE)) for p in (outer, inner)]
    result = decompile(progs).profile
    assert result.allowed["x86_64"] == ("getpid", "read")
    assert result.decide("x86_64", "write", ()) == Verdict(Action.ERRNO, 38)  # the newer filter's errno
    assert result.decide("x86_64", "uname", ()) == Verdict(Action.ERRNO, 1)
    assert result.decide("x86_64", "kexec_load", ()) == Verdict(Action.ERRNO, 38)


def test_a_profile_with_an_argument_rule_normalizes_to_itself() -> None:
    source = Profile({"x86_64": ("read",)}, rules=(Rule(("ioctl",), Action.ERRNO, 13, (Arg(1, Op.EQ, 0x5412),)),))
    assert normalize(source, ["x86_64"]).rules == source.rules


@x86_64_only
@pytest.mark.parametrize(
    ("rules", "most"),
    [
        # "0 or odd": a BDD's paths are one cube per bit; an irredundant cover is two
        ((Rule(("read",), args=(Arg(0, Op.EQ, 0),)), Rule(("read",), args=(Arg(0, Op.MASKED_EQ, 1, 1),))), 2),
        # a0 == 0xffffffff, or a0 != 0 with a1 == 0: the second term may take 0xffffffff too (a0 != 0)
        (
            (
                Rule(("read",), args=(Arg(0, Op.EQ, 0xFFFFFFFF),)),
                Rule(("read",), args=(Arg(0, Op.NE, 0), Arg(1, Op.EQ, 0))),
            ),
            2,
        ),
        # overlapping terms: a0 in {0, 2, 4, 6} is covered by the two rules, not spelled on its own
        (
            (
                Rule(("read",), args=(Arg(0, Op.LT, 7), Arg(1, Op.GT, 21522))),
                Rule(("read",), args=(Arg(0, Op.MASKED_EQ, 1, 0), Arg(1, Op.MASKED_EQ, 1, 0))),
            ),
            2,
        ),
    ],
)
def test_sets_are_spelled_with_few_rules(rules: tuple[Rule, ...], most: int) -> None:
    result = round_trip(Profile({"x86_64": ()}, rules=rules))
    assert len([r for r in result.rules if "read" in r.names]) <= most
