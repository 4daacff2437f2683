"""Logs -> events -> profile: the flow `learn events` and `learn suggest` share."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace

from learn import __version__, bulkcount
from learn.arch import canonical_arch
from learn.arglearn import learned_rules
from learn.dedupe import Deduplicator
from learn.errors import UsageError
from learn.model import Action, Item, Problem, SeccompEvent
from learn.profile import Profile
from learn.select import Selection
from learn.sources import LogLines, Progress, expand, rotated_set
from learn.tally import Findings, Tally
from learn.usage import Evidence, Usage, is_shard
from learn.usage import Key as UsageKey
from parsers import DEFAULT_DECODING, DecodeOptions, InputFormat, parse_numbered
from parsers.stamps import named_zone
from parsers.syscall_join import SyscallJoin

__all__ = [
    "Findings",
    "build_profile",
    "decode_options",
    "events_from",
    "findings_from_usage",
    "learn_from_logs",
    "stream_events",
]
SHARD_SELECTION_HINT = "a shard holds the usage selected when it was written: select there (--exe ... --save-usage)"


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
    usage: Usage | None = None,
) -> Findings:
    """Every record of paths, counted once; big auditd files go through bulkcount; usage
    shards (Parquet, learn.usage) add the usage they hold.

    bulk_block forces the bulk path with that block size (tests compare the two paths).
    args keeps the argument values of the table's syscalls (the bulk path cannot see them).
    usage, when given, is filled with the selected usage and its evidence (--save-usage)."""
    from learn import usage as shards

    inputs = expand(paths)
    held = {path: shards.read(path) for path in inputs if is_shard(path)}
    if held and selection != Selection():
        raise UsageError(f"{next(iter(held))} is a usage shard: it cannot be selected from again", SHARD_SELECTION_HINT)
    check_args(held, args)
    sources = [name for path in inputs for name in (held[path].sources if path in held else (path,))]
    tally = Tally(sources, selection, args=args, usage=usage)
    added_duplicates = 0
    for path in inputs:
        tally.aggregate.coverage.start_run(rotated_set(path))
        if path in held:
            added_duplicates += _fold(tally, held[path])
            continue
        # The bulk counter sees no node, time or line, which a usage shard keeps (and inside a Dask
        # worker, a daemon process, it could not start its own workers).
        if not args and usage is None and (bulk_block is not None or bulkcount.usable(path, selection, fmt)):
            block = bulk_block or bulkcount.BLOCK_BYTES
            if bulkcount.count_file(path, tally, block, progress, options):
                continue
        item = tally.item
        for one in read_items(path, fmt, progress, options, args=args):
            item(one)
    findings = tally.finish()
    findings.duplicates += added_duplicates
    return findings


def _fold(tally: Tally, usage: Usage) -> int:
    """Count a shard's usage as if its events had been read; its duplicates (to add once done)."""
    from learn.usage import problem_kinds

    add = tally.aggregate.add
    learned = tally.findings.arg_usage

    # A shard keeps each call's first and last time, not its records' order: the coverage curve
    # takes the calls by their first time, and the run's span ends at the last time of any.
    def by_first_seen(row: tuple[UsageKey, Evidence]) -> tuple[float, str]:
        first = row[1].first_seen
        return (first if first is not None else float("inf"), repr(row[0]))

    for (_, arch, nr, syscall, action, exe, args), evidence in sorted(usage.rows.items(), key=by_first_seen):
        add(arch, nr, syscall, Action(action), exe, evidence.count, when=evidence.first_seen)
        if learned is not None and args is not None and syscall is not None:
            learned.add_signature(arch, syscall, args, exe, evidence.count)
    seen = [e.last_seen for e in usage.rows.values() if e.last_seen is not None]
    tally.aggregate.coverage.times_only(max(seen, default=None))
    if tally.usage is not None:
        for key, evidence in usage.rows.items():
            tally.usage.add(key, evidence)
    f = tally.findings
    f.events += usage.events
    f.lost += usage.lost
    f.problem_counts.update(problem_kinds(usage))
    return usage.duplicates


def check_args(shards: Mapping[str, Usage], args: bool) -> None:
    """--args needs the argument signatures of every call: shards written with --args."""
    without = [path for path, usage in shards.items() if args and usage.args is False]
    if without:
        raise UsageError(
            f"{without[0]} is a usage shard written without --args: it holds no argument values",
            "write the shards with --args --save-usage, or leave out --args",
        )


def findings_from_usage(usage: Usage, *, args: bool = False) -> Findings:
    """What learn_from_logs finds, from usage merged elsewhere (the Dask engine's reduction)."""
    tally = Tally(list(usage.sources), Selection(), args=args)
    tally.aggregate.coverage.start_run(", ".join(usage.sources))
    duplicates = _fold(tally, usage)
    findings = tally.finish()
    findings.duplicates += duplicates
    return findings


def build_profile(findings: Findings) -> Profile:
    sources = ", ".join(findings.sources)
    provenance = (
        f"learned by learn {__version__} from {sources}",
        f"{findings.selected} records, {findings.duplicates} duplicates removed",
    )
    return with_arg_rules(
        Profile(findings.allowed_by_arch(), provenance=provenance, incomplete=findings.loss_reported), findings
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
