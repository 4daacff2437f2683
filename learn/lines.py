"""Blocks of bytes in, numbered lines out: what every log reader shares.

Lines end at "\\n" only. Not at "\\r" (a kernel message may hold a raw "\\r" that an
unprivileged user put into a file name; splitting there would make a forged record a line of
its own), and not where str.splitlines would (0x1c-0x1e: auditd's ENRICHED format puts 0x1d
inside every record).

Blank lines are counted, never handed on: a 0.9 MB .gz of newlines is a billion lines, so
they are skipped in C, a block at a time. A line longer than MAX_LINE_BYTES cannot be a
record (the kernel caps an audit message near 9 KB) and is skipped, reported once, and never
held in memory: memory follows the block size, not the length of a line or of a file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import chain, compress, count

from learn.model import Problem, ProblemKind

MAX_LINE_BYTES = 64 << 10
MAX_LINE_TEXT = "64 KiB"
# Reported one by one up to this many; beyond it one problem counts the rest (memory stays bounded).
KEPT_LONG_LINES = 100

NumberedLine = tuple[int, str]
# Runs of this many newlines or more are counted in C rather than split into a list.
_BLANK_RUN_LINES = 16
_BLANK_RUN = re.compile(b"\n{%d,}" % _BLANK_RUN_LINES)


class LineSplitter:
    """Feed it blocks in order; it yields (1-based line number, line without its "\\n")."""

    def __init__(self, source: str, max_line: int = MAX_LINE_BYTES, lines_before: int = 0) -> None:
        self.source = source
        self.max_line = max_line
        self.lines = lines_before  # lines ended so far (blank ones included)
        self.problems: list[Problem] = []
        self._pending: list[bytes] = []  # the start of a line not ended yet
        self._pending_bytes = 0
        self._skipping = False  # inside a line longer than max_line: drop bytes until "\n"
        self._long_lines = 0
        self._overflow_at = 0  # the first long line not reported on its own

    def feed(self, block: bytes) -> Iterator[NumberedLine]:
        if self._skipping:
            end = block.find(b"\n")
            if end < 0:
                return iter(())
            self._skipping = False
            self.lines += 1
            block = block[end + 1 :]
        cut = block.rfind(b"\n") + 1
        if cut == 0:
            self._hold(block)
            return iter(())
        complete = b"".join((*self._pending, block[:cut])) if self._pending else block[:cut]
        self._pending, self._pending_bytes = [], 0
        lines = self._split(complete)
        self._hold(block[cut:])
        return lines

    def finish(self) -> Iterator[NumberedLine]:
        """The last line when the input does not end with "\\n"; problems are complete after it."""
        self._count_overflow()
        if self._skipping or not self._pending:
            return iter(())
        self.lines += 1
        text = b"".join(self._pending).decode("utf-8", errors="replace")
        self._pending, self._pending_bytes = [], 0
        return iter([(self.lines, text)])

    def _hold(self, part: bytes) -> None:
        if not part:
            return
        self._pending.append(part)
        self._pending_bytes += len(part)
        if self._pending_bytes > self.max_line:
            self._pending, self._pending_bytes = [], 0
            self._skipping = True
            self._long(self.lines + 1)

    def _split(self, complete: bytes) -> Iterator[NumberedLine]:
        """The lines of whole lines of bytes (complete ends with "\\n")."""
        base = self.lines
        ended = complete.count(b"\n")
        self.lines += ended
        if ended == len(complete):
            return iter(())  # nothing but newlines
        if ended * _BLANK_RUN_LINES < len(complete):
            return self._segment(complete, base)
        # Many newlines: long runs of them are counted, never split into a list.
        parts: list[Iterator[NumberedLine]] = []
        start = 0
        for run in _BLANK_RUN.finditer(complete):
            segment = complete[start : run.start() + 1]
            parts.append(self._segment(segment, base))
            base += segment.count(b"\n") + run.end() - run.start() - 1
            start = run.end()
        parts.append(self._segment(complete[start:], base))
        return chain.from_iterable(parts)

    def _segment(self, data: bytes, base: int) -> Iterator[NumberedLine]:
        lines = data.decode("utf-8", errors="replace").split("\n")
        lines.pop()  # "" after the last "\n"
        if len(data) > self.max_line:
            sizes = list(map(len, data.split(b"\n")))
            sizes.pop()
            if max(sizes) > self.max_line:
                cut = self._cut
                lines = [cut(base + i, line, size) for i, (line, size) in enumerate(zip(lines, sizes, strict=True), 1)]
        # compress/filter run in C: a blank line costs a few nanoseconds.
        return zip(compress(count(base + 1), lines), filter(None, lines), strict=True)

    def _cut(self, number: int, line: str, size: int) -> str:
        if size <= self.max_line:
            return line
        self._long(number)
        return ""

    def _long(self, number: int) -> None:
        self._long_lines += 1
        if self._long_lines <= KEPT_LONG_LINES:
            message = f"line longer than {MAX_LINE_TEXT}, skipped (no record is that long)"
            self.problems.append(Problem(ProblemKind.MALFORMED, message, self.source, number))
        elif self._long_lines == KEPT_LONG_LINES + 1:
            self._overflow_at = number

    def _count_overflow(self) -> None:
        """Long lines beyond the ones kept become one problem."""
        more = self._long_lines - KEPT_LONG_LINES
        if more > 0:
            message = f"{more} more lines longer than {MAX_LINE_TEXT} skipped"
            self.problems.append(Problem(ProblemKind.MALFORMED, message, self.source, self._overflow_at))
            self._long_lines = KEPT_LONG_LINES
