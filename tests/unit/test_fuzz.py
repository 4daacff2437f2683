"""Fuzzing the parsers: no input crashes them, and a damaged record never yields a wrong syscall."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from learn.dedupe import Deduplicator
from learn.model import Problem, SeccompEvent
from parsers import parse
from tests.unit.test_forms import ACCEPTED, FORGED

RECORD_ALPHABET = st.sampled_from(
    list('type=SECCOMP msg=audit(1.2:3): auid uid=0 arch=c000003e syscall=1 code=0x7ffc0000"[]<>;:,\x1d\n{}')
)
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.lists(st.text(max_size=300), max_size=20))
def test_arbitrary_text_never_crashes(lines: list[str]) -> None:
    for item in Deduplicator()(parse(lines, "fuzz")):
        assert isinstance(item, SeccompEvent | Problem)


@FUZZ
@given(st.lists(st.text(alphabet=RECORD_ALPHABET, max_size=200), max_size=10))
def test_record_like_text_never_crashes(lines: list[str]) -> None:
    for item in parse(lines, "fuzz"):
        assert isinstance(item, SeccompEvent | Problem)


@FUZZ
@given(st.sampled_from(ACCEPTED + FORGED), st.integers(min_value=0, max_value=400))
def test_a_record_cut_anywhere_gives_the_right_syscall_or_a_problem(line: str, cut: int) -> None:
    (whole,) = [e for e in parse([line], "x") if isinstance(e, SeccompEvent)] or [None]
    for item in parse([line[:cut]], "x"):
        if isinstance(item, SeccompEvent):
            assert whole is not None
            assert (item.arch, item.nr, item.action) == (whole.arch, whole.nr, whole.action)


@FUZZ
@given(st.sampled_from(ACCEPTED), st.integers(min_value=0, max_value=400), st.characters())
def test_a_corrupted_byte_never_crashes(line: str, where: int, char: str) -> None:
    where = min(where, len(line))
    for item in parse([line[:where] + char + line[where + 1 :]], "x"):
        assert isinstance(item, SeccompEvent | Problem)
