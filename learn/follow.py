"""`learn suggest --follow`: read a growing log live and say each new call as it appears.

A file is read to its end and then polled for what is appended (a file that shrinks or is
replaced, as logrotate does, is read again from its start); `-` reads stdin until it ends
(`journalctl -f -o json | learn suggest --follow -`). Lines go through one LineParser, so a
record wrapped over two reads is still joined, and through one Deduplicator, so a record seen
twice (journald's two copies) is said once.
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import BinaryIO

from learn.dedupe import Deduplicator
from learn.errors import InputError
from learn.model import Item, Problem, SeccompEvent
from learn.select import Selection
from parsers import DEFAULT_DECODING, DecodeOptions, InputFormat, LineParser
from parsers.framing import MAX_RECORD_LINE

POLL_SECONDS = 0.25
_CHUNK = 1 << 16


def _lines(stream: BinaryIO, path: str, keep_going: Callable[[], bool]) -> Iterator[tuple[int, str]]:
    """(line number, line) as lines are completed; polls a regular file at its end."""
    number, pending = 0, b""
    regular = path != "-" and os.path.isfile(path)
    while True:
        chunk = stream.read1(_CHUNK) if hasattr(stream, "read1") else stream.read(_CHUNK)
        if not chunk:
            if not regular or not keep_going():
                break
            if _replaced(stream, path):
                stream.close()
                stream = open(path, "rb")  # noqa: SIM115 - the loop owns it from here
                number, pending = 0, b""
                continue
            time.sleep(POLL_SECONDS)
            continue
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for raw in complete:
            number += 1
            yield number, raw.decode("utf-8", "replace")
        if len(pending) > MAX_RECORD_LINE:  # no record is that long: the parser reports the line
            number += 1
            yield number, pending.decode("utf-8", "replace")
            pending = b""
    if pending:
        yield number + 1, pending.decode("utf-8", "replace")
    stream.close()


def _replaced(stream: BinaryIO, path: str) -> bool:
    """The path now names another file, or the file shrank below what was read."""
    try:
        now, opened = os.stat(path), os.fstat(stream.fileno())
    except OSError:
        return False  # removed and not yet recreated: wait
    return (now.st_ino, now.st_dev) != (opened.st_ino, opened.st_dev) or now.st_size < stream.tell()


def follow(
    path: str,
    selection: Selection,
    on_new: Callable[[SeccompEvent], None],
    on_problem: Callable[[Problem], None],
    fmt: InputFormat = InputFormat.AUTO,
    options: DecodeOptions = DEFAULT_DECODING,
    keep_going: Callable[[], bool] = lambda: True,
) -> Counter[tuple[str, str | None, int]]:
    """Read path (or stdin) as it grows; on_new for the first event of each (arch, syscall)
    the selection keeps. Returns how often each (arch, syscall, nr) was selected, when the input
    ends or keep_going says stop."""
    try:
        stream: BinaryIO = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115
    except OSError as error:
        raise InputError(f"{path}: {error.strerror}") from None
    parser, dedupe = LineParser(path, fmt, options), Deduplicator()
    seen: Counter[tuple[str, str | None, int]] = Counter()

    def items() -> Iterator[Item]:
        yield from parser.feed(_lines(stream, path, keep_going))
        yield from parser.finish()

    keep = selection.matches
    for item in dedupe(items()):
        if isinstance(item, Problem):
            on_problem(item)
        elif keep(item):
            key = (item.arch, item.syscall, item.nr)
            seen[key] += 1
            if seen[key] == 1:
                on_new(item)
    return seen
