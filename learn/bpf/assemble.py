"""What a filter decides (learn.bpf.decompile's table) as a Profile, and a Profile's own meaning
in the same terms, so that the two can be compared line by line.

Per arch and syscall, the verdicts and their argument sets become rules of one canonical shape:
the least restrictive verdict (or the profile's default) is the fallback, every other verdict a
rule whose conditions are exactly its argument set, read back as the fewest libseccomp
comparisons (learn.bpf.argsets). Those rules never overlap except with the unconditional
fallback, which is the least restrictive, so `Profile.decide` gives each call the filter's
verdict. The same sets give the same text, whoever built the filter.
"""

from __future__ import annotations

import contextlib
import itertools
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from learn.bpf.argsets import FALSE, TRUE, Sets, TooComplex
from learn.bpf.decompile import Table, arch_numbers
from learn.errors import ProfileError
from learn.model import Action
from learn.profile import EPERM, U32, Arg, Profile, Rule, Verdict, arg_mask, rank

Decisions = Mapping[tuple[str, str], Mapping[Verdict, int]]  # (arch, name) -> verdict -> args


@dataclass(frozen=True)
class Decompiled:
    profile: Profile
    other_arches: Verdict | None  # what arches the filter does not check get; None: it depends
    notes: tuple[str, ...]


@lru_cache(maxsize=64)
def names_of(arch: str) -> dict[int, str]:
    return arch_numbers(arch)


def profile_of(sets: Sets, table: Table, default: Verdict | None = None) -> Decompiled:
    """The profile that decides every call as the table does (and notes on what it cannot say);
    `default` forces the default verdict (to compare with a profile: the same meaning must then
    print the same lines)."""
    notes: list[str] = []
    other = _unconditional(table.other_arches)
    if other is not None:
        # An arch the program names but treats as any other (runc's filters name every arch its
        # libseccomp knows) is not checked: leave it out, as the kernel's verdict for it is other's.
        checked = {arch for (arch, _), p in table.decisions.items() if p != {other: TRUE}}
        if checked != set(table.arches):
            kept = tuple(a for a in table.arches if a in checked)
            table = replace(table, arches=kept, decisions={k: p for k, p in table.decisions.items() if k[0] in checked})
    default = default or _default(table, other)
    decisions = {(arch, names_of(arch)[nr]): part for (arch, nr), part in table.decisions.items()}
    arches = [a for a in table.arches if any(p != {default: TRUE} for (b, _), p in decisions.items() if b == a)]
    if not table.checks_arch:
        notes.append(
            "the filter does not check the arch: its numbers mean other syscalls on other ABIs; shown for "
            + ", ".join(table.arches)
        )
    if other is None:
        notes.append("calls from arches the filter does not check get verdicts that depend on the syscall")
    elif other != default:
        notes.append(f"calls from arches the filter does not check get {other}, not the default {default}")
    if table.reads.instruction_pointer:
        notes.append("the filter reads the instruction pointer, which a profile cannot: shown for address 0")
    if table.unknown_actions:
        codes = ", ".join(f"{r:#010x}" for r in table.unknown_actions)
        notes.append(f"return values with actions the kernel does not know ({codes}) kill the process")
    profile = build(sets, decisions, arches, default)
    return Decompiled(profile, other, tuple(notes))


def _unconditional(part: Mapping[Verdict, int]) -> Verdict | None:
    return next(iter(part)) if len(part) == 1 else None


def _default(table: Table, other: Verdict | None) -> Verdict:
    """What the numbers no syscall has get (the filter's own default), each arch one vote, ties
    to the first arch the filter checks; without such numbers, the verdict most syscalls get
    unconditionally, ties to the other arches' verdict."""
    votes: dict[Verdict, int] = {}
    for arch in table.arches:
        holes = table.holes.get(arch)
        if holes:
            verdict = max(holes, key=lambda v: holes[v])
            votes[verdict] = votes.get(verdict, 0) + 1
    if votes:
        return max(votes, key=lambda v: votes[v])  # max keeps the first of equals: the first arch's
    counts: Counter[Verdict] = Counter()
    for part in table.decisions.values():
        if (only := _unconditional(part)) is not None:
            counts[only] += 1
    if not counts:
        return other or Verdict(Action.ERRNO, EPERM)
    best = max(counts.values())
    tied = [v for v, n in counts.items() if n == best]
    if other in tied:
        return other
    return min(tied, key=lambda v: (rank(v.action), v.errno or 0))


def build(sets: Sets, decisions: Decisions, arches: Sequence[str], default: Verdict) -> Profile:
    allowed: dict[str, list[str]] = {arch: [] for arch in arches}
    conditional: dict[tuple[Verdict, tuple[Arg, ...], str], list[str]] = {}
    fallback: dict[tuple[Verdict, str], list[str]] = {}
    for (arch, name), part in sorted(decisions.items()):
        if arch not in allowed or part == {default: TRUE}:
            continue
        floor, rules = _rules(sets, part, default, arg_mask(arch))
        for verdict, args in rules:
            conditional.setdefault((verdict, args, name), []).append(arch)
        if floor == default:
            continue
        if floor == Verdict(Action.ALLOW, None):
            allowed[arch].append(name)
        else:
            fallback.setdefault((floor, name), []).append(arch)
    every = tuple(arches)
    by_arches: dict[tuple[Verdict, tuple[Arg, ...], tuple[str, ...]], list[str]] = {}
    for (verdict, args, name), on in conditional.items():
        by_arches.setdefault((verdict, args, tuple(on)), []).append(name)
    for (verdict, name), on in fallback.items():
        by_arches.setdefault((verdict, (), tuple(on)), []).append(name)
    made = [
        Rule(tuple(names), v.action, v.errno, args, None if on == every else on)
        for (v, args, on), names in by_arches.items()
    ]
    # Conditional rules first: a fallback of the same action must lose ties to them.
    made.sort(key=lambda r: (not r.args, rank(r.action), r.errno or 0, r.names, r.args, r.arches or ()))
    try:
        return Profile(
            {arch: tuple(sorted(names)) for arch, names in allowed.items()},
            default.action,
            default.errno if default.action in (Action.ERRNO, Action.TRACE) else None,
            rules=tuple(made),
        )
    except ProfileError as error:
        raise ProfileError(f"the filter decides too much to be said as a profile: {error}") from None


def _rules(
    sets: Sets, part: Mapping[Verdict, int], default: Verdict, full: int
) -> tuple[Verdict, list[tuple[Verdict, tuple[Arg, ...]]]]:
    """The fallback verdict and the conditional rules for one syscall: of the default and the
    least restrictive verdict as fallback, the one that needs fewer rules."""
    width = 32 if full == U32 else 64
    loosest = max(part, key=lambda v: (rank(v.action), -(v.errno or 0)))
    best: tuple[int, Verdict, list[tuple[Verdict, tuple[Arg, ...]]]] | None = None
    for floor in dict.fromkeys((default, loosest)):
        try:
            rules = []
            for v, region in part.items():
                if v == floor:
                    continue
                # A rule may also match calls a more restrictive rule takes: the most restrictive
                # matching rule decides (never the fallback's calls: no rule stands for those).
                upper = region
                for w, more in part.items():
                    if w != floor and rank(w.action) < rank(v.action):
                        upper = sets.either(upper, more)
                rules += [(v, args) for args in spell(sets, region, width, upper)]
        except TooComplex:
            if floor == loosest and best is None:
                raise
            continue
        cost = len(rules) + (floor not in (default, Verdict(Action.ALLOW, None)))
        if best is None or cost < best[0]:
            best = (cost, floor, rules)
    assert best is not None
    return best[1], best[2]


def spell(sets: Sets, region: int, width: int, upper: int | None = None) -> list[tuple[Arg, ...]]:
    """A set of calls as rules (alternatives), each at most one comparison per argument, matching
    every call of region and none outside upper (default: region): the fewer of the spellings of
    region and of upper."""
    tries = [_spell(sets, region, region, width)]
    if upper is not None and upper != region:
        with contextlib.suppress(TooComplex):
            tries.append(_spell(sets, region, upper, width))
    return min(tries, key=len)


def _spell(sets: Sets, region: int, upper: int, width: int) -> list[tuple[Arg, ...]]:
    """Each term of upper (learn.bpf.argsets.terms) is spelled on its own; then a term whose
    calls of region the other terms' rules already match is dropped, costliest first."""
    spelled: list[tuple[list[tuple[Arg, ...]], int, int]] = []  # rules, the calls they match, needed
    for term in sets.terms(upper):
        needed = region
        for lower, _ in term.values():
            needed = sets.both(needed, lower)
        if needed == FALSE:
            continue  # calls the rule may match, none it must
        options = [sets.conditions(lower, high, index, width) for index, (lower, high) in sorted(term.items())]
        rules = [tuple(a for alt in combo for a in alt) for combo in itertools.product(*options)]
        matched = FALSE
        for rule in rules:
            one = TRUE
            for arg in rule:
                one = sets.both(one, sets.of_arg(arg, width))
            matched = sets.either(matched, one)
        spelled.append((rules, matched, needed))
    kept = list(range(len(spelled)))
    for i in sorted(kept, key=lambda k: -len(spelled[k][0])):
        others = FALSE
        for j in kept:
            if j != i:
                others = sets.either(others, spelled[j][1])
        if sets.minus(spelled[i][2], others) == FALSE:
            kept.remove(i)
    return [rule for k in kept for rule in spelled[k][0]]


def meaning(sets: Sets, profile: Profile, arches: Sequence[str]) -> dict[tuple[str, str], dict[Verdict, int]]:
    """What Profile.decide gives each syscall of arches, as verdict -> argument set: the profile's
    rules most restrictive first (earlier first among equals), then its allowed names."""
    out: dict[tuple[str, str], dict[Verdict, int]] = {}
    default = profile.default_verdict()
    by_name = profile.rules_by_name()
    for arch in arches:
        width = 32 if arg_mask(arch) == U32 else 64
        known = set(names_of(arch).values())
        listed = arch in profile.allowed
        for name in sorted(known):
            part: dict[Verdict, int] = {}
            rest = TRUE
            rules = [r for r in by_name.get(name, ()) if r.applies(arch, name, profile.arches)] if listed else []
            for rule in sorted(rules, key=lambda r: rank(r.action)):
                region = TRUE
                for arg in rule.args:
                    region = sets.both(region, sets.of_arg(arg, width))
                hit = sets.both(rest, region)
                if hit != FALSE:
                    verdict = Verdict(rule.action, rule.errno)
                    part[verdict] = sets.either(part.get(verdict, FALSE), hit)
                    rest = sets.minus(rest, region)
            if rest != FALSE:
                floor = Verdict(Action.ALLOW, None) if listed and name in profile.allowed[arch] else default
                part[floor] = sets.either(part.get(floor, FALSE), rest)
            out[arch, name] = part
    return out


def normalize(profile: Profile, arches: Sequence[str]) -> Profile:
    """The profile in the decompiler's canonical shape, for the arches given that it lists."""
    sets = Sets()
    default = profile.default_verdict()
    decisions = meaning(sets, profile, [a for a in arches if a in profile.allowed])
    # An arch where every call gets the default is the same as an arch not listed, as in profile_of.
    listed = [a for a in arches if any(p != {default: TRUE} for (b, _), p in decisions.items() if b == a)]
    return build(sets, decisions, listed, default)


def decompile(programs: Sequence[bytes], default: Verdict | None = None) -> Decompiled:
    """The profile a stack of seccomp programs (oldest first) enforces (with this default verdict)."""
    from learn.bpf.decompile import evaluate

    sets = Sets()
    return profile_of(sets, evaluate(sets, programs), default)
