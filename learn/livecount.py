"""A live run's records counted a block at a time: the fast twin of decoding them one by one.

learn.kernel.sources.spoolblocks groups a block's SECCOMP records by their text after the
stamp; here each group's first record is decoded by the parsers and handed to Tally.event()
as the per-record path would, and the group's other records are counted with
Tally.repeated() (their times and the earliest one's line kept as evidence). The calls come
in the order that keeps every view the same as record by record: groups by their first
record, and before a group's first record exactly as many selected records as precede it
(the coverage curve numbers each new syscall by the selected records before it). Only the
target's session counts. A block whose groups do not each decode to one event, timed as
the block says, is not counted: the caller reads it record by record.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from learn.kernel.sources.spoolblocks import SeccompBlock
from learn.model import SeccompEvent
from learn.tally import Tally
from parsers import InputFormat, parse_numbered


@dataclass
class _Group:
    event: SeccompEvent  # its first record's
    left: int  # its records not yet counted
    earliest: float
    latest: float
    sample: int  # the line of its earliest record


def count_block(block: SeccompBlock, tally: Tally, session: int, lines_before: int, source: str) -> int | None:
    """Count the block's records of session `session` into tally; the events counted, or None
    (nothing counted) when the block must be read record by record. lines_before: the kept
    records before the block (the per-record path numbers them from 1)."""
    events = _first_events(block, lines_before, source)
    if events is None:
        return None
    mine = [e.ses == session for e in events]
    selected = np.array([m and tally.selects(e) for m, e in zip(mine, events, strict=True)], np.bool_)
    groups = _groups(block, events, lines_before)
    # selected records up to and including each record of the block
    selected_so_far = np.cumsum(selected[block.index]) if len(events) else np.zeros(0, np.int64)
    pending: list[_Group] = []
    counted = 0
    for g, group in enumerate(groups):
        if not mine[g]:
            continue
        if selected[g]:
            _count_selected(tally, pending, int(selected_so_far[block.first[g]]) - 1 - counted)
            counted = int(selected_so_far[block.first[g]])
            tally.event(group.event)
            if group.left:
                pending.append(group)
        else:
            tally.event(group.event)
            if group.left:
                tally.repeated(group.event, group.left, group.earliest, group.latest, group.sample)
    _count_selected(tally, pending, sum(p.left for p in pending))
    return int(block.counts[np.array(mine, np.bool_)].sum()) if events else 0


def _count_selected(tally: Tally, pending: list[_Group], n: int) -> None:
    """Count n of the pending groups' records: which ones does not matter, only how many."""
    while n > 0:
        group = pending[-1]
        take = min(n, group.left)
        tally.repeated(group.event, take, group.earliest, group.latest, group.sample)
        group.left -= take
        n -= take
        if not group.left:
            pending.pop()


def _first_events(block: SeccompBlock, lines_before: int, source: str) -> list[SeccompEvent] | None:
    events = []
    for line, first in zip(block.first_lines, block.first.tolist(), strict=True):
        items = list(parse_numbered([(lines_before + first + 1, line)], source, InputFormat.AUDITD))
        if len(items) != 1 or type(items[0]) is not SeccompEvent:
            return None  # a problem, or not one event: the per-record path says what
        event = items[0]
        if event.ses is None or event.timestamp != float(block.times[first]):
            return None
        events.append(event)
    return events


def _groups(block: SeccompBlock, events: list[SeccompEvent], lines_before: int) -> list[_Group]:
    k = len(events)
    earliest = np.full(k, np.inf)
    latest = np.full(k, -np.inf)
    np.minimum.at(earliest, block.index, block.times)
    np.maximum.at(latest, block.index, block.times)
    sample = np.full(k, block.kept, np.int64)
    at_earliest = np.flatnonzero(block.times == earliest[block.index])
    np.minimum.at(sample, block.index[at_earliest], at_earliest)
    return [
        _Group(e, n - 1, lo, hi, lines_before + s + 1)
        for e, n, lo, hi, s in zip(
            events, block.counts.tolist(), earliest.tolist(), latest.tolist(), sample.tolist(), strict=True
        )
    ]
