"""What a run found: events counted once each, selected, and every problem kept for the report."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from learn.aggregate import Aggregator, allowed_by_arch
from learn.arglearn import ArgUsage, signature
from learn.coverage import Coverage
from learn.dedupe import Deduplicator
from learn.model import Action, Item, Problem, ProblemKind, SeccompEvent
from learn.select import Selection

if TYPE_CHECKING:
    import pandas as pd

    from learn.usage import Usage

KEPT_PROBLEMS = 1000  # enough to show; counts stay exact beyond it
STARTERS = frozenset({"execve", "execveat"})
PENDING_EXECS = 1 << 16  # processes whose last record was an exec not (yet) selected
LAUNCHER = "(learn starting the target)"  # what a live run's first execve, made by learn itself, is


@dataclass
class Findings:
    """Everything the summary reports, beside the usage table the profile is built from."""

    sources: list[str]
    frame: pd.DataFrame | None = None  # set once the logs are read
    problems: list[Problem] = field(default_factory=list)
    problem_counts: Counter[ProblemKind] = field(default_factory=Counter)
    lost: int = 0  # records the logs say were dropped (at least; some notices give no number)
    duplicates: int = 0
    events: int = 0  # distinct events decoded
    selected: int = 0
    not_selected_actions: Counter[Action] = field(default_factory=Counter)
    # For the hint when a selection matches nothing: who made the records it left out, and when.
    not_selected_exes: Counter[str] = field(default_factory=Counter)
    first_time: float | None = None
    last_time: float | None = None
    arg_usage: ArgUsage | None = None  # argument values, when learning them (--args)
    arg_notes: list[str] = field(default_factory=list)  # what argument learning could not do
    coverage: Coverage = field(default_factory=Coverage)  # per run and syscall (learn.coverage)
    shard: Usage | None = None  # learn run --save-usage: the usage with its evidence
    # The counts, until the usage table is asked for: pandas takes 0.4 s to import, and
    # `learn run -q` needs only the allowed names (allowed_by_arch).
    counted: Aggregator | None = None

    @property
    def usage(self) -> pd.DataFrame:
        """One row per (arch, nr, syscall, action, exe) with its count."""
        if self.frame is None and self.counted is not None:
            self.frame = self.counted.frame()
        assert self.frame is not None, "usage is known once the logs are read"
        return self.frame

    @property
    def counts(self) -> Aggregator:
        """The counts the summary's and the report's views are computed from (without pandas)."""
        assert self.counted is not None, "usage is known once the logs are read"
        return self.counted

    def allowed_by_arch(self) -> dict[str, tuple[str, ...]]:
        """arch -> sorted syscall names seen there, as learn.aggregate.allowed_by_arch(usage) says."""
        if self.frame is None and self.counted is not None:
            return self.counted.allowed_by_arch()
        return allowed_by_arch(self.usage)

    @property
    def loss_reported(self) -> bool:
        return self.problem_counts[ProblemKind.LOSS] > 0


class Tally:
    """Dedupe, select and count, one event at a time or many identical ones at once."""

    def __init__(
        self,
        sources: list[str],
        selection: Selection,
        *,
        live: bool = False,
        args: bool = False,
        usage: Usage | None = None,
    ) -> None:
        self.findings = Findings(sources, arg_usage=ArgUsage() if args else None)
        self.usage = usage  # the usage shard being filled (--save-usage), with node, times and a sample
        if usage is not None:
            usage.args = args
        self._args = self.findings.arg_usage
        self.selection = selection
        self.dedupe = Deduplicator()
        # A live source hands over each record once (its serials are checked for gaps), so
        # a run of a million calls need not pay for remembering a million stamps.
        self._dedupe = not live
        # A live run's first record is learn's own execve of the target, under learn's exe.
        self._launcher_exe = _own_exe() if live else None
        self.aggregate = Aggregator()
        self._matches = selection.predicate()
        # The kernel logs an execve under the exe, comm and label of the program that calls it,
        # so a selection by program would drop the call that starts it (and the profile could
        # not exec it). A pid's exec record just before its first selected record is kept.
        self.keeps_starting_exec = selection != Selection(actions=selection.actions)
        self._execs: dict[tuple[str | None, int | None], SeccompEvent] = {}
        self._notes: set[tuple[str, str]] = set()

    def item(self, item: Item) -> None:
        if type(item) is Problem:
            self.problem(item)
        else:
            assert isinstance(item, SeccompEvent)
            self.event(item)

    def problem(self, problem: Problem) -> None:
        if problem.kind is ProblemKind.NOTE:  # a note says an assumption once per source
            said = (problem.source, problem.message)
            if said in self._notes:
                return
            self._notes.add(said)
        f = self.findings
        f.problem_counts[problem.kind] += 1
        f.lost += problem.lost
        if len(f.problems) < KEPT_PROBLEMS:
            f.problems.append(problem)

    def event(self, e: SeccompEvent) -> None:
        if self._dedupe and self.dedupe.is_duplicate(e):
            return
        f = self.findings
        f.events += 1
        if self._launcher_exe is not None:
            if e.syscall in STARTERS and e.exe == self._launcher_exe:
                e = e._replace(exe=LAUNCHER)
            self._launcher_exe = None
        if self._matches(e):
            if self._execs and (started := self._execs.pop((e.node, e.pid), None)) is not None:
                self._count(started)
            self._count(e)
            return
        f.not_selected_exes[e.exe or "?"] += 1
        when = e.timestamp
        if when is not None:
            f.first_time = when if f.first_time is None else min(f.first_time, when)
            f.last_time = when if f.last_time is None else max(f.last_time, when)
        if e.action not in self.selection.actions:
            f.not_selected_actions[e.action] += 1
        if self.keeps_starting_exec:
            self._remember_exec(e)

    def _count(self, e: SeccompEvent) -> None:
        """One selected event, into every view that is being filled."""
        self.aggregate.add(e.arch, e.nr, e.syscall, e.action, e.exe, when=e.timestamp)
        if self.usage is not None:
            self.usage.add_event(e, signature(e) if self._args is not None else None)
        if self._args is not None:
            self._args.add(e)

    def _remember_exec(self, e: SeccompEvent) -> None:
        """Keep e if it is an exec that may start a selected program; forget the pid's older one."""
        key = (e.node, e.pid)
        if e.syscall in STARTERS and e.action in self.selection.actions and e.pid is not None:
            self._execs.pop(key, None)  # re-insert at the end: the oldest go first
            self._execs[key] = e
            if len(self._execs) > PENDING_EXECS:
                del self._execs[next(iter(self._execs))]
        elif self._execs:
            self._execs.pop(key, None)

    def counted(self, arch: str, nr: int, name: str | None, action: Action, exe: str | None, n: int) -> None:
        """n distinct events (already deduplicated) that share these values."""
        self.findings.events += n
        if action not in self.selection.actions:
            self.findings.not_selected_actions[action] += n
        elif not self.selection.exes or exe in self.selection.exes:
            self.aggregate.add(arch, nr, name, action, exe, n)
            return
        self.findings.not_selected_exes[exe or "?"] += n

    def selects(self, e: SeccompEvent) -> bool:
        return self._matches(e)

    def repeated(self, e: SeccompEvent, n: int, earliest: float, latest: float, sample: int) -> None:
        """n more events like e but for their times (from earliest to latest) and lines (sample:
        the line of the earliest), as tally.event() of each would count them; a live run's
        records, whose exec pairing and launcher are settled by the events handed to event()
        first (learn.livecount)."""
        f = self.findings
        f.events += n
        if self._matches(e):
            self.aggregate.add(e.arch, e.nr, e.syscall, e.action, e.exe, n, when=earliest)
            if latest != earliest:  # so that coverage sees both ends of the range, whatever n (a count of 0)
                self.aggregate.add(e.arch, e.nr, e.syscall, e.action, e.exe, 0, when=latest)
            if self.usage is not None:
                self.usage.add_many(e, n, earliest, latest, f"{e.source}:{sample}")
            assert self._args is None, "argument values are learned record by record"
            return
        f.not_selected_exes[e.exe or "?"] += n
        f.first_time = earliest if f.first_time is None else min(f.first_time, earliest)
        f.last_time = latest if f.last_time is None else max(f.last_time, latest)
        if e.action not in self.selection.actions:
            f.not_selected_actions[e.action] += n

    def finish(self) -> Findings:
        self.findings.duplicates = self.dedupe.duplicates
        self.findings.selected = self.aggregate.events
        self.findings.frame = None
        self.findings.counted = self.aggregate  # the table is built when first asked for
        self.findings.coverage = self.aggregate.coverage
        return self.findings


def _own_exe() -> str | None:
    """This process's executable as the kernel names it in exe= (sys.executable may be a link)."""
    try:
        return os.readlink("/proc/self/exe")
    except OSError:
        return None
