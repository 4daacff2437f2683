"""The vectorised reading of a netlink spool block (learn.kernel.sources.spoolblocks) and the
block counter (learn.livecount) against the per-record path, on synthetic spools: the same
serials, times and findings, and a refusal (None) wherever the block is not the usual kind."""

from __future__ import annotations

import os
import random
import struct
from array import array

import numpy as np
import pytest

from learn.kernel.sources import spoolblocks
from learn.kernel.sources.netlink import record_of
from learn.livecount import count_block
from learn.model import Action, SeccompEvent
from learn.select import Selection
from learn.tally import Findings, Tally
from learn.usage import Usage
from parsers import InputFormat, parse_numbered

SESSION = 7
OWN_EXE = os.readlink("/proc/self/exe")


def message(kind: int, text: str) -> bytes:
    body = text.encode()
    return struct.pack("=IHHII", 16 + len(body), kind, 0, 0, 0) + body


def seccomp(
    serial: int,
    *,
    when: str = "1796215129.381",
    ses: int = SESSION,
    pid: int = 100,
    exe: str = "/usr/bin/prog",
    arch: str = "c000003e",
    nr: int = 39,
    code: str = "0x7ffc0000",
    ip: str = "0x7f0000001000",
) -> bytes:
    return message(
        1326,
        f"audit({when}:{serial}): auid=0 uid=0 gid=0 ses={ses} subj=unconfined pid={pid} "
        f'comm="prog" exe="{exe}" sig=0 arch={arch} syscall={nr} compat=0 ip={ip} code={code}',
    )


def spool(records: list[bytes]) -> tuple[bytes, memoryview]:
    return b"".join(records), memoryview(array("I", [len(r) for r in records]))


def test_serials_and_times_are_the_per_record_decoders() -> None:
    rng = random.Random(1)
    records = []
    for i in range(500):
        serial = rng.choice([7, 42, 123456, 99999999, 123456789, 4294967295, rng.randrange(1, 1 << 32)])
        when = f"{rng.randrange(10**9, 10**10)}.{rng.randrange(1000):03d}"
        if i % 50 == 3:
            records.append(message(1121, f"audit({when}:{serial}): pid=1 uid=0 msg='learn-barrier-00 {i}'"))
        else:
            records.append(seccomp(serial, when=when, nr=rng.choice([0, 1, 39, 231]), pid=rng.choice([100, 101])))
    data, sizes = spool(records)
    parsed = spoolblocks.parse(data, sizes)
    assert parsed is not None
    serials, block = parsed
    reference = list(spoolblocks.records(data, sizes, record_of))
    assert serials.tolist() == [r.serial for r in reference]
    lines = [r.line for r in reference if r.line]
    events = [e for e in parse_numbered(enumerate(lines, 1), "run", InputFormat.AUDITD) if isinstance(e, SeccompEvent)]
    assert block.kept == len(lines) == len(events)
    assert block.times.tolist() == [e.timestamp for e in events]
    assert block.first_lines == [lines[i] for i in block.first.tolist()]
    assert block.counts.sum() == block.kept
    texts = [line.split("): ", 1)[1] for line in lines]
    assert [texts[i] for i in block.first.tolist()] == list(dict.fromkeys(texts))  # groups by first appearance
    assert [texts[block.first[g]] for g in block.index.tolist()] == texts
    assert [int(i) for i in block.others] == [i for i, r in enumerate(reference) if r.line is None]


@pytest.mark.parametrize(
    "odd",
    [
        message(1300, "audit(1796215129.381:9): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2"),
        message(1326, 'audit(179621512.381:9): auid=0 uid=0 gid=0 ses=7 pid=1 comm="x" exe="/x" sig=0 arch=c0'),
        message(1326, 'audit(1796215129.381:12345678901): auid=0 uid=0 gid=0 ses=7 pid=1 comm="x" exe="/x"'),
        message(1326, 'audit(1796215129.38:9): auid=0 uid=0 gid=0 ses=7 pid=1 comm="x" exe="/x" sig=0 arch'),
        seccomp(9)[:-2] + b"\n\0",
        message(1121, "audit(1.2:3): x"),
    ],
    ids=["syscall-record", "nine-digit-seconds", "eleven-digit-serial", "two-digit-millis", "trailing-nul", "short"],
)
def test_a_block_it_cannot_vouch_for_is_refused(odd: bytes) -> None:
    data, sizes = spool([seccomp(1), odd, seccomp(2)])
    assert spoolblocks.parse(data, sizes) is None
    assert spoolblocks.parse(*spool([seccomp(1), seccomp(2)])) is not None


def _tally() -> Tally:
    return Tally(["run"], Selection(actions=frozenset({Action.LOG})), live=True, usage=Usage())


def _per_record(lines: list[str], lines_before: int, tally: Tally) -> int:
    events = 0
    for item in parse_numbered(enumerate(lines, lines_before + 1), "run", InputFormat.AUDITD):
        if isinstance(item, SeccompEvent):
            if item.ses != SESSION:
                continue
            events += 1
        tally.item(item)
    return events


def _assert_same(fast: Findings, slow: Findings) -> None:
    assert fast.counts._counts == slow.counts._counts
    assert (fast.events, fast.selected) == (slow.events, slow.selected)
    assert fast.problems == slow.problems
    assert fast.not_selected_actions == slow.not_selected_actions
    assert fast.not_selected_exes == slow.not_selected_exes
    assert (fast.first_time, fast.last_time) == (slow.first_time, slow.last_time)
    assert fast.coverage.runs == slow.coverage.runs
    assert fast.coverage.syscalls == slow.coverage.syscalls
    assert fast.counts.coverage.runs == slow.counts.coverage.runs
    assert fast.shard is not None and slow.shard is not None and fast.shard.rows == slow.shard.rows


def _random_blocks(seed: int) -> list[list[bytes]]:
    rng = random.Random(seed)
    serial = 1000
    blocks = []
    first = True
    for _ in range(3):
        records = []
        for _ in range(rng.randrange(1, 400)):
            serial += 1
            when = f"1796215129.{rng.randrange(300, 320):03d}"  # out of order, and often equal
            if first:  # learn's own exec of the target, under learn's exe
                records.append(seccomp(serial, when=when, exe=OWN_EXE, nr=59))
                first = False
            elif rng.random() < 0.02:
                records.append(message(1121, f"audit({when}:{serial}): pid=1 uid=0 msg='hello'"))
            else:
                arch, nr = rng.choice([("c000003e", 39), ("c000003e", 0), ("c000003e", 231), ("40000003", 20)])
                records.append(
                    seccomp(
                        serial, when=when, arch=arch, nr=nr, ses=rng.choice([SESSION] * 4 + [8]),
                        pid=rng.choice([100, 101, 102]), exe=rng.choice(["/usr/bin/prog", "/bin/sh"]),
                        code=rng.choice(["0x7ffc0000"] * 9 + ["0x50001"]),
                    )
                )  # fmt: skip
        blocks.append(records)
    return blocks


@pytest.mark.parametrize("seed", range(12))
def test_counting_blocks_gives_the_per_record_findings(seed: int) -> None:
    fast, slow = _tally(), _tally()
    lines_before = fast_events = slow_events = 0
    for records in _random_blocks(seed):
        data, sizes = spool(records)
        parsed = spoolblocks.parse(data, sizes)
        assert parsed is not None
        _, block = parsed
        lines = [r.line for r in spoolblocks.records(data, sizes, record_of) if r.line]
        counted = count_block(block, fast, SESSION, lines_before, "run")
        assert counted is not None
        fast_events += counted
        slow_events += _per_record(lines, lines_before, slow)
        lines_before += len(lines)
    assert fast_events == slow_events
    for tally in (fast, slow):
        tally.finish().shard = tally.usage
    _assert_same(fast.findings, slow.findings)
    assert ("x86_64", 59, "execve", "log", "(learn starting the target)") in fast.findings.counts._counts


def test_a_group_that_does_not_decode_to_one_event_is_left_to_the_per_record_path() -> None:
    data, sizes = spool([seccomp(1), seccomp(2, arch="deadbeef")])
    parsed = spoolblocks.parse(data, sizes)
    assert parsed is not None
    tally = _tally()
    assert count_block(parsed[1], tally, SESSION, 0, "run") is None
    assert tally.findings.events == 0  # nothing counted: the caller reads the block line by line


def test_serial_counter_counts_distinct_serials_in_a_window() -> None:
    first, distinct_in = spoolblocks.serial_counter([np.array([5, 6, 6, 9], np.uint32), np.array([3, 12], np.uint32)])
    assert first == 5
    assert distinct_in(5, 10) == 3  # 5 6 9
    assert distinct_in(3, 12) == 5
