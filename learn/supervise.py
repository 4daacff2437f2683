"""Run a target under a filter while a live source collects the records of its session.

`learn run`, `learn check` and `learn enforce` differ only in the filter they install and
in what they make of the records; the plumbing is here. Only the records of the target's
own audit session count (see learn.kernel.launch), parsed by the same parsers as logs, one
at a time: a run of a million syscalls must not hold a million events in memory.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from learn.kernel import features, launch
from learn.kernel.sources import LossReport, SpoolingSource, choose_source
from learn.model import Item, SeccompEvent
from parsers import InputFormat, parse

BACKLOG_LIMIT = 1 << 16  # records the kernel queues before it makes the target wait
SOURCE_NAME = "run"  # what events of a live run give as their source


@dataclass
class Supervised:
    argv: Sequence[str]
    status: int  # the target's exit status, 128+N when killed by signal N
    source: str
    loss: LossReport
    session: int
    records: int = 0  # records the source collected, from every process
    events: int = 0  # the target's
    target_lines: list[str] = field(default_factory=list)  # the target's records, if kept

    @property
    def lost(self) -> int:
        return self.loss.lost


def supervise(
    argv: Sequence[str],
    install: Callable[[], None],
    on_item: Callable[[Item], None],
    source: str | None = None,
    creds: launch.Credentials | None = None,
    keep_lines: bool = False,
) -> Supervised:
    """Run argv; hand every event of its session, and every problem, to on_item."""
    features.require([c for c in features.run_checks() if c.name != "flag-log"])
    with features.raised_backlog_limit(BACKLOG_LIMIT), _started(choose_source(source)) as live:
        try:
            target = launch.start(argv, install, creds)
            with launch.forwarding(target.pid):
                status = launch.wait(target.pid)
        finally:
            live.stop()
        session = target.session
        if session == launch.UNSET_LOGINUID:  # it exited before we looked: take its first record's
            session = _first_session(live.lines(), target.pid) or session
        run = Supervised(argv, status, live.name, live.loss, session)
        current = ""

        def counted() -> Iterator[str]:
            nonlocal current
            for current in live.lines():
                run.records += 1
                yield current

        for item in parse(counted(), SOURCE_NAME, InputFormat.AUDITD):
            if isinstance(item, SeccompEvent):
                if item.ses != session:
                    continue
                run.events += 1
                if keep_lines:
                    run.target_lines.append(current)
            on_item(item)
    return run


def _first_session(lines: Iterator[str], pid: int) -> int | None:
    for item in parse(lines, SOURCE_NAME, InputFormat.AUDITD):
        if isinstance(item, SeccompEvent) and item.pid == pid and item.ses:
            return item.ses
    return None


@contextlib.contextmanager
def _started(source: SpoolingSource) -> Iterator[SpoolingSource]:
    with source:
        source.start()
        yield source
