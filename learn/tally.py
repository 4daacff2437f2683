"""What a run found: events counted once each, selected, and every problem kept for the report."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from learn.aggregate import Aggregator
from learn.dedupe import Deduplicator
from learn.model import Action, Item, Problem, ProblemKind, SeccompEvent
from learn.select import Selection

if TYPE_CHECKING:
    import pandas as pd

KEPT_PROBLEMS = 1000  # enough to show; counts stay exact beyond it


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

    @property
    def usage(self) -> pd.DataFrame:
        """One row per (arch, nr, syscall, action, exe) with its count."""
        assert self.frame is not None, "usage is known once the logs are read"
        return self.frame

    @property
    def loss_reported(self) -> bool:
        return self.problem_counts[ProblemKind.LOSS] > 0


class Tally:
    """Dedupe, select and count, one event at a time or many identical ones at once."""

    def __init__(self, sources: list[str], selection: Selection, *, live: bool = False) -> None:
        self.findings = Findings(sources)
        self.selection = selection
        self.dedupe = Deduplicator()
        # A live source hands over each record once (its serials are checked for gaps), so
        # a run of a million calls need not pay for remembering a million stamps.
        self._dedupe = not live
        self.aggregate = Aggregator()
        self._matches = selection.predicate()

    def item(self, item: Item) -> None:
        if type(item) is Problem:
            self.problem(item)
        else:
            assert isinstance(item, SeccompEvent)
            self.event(item)

    def problem(self, problem: Problem) -> None:
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
        if self._matches(e):
            self.aggregate.add(e.arch, e.nr, e.syscall, e.action, e.exe)
            return
        f.not_selected_exes[e.exe or "?"] += 1
        when = e.timestamp
        if when is not None:
            f.first_time = when if f.first_time is None else min(f.first_time, when)
            f.last_time = when if f.last_time is None else max(f.last_time, when)
        if e.action not in self.selection.actions:
            f.not_selected_actions[e.action] += 1

    def counted(self, arch: str, nr: int, name: str | None, action: Action, exe: str | None, n: int) -> None:
        """n distinct events (already deduplicated) that share these values."""
        self.findings.events += n
        if action not in self.selection.actions:
            self.findings.not_selected_actions[action] += n
        elif not self.selection.exes or exe in self.selection.exes:
            self.aggregate.add(arch, nr, name, action, exe, n)
            return
        self.findings.not_selected_exes[exe or "?"] += n

    def finish(self) -> Findings:
        self.findings.duplicates = self.dedupe.duplicates
        self.findings.selected = self.aggregate.events
        self.findings.frame = self.aggregate.frame()
        return self.findings
