"""Run a target under a filter while a live source collects the records of its session.

`learn run`, `learn check` and `learn enforce` differ only in the filter they install and
in what they make of the records; the plumbing is here. Only the records of the target's
own audit session count (see learn.kernel.launch), parsed by the same parsers as logs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

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
    records: int  # records the source collected, from every process
    target_lines: list[str]  # the target's records, audit.log form
    target_items: list[Item]  # their events, and every problem in what was collected

    @property
    def lost(self) -> int:
        return self.loss.lost


def supervise(
    argv: Sequence[str],
    install: Callable[[], None],
    source: str | None = None,
    creds: launch.Credentials | None = None,
) -> Supervised:
    features.require(features.run_checks())
    with features.raised_backlog_limit(BACKLOG_LIMIT), _started(choose_source(source)) as live:
        try:
            target = launch.start(argv, install, creds)
            with launch.forwarding(target.pid):
                status = launch.wait(target.pid)
        finally:
            live.stop()
        lines = list(live.lines())
    items = list(parse(lines, SOURCE_NAME, InputFormat.AUDITD))
    session = target.session
    if session == launch.UNSET_LOGINUID:  # it exited before we looked: take its first record's
        firsts = (e.ses for e in items if isinstance(e, SeccompEvent) and e.pid == target.pid and e.ses)
        session = next(firsts, session)
    mine = [i for i in items if not isinstance(i, SeccompEvent) or i.ses == session]
    kept = [lines[e.line - 1] for e in mine if isinstance(e, SeccompEvent)]
    return Supervised(argv, status, live.name, live.loss, session or 0, len(lines), kept, mine)


@contextlib.contextmanager
def _started(source: SpoolingSource) -> Iterator[SpoolingSource]:
    with source:
        source.start()
        yield source
