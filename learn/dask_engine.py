"""learn suggest --engine dask: each input is read and counted as a Dask task, and the usage
shards they return are merged pairwise in a tree, in input order, into the usage the profile
is built from (so the profile is the one the local engine writes).

Workers read the paths themselves: on a remote cluster the inputs must be where the workers
can open them (shared storage), as with any Dask file reader. Without --scheduler a
LocalCluster of two worker processes starts on 127.0.0.1, with no dashboard.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from itertools import chain
from typing import Any

from learn.errors import InputError, UsageError
from learn.select import Selection
from learn.sources import expand
from learn.tally import Findings
from learn.usage import Usage, from_findings, is_shard
from parsers import DecodeOptions, InputFormat

INSTALL_HINT = "pip install 'learn[dask]' (dask and distributed)"
LOCAL_WORKERS = 2
BLOCK_BYTES = 64 << 20  # a bigger log is read as blocks of this size, each a task


@dataclass
class BlockUsage:
    """A block's usage, its samples numbered from the block's first line, and its line count."""

    usage: Usage
    lines: int


def usage_of(path: str, selection: Selection, fmt: InputFormat, options: DecodeOptions, args: bool = False) -> Usage:
    """One input's usage: a shard as it is, a log read and counted (a task, run on a worker)."""
    from learn import usage as shards
    from learn.pipeline import check_args, learn_from_logs

    if is_shard(path):
        if selection != Selection():
            return _refuse_selection(path)
        usage = shards.read(path)
        check_args({path: usage}, args)
        return usage
    usage = Usage()
    found = learn_from_logs([path], selection, fmt, None, options=options, args=args, usage=usage)
    return from_findings(found, usage)


def _refuse_selection(path: str) -> Usage:
    from learn.pipeline import SHARD_SELECTION_HINT

    raise UsageError(f"{path} is a usage shard: it cannot be selected from again", SHARD_SELECTION_HINT)


def blocks_of(path: str, selection: Selection, fmt: InputFormat, block: int) -> list[tuple[int, int]] | None:
    """The byte ranges a big auditd log is read in, or None: read it whole (small, compressed, a
    FIFO, a shard, or a selection by program, which needs each pid's records in order)."""
    from learn import bulkcount

    if selection != Selection(actions=selection.actions) or fmt not in (InputFormat.AUTO, InputFormat.AUDITD):
        return None
    try:
        if not os.path.isfile(path) or os.path.getsize(path) <= block or is_shard(path):
            return None
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None  # the task reading it whole says why, in one line
    try:
        if os.pread(fd, 2, 0) == b"\x1f\x8b":
            return None
        return bulkcount.byte_ranges(fd, os.fstat(fd).st_size, block)
    finally:
        os.close(fd)


def usage_of_block(
    path: str, offset: int, length: int, selection: Selection, fmt: InputFormat, options: DecodeOptions
) -> BlockUsage:
    """One block of a big log, read line by line (a task); the first block names the source."""
    from learn.bulkcount import read_range
    from learn.lines import LineSplitter
    from learn.tally import Tally
    from parsers import parse_numbered

    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            data = read_range(fd, offset, length)
        finally:
            os.close(fd)
    except OSError as error:
        raise InputError(f"{path}: {error.strerror}") from None
    lines = LineSplitter(path)
    tally = Tally([path] if offset == 0 else [], selection, usage=Usage())
    for item in chain(parse_numbered(chain(lines.feed(data), lines.finish()), path, fmt, options), lines.problems):
        tally.item(item)
    assert tally.usage is not None
    usage = from_findings(tally.finish(), tally.usage)
    return BlockUsage(usage, data.count(b"\n") + (bool(data) and not data.endswith(b"\n")))


def block_lines(block: BlockUsage) -> int:
    return block.lines


def numbered_from(block: BlockUsage, lines_before: int) -> Usage:
    """The block's usage with its samples' line numbers counted from the file's start."""
    rows = {}
    for key, evidence in block.usage.rows.items():
        sample = evidence.sample
        if sample is not None:
            source, line = sample.rsplit(":", 1)
            sample = f"{source}:{int(line) + lines_before}"
        rows[key] = replace(evidence, sample=sample)
    return replace(block.usage, rows=rows)


def merge_pair(first: Usage, second: Usage) -> Usage:
    return first.merged(second)


def learn_on_dask(
    paths: list[str],
    selection: Selection,
    fmt: InputFormat,
    options: DecodeOptions,
    scheduler: str | None,
    block: int = BLOCK_BYTES,
    *,
    args: bool = False,
) -> tuple[Findings, Usage]:
    """The findings of paths, counted on a Dask cluster (scheduler's address, or a local one),
    and the merged usage they are built from. Logs bigger than block are read in blocks."""
    from learn.pipeline import findings_from_usage

    client_type = _distributed()
    inputs = expand(paths)
    if "-" in inputs:  # a worker's standard input is not this one's
        raise UsageError("--engine dask reads files, not standard input", "save it to a file, or leave out --engine")
    with _client(client_type, scheduler) as client:
        # Every read is submitted first; then the blocks' line counts number their samples.
        reads: list[Any] = []  # per input: one task, or the tasks of its blocks
        for path in inputs:
            ranges = None if args else blocks_of(path, selection, fmt, block)  # a0..a3 join records in order
            if ranges is None:
                reads.append(client.submit(usage_of, path, selection, fmt, options, args, pure=False))
            else:
                reads.append([client.submit(usage_of_block, path, o, n, selection, fmt, options) for o, n in ranges])
        blocked = [part for read in reads if isinstance(read, list) for part in read]
        counts = iter(client.gather([client.submit(block_lines, part) for part in blocked]))
        tasks: list[Any] = []
        for read in reads:
            if not isinstance(read, list):
                tasks.append(read)
                continue
            before = 0
            for part in read:
                tasks.append(client.submit(numbered_from, part, before))
                before += next(counts)
        while len(tasks) > 1:  # neighbours only: the sources stay in input order
            pairs = zip(tasks[::2], tasks[1::2], strict=False)
            merged = [client.submit(merge_pair, a, b, pure=False) for a, b in pairs]
            tasks = merged + tasks[len(merged) * 2 :]
        usage: Usage = tasks[0].result() if tasks else Usage()
    return findings_from_usage(usage, args=args), usage


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise UsageError("--engine dask needs dask and distributed, which are not installed", INSTALL_HINT) from None
    return distributed


class _client:
    """A Client on the scheduler given, or on a LocalCluster started (and stopped) here."""

    def __init__(self, distributed: Any, scheduler: str | None) -> None:
        self._distributed = distributed
        self._scheduler = scheduler
        self._cluster: Any = None
        self._client: Any = None

    def __enter__(self) -> Any:
        d = self._distributed
        if self._scheduler is None:
            self._cluster = d.LocalCluster(
                n_workers=LOCAL_WORKERS, threads_per_worker=1, processes=True, host="127.0.0.1",
                dashboard_address=None, silence_logs=50,
            )  # fmt: skip
            self._client = d.Client(self._cluster)
        else:
            try:
                self._client = d.Client(self._scheduler, timeout="10s")
            except (OSError, TimeoutError, ValueError) as e:
                raise UsageError(
                    f"--scheduler {self._scheduler}: cannot reach a Dask scheduler ({e})",
                    "give its address, e.g. tcp://10.0.0.5:8786 (dask scheduler prints it)",
                ) from None
        return self._client

    def __exit__(self, *exc: object) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()
