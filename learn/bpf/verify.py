"""Check a built filter against the profile it was built from, where libseccomp may go wrong.

libseccomp 2.5.4's binary-tree code generation miscompiles some sets of argument rules on
32-bit ABIs: after a failed comparison on one argument it jumps to a sibling comparison on
another argument without loading that argument again, so the sibling compares the wrong value
(found by the decompiler's round-trip property test; on this kernel, an x86 write(1, NULL, 0)
under "ERRNO(13) if a0 == 0; ALLOW if a1 == 1" got EACCES instead of the default EPERM). So the
filter builder runs the program it built, in learn's BPF interpreter, on calls that tell each
argument rule apart, and compares every verdict with Profile.decide. Probes are the values the
rules name, their neighbours, with and without high bits, one argument position at a time and
in pairs of positions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from itertools import combinations

from learn.bpf.decompile import token_of, verdict_of
from learn.bpf.interpret import decode, run_decoded
from learn.model import Action
from learn.profile import Op, Profile, Verdict
from learn.syscalls import syscall_number

HIGH = 1 << 32
FULL = (1 << 64) - 1
MULTIPLEXERS = frozenset({"socketcall", "ipc"})
MAX_PROBES_PER_CALL = 2000


def _values(profile: Profile, name: str, index: int) -> set[int]:
    values = {0, 1, 0xFFFFFFFF, FULL, HIGH}
    for rule in profile.rules:
        if name in rule.names:
            for arg in rule.args:
                if arg.index == index:
                    for v in (arg.value, arg.value2, arg.value & arg.value2):
                        values |= {v, (v + 1) & FULL, (v - 1) & FULL, v | HIGH, v & 0xFFFFFFFF}
                    if arg.op is Op.MASKED_EQ:  # each bit of the mask, flipped in the datum
                        mask, datum = arg.value, arg.value2
                        values |= {(datum ^ (1 << b)) & FULL for b in range(64) if mask >> b & 1}
    return values


def probes(profile: Profile, name: str) -> Iterator[tuple[int, ...]]:
    """Argument tuples that tell the rules of name apart (bounded)."""
    indexes = sorted({a.index for r in profile.rules if name in r.names for a in r.args})
    values = {i: sorted(_values(profile, name, i)) for i in indexes}
    count = 0
    for i in indexes:
        for v in values[i]:
            yield tuple(v if k == i else 0 for k in range(i + 1))
            count += 1
    for i, j in combinations(indexes, 2):
        for vi in values[i]:
            for vj in values[j]:
                if count >= MAX_PROBES_PER_CALL:
                    return
                yield tuple(vi if k == i else vj if k == j else 0 for k in range(j + 1))
                count += 1


def _same(got: Verdict, want: Verdict) -> bool:
    """Equal verdicts; an errno the profile leaves unset is whatever the builder gives it."""
    if got.action is not want.action:
        return False
    if got.action not in (Action.ERRNO, Action.TRACE) or want.errno:
        return (got.errno or None) == (want.errno or None)
    return True


def first_disagreement(
    program: bytes,
    profile: Profile,
    arches: Sequence[str],
    expected: Callable[[str, str, tuple[int, ...]], Verdict],
    skip: Callable[[str, str], bool],
) -> tuple[str, str, tuple[int, ...], Verdict, Verdict] | None:
    """(arch, name, args, filter's verdict, expected verdict) of the first call on which the
    program and expected() differ, among the calls that argument rules decide; None if none."""
    insns = decode(program)
    for arch in arches:
        names = sorted({n for r in profile.rules if r.args for n in r.names if r.arches is None or arch in r.arches})
        for name in names:
            nr = syscall_number(arch, name)
            if nr is None or name in MULTIPLEXERS or skip(arch, name):
                continue
            data_arch = token_of(arch)  # seccomp_data.arch: x32 calls say x86_64
            for args in probes(profile, name):
                got = verdict_of(run_decoded(insns, nr, data_arch, args).ret)[0]
                want = expected(arch, name, args)
                if not _same(got, want):
                    return arch, name, args, got, want
    return None
