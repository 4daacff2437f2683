"""How much did the runs show: per syscall, in how many runs it was seen; per run, its
discovery curve (distinct (arch, syscall) against the records selected so far).

A run is one input of `learn suggest` (a rotated set counts once: audit.log.1 + audit.log) or
the one run of `learn run`/`check`. The aggregator hands every selected event here as it is
counted, so memory grows with what is distinct (syscalls, programs, runs), never with records.
Big auditd files are counted a block at a time (learn.bulkcount); there, a syscall's first
appearance is known to the block (about 80 000 records), and the curve says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from learn.baseline import BASELINE
from learn.profile import Profile

LATE_SHARE = 0.1  # new syscalls in the last 10% of a run's records or time: it may have been too short
MIN_RECORDS = 1000  # a shorter run (a command-line tool) does its work at its end: its tail says nothing
# How a program ends, whatever it did: the last new calls of every complete run (teardown).
ENDINGS = frozenset(BASELINE)


@dataclass
class RunCurve:
    name: str
    records: int = 0  # selected records of this run
    first_time: float | None = None
    last_time: float | None = None
    seen: set[tuple[str, int]] = field(default_factory=set)  # (arch, nr)
    # (record number, distinct so far, time, arch, name) at each new (arch, syscall)
    points: list[tuple[int, int, float | None, str, str | None]] = field(default_factory=list)
    block_resolution: bool = False  # some records were counted a block at a time
    # Fed from usage shards: each call's count and first and last time, not the records' order.
    times_only: bool = False

    def last_new(self) -> int:
        """The record at which the last new syscall appeared, the endings (exit_group ...) aside."""
        return max((record for record, _, _, _, name in self.points if name not in ENDINGS), default=0)

    def late(self) -> list[str]:
        """Syscalls first seen in the last LATE_SHARE of the run's records or time, endings aside."""
        if self.records < MIN_RECORDS:
            return []
        by_record = self.records * (1 - LATE_SHARE)
        by_time = None
        if self.first_time is not None and self.last_time is not None and self.last_time > self.first_time:
            by_time = self.first_time + (self.last_time - self.first_time) * (1 - LATE_SHARE)
        names = []
        for record, _, when, arch, name in self.points:
            late = (record > by_record and not self.times_only) or (
                by_time is not None and when is not None and when > by_time
            )
            if late and name not in ENDINGS:
                names.append(name or f"{arch}#?")
        return sorted(set(names))


@dataclass
class SyscallSeen:
    count: int = 0
    runs: set[int] = field(default_factory=set)  # indexes into Coverage.runs
    exes: set[str] = field(default_factory=set)
    first_time: float | None = None
    last_time: float | None = None


class Coverage:
    """Fed by the aggregator: add() for each selected event (or n identical ones)."""

    def __init__(self) -> None:
        self.runs: list[RunCurve] = []
        self.syscalls: dict[tuple[str, int, str | None], SyscallSeen] = {}
        self._current: RunCurve | None = None

    def start_run(self, name: str) -> None:
        """The records that follow are of run `name` (the same name again continues it)."""
        for run in self.runs:
            if run.name == name:
                self._current = run
                return
        self._current = RunCurve(name)
        self.runs.append(self._current)

    def times_only(self, last_seen: float | None) -> None:
        """The current run comes from usage shards: its records' order is not known (its calls are
        added in the order of their first time), and its time span ends at last_seen."""
        run = self._current
        if run is None:
            return
        run.times_only = True
        if last_seen is not None:
            run.last_time = last_seen if run.last_time is None else max(run.last_time, last_seen)

    def add(self, arch: str, nr: int, name: str | None, exe: str | None, n: int, when: float | None) -> None:
        run = self._current
        if run is None:
            self.start_run("run")
            run = self._current
            assert run is not None
        index = len(self.runs) - 1 if run is self.runs[-1] else self.runs.index(run)
        run.records += n
        if when is None:
            if n > 1:
                run.block_resolution = True
        else:
            run.first_time = when if run.first_time is None else min(run.first_time, when)
            run.last_time = when if run.last_time is None else max(run.last_time, when)
        key = (arch, nr)
        if key not in run.seen:
            run.seen.add(key)
            run.points.append((run.records - n + 1, len(run.seen), when, arch, name))
        seen = self.syscalls.get((arch, nr, name))
        if seen is None:
            seen = self.syscalls[(arch, nr, name)] = SyscallSeen()
        seen.count += n
        seen.runs.add(index)
        seen.exes.add(exe or "?")
        if when is not None:
            seen.first_time = when if seen.first_time is None else min(seen.first_time, when)
            seen.last_time = when if seen.last_time is None else max(seen.last_time, when)

    def rare(self) -> list[tuple[str, str, str]]:
        """(arch, syscall, run name) of syscalls seen in one run only, when there are several."""
        if len(self.runs) < 2:
            return []
        out = []
        for (arch, nr, name), seen in sorted(
            self.syscalls.items(), key=lambda kv: (kv[0][0], kv[0][2] or "", kv[0][1])
        ):
            if len(seen.runs) == 1 and name not in ENDINGS:
                out.append((arch, name or f"#{nr}", self.runs[next(iter(seen.runs))].name))
        return out


def profiles_coverage(profiles: Sequence[tuple[str, Profile]]) -> list[tuple[str, str, str]]:
    """(arch, syscall, file) of names only one of several profiles allows outright (baseline aside):
    `learn merge` of run results says which names rest on one run."""
    if len(profiles) < 2:
        return []
    holders: dict[tuple[str, str], list[str]] = {}
    for path, profile in profiles:
        for arch, names in profile.allowed.items():
            for name in names:
                holders.setdefault((arch, name), []).append(path)
    return [
        (arch, name, paths[0])
        for (arch, name), paths in sorted(holders.items())
        if len(paths) == 1 and name not in ENDINGS
    ]
