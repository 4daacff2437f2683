"""Lower one syscall's rules, which may overlap, to disjoint rules libseccomp compiles faithfully.

A profile says "the most restrictive matching rule wins" (learn.profile). libseccomp does not:
inside one filter an unconditional rule wipes every conditional rule of the same syscall, it
orders conditional rules by its own keys, and it refuses two comparisons of one argument in a
rule. So before rules reach libseccomp, each rule's region is cut down to the calls no more
restrictive rule matches. Regions of different actions are then disjoint, and any evaluation
order gives the profile's verdict.

The cutting is exact set algebra on each argument's values. Every region is a union of terms;
a term holds at most one atom per argument, and each atom is one libseccomp comparison or a
short union of them:
  Interval(lo, hi)  EQ / LE / GE, or aligned blocks (MASKED_EQ) for a range inside the word
  Punct(v)          NE: every value but v
  Cube(mask, value) MASKED_EQ: (arg & mask) == value
Complements and intersections of these stay in the same three shapes. The cost shows up with
masks: "not (a1 & 0xffffffff == TIOCSTI)" is 32 cubes, one per bit that can differ.

A second libseccomp 2.5.4 problem decides how terms are spelled: it merges several rules of
one syscall wrongly when they use NE/LT/LE/GT/GE (see equality_args_of). A syscall with one
rule keeps its natural comparisons; one with several gets EQ and MASKED_EQ only.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from learn.errors import ProfileError
from learn.profile import Arg, Op, Verdict

MAX_PIECES = 512  # per syscall and arch; beyond this the BPF gets near the kernel's 4096 limit
MAX_RULES = 512  # per syscall and arch once ranges are spelled out: a filter holds 4096 instructions
_PRUNE_LIMIT = 128  # the cover check is quadratic; above this, keep the duplicates-free list


# Dataclasses, not NamedTuples: Interval(0, 0) and Cube(0, 0) must not compare equal.
@dataclass(frozen=True, slots=True)
class Interval:
    lo: int
    hi: int


@dataclass(frozen=True, slots=True)
class Punct:
    v: int


@dataclass(frozen=True, slots=True)
class Cube:
    mask: int
    value: int  # always inside mask


Atom = Interval | Punct | Cube
Term = tuple[tuple[int, Atom], ...]  # (argument index, atom), sorted by index; () is "always"


class Lowered(NamedTuple):
    verdict: Verdict
    args: tuple[Arg, ...]


def _bits(mask: int) -> list[int]:
    """The set bits of mask, highest first: cube splits fix high bits first, so they nest."""
    return [1 << i for i in range(mask.bit_length() - 1, -1, -1) if mask >> i & 1]


def _blocks(lo: int, hi: int, full: int) -> list[Cube]:
    """[lo, hi] as aligned power-of-two blocks, each a cube with its low bits free."""
    out = []
    while lo <= hi:
        size = lo & -lo if lo else full + 1
        while size > 1 and lo + size - 1 > hi:
            size >>= 1
        out.append(Cube(full & ~(size - 1), lo))
        lo += size
    return out


def atom_of(arg: Arg, full: int) -> Atom | None:
    """The values arg accepts as one atom (None: no value), truncated to the ABI's word as
    libseccomp truncates on 32-bit ABIs."""
    v = arg.value & full
    match arg.op:
        case Op.EQ:
            return Interval(v, v)
        case Op.NE:
            return Punct(v)
        case Op.LT:
            return Interval(0, v - 1) if v else None
        case Op.LE:
            return Interval(0, v)
        case Op.GT:
            return Interval(v + 1, full) if v < full else None
        case Op.GE:
            return Interval(v, full)
    return Cube(v, arg.value2 & v)


def _is_full(atom: Atom, full: int) -> bool:
    return atom in (Interval(0, full), Cube(0, 0))


def negate(atom: Atom, full: int) -> list[Atom]:
    if isinstance(atom, Punct):
        return [Interval(atom.v, atom.v)]
    if isinstance(atom, Interval):
        if atom.lo == atom.hi:
            return [Punct(atom.lo)]
        out: list[Atom] = [Interval(0, atom.lo - 1)] if atom.lo else []
        return out + ([Interval(atom.hi + 1, full)] if atom.hi < full else [])
    return list(_cube_complement(atom))


def _cube_complement(c: Cube) -> list[Cube]:
    """Disjoint cubes: the first bit (highest first) where a value leaves c."""
    out, fixed = [], 0
    for bit in _bits(c.mask):
        out.append(Cube(fixed | bit, (c.value & fixed) | (~c.value & bit)))
        fixed |= bit
    return out


def _cube_and(a: Cube, b: Cube) -> list[Cube]:
    if (a.value ^ b.value) & a.mask & b.mask:
        return []
    return [Cube(a.mask | b.mask, a.value | b.value)]


def _in_cube(v: int, c: Cube) -> bool:
    return v & c.mask == c.value


def intersect(a: Atom, b: Atom, full: int) -> list[Atom]:
    if _is_full(a, full):
        return [b]
    if _is_full(b, full):
        return [a]
    if isinstance(b, Interval) and not isinstance(a, Interval):
        a, b = b, a
    if isinstance(a, Interval) and isinstance(b, Interval):
        lo, hi = max(a.lo, b.lo), min(a.hi, b.hi)
        return [Interval(lo, hi)] if lo <= hi else []
    if isinstance(a, Interval) and isinstance(b, Punct):
        if not a.lo <= b.v <= a.hi:
            return [a]
        return [i for i in (Interval(a.lo, b.v - 1), Interval(b.v + 1, a.hi)) if i.lo <= i.hi]
    if isinstance(a, Punct) and isinstance(b, Punct):
        if a.v == b.v:
            return [a]
        low, high = sorted((a.v, b.v))
        parts = (Interval(0, low - 1), Interval(low + 1, high - 1), Interval(high + 1, full))
        return [i for i in parts if 0 <= i.lo <= i.hi]
    if isinstance(a, Interval) and isinstance(b, Cube):
        if a.lo == a.hi:
            return [a] if _in_cube(a.lo, b) else []
        return [c for block in _blocks(a.lo, a.hi, full) for c in _cube_and(block, b)]
    if isinstance(a, Cube) and isinstance(b, Cube):
        return list(_cube_and(a, b))
    cube, point = (a, b) if isinstance(a, Cube) else (b, a)
    assert isinstance(cube, Cube) and isinstance(point, Punct)
    if not _in_cube(point.v, cube):
        return [cube]
    return [c for piece in _cube_complement(Cube(full, point.v)) for c in _cube_and(cube, piece)]


def and_terms(t: Term, u: Term, full: int) -> list[Term]:
    merged: dict[int, list[Atom]] = {i: [a] for i, a in t}
    for i, atom in u:
        merged[i] = intersect(merged[i][0], atom, full) if i in merged else [atom]
        if not merged[i]:
            return []
    keys = sorted(merged)
    return [tuple(zip(keys, combo, strict=True)) for combo in itertools.product(*(merged[k] for k in keys))]


def subset(t: Term, u: Term, full: int) -> bool:
    """Every call t matches, u matches too."""
    mine = dict(t)
    for i, atom in u:
        if i not in mine and _is_full(atom, full):
            continue
        if i not in mine:
            return False
        if any(intersect(mine[i], piece, full) for piece in negate(atom, full)):
            return False
    return True


class TooMany(Exception):
    """A region needs more pieces than a filter can afford."""


def subtract(pieces: list[Term], h: Term, full: int) -> list[Term]:
    out: list[Term] = []
    for p in pieces:
        if not and_terms(p, h, full):
            out.append(p)  # disjoint: untouched
            continue
        for i, atom in h:
            for neg in negate(atom, full):
                out.extend(and_terms(p, ((i, neg),), full))
        if len(out) > 4 * MAX_PIECES:  # stop early: pruning will not bring this back
            raise TooMany
    out = _prune(out, full)
    if len(out) > MAX_PIECES:
        raise TooMany
    return out


def _prune(terms: Iterable[Term], full: int) -> list[Term]:
    """Drop duplicates and terms another term already covers (same action: OR)."""
    unique = list(dict.fromkeys(terms))
    if len(unique) > _PRUNE_LIMIT:
        return unique
    return [
        t
        for k, t in enumerate(unique)
        if not any(j != k and subset(t, u, full) and (not subset(u, t, full) or j < k) for j, u in enumerate(unique))
    ]


def term_of(args: Sequence[Arg], full: int) -> Term | None:
    atoms = []
    for arg in args:
        atom = atom_of(arg, full)
        if atom is None:
            return None
        if not _is_full(atom, full):
            atoms.append((arg.index, atom))
    return tuple(atoms)


def args_of(term: Term, full: int) -> list[tuple[Arg, ...]]:
    """A term as one libseccomp rule with its natural comparisons (NE, LE, GE ...); a range
    inside the word needs aligned blocks, so several rules."""
    options: list[list[Arg]] = []
    for i, atom in term:
        if isinstance(atom, Punct):
            options.append([Arg(i, Op.NE, atom.v)])
        elif isinstance(atom, Interval) and atom.lo != atom.hi and (atom.lo == 0 or atom.hi == full):
            options.append([Arg(i, Op.LE, atom.hi) if atom.lo == 0 else Arg(i, Op.GE, atom.lo)])
        else:
            options.append(_equalities(i, atom, full))
    return [tuple(combo) for combo in itertools.product(*options)]


def equality_args_of(term: Term, full: int) -> list[tuple[Arg, ...]]:
    """A term as rules that compare with EQ and MASKED_EQ only.

    libseccomp 2.5.4 merges several rules of one syscall wrongly when they use NE, LT, LE, GT
    or GE (its 64-bit split of those goes astray: in random sets of two or three such rules
    about one in five compiled to a filter that decides some call differently), while sets
    of EQ and MASKED_EQ rules came out right every time (tests/unit/test_profile_filters.py
    keeps checking). So when a syscall has more than one rule, ranges become aligned blocks and
    `!= v` becomes one cube per bit: more rules, each one plain.
    """
    return [tuple(combo) for combo in itertools.product(*(_equalities(i, atom, full) for i, atom in term))]


def _equalities(i: int, atom: Atom, full: int) -> list[Arg]:
    if isinstance(atom, Interval):
        cubes = [Cube(full, atom.lo)] if atom.lo == atom.hi else _blocks(atom.lo, atom.hi, full)
    elif isinstance(atom, Punct):
        cubes = _cube_complement(Cube(full, atom.v))
    else:
        cubes = [atom]
    return [Arg(i, Op.EQ, c.value) if c.mask == full else Arg(i, Op.MASKED_EQ, c.mask, c.value) for c in cubes]


def lower(
    entries: Sequence[tuple[Verdict, Sequence[Arg]]], default: Verdict, full: int, what: str = "a syscall"
) -> list[Lowered]:
    """Disjoint rules for one syscall on one ABI; `entries` in precedence order, most restrictive
    first. Regions whose verdict is the default are left out: the default covers them."""
    effects = {v for v, _ in entries}
    if len(effects) == 1 and (next(iter(effects)) == default or any(not args for _, args in entries)):
        (verdict,) = effects
        return [] if verdict == default else [Lowered(verdict, ())]
    regions: dict[Verdict, list[Term]] = {}
    higher: list[tuple[Verdict, Term]] = []
    for verdict, args in entries:
        term = term_of(args, full)
        if term is None:
            continue
        pieces = [term]
        try:
            for hv, h in higher:
                if hv != verdict:
                    pieces = subtract(pieces, h, full)
        except TooMany:
            raise ProfileError(
                f"the rules for {what} overlap in ways that need over {MAX_PIECES} "
                "libseccomp rules to keep apart; simplify their argument conditions"
            ) from None
        if not any(hv == verdict and subset(term, h, full) for hv, h in higher):
            # A term another of the same verdict covers need not be cut out again.
            higher = [(hv, h) for hv, h in higher if hv != verdict or not subset(h, term, full)]
            higher.append((verdict, term))
        if verdict != default:
            regions.setdefault(verdict, []).extend(pieces)
    kept = [(v, t) for v, terms in regions.items() for t in _prune(terms, full)]
    if len(kept) == 1 and len(natural := args_of(kept[0][1], full)) == 1:
        return [Lowered(kept[0][0], natural[0])]  # a lone rule: libseccomp compiles it right
    out = [Lowered(v, a) for v, t in kept for a in equality_args_of(t, full)]
    if len(out) > MAX_RULES:
        raise ProfileError(
            f"the rules for {what} need {len(out)} libseccomp rules (at most {MAX_RULES}) to be "
            "compiled faithfully; simplify their argument conditions"
        )
    return list(dict.fromkeys(out))


def overlapping(entries: Sequence[tuple[Verdict, Sequence[Arg]]], full: int = (1 << 64) - 1) -> bool:
    """Whether rules of different verdicts match some call in common: where libseccomp, fed the
    rules as they are (runc, crun), may not give the most restrictive one."""
    terms = [(v, t) for v, args in entries if (t := term_of(args, full)) is not None]
    return any(v != w and and_terms(t, u, full) for k, (v, t) in enumerate(terms) for w, u in terms[k + 1 :])
