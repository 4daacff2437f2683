"""learn.lowering: the set algebra is exact, checked value by value in a 6-bit world.

Every function takes the word's all-ones value (`full`), so a 6-bit word lets the tests try
every argument value, and for two arguments every pair, against the profile's semantics.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from learn.errors import ProfileError
from learn.lowering import (
    Atom,
    Cube,
    Interval,
    Punct,
    and_terms,
    args_of,
    atom_of,
    intersect,
    lower,
    negate,
    overlapping,
    subset,
    subtract,
)
from learn.model import Action
from learn.profile import Arg, Op, Verdict

FULL = 0x3F
VALUES = range(FULL + 1)


def _atom_set(atom: Atom, full: int = FULL) -> set[int]:
    if isinstance(atom, Interval):
        return set(range(atom.lo, atom.hi + 1))
    if isinstance(atom, Punct):
        return set(range(full + 1)) - {atom.v}
    return {v for v in range(full + 1) if v & atom.mask == atom.value}


values = st.integers(0, FULL)
cubes = st.builds(lambda m, v: Cube(m, v & m), values, values)
intervals = st.builds(lambda a, b: Interval(min(a, b), max(a, b)), values, values)
atoms = st.one_of(cubes, intervals, st.builds(Punct, values))
ops = st.sampled_from(list(Op))
args1 = st.builds(
    lambda i, op, v, w: Arg(i, op, v, w if op is Op.MASKED_EQ else 0), st.integers(0, 1), ops, values, values
)
verdicts = st.sampled_from([Verdict(Action.ALLOW, None), Verdict(Action.ERRNO, 13), Verdict(Action.LOG, None)])


@given(atoms, atoms)
def test_intersect_is_exact(a: Atom, b: Atom) -> None:
    got = [_atom_set(x) for x in intersect(a, b, FULL)]
    assert all(got)  # no empty atom comes out
    assert set().union(*got) == _atom_set(a) & _atom_set(b)


@given(atoms)
def test_negate_is_exact(a: Atom) -> None:
    assert set().union(*(_atom_set(x) for x in negate(a, FULL))) == set(VALUES) - _atom_set(a)


@given(args1)
def test_atoms_of_args_and_back(arg: Arg) -> None:
    atom = atom_of(arg, FULL)
    accepted = {v for v in VALUES if arg.matches(v, FULL)}
    assert (_atom_set(atom) if atom else set()) == accepted
    if atom is not None:
        back = args_of(((arg.index, atom),), FULL)
        assert {v for v in VALUES if any(all(a.matches(v, FULL) for a in combo) for combo in back)} == accepted
        assert all(len({a.index for a in combo}) == len(combo) for combo in back)


# Two arguments: a 4-bit word keeps the 256 pairs cheap to try.
FULL2 = 0xF
PAIRS = list(itertools.product(range(FULL2 + 1), repeat=2))
values2 = st.integers(0, FULL2)
atoms2 = st.one_of(
    st.builds(lambda m, v: Cube(m, v & m), values2, values2),
    st.builds(lambda a, b: Interval(min(a, b), max(a, b)), values2, values2),
    st.builds(Punct, values2),
)


def _term_set(term: tuple[tuple[int, Atom], ...]) -> set[tuple[int, int]]:
    sets = {i: _atom_set(a, FULL2) for i, a in term}
    return {p for p in PAIRS if all(p[i] in s for i, s in sets.items())}


terms = st.lists(st.tuples(st.integers(0, 1), atoms2), max_size=2, unique_by=lambda t: t[0]).map(
    lambda t: tuple(sorted(t))
)


@settings(max_examples=150)
@given(terms, terms)
def test_term_algebra_is_exact(t: tuple[tuple[int, Atom], ...], u: tuple[tuple[int, Atom], ...]) -> None:
    both = set().union(*(_term_set(x) for x in and_terms(t, u, FULL2)))
    assert both == _term_set(t) & _term_set(u)
    assert subset(t, u, FULL2) is (_term_set(t) <= _term_set(u))
    rest = set().union(*(_term_set(x) for x in subtract([t], u, FULL2)))
    assert rest == _term_set(t) - _term_set(u)


def _reference(entries: list[tuple[Verdict, tuple[Arg, ...]]], default: Verdict, pair: tuple[int, int]) -> Verdict:
    for verdict, args in entries:  # in precedence order: the first match wins
        if all(a.matches(pair[a.index], FULL2) for a in args):
            return verdict
    return default


args2 = st.builds(
    lambda i, op, v, w: Arg(i, op, v, w if op is Op.MASKED_EQ else 0), st.integers(0, 1), ops, values2, values2
)
rule_args = st.lists(args2, max_size=2, unique_by=lambda a: a.index).map(tuple)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(verdicts, rule_args), min_size=1, max_size=4), verdicts)
def test_lowered_rules_are_disjoint_and_faithful(
    entries: list[tuple[Verdict, tuple[Arg, ...]]], default: Verdict
) -> None:
    order = {Action.ERRNO: 0, Action.LOG: 1, Action.ALLOW: 2}
    entries = sorted(entries, key=lambda e: order[e[0].action])
    lowered = lower(entries, default, FULL2)
    assert all(low.verdict != default for low in lowered)
    assert all(len({a.index for a in low.args}) == len(low.args) for low in lowered)
    for pair in PAIRS:
        hits = {low.verdict for low in lowered if all(a.matches(pair[a.index], FULL2) for a in low.args)}
        assert len(hits) <= 1, (pair, hits)  # disjoint: libseccomp's order cannot matter
        assert (hits.pop() if hits else default) == _reference(entries, default, pair), pair


def test_overlapping() -> None:
    allow, deny = Verdict(Action.ALLOW, None), Verdict(Action.ERRNO, 13)
    assert overlapping([(deny, (Arg(1, Op.EQ, 5),)), (allow, ())])
    assert not overlapping([(deny, (Arg(1, Op.EQ, 5),)), (allow, (Arg(1, Op.NE, 5),))])
    assert not overlapping([(allow, (Arg(1, Op.EQ, 5),)), (allow, ())])


def test_too_many_pieces_is_an_error_not_a_huge_filter() -> None:
    allow, deny = Verdict(Action.ALLOW, None), Verdict(Action.ERRNO, 13)
    masks = [(deny, (Arg(i, Op.MASKED_EQ, (1 << 64) - 1, 7),)) for i in range(3)]
    with pytest.raises(ProfileError, match="overlap in ways"):
        lower([*masks, (allow, ())], Verdict(Action.ERRNO, 1), (1 << 64) - 1, "x")
