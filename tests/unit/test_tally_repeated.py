"""Tally.repeated (the live block path) counts as tally.event() of each record would."""

from __future__ import annotations

from learn.model import Action, SeccompEvent
from learn.select import Selection
from learn.tally import Tally
from learn.usage import Usage
from parsers import InputFormat, parse

LINE = (
    'type=SECCOMP msg=audit({stamp}:7): auid=0 uid=0 gid=0 ses=3 pid=9 comm="b" exe="/b" sig=0 '
    "arch=c000003e syscall=3 compat=0 ip=0x1 code=0x7ffc0000"
)


def _event(stamp: str, line: int) -> SeccompEvent:
    (e,) = parse([LINE.format(stamp=stamp)], "run", InputFormat.AUDITD, line)
    assert isinstance(e, SeccompEvent)
    return e


def _tally() -> Tally:
    return Tally(["run"], Selection(actions=frozenset({Action.LOG})), live=True, usage=Usage())


def test_one_more_record_keeps_its_time_at_the_end_of_the_range() -> None:
    """Found by a clean-clone CI run: a group whose one remaining record was its latest lost
    that time (coverage's last_time), since n=1 reported only the earliest."""
    first, later = _event("1796222934.901", 1), _event("1796222934.905", 2)
    by_record, in_blocks = _tally(), _tally()
    by_record.event(first)
    by_record.event(later)
    in_blocks.event(first)
    in_blocks.repeated(first, 1, 1796222934.901, 1796222934.905, 1)
    a, b = by_record.finish(), in_blocks.finish()
    assert a.coverage.syscalls == b.coverage.syscalls
    assert a.coverage.runs == b.coverage.runs
    assert a.counts._counts == b.counts._counts
