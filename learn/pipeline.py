"""Logs -> events -> profile: the flow `learn events` and `learn suggest` share."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

from learn import __version__, bulkcount
from learn.aggregate import allowed_by_arch
from learn.arch import canonical_arch
from learn.arglearn import learned_rules
from learn.dedupe import Deduplicator
from learn.errors import UsageError
from learn.model import Item, Problem, SeccompEvent
from learn.profile import Profile
from learn.select import Selection
from learn.sources import LogLines, Progress, expand, rotated_set
from learn.tally import Findings, Tally
from parsers import DEFAULT_DECODING, DecodeOptions, InputFormat, parse_numbered
from parsers.stamps import named_zone
from parsers.syscall_join import SyscallJoin

__all__ = ["Findings", "build_profile", "decode_options", "events_from", "learn_from_logs", "stream_events"]


def decode_options(arch: str | None, timezone: str | None, strict_origin: bool = False) -> DecodeOptions:
    """--arch (for records without arch=), --timezone (for `ausearch -i` stamps), checked, and
    --strict-origin."""
    missing_arch = None
    if arch is not None:
        missing_arch = canonical_arch(arch)
        if missing_arch is None:
            raise UsageError(f"--arch {arch!r} is no arch libseccomp knows", "e.g. x86_64, x86, aarch64, arm")
    zone = None
    if timezone is not None:
        try:
            zone = named_zone(timezone).zone
        except ValueError as e:
            raise UsageError(f"--timezone {e}", "a zoneinfo name such as Europe/Berlin or UTC") from None
    return DecodeOptions(missing_arch, zone, strict_origin)


def events_from(
    paths: list[str],
    fmt: InputFormat = InputFormat.AUTO,
    progress: Progress | None = None,
    options: DecodeOptions = DEFAULT_DECODING,
    *,
    args: bool = False,
) -> Iterator[Item]:
    for path in expand(paths):
        yield from read_items(path, fmt, progress, options, args=args)


def read_items(
    path: str,
    fmt: InputFormat,
    progress: Progress | None = None,
    options: DecodeOptions = DEFAULT_DECODING,
    *,
    args: bool = False,
) -> Iterator[Item]:
    """The events and problems of one input; what reading it found comes last.

    args: join each event with its SYSCALL record (parsers.syscall_join) for a0..a3."""
    lines = LogLines(path, progress)
    if args:
        join = SyscallJoin()
        yield from join.items(parse_numbered(join.lines(lines), path, fmt, options))
    else:
        yield from parse_numbered(lines, path, fmt, options)
    yield from lines.problems


def learn_from_logs(
    paths: list[str],
    selection: Selection,
    fmt: InputFormat = InputFormat.AUTO,
    progress: Progress | None = None,
    bulk_block: int | None = None,
    options: DecodeOptions = DEFAULT_DECODING,
    *,
    args: bool = False,
) -> Findings:
    """Every record of paths, counted once; big auditd files go through bulkcount.

    bulk_block forces the bulk path with that block size (tests compare the two paths).
    args keeps the argument values of the table's syscalls (the bulk path cannot see them)."""
    sources = expand(paths)
    tally = Tally(sources, selection, args=args)
    for path in sources:
        tally.aggregate.coverage.start_run(rotated_set(path))
        if not args and (bulk_block is not None or bulkcount.usable(path, selection, fmt)):
            block = bulk_block or bulkcount.BLOCK_BYTES
            if bulkcount.count_file(path, tally, block, progress, options):
                continue
        item = tally.item
        for one in read_items(path, fmt, progress, options, args=args):
            item(one)
    return tally.finish()


def build_profile(findings: Findings) -> Profile:
    sources = ", ".join(findings.sources)
    provenance = (
        f"learned by learn {__version__} from {sources}",
        f"{findings.selected} records, {findings.duplicates} duplicates removed",
    )
    return with_arg_rules(
        Profile(allowed_by_arch(findings.usage), provenance=provenance, incomplete=findings.loss_reported), findings
    )


def with_arg_rules(profile: Profile, findings: Findings) -> Profile:
    """The learned argument rules in place of the names they check (when learning them)."""
    if findings.arg_usage is None:
        return profile
    learned = learned_rules(profile.allowed, findings.arg_usage)
    findings.arg_notes = list(learned.notes)
    return replace(profile, allowed=learned.allowed, rules=(*profile.rules, *learned.rules))


def stream_events(
    paths: list[str],
    fmt: InputFormat,
    on_problem: Callable[[Problem], None],
    progress: Progress | None = None,
    options: DecodeOptions = DEFAULT_DECODING,
) -> Iterator[SeccompEvent]:
    """Deduplicated events for `learn events`, with their arguments where the log has them;
    problems go to on_problem as they come."""
    for item in Deduplicator()(events_from(paths, fmt, progress, options, args=True)):
        if isinstance(item, SeccompEvent):
            yield item
        else:
            on_problem(item)
