"""Logs -> events -> profile: the flow `learn events` and `learn suggest` share."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from learn import __version__, bulkcount
from learn.aggregate import allowed_by_arch
from learn.dedupe import Deduplicator
from learn.model import Item, Problem, SeccompEvent
from learn.profile import Profile
from learn.select import Selection
from learn.sources import Progress, expand, read_lines
from learn.tally import Findings, Tally
from parsers import InputFormat, parse

__all__ = ["Findings", "build_profile", "events_from", "learn_from_logs", "stream_events"]


def events_from(
    paths: list[str], fmt: InputFormat = InputFormat.AUTO, progress: Progress | None = None
) -> Iterator[Item]:
    for path in expand(paths):
        yield from parse(read_lines(path, progress), path, fmt)


def learn_from_logs(
    paths: list[str],
    selection: Selection,
    fmt: InputFormat = InputFormat.AUTO,
    progress: Progress | None = None,
    bulk_block: int | None = None,
) -> Findings:
    """Every record of paths, counted once; big auditd files go through bulkcount.

    bulk_block forces the bulk path with that block size (tests compare the two paths)."""
    sources = expand(paths)
    tally = Tally(sources, selection)
    for path in sources:
        if bulk_block is not None or bulkcount.usable(path, selection, fmt):
            block = bulk_block or bulkcount.BLOCK_BYTES
            bulkcount.count_file(path, tally, block, progress)
            continue
        item = tally.item
        for one in parse(read_lines(path, progress), path, fmt):
            item(one)
    return tally.finish()


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
    progress: Progress | None = None,
) -> Iterator[SeccompEvent]:
    """Deduplicated events for `learn events`; problems go to on_problem as they come."""
    for item in Deduplicator()(events_from(paths, fmt, progress)):
        if isinstance(item, SeccompEvent):
            yield item
        else:
            on_problem(item)
