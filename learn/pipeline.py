"""Logs -> events -> profile: the flow `learn events` and `learn suggest` share."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from learn import __version__
from learn.aggregate import Aggregator, allowed_by_arch
from learn.dedupe import Deduplicator
from learn.model import Action, Item, Problem, ProblemKind, SeccompEvent
from learn.profile import Profile
from learn.select import Selection
from learn.sources import Wrap, expand, read_lines
from parsers import InputFormat, parse

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

    @property
    def usage(self) -> pd.DataFrame:
        """One row per (arch, nr, syscall, action, exe) with its count."""
        assert self.frame is not None, "usage is known once the logs are read"
        return self.frame

    @property
    def loss_reported(self) -> bool:
        return self.problem_counts[ProblemKind.LOSS] > 0


def events_from(
    paths: list[str], fmt: InputFormat = InputFormat.AUTO, wrap: Wrap | None = None
) -> Iterator[Item]:
    for path in expand(paths):
        yield from parse(read_lines(path, wrap), path, fmt)


def _tally(
    items: Iterable[Item], findings: Findings, on_problem: Callable[[Problem], None] | None
) -> Iterator[Item]:
    for item in items:
        if isinstance(item, Problem):
            findings.problem_counts[item.kind] += 1
            findings.lost += item.lost
            if len(findings.problems) < KEPT_PROBLEMS:
                findings.problems.append(item)
            if on_problem is not None:
                on_problem(item)
            continue
        findings.events += 1
        yield item


def _select(items: Iterable[Item], selection: Selection, findings: Findings) -> Iterator[Item]:
    for item in items:
        if isinstance(item, SeccompEvent) and not selection.matches(item):
            if item.action not in selection.actions:
                findings.not_selected_actions[item.action] += 1
            continue
        yield item


def learn_from_logs(
    paths: list[str],
    selection: Selection,
    fmt: InputFormat = InputFormat.AUTO,
    wrap: Wrap | None = None,
) -> Findings:
    findings = Findings(sources=expand(paths))
    dedupe = Deduplicator()
    aggregate = Aggregator()
    stream = _select(_tally(dedupe(events_from(paths, fmt, wrap)), findings, None), selection, findings)
    for _ in aggregate(stream):
        pass
    findings.duplicates = dedupe.duplicates
    findings.selected = aggregate.events
    findings.frame = aggregate.frame()
    return findings


def build_profile(findings: Findings) -> Profile:
    sources = ", ".join(findings.sources)
    provenance = (
        f"learned by learn {__version__} from {sources}",
        f"{findings.selected} records, {findings.duplicates} duplicates removed",
    )
    return Profile(allowed_by_arch(findings.usage), provenance=provenance, incomplete=findings.loss_reported)


def stream_events(
    paths: list[str],
    fmt: InputFormat,
    on_problem: Callable[[Problem], None],
    wrap: Wrap | None = None,
) -> Iterator[SeccompEvent]:
    """Deduplicated events for `learn events`; problems go to on_problem as they come."""
    findings = Findings(sources=[])
    for item in _tally(Deduplicator()(events_from(paths, fmt, wrap)), findings, on_problem):
        assert isinstance(item, SeccompEvent)
        yield item
