"""Big audit.logs: count blocks of text in worker processes, merge them in file order.

The per-line parser is the reference; this is its fast twin for regular files of auditd
text, used when only --action narrows the selection. Workers count blocks with
parsers.bulk; the parent merges them in order, deduplicating by audit stamp, and reads a
block line by line whenever the bulk count cannot vouch for it (an unusual record, a
repeated stamp, a journald copy that must pair with its twin in order). Tests check that
both paths give the same findings.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

from learn.select import Selection
from learn.sources import Progress
from learn.tally import Tally
from parsers import DEFAULT_DECODING, DecodeOptions, InputFormat, parse, split_lines
from parsers.bulk import BlockCount, count_block
from parsers.fastpath import FastDecoder

BLOCK_BYTES = 16 << 20
MIN_BULK_BYTES = 32 << 20  # below this, starting workers costs more than it saves


def usable(path: str, selection: Selection, fmt: InputFormat) -> bool:
    if fmt not in (InputFormat.AUTO, InputFormat.AUDITD) or path == "-" or path.endswith(".gz"):
        return False
    if selection != Selection(actions=selection.actions):
        return False  # a selection by program keeps the exec that started it: records in order
    try:
        with open(path, "rb") as f:
            return os.path.isfile(path) and f.read(2) != b"\x1f\x8b" and os.path.getsize(path) >= MIN_BULK_BYTES
    except OSError:
        return False


def byte_ranges(path: str, block: int = BLOCK_BYTES) -> list[tuple[int, int]]:
    """(offset, length) blocks of whole lines covering the file."""
    size = os.path.getsize(path)
    ranges, start = [], 0
    with open(path, "rb") as f:
        while start < size:
            f.seek(min(start + block, size))
            f.readline()  # run on to the end of the line the block boundary fell in
            end = min(f.tell(), size)
            ranges.append((start, end - start))
            start = end
    return ranges


def read_range(path: str, offset: int, length: int) -> str:
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(length).decode("utf-8", errors="replace")


def _count_range(job: tuple[str, int, int]) -> BlockCount | int:
    """The block's counts, or its number of lines when it must be read line by line."""
    text = read_range(*job)
    return count_block(text) or len(split_lines(text))


def count_file(
    path: str,
    tally: Tally,
    block: int = BLOCK_BYTES,
    progress: Progress | None = None,
    options: DecodeOptions = DEFAULT_DECODING,
) -> None:
    ranges = byte_ranges(path, block)
    advance = progress(path, os.path.getsize(path)) if progress else None
    merge = _Merger(path, tally, advance, options)
    workers = min(os.cpu_count() or 1, len(ranges))
    if workers <= 1:
        for offset, length in ranges:
            merge(offset, length, _count_range((path, offset, length)))
        return
    with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
        results = pool.map(_count_range, [(path, o, n) for o, n in ranges])
        for (offset, length), result in zip(ranges, results, strict=True):
            merge(offset, length, result)


class _Merger:
    def __init__(self, path: str, tally: Tally, advance: Callable[[int], None] | None, options: DecodeOptions) -> None:
        self.path, self.tally, self.advance, self.options = path, tally, advance, options
        self.decode = FastDecoder()
        self.line = 0  # lines before the current block

    def __call__(self, offset: int, length: int, result: BlockCount | int) -> None:
        if self.advance is not None:
            self.advance(length)
        if isinstance(result, BlockCount) and self._merge(result):
            self.line += result.lines
            return
        text = read_range(self.path, offset, length)
        for item in parse(split_lines(text), self.path, InputFormat.AUTO, self.line + 1, self.options):
            self.tally.item(item)
        self.line += result.lines if isinstance(result, BlockCount) else result

    def _merge(self, block: BlockCount) -> bool:
        if self.tally.keeps_starting_exec:
            return False  # which exec started a selected program needs each pid's records in order
        others = [
            item
            for index, line in block.others
            for item in parse([line], self.path, InputFormat.AUTO, self.line + index + 1, self.options)
        ]
        if any(getattr(item, "serial", True) is None for item in others):
            return False  # journald copies pair with records in order: read it line by line
        decoded = [(self.decode.key(*key), n) for key, n in block.counts.items()]
        if any(value is None for value, _ in decoded) or not self.tally.dedupe.accept_stamps(
            block.hostless, block.named, block.named_hostless
        ):
            return False
        for value, n in decoded:
            assert value is not None
            self.tally.counted(*value, n)
        for item in others:
            self.tally.item(item)
        return True
