"""Counting a block of auditd text with Arrow and numpy: parsers.bulk without the GIL.

parsers.bulk counts a block with one Python `re` findall, about 2 µs a record, holding the
GIL. Here the work is done by kernels in C that release it, so two threads count two
blocks at once:

- the block becomes an Arrow array of its lines without a copy;
- one RE2 DFA pass (STRICT_LINE) checks that every SECCOMP line is in auditd's form, a
  subset of what parsers.bulk's BULK_LINE takes (a test keeps it so);
- in such a line every value from exe= on is one space-free token, so the fields are found
  by position: the 7th space from the end of the kernel's part (the line, or up to auditd's
  \\x1d tail) starts " exe=", the last one " code=0x". The varying parts (stamp, ip) are
  never looked at as text; " exe=... syscall=N" is grouped as an Arrow view of the block,
  and only its distinct values are decoded, once each, in Python;
- stamps are read as numbers from their fixed places (10-digit seconds, 3-digit millis).

Whatever this cannot vouch for (node= prefixes, a SECCOMP line of another shape, a stamp
or code of another width) makes count_block return None, and the caller counts the block
the slower way, so the result is always what parsers.bulk gives.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.lib.stride_tricks import sliding_window_view

from parsers.bulk import Key

if TYPE_CHECKING:
    from numpy.typing import NDArray

    Ints = NDArray[np.int64]

PREFIX = b"type=SECCOMP msg=audit("
# parsers.bulk._U32, and its syscall number without the look-ahead RE2 lacks: a 10-digit
# alternative never starts with 0.
_U32_TAIL = (
    r"[1-3][0-9]{9}|4[01][0-9]{8}|42[0-8][0-9]{7}|429[0-3][0-9]{6}|4294[0-8][0-9]{5}|42949[0-5][0-9]{4}"
    r"|429496[0-6][0-9]{3}|4294967[01][0-9]{2}|42949672[0-8][0-9]|429496729[0-4]"
)
_U32 = rf"(?:4294967295|[0-9]{{1,9}}|{_U32_TAIL})"
_SYSCALL = rf"(?:-1|0|[1-9][0-9]{{0,8}}|{_U32_TAIL})"
# One line with its "\n" (a block's last line gets one added). BULK_LINE, less: no space
# in a quoted exe (so tokens can be counted from the end), no \x1d before auditd's tail
# (so the first one starts it), and after code= only the end of the line or that tail.
STRICT_LINE = (
    r"^type=SECCOMP msg=audit\([0-9]+\.[0-9]+:[0-9]+\):"
    rf" auid={_U32} uid={_U32} gid={_U32} ses={_U32}"
    rf"(?: subj=[^ \n\x1d]+(?: \([a-z]+\))?)? pid={_U32} comm=(?:\"[^\"\n\x1d]*\"|[0-9A-F]+|\(null\)|\?)"
    rf" exe=(?:\"[^\" \n\x1d]*\"|[0-9A-F]+|\(null\)|\?) sig=[0-9]+ arch=[0-9a-f]+ syscall={_SYSCALL}"
    r" compat=[0-9] ip=0x0*[0-9a-f]{1,16} code=0x[0-9a-f]+(?:\n|\x1d[^\n]*\n)$"
)
# " exe=... syscall=N", the part of a line STRICT_LINE took that is grouped.
_EXE_TO_SYSCALL = re.compile(r' exe=("[^"]*"|[0-9A-F]+|\(null\)|\?) sig=[0-9]+ arch=([0-9a-f]+) syscall=(-?[0-9]+)')
_TOKENS_FROM_EXE = 7  # exe= sig= arch= syscall= compat= ip= code=
_TOKENS_FROM_COMPAT = 3  # compat= ip= code=
_CODE_AT = len(" code=0x")
_MAX_CODE_DIGITS = 8  # 32 bits
# The stamp's fixed places, counted from its start after PREFIX: "SSSSSSSSSS.mmm:N...)"
_DOT, _COLON, _SERIAL = 10, 14, 15
_SECONDS = len(PREFIX)
_MAX_SERIAL_DIGITS = 10
_STAMP_WINDOW = _SERIAL + _MAX_SERIAL_DIGITS + 1
_POWERS = 10.0 ** np.arange(9, -1, -1)
# Row k: the place values of a serial of 10 - k digits, over its digits and the ")" after them.
_SERIAL_POWERS = np.array(
    [
        [10.0 ** (_MAX_SERIAL_DIGITS - k - 1 - j) if j < _MAX_SERIAL_DIGITS - k else 0.0 for j in range(11)]
        for k in range(11)
    ]
)
_HEX = np.full(256, -1, np.int64)
_HEX[np.frombuffer(b"0123456789abcdef", np.uint8)] = np.arange(16)
_MIDDLES: dict[bytes, tuple[str, str, str] | None] = {}
_MIDDLES_LIMIT = 1 << 16
# framing.LOOK_MARKS as parsers.bulk._worth_a_look spells them (a test keeps them in step).
LOOK = r"SECCOMP|1326|seccomp|suppressed|audit_lost|exceeded|hold queue|code=|^\{"


class Stamp(NamedTuple):
    seconds: int
    millis: int
    serial: int


@dataclass(frozen=True)
class StampRun:
    """The stamps of a block's records: all distinct, as (seconds, millis, serial) numbers."""

    first: Stamp  # the least
    last: Stamp  # the greatest
    seconds: Ints
    millis: Ints
    serials: Ints
    key_index: Ints  # each record's row in syscalls
    syscalls: tuple[str, ...]  # the syscall number as written, per distinct " exe=... syscall=N"

    def __len__(self) -> int:
        return len(self.serials)

    def keys(self, stamp_key: Callable[[str | None, str, str], int]) -> list[int]:
        """learn.dedupe.stamp_key(None, ...) of every record in order (the slow part, done on demand).

        The stamp text is rebuilt exactly: count_block took only 10-digit seconds, 3-digit
        millis and serials without a leading zero."""
        names = self.syscalls
        return [
            stamp_key(None, f"{s}.{m:03d}:{n}", names[i])
            for s, m, n, i in zip(
                self.seconds.tolist(), self.millis.tolist(), self.serials.tolist(), self.key_index.tolist(), strict=True
            )
        ]


class ArrowBlockCount(NamedTuple):
    counts: Counter[Key]  # in the order the keys first appear, as parsers.bulk counts them
    stamps: StampRun | None  # None when the block has no SECCOMP line
    others: list[tuple[int, str]]  # (0-based line in block, line) for the per-line parser
    lines: int


def count_block(data: bytes) -> ArrowBlockCount | None:
    """Counts of the SECCOMP lines of data (whole lines), or None to count it another way."""
    if data and not data.endswith(b"\n"):
        data += b"\n"  # the last line of a file without one: a row like the others
    octets = np.frombuffer(data, np.uint8)
    ends = np.flatnonzero(octets == 10)  # each line's "\n"
    starts = np.concatenate(([0], ends[:-1] + 1)).astype(np.int64)
    rows = _rows(data, ends)
    if pc.any(pc.starts_with(rows, pattern=b"node=")).as_py():
        return None  # each host has serials of its own: parsers.bulk pairs them
    seccomp = pc.starts_with(rows, pattern=PREFIX).to_numpy(zero_copy_only=False)
    others = _others(rows, np.flatnonzero(~seccomp))
    if not seccomp.any():
        return ArrowBlockCount(Counter(), None, others, len(rows))
    strict = pc.match_substring_regex(rows, STRICT_LINE).to_numpy(zero_copy_only=False)
    if not np.array_equal(strict, seccomp):
        return None
    found = _count_records(data, octets, starts[seccomp], ends[seccomp])
    if found is None:
        return None
    return ArrowBlockCount(found[0], found[1], others, len(rows))


def _rows(data: bytes, ends: NDArray[np.intp]) -> pa.Array:
    """data's lines, each with its "\\n", as an Arrow array over data itself (no copy)."""
    wide = len(data) >= 1 << 31
    offsets = np.zeros(len(ends) + 1, np.int64 if wide else np.int32)
    offsets[1:] = ends + 1
    kind = pa.large_binary() if wide else pa.binary()
    return pa.Array.from_buffers(kind, len(ends), [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _others(rows: pa.Array, candidates: NDArray[np.intp]) -> list[tuple[int, str]]:
    """(0-based line, line) of the lines not in SECCOMP form worth the per-line parser's look."""
    lines = pc.take(rows, pa.array(candidates, pa.int64()))
    look = pc.match_substring_regex(lines, LOOK).to_numpy(zero_copy_only=False)
    picked = pc.filter(lines, pa.array(look)).to_pylist()
    at = candidates[look].tolist()
    return [(i, line[:-1].decode("utf-8", errors="replace")) for i, line in zip(at, picked, strict=True)]


def _count_records(
    data: bytes, octets: NDArray[np.uint8], starts: Ints, ends: Ints
) -> tuple[Counter[Key], StampRun] | None:
    """Counts and stamps of the lines STRICT_LINE took, from where their fields sit."""
    stamps = _stamps(octets, starts)
    if stamps is None:
        return None
    run = _distinct(*stamps)
    if run is None:
        return None  # a stamp twice in the block: the set path finds which
    # The kernel's part ends at the line's end or where auditd's \x1d tail starts.
    tails = np.append(np.flatnonzero(octets == 0x1D), len(octets))  # a last one past every line
    kernel_end = np.minimum(tails[np.searchsorted(tails, starts)], ends)
    spaces = np.flatnonzero(octets == 32)
    before_end = np.searchsorted(spaces, kernel_end)  # spaces before each kernel part's end
    exe_at = spaces[before_end - _TOKENS_FROM_EXE]
    compat_at = spaces[before_end - _TOKENS_FROM_COMPAT]
    code_at = spaces[before_end - 1] + _CODE_AT
    codes = _hex_values(octets, code_at, kernel_end)
    if codes is None:
        return None
    middles = pc.dictionary_encode(_views(data, octets, exe_at, compat_at - exe_at))
    decoded = [_exe_arch_syscall(m) for m in middles.dictionary.to_pylist()]
    if any(m is None for m in decoded):
        return None
    middle_index = middles.indices.to_numpy().astype(np.int64)
    pairs, first, counts = np.unique((middle_index << 32) | codes, return_index=True, return_counts=True)
    tally: Counter[Key] = Counter()  # in the order the keys first appear, as parsers.bulk counts them
    order = np.argsort(first)
    for pair, n in zip(pairs[order].tolist(), counts[order].tolist(), strict=True):
        m = decoded[pair >> 32]
        assert m is not None
        tally[(*m, f"{pair & 0xFFFFFFFF:x}")] += n
    syscalls = tuple(m[2] for m in decoded if m is not None)
    return tally, StampRun(*run, *stamps, middle_index, syscalls)


def _exe_arch_syscall(middle: bytes) -> tuple[str, str, str] | None:
    """(exe, arch, syscall) as written in " exe=... syscall=N", remembered: blocks repeat them."""
    try:
        return _MIDDLES[middle]
    except KeyError:
        pass
    m = _EXE_TO_SYSCALL.fullmatch(middle.decode("utf-8", errors="replace"))
    found = (m.group(1), m.group(2), m.group(3)) if m else None
    if len(_MIDDLES) < _MIDDLES_LIMIT:
        _MIDDLES[middle] = found  # dict assignment is atomic: the counting threads share it
    return found


def _stamps(octets: NDArray[np.uint8], starts: Ints) -> tuple[Ints, Ints, Ints] | None:
    """(seconds, millis, serial) of each line, or None if one is not in the usual widths."""
    window = sliding_window_view(octets, _STAMP_WINDOW)[starts + _SECONDS]  # "SSSSSSSSSS.mmm:N...)"
    if (window[:, _DOT] != ord(".")).any() or (window[:, _COLON] != ord(":")).any() or (window[:, 0] == 48).any():
        return None  # other widths, or a leading zero StampRun.keys would not give back
    serial = window[:, _SERIAL:]
    closed = serial == ord(")")  # STRICT_LINE: right after the digits
    width = closed.argmax(axis=1)
    if not closed.any(axis=1).all() or ((width > 1) & (serial[:, 0] == 48)).any():
        return None
    digits = window.astype(np.float64) - 48  # BLAS sums them; exact below 2**53
    seconds = digits[:, :_DOT] @ _POWERS[-_DOT:]
    millis = digits[:, _DOT + 1 : _COLON] @ _POWERS[-(_COLON - _DOT - 1) :]
    # The digits right-aligned, as if they had leading zeros: the powers of ten after the ")"
    # (and the ")" itself) are 0.
    serials = np.einsum("ij,ij->i", digits[:, _SERIAL:], _SERIAL_POWERS[_MAX_SERIAL_DIGITS - width])
    return seconds.astype(np.int64), millis.astype(np.int64), serials.astype(np.int64)


def _distinct(seconds: Ints, millis: Ints, serials: Ints) -> tuple[Stamp, Stamp] | None:
    """(least, greatest) stamp if no two are the same number, else None."""
    s, m, n = seconds, millis, serials
    ds, dm, dn = np.diff(s), np.diff(m), np.diff(n)
    if not ((ds > 0) | ((ds == 0) & ((dm > 0) | ((dm == 0) & (dn > 0))))).all():  # not in order as written
        order = np.lexsort((serials, millis, seconds))
        s, m, n = seconds[order], millis[order], serials[order]
        if ((np.diff(s) == 0) & (np.diff(m) == 0) & (np.diff(n) == 0)).any():
            return None
    return Stamp(int(s[0]), int(m[0]), int(n[0])), Stamp(int(s[-1]), int(m[-1]), int(n[-1]))


def _hex_values(octets: NDArray[np.uint8], starts: Ints, ends: Ints) -> Ints | None:
    """The hex numbers at [starts, ends), or None if one is longer than 32 bits or starts with 0."""
    width = ends - starts
    if (width > _MAX_CODE_DIGITS).any() or ((width > 1) & (octets[starts] == ord("0"))).any():
        return None  # the text would not be f"{value:x}" again
    window = sliding_window_view(octets, _MAX_CODE_DIGITS)[ends - _MAX_CODE_DIGITS]  # ends: past a " code=0x"
    inside = np.arange(_MAX_CODE_DIGITS) >= (_MAX_CODE_DIGITS - width)[:, None]
    digits = np.where(inside, _HEX[window], 0)
    values: Ints = (digits << (4 * np.arange(_MAX_CODE_DIGITS - 1, -1, -1))).sum(axis=1)
    return values


def _views(data: bytes, octets: NDArray[np.uint8], starts: Ints, lengths: Ints) -> pa.Array:
    """An Arrow binary view of each [start, start + length) of data, no copy (all longer
    than the 12 bytes a view holds inline: " exe=? sig=0 arch=0 syscall=0" is 29)."""
    assert (lengths > 12).all()
    views = np.zeros((len(starts), 4), np.int32)  # length, first 4 bytes, buffer 0, offset
    views[:, 0] = lengths
    views[:, 1] = octets[starts[:, None] + np.arange(4)].copy().view(np.int32)[:, 0]
    views[:, 3] = starts
    return pa.Array.from_buffers(pa.binary_view(), len(starts), [None, pa.py_buffer(views), pa.py_buffer(data)])
