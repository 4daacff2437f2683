"""Big audit.logs: count blocks of text in worker threads, merge them in file order.

The per-line parser is the reference; this is its fast twin for regular files of auditd
text, used when only --action narrows the selection. Threads count blocks with
parsers.arrowbulk (Arrow and numpy, which release the GIL), or parsers.bulk where it leaves
one; the merge takes them in order, deduplicating by audit stamp, and reads a block line by
line whenever the bulk count cannot vouch for it (an unusual record, a repeated stamp, a
journald copy that must pair with its twin in order). Tests check that both paths give the
same findings.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import chain
from typing import TYPE_CHECKING

from learn.dedupe import stamp_key
from learn.errors import InputError
from learn.lines import MAX_LINE_BYTES, LineSplitter
from learn.model import Action, ProblemKind
from learn.select import Selection
from learn.sniff import SAMPLE_BYTES, not_a_log
from learn.sources import Progress, changed_while_read
from learn.tally import Tally
from parsers import DEFAULT_DECODING, DecodeOptions, InputFormat, LineParser, parse, split_lines
from parsers.bulk import BlockCount, Key, count_block
from parsers.fastpath import FastDecoder

if TYPE_CHECKING:  # imported when first counting: pyarrow and numpy take 0.1 s, and small logs never need them
    from parsers.arrowbulk import ArrowBlockCount

BLOCK_BYTES = 8 << 20
IN_FLIGHT = 2  # blocks a worker counts ahead of the merge
MIN_BULK_BYTES = 32 << 20  # below this, starting workers costs more than it saves
_DECODED_LIMIT = 1 << 16  # distinct raw keys remembered (a log's programs times syscalls)


def usable(path: str, selection: Selection, fmt: InputFormat) -> bool:
    if fmt not in (InputFormat.AUTO, InputFormat.AUDITD) or path == "-" or path.endswith(".gz"):
        return False
    if selection != Selection(actions=selection.actions):
        return False  # a selection by program keeps the exec that started it: records in order
    try:
        if not os.path.isfile(path) or os.path.getsize(path) < MIN_BULK_BYTES:
            return False  # checked before opening: opening a FIFO would wait for a writer
        with open(path, "rb") as f:
            return f.read(2) != b"\x1f\x8b"
    except OSError:
        return False


def byte_ranges(fd: int, size: int, block: int = BLOCK_BYTES) -> list[tuple[int, int]] | None:
    """(offset, length) blocks of whole lines covering size bytes of fd; None when a line at a
    block boundary is longer than any record (the per-line reader then skips it, memory bounded)."""
    ranges, start = [], 0
    while start < size:
        end = min(start + block, size)
        if end < size:
            tail = os.pread(fd, MAX_LINE_BYTES + 1, end - 1)  # from the byte before the boundary
            newline = tail.find(b"\n")
            if newline < 0 and len(tail) > MAX_LINE_BYTES:
                return None
            end = end + newline if newline >= 0 else end - 1 + len(tail)
        ranges.append((start, end - start))
        start = end
    return ranges


def read_range(fd: int, offset: int, length: int) -> bytes:
    """The bytes of one range: read through the descriptor opened once, so a file renamed,
    replaced or removed meanwhile is still the file that was opened."""
    data = os.pread(fd, length, offset)
    while len(data) < length:
        more = os.pread(fd, length - len(data), offset + len(data))
        if not more:
            break  # the file shrank: the parent reports it
        data += more
    return data


def _has_long_line(data: bytes) -> bool:
    """True when some line may be longer than MAX_LINE_BYTES: a window of half that without "\n"."""
    window = MAX_LINE_BYTES // 2
    return any(data.find(b"\n", at, at + window) < 0 for at in range(0, len(data) - window + 1, window))


def _count_range(job: tuple[int, int, int]) -> ArrowBlockCount | BlockCount | int:
    """The block's counts, or its number of lines when it must be read line by line.

    parsers.arrowbulk first; what it leaves (a line of another shape) parsers.bulk counts."""
    data = read_range(*job)
    if _has_long_line(data):
        return data.count(b"\n") + (bool(data) and not data.endswith(b"\n"))
    from parsers import arrowbulk

    counted = arrowbulk.count_block(data)
    if counted is not None:
        return counted
    text = data.decode("utf-8", errors="replace")
    return count_block(text) or len(split_lines(text))


def count_file(
    path: str,
    tally: Tally,
    block: int = BLOCK_BYTES,
    progress: Progress | None = None,
    options: DecodeOptions = DEFAULT_DECODING,
) -> bool:
    """Count path into tally; False (nothing counted) when it must go through the per-line reader."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as error:
        raise InputError(f"{path}: {error.strerror}") from None
    try:
        return _count_open_file(path, fd, tally, block, progress, options)
    except OSError as error:
        raise InputError(f"{path}: {error.strerror}") from None
    finally:
        os.close(fd)


def _count_open_file(
    path: str, fd: int, tally: Tally, block: int, progress: Progress | None, options: DecodeOptions
) -> bool:
    opened = os.fstat(fd)
    found = not_a_log(os.pread(fd, SAMPLE_BYTES, 0))
    if found is not None:
        raise InputError(f"{path}: not a log ({found[0]})", found[1])
    ranges = byte_ranges(fd, opened.st_size, block)
    if ranges is None:
        return False
    advance = progress(path, opened.st_size) if progress else None
    merge = _Merger(path, fd, opened.st_size, tally, advance, options)
    workers = min(os.cpu_count() or 1, len(ranges))
    if workers <= 1:
        for offset, length in ranges:
            merge(offset, length, _count_range((fd, offset, length)))
    else:
        # Arrow's kernels and numpy, where the time goes, release the GIL: threads share fd and
        # memory. At most IN_FLIGHT blocks a worker are counted ahead of the merge, which may be
        # the slower side (a node= log's keys are a Python hash a record): memory stays bounded.
        with ThreadPoolExecutor(workers) as pool:
            pending: deque[tuple[int, int, Future[ArrowBlockCount | BlockCount | int]]] = deque()
            for offset, length in ranges:
                pending.append((offset, length, pool.submit(_count_range, (fd, offset, length))))
                if len(pending) > IN_FLIGHT * workers:
                    _merge_oldest(merge, pending)
            while pending:
                _merge_oldest(merge, pending)
    merge.finish()
    for problem in changed_while_read(path, fd, opened.st_size, merge.line, merge.shrank_to):
        tally.problem(problem)
    return True


def _merge_oldest(merge: _Merger, pending: deque[tuple[int, int, Future[ArrowBlockCount | BlockCount | int]]]) -> None:
    offset, length, future = pending.popleft()
    merge(offset, length, future.result())


class _Merger:
    def __init__(
        self,
        path: str,
        fd: int,
        size: int,
        tally: Tally,
        advance: Callable[[int], None] | None,
        options: DecodeOptions,
    ) -> None:
        self.path, self.fd, self.size, self.tally, self.advance, self.options = path, fd, size, tally, advance, options
        self.shrank_to: int | None = None  # the file's size when first seen below its size at open
        self.decode = FastDecoder()
        self._decoded: dict[Key, tuple[str, int, str | None, Action, str | None] | None] = {}
        self.line = 0  # lines before the current block
        self.lines = LineParser(path, InputFormat.AUTO, options)  # blocks read line by line, in order

    def finish(self) -> None:
        for item in self.lines.finish():
            self.tally.item(item)

    def __call__(self, offset: int, length: int, result: ArrowBlockCount | BlockCount | int) -> None:
        if self.advance is not None:
            self.advance(length)
        now = os.fstat(self.fd).st_size
        if now < self.size and self.shrank_to is None:
            self.shrank_to = now
        # A record wrapped over the last block's end continues in this one: read it line by line.
        if not isinstance(result, int) and self.lines.held is None and self._merge(result):
            self.line += result.lines
            return
        lines = LineSplitter(self.path, lines_before=self.line)
        data = read_range(self.fd, offset, length)
        numbered = chain(lines.feed(data), lines.finish())
        for item in chain(self.lines.feed(numbered), lines.problems):
            self.tally.item(item)
        self.line += result if isinstance(result, int) else result.lines

    def _merge(self, block: ArrowBlockCount | BlockCount) -> bool:
        if self.tally.keeps_starting_exec:
            return False  # which exec started a selected program needs each pid's records in order
        others = [
            item
            for index, line in block.others
            for item in parse([line], self.path, InputFormat.AUTO, self.line + index + 1, self.options)
        ]
        if any(getattr(item, "serial", True) is None for item in others):
            return False  # journald copies pair with records in order: read it line by line
        if any(getattr(item, "kind", None) is ProblemKind.TRUNCATED for item in others):
            return False  # maybe hard-wrapped: its next lines may hold no mark the block scan looks for
        decoded = [(self._key(key), n) for key, n in block.counts.items()]
        if any(value is None for value, _ in decoded) or not self._accept_stamps(block):
            return False
        for value, n in decoded:
            assert value is not None
            self.tally.counted(*value, n)
        for item in others:
            self.tally.item(item)
        return True

    def _key(self, key: Key) -> tuple[str, int, str | None, Action, str | None] | None:
        """FastDecoder.key, remembered: a big log's blocks repeat the same few thousand keys."""
        try:
            return self._decoded[key]
        except KeyError:
            value = self._decoded[key] = self.decode.key(*key) if len(self._decoded) < _DECODED_LIMIT else None
            return value if value is not None else self.decode.key(*key)

    def _accept_stamps(self, block: ArrowBlockCount | BlockCount) -> bool:
        dedupe = self.tally.dedupe
        if isinstance(block, BlockCount):
            return dedupe.accept_stamps(block.hostless, block.named, block.named_hostless)
        if block.hosts is not None:
            return dedupe.accept_stamps(*block.hosts.keys(stamp_key))
        if block.stamps is None:
            return True
        return dedupe.accept_ordered(block.stamps) or dedupe.accept_stamps(block.stamps.keys(stamp_key), [], [])
