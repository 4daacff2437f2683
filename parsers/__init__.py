"""Log lines in, SeccompEvents and Problems out: pure functions, no I/O, no exits.

Each line is framed by the first form that claims it (auditd, kernel log, journald JSON),
then its record body is decoded by the record's own arch with libseccomp's names.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from enum import StrEnum

from learn.model import Item, Problem, ProblemKind, SeccompEvent
from parsers.auditd import AUDITD_LINE, frame_auditd
from parsers.fastpath import FastDecoder
from parsers.framing import LOOK_MARKS, MAX_RECORD_LINE, Framed, Lost, Refused, looks_like_record
from parsers.kernel import frame_journal_json, frame_kernel_log
from parsers.pasted import PASTE_STARTS, frame_pasted
from parsers.record import DEFAULT_DECODING, DecodeOptions, decode_record
from parsers.snappy import SNAPPY_STARTS, frame_snappy
from parsers.stamps import local_zone
from parsers.wrapped import UNREAD, WRAPPED, Held, truncated

__all__ = [
    "DEFAULT_DECODING",
    "DecodeOptions",
    "InputFormat",
    "LineParser",
    "frame_line",
    "parse",
    "parse_numbered",
    "split_lines",
]

# A line with none of these cannot hold a record or a loss notice; most lines stop here.
_WORTH_A_LOOK = re.compile("|".join(map(re.escape, LOOK_MARKS)) + "|^{")
_AUDITD_SECCOMP = "type=SECCOMP msg=audit("

Frame = Framed | Refused | Lost | None


class InputFormat(StrEnum):
    AUTO = "auto"
    AUDITD = "auditd"  # audit.log, ausearch --raw, ausearch -i
    KERNEL = "kernel"  # dmesg, /dev/kmsg, syslog, journalctl short forms
    JOURNAL_JSON = "journal-json"  # journalctl -o json


def frame_line(line: str) -> Frame:
    """Auto-detect the form of one line and frame it."""
    if line.startswith(PASTE_STARTS):
        return frame_pasted(line, _frame_bare)
    return _frame_bare(line)


def _frame_bare(line: str) -> Frame:
    if line.startswith("{"):
        return frame_journal_json(line)
    if line.startswith(("type=", "node=")) or AUDITD_LINE.match(line):
        return frame_auditd(line)
    if line.startswith(SNAPPY_STARTS):
        return frame_snappy(line) or frame_kernel_log(line)
    return frame_kernel_log(line)


_FRAMERS: dict[InputFormat, Callable[[str], Frame]] = {
    InputFormat.AUTO: frame_line,
    InputFormat.AUDITD: frame_auditd,
    InputFormat.KERNEL: frame_kernel_log,
    InputFormat.JOURNAL_JSON: frame_journal_json,
}


def parse(
    lines: Iterable[str],
    source: str,
    fmt: InputFormat = InputFormat.AUTO,
    first_line: int = 1,
    options: DecodeOptions = DEFAULT_DECODING,
) -> Iterator[Item]:
    """Every SECCOMP event and problem in lines, in order; line numbers are 1-based.

    options.strict_origin refuses records of every form that cannot prove the kernel wrote
    them (text syslog, dmesg): only audit.log, /dev/kmsg and journald's JSON remain."""
    return parse_numbered(enumerate(lines, first_line), source, fmt, options)


def parse_numbered(
    lines: Iterable[tuple[int, str]],
    source: str,
    fmt: InputFormat = InputFormat.AUTO,
    options: DecodeOptions = DEFAULT_DECODING,
) -> Iterator[Item]:
    """parse() for (line number, line) pairs: a reader that skips blank lines keeps the numbers right.

    A record cut short whose next lines are no log lines of their own (a pager's or a poster's
    hard wrap) is read joined with them (parsers/wrapped.py)."""
    parser = LineParser(source, fmt, options)
    yield from parser.feed(lines)
    yield from parser.finish()


class LineParser:
    """parse_numbered() in pieces, for a reader that gets a file in blocks: a record wrapped
    over a block's end is joined with the next block's lines."""

    def __init__(self, source: str, fmt: InputFormat = InputFormat.AUTO, options: DecodeOptions = DEFAULT_DECODING):
        self.reader = _LineReader(source, fmt, options)
        self.held: Held | None = None  # a record cut short, and the lines that may continue it

    def finish(self) -> Iterator[Item]:
        if self.held is not None:
            yield from self.held.items
            self.held = None

    def feed(self, lines: Iterable[tuple[int, str]]) -> Iterator[Item]:
        reader, look, held = self.reader, _WORTH_A_LOOK.search, self.held
        source, fmt = reader.source, reader.fmt
        for number, raw in lines:
            if held is not None:
                grown = None
                for joined in held.extend(raw):
                    items = reader.items(held.number, joined, doubt=WRAPPED)
                    if not any(isinstance(i, Problem) and i.kind is not ProblemKind.NOTE for i in items):
                        break  # the join that reads cleanly
                    if reader.refused_as_strict(items):
                        break  # read as a record, which --strict-origin refuses
                    if grown is None and truncated(items) and held.more():
                        grown = held.grown(joined)
                else:
                    if grown is not None:
                        held = grown
                        continue
                    yield from held.items
                    held = None
                if held is not None:
                    yield from items
                    held = None
                    continue
            if len(raw) > MAX_RECORD_LINE:  # learn/lines.py skips them when reading; other callers too
                if look(raw) is not None:
                    yield Problem(ProblemKind.MALFORMED, _too_long(len(raw)), source, number)
                continue
            if raw.startswith(_AUDITD_SECCOMP) and fmt in (InputFormat.AUTO, InputFormat.AUDITD):
                event = reader.fast(raw, source, number)  # audit.log's own form: its origin needs no proof
                if event is not None:
                    yield event
                    continue
            elif look(raw) is None:
                continue
            items = reader.items(number, raw.rstrip("\r\n"))
            if fmt is InputFormat.AUTO and truncated(items):
                yield from items[:-1]  # notes stand whatever follows
                held = Held(number, raw.rstrip("\r\n"), items[-1:])
                continue
            yield from items
        self.held = held


class _LineReader:
    """One line's events and problems; remembers which zone `ausearch -i` stamps were read in."""

    def __init__(self, source: str, fmt: InputFormat, options: DecodeOptions) -> None:
        self.source, self.fmt, self.options = source, fmt, options
        self.framer = _FRAMERS[fmt]
        self.zone_named = options.zone is not None  # else the first `ausearch -i` stamp says which zone was taken
        self.fast = FastDecoder()

    def refused_as_strict(self, items: list[Item]) -> bool:
        return (
            self.options.strict_origin
            and len(items) == 1
            and isinstance(items[0], Problem)
            and items[0].message.endswith(_STRICT_TAIL)
        )

    def items(self, number: int, line: str, doubt: str | None = None) -> list[Item]:
        source, options = self.source, self.options
        framed = self.framer(line)
        if framed is None:
            if self.fmt is InputFormat.AUTO and looks_like_record(line):  # nothing that looks like one goes unsaid
                return [Problem(ProblemKind.MALFORMED, UNREAD, source, number)]
            return []
        if isinstance(framed, Refused):
            return [Problem(framed.kind, framed.why, source, number)]
        if isinstance(framed, Lost):
            return [Problem(ProblemKind.LOSS, framed.why, source, number, lost=framed.dropped)]
        body, stamp, interpreted, legacy, node = framed.body, framed.stamp, *framed[2:5]
        doubt = framed.doubt or doubt
        if options.strict_origin and doubt is not None:
            return [Problem(ProblemKind.UNTRUSTED, _STRICT.format(doubt), source, number)]
        out: list[Item] = []
        if interpreted and not self.zone_named and stamp not in (None, "..."):
            zone = local_zone()
            self.options, self.zone_named = options._replace(zone=zone.zone), True
            options = self.options
            out.append(Problem(ProblemKind.NOTE, f"ausearch -i stamps are local time: read as {zone.name}"
                               " (the reader's zone; --timezone ZONE names the writer's)", source, number))  # fmt: skip
        decoded = decode_record(
            body, stamp, source, number, interpreted=interpreted, legacy=legacy, node=node, options=options
        )
        out.extend(decoded if framed.claimed_name is None else _check_name(decoded, framed.claimed_name))
        return out


_STRICT_TAIL = " cannot prove the kernel wrote it (--strict-origin: read audit.log, /dev/kmsg or journalctl -o json)"
_STRICT = "{}" + _STRICT_TAIL


def _check_name(items: Iterator[Item], claimed: str) -> Iterator[Item]:
    """The number decides; a printed name that disagrees is said, with the name taken."""
    for item in items:
        yield item
        if isinstance(item, SeccompEvent) and item.syscall is not None and item.syscall != claimed:
            why = (f"the log names syscall {item.nr} {claimed!r}, but on {item.arch} it is {item.syscall!r}"
                   " (the number decides; was the log rendered on another arch?)")  # fmt: skip
            yield Problem(ProblemKind.NOTE, why, item.source, item.line)


def _too_long(length: int) -> str:
    return f"line longer than 64 KiB ({length} characters), skipped (no record is that long)"


def split_lines(text: str) -> list[str]:
    """Lines with their "\n". Not str.splitlines: it also splits at 0x1c-0x1e, and auditd's
    ENRICHED format puts 0x1d inside every record."""
    lines = text.split("\n")
    last = lines.pop()
    return [line + "\n" for line in lines] + ([last] if last else [])
