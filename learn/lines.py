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
_BLANK_RUN_TEXT = b"\n" * _BLANK_RUN_LINES


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
        start = 0
        if self._skipping:
            start = block.find(b"\n") + 1
            if start == 0:
                return iter(())
            self._skipping = False
            self.lines += 1
        parts = []
        if self._pending:  # the line begun in an earlier block, on its own (it may be too long)
            end = block.find(b"\n", start) + 1
            if end == 0:
                self._hold(block[start:])
                return iter(())
            head = b"".join((*self._pending, block[start:end]))
            self._pending, self._pending_bytes = [], 0
            parts.append(self._split(head))
            start = end
        cut = block.rfind(b"\n", start) + 1
        if cut > start:
            parts.append(self._split(block[start:cut]))
        else:
            cut = start
        self._hold(block[cut:])
        return chain.from_iterable(parts)

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
        if complete.find(_BLANK_RUN_TEXT) < 0:
            return self._segment(complete)
        # Long runs of newlines are counted, never split into a list.
        parts: list[Iterator[NumberedLine]] = []
        start = 0
        for run in _BLANK_RUN.finditer(complete):
            parts.append(self._segment(complete[start : run.start() + 1]))
            self.lines += run.end() - run.start() - 1
            start = run.end()
        if start < len(complete):
            parts.append(self._segment(complete[start:]))
        return chain.from_iterable(parts)

    def _segment(self, data: bytes) -> Iterator[NumberedLine]:
        base = self.lines
        lines = data.decode("utf-8", errors="replace").split("\n")
        lines.pop()  # "" after the last "\n"
        self.lines += len(lines)
        if self._may_hold_a_long_line(data):
            sizes = list(map(len, data.split(b"\n")))
            cut = self._cut
            lines = [cut(base + i, line, size) for i, (line, size) in enumerate(zip(lines, sizes[:-1], strict=True), 1)]
        # compress/filter run in C: a blank line costs a few nanoseconds.
        return zip(compress(count(base + 1), lines), filter(None, lines), strict=True)

    def _may_hold_a_long_line(self, data: bytes) -> bool:
        """Cheap and never wrong the safe way: a line over max_line bytes holds a whole aligned
        window of half that size, so some such window has no "\\n"."""
        window = max(1, self.max_line // 2)
        return len(data) > self.max_line and any(
            data.find(b"\n", at, at + window) < 0 for at in range(0, len(data) - window + 1, window)
        )

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
