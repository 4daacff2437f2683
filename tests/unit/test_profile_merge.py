"""learn.profile.merge: a union of permissions, whatever the order of the profiles."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from learn.errors import ProfileError
from learn.model import Action
from learn.profile import EPERM, Arg, Op, Profile, Rule, Verdict, merge

ARCHES = ("x86_64", "x86", "x32")
NAMES = ("read", "write", "ioctl", "socket", "openat")
ERRNO = Verdict(Action.ERRNO, EPERM)

args = st.lists(
    st.builds(Arg, st.integers(0, 2), st.sampled_from([Op.EQ, Op.NE, Op.GE]), st.integers(0, 3)),
    max_size=2,
    unique_by=lambda a: a.index,
).map(tuple)


@st.composite
def profiles(draw: st.DrawFn, default: Verdict | None = ERRNO) -> Profile:
    arches = draw(st.lists(st.sampled_from(ARCHES), min_size=1, max_size=3, unique=True))
    allowed = {a: tuple(sorted(draw(st.sets(st.sampled_from(NAMES))))) for a in arches}
    rules = draw(
        st.lists(
            st.builds(
                Rule,
                st.lists(st.sampled_from(NAMES), min_size=1, max_size=2).map(tuple),
                st.sampled_from([Action.ALLOW, Action.ERRNO, Action.LOG]),
                st.none(),
                args,
                st.one_of(st.none(), st.lists(st.sampled_from(arches), min_size=1, unique=True).map(tuple)),
            ),
            max_size=4,
        )
    )
    chosen = default or draw(st.sampled_from([ERRNO, Verdict(Action.ERRNO, 38), Verdict(Action.ALLOW, None)]))
    errno = chosen.errno if chosen.action is Action.ERRNO else None
    provenance = tuple(draw(st.lists(st.sampled_from(["from a", "from b", "from c"]), max_size=2)))
    return Profile(allowed, chosen.action, errno, provenance, draw(st.booleans()), tuple(rules))


MERGE = settings(max_examples=300, deadline=None)


@MERGE
@given(profiles(), profiles())
def test_merge_is_commutative(a: Profile, b: Profile) -> None:
    assert merge(a, b) == merge(b, a)


@MERGE
@given(profiles(), profiles(), profiles())
def test_merge_is_associative(a: Profile, b: Profile, c: Profile) -> None:
    assert merge(merge(a, b), c) == merge(a, merge(b, c)) == merge(a, b, c)


@MERGE
@given(
    profiles(None), profiles(None), st.sampled_from(ARCHES), st.sampled_from(NAMES), st.tuples(*[st.integers(0, 4)] * 3)
)
def test_merge_allows_what_some_input_allows_and_no_more(
    a: Profile, b: Profile, arch: str, name: str, call: tuple[int, int, int]
) -> None:
    """With the default chosen, the merge allows a call iff some input allows it, unless an
    input denies it explicitly (a deny rule survives the merge) or the chosen default decides."""
    chosen = ERRNO
    m = merge(a, b, default=chosen)
    assert m == merge(b, a, default=chosen)
    verdict = m.decide(arch, name, call)
    if verdict.action is Action.ALLOW:
        assert any(p.decide(arch, name, call).action is Action.ALLOW for p in (a, b) if arch in p.arches)


def test_defaults_that_differ_are_the_users_choice() -> None:
    allow, deny = Profile({"x86_64": ("read",)}, Action.ALLOW, None), Profile({"x86_64": ("write",)})
    for pair in ((allow, deny), (deny, allow)):
        with pytest.raises(ProfileError, match=r"default actions differ \(allow, errno\(1\)\)"):
            merge(*pair)
        assert merge(*pair, default=ERRNO).default_verdict() == ERRNO
        assert merge(*pair, default=Verdict(Action.ALLOW, None)).default_verdict() == Verdict(Action.ALLOW, None)
    with pytest.raises(ProfileError, match="differ"):  # one action, two errnos
        merge(deny, Profile({"x86_64": ("read",)}, Action.ERRNO, 38))


def test_ties_between_denials_do_not_follow_argument_order() -> None:
    a = Profile({"x86_64": ()}, rules=(Rule(("ioctl",), Action.ERRNO, 13),))
    b = Profile({"x86_64": ()}, rules=(Rule(("ioctl",), Action.ERRNO, 38),))
    assert merge(a, b) == merge(b, a)
    assert merge(a, b).decide("x86_64", "ioctl") == Verdict(Action.ERRNO, 13)  # the lower errno
