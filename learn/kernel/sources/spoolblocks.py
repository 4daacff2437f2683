"""The netlink spool a block at a time, vectorised: what `learn run` decodes after the target exits.

The per-record decoder (NetlinkSource._records, then the parsers, line by line) costs about
6 µs a record in Python; a syscall-heavy target makes a million records. Here a block of
records (framed by the sizes the reader kept) is read with numpy: every record's type and
audit serial (for the loss accounting), and for SECCOMP records the time of their stamp and
the text after it. Records of one program making one call from one place are identical but
for their stamp, so the texts are few: pyarrow groups them (binary views into the block, no
copy), and each distinct one is decoded once by the per-record parsers (learn.livecount).

parse() vouches for a block only when every record looks exactly as the kernel writes it
(`audit(SECONDS.MMM:SERIAL): ` with ten-digit seconds, nothing after the text) and the only
kept records are SECCOMP ones; otherwise it returns None and the block is decoded record by
record, the reference. numpy and pyarrow release the GIL for most of this, so the reader
thread keeps running.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

SECCOMP = 1326
KEPT = (1326, 1701, 1300)  # learn.kernel.sources.KEPT_TYPES: only SECCOMP is read here
HEADER = 16  # struct nlmsghdr
_HEAD = 56  # bytes looked at from a record's start: header, then `audit(` + stamp + `): `
_SERIAL_AT = 21  # in the text: `audit(` 6, seconds 10, `.` 1, millis 3, `:` 1
_MAX_SERIAL_DIGITS = 10


def _word(pattern: bytes) -> np.uint64:
    return np.uint64(int.from_bytes(pattern.ljust(8, b"\0"), "little"))


_AUDIT = _word(b"audit(")
_LOW6 = _word(b"\xff" * 6)
_LOW3 = _word(b"\xff" * 3)
_HIGH2 = _word(b"\0" * 6 + b"\x80" * 2)
_DOT_COLON = _word(b".\0\0\0:")
_DOT_COLON_MASK = _word(b"\xff\0\0\0\xff")
_MILLI_BYTES = _word(b"\0\x80\x80\x80")
_CLOSE = _word(b"): ")
_ZEROS = _word(b"0" * 8)
_LOW7 = _word(b"\x7f" * 8)
_HIGH = _word(b"\x80" * 8)
_SEVENTY_SIX = _word(b"\x76" * 8)  # 0x76 + 9 < 0x80 <= 0x76 + 10: a byte above 9 reaches the high bit
_BYTE = np.uint64(0xFF)
_INLINE = 12  # binary views hold values this short inline; texts are always longer

R = TypeVar("R")
Ints = npt.NDArray[np.int64]


@dataclass
class SeccompBlock:
    """A block whose kept records are all SECCOMP records, grouped by their text after the stamp."""

    data: bytes
    starts: Ints  # per record of the block: where it starts in data (netlink header included)
    ends: Ints
    kept: int  # SECCOMP records (the block's only kept records), in order
    first_lines: list[str]  # per group: the audit.log line of its first record
    index: npt.NDArray[np.int32]  # per SECCOMP record: its group (groups numbered by first appearance)
    first: Ints  # per group: its first record, counted among the SECCOMP records
    counts: Ints  # per group: its records
    times: npt.NDArray[np.float64]  # per SECCOMP record: its stamp's time, as the parsers compute it
    others: list[int]  # the block's other records (markers among them)

    def record(self, which: int) -> bytes:
        return self.data[int(self.starts[which]) : int(self.ends[which])]

    def seccomp_records(self) -> Iterator[bytes]:
        """The raw SECCOMP records, in order: for reading the block record by record after all."""
        for start, end in zip(self.starts.tolist(), self.ends.tolist(), strict=True):
            if int.from_bytes(self.data[start + 4 : start + 6], "little") == SECCOMP:
                yield self.data[start:end]


def records(data: bytes, sizes: Sequence[int], decode: Callable[[bytes], R | None]) -> Iterator[R]:
    """decode() of each record of a block, skipping what it refuses: the per-record path."""
    at = 0
    for size in sizes:
        record = decode(data[at : at + size])
        at += size
        if record is not None:
            yield record


def parse(data: bytes, sizes: memoryview) -> tuple[npt.NDArray[np.uint32], SeccompBlock] | None:
    """(every record's serial, the block grouped), or None when the block must be read record by record."""
    n = len(sizes)
    size = np.frombuffer(sizes, np.uint32).astype(np.int64)
    if n == 0 or int(size.min()) < _HEAD:
        return None
    ends = np.cumsum(size)
    starts = ends - size
    # Eight bytes at any offset: an unaligned uint64 view of the block, read a word per field.
    words = np.ndarray((len(data) - 7,), dtype="<u8", buffer=data, strides=(1,))
    header = words[starts]
    opening = words[starts + HEADER]  # `audit(` and the seconds' first 2 digits
    seconds = words[starts + HEADER + 8]  # the other 8
    millis = words[starts + HEADER + 16]  # `.`, 3 digits, `:`, ...
    serial_head = words[starts + HEADER + _SERIAL_AT]
    serial_tail = words[starts + HEADER + _SERIAL_AT + 8]
    odd_head = _non_digits(serial_head)
    odd_tail = _non_digits(serial_tail)
    digits = np.where(odd_head != 0, _first_byte(odd_head), 8 + _first_byte(odd_tail))
    after = words[starts + HEADER + _SERIAL_AT + digits]
    good = (
        ((opening & _LOW6) == _AUDIT)
        & (_non_digits(opening) & _HIGH2 == 0)
        & (_non_digits(seconds) == 0)
        & (millis & _DOT_COLON_MASK == _DOT_COLON)
        & (_non_digits(millis) & _MILLI_BYTES == 0)
        & (digits > 0)
        & (digits <= _MAX_SERIAL_DIGITS)
        & (after & _LOW3 == _CLOSE)
    )
    if not good.all():
        return None
    # The serial: right-aligned in a word padded with `0`s when it fits in 8 digits, else 8 + the rest.
    short = np.minimum(digits, 8).astype(np.uint64)
    pad = np.uint64(8) * (np.uint64(8) - short)
    aligned = np.where(pad > 0, (serial_head << pad) | (_ZEROS & ((np.uint64(1) << pad) - np.uint64(1))), serial_head)
    serials = _eight_digits(aligned).astype(np.int64)
    tail = (serial_tail & _BYTE).astype(np.int64) - 48
    tail2 = tail * 10 + ((serial_tail >> np.uint64(8)) & _BYTE).astype(np.int64) - 48
    serials = np.where(digits == 9, serials * 10 + tail, np.where(digits == 10, serials * 100 + tail2, serials))
    if int(serials.max()) > 0xFFFFFFFF:
        return None
    kept_serials = serials.astype(np.uint32)  # kept for the whole run: 4 bytes a record
    kinds = ((header >> np.uint64(32)) & np.uint64(0xFFFF)).astype(np.int64)
    seccomp = np.flatnonzero(kinds == SECCOMP)
    if np.isin(kinds, KEPT).sum() != len(seccomp):
        return None  # ANOM_ABEND, SYSCALL: the per-record path
    first_two = ((opening >> np.uint64(48)) & _BYTE).astype(np.int64) * 10 + (opening >> np.uint64(56)).astype(np.int64)
    first_two -= 528  # 48 * 11
    sec = (first_two * 100_000_000 + _eight_digits(seconds).astype(np.int64)).astype(np.float64)
    milli = ((millis >> np.uint64(8)) & _BYTE) * np.uint64(100) + ((millis >> np.uint64(16)) & _BYTE) * np.uint64(10)
    milli = (milli + ((millis >> np.uint64(24)) & _BYTE)).astype(np.int64) - 5328  # 48 * 111
    times = sec + milli.astype(np.float64) / 1000.0  # int(seconds) + int(millis) / 1000, as the parsers do
    header_length = (header & np.uint64(0xFFFFFFFF)).astype(np.int64)
    block = _grouped(data, words, starts, ends, seccomp, digits, header_length, times)
    return (kept_serials, block) if block is not None else None


def _non_digits(word: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """Per byte of each word: its high bit set when the byte is not an ASCII digit (no carries between bytes)."""
    x = word ^ _ZEROS
    return (((x & _LOW7) + _SEVENTY_SIX) | x) & _HIGH


def _first_byte(marks: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
    """The index of the lowest byte whose high bit is set (8 when none is)."""
    lowest = marks & (~marks + np.uint64(1))
    index = ((np.log2(np.maximum(lowest, np.uint64(1)).astype(np.float64)) - 7) / 8).astype(np.int64)
    return np.where(marks == 0, 8, index)


def _eight_digits(word: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """The number eight ASCII digits spell, first byte most significant (fast_float's SWAR parse)."""
    x = word - _ZEROS
    x = ((x * np.uint64(10)) + (x >> np.uint64(8))) & np.uint64(0x00FF00FF00FF00FF)
    x = ((x * np.uint64(100)) + (x >> np.uint64(16))) & np.uint64(0x0000FFFF0000FFFF)
    return ((x * np.uint64(10000)) + (x >> np.uint64(32))) & np.uint64(0xFFFFFFFF)


def _grouped(
    data: bytes,
    words: npt.NDArray[np.uint64],
    starts: Ints,
    ends: Ints,
    seccomp: Ints,
    digits: Ints,
    header_length: Ints,
    all_times: npt.NDArray[np.float64],
) -> SeccompBlock | None:
    empty = np.zeros(0, np.int64)
    others = np.flatnonzero(np.bincount(seccomp, minlength=len(starts)) == 0).tolist()
    if not len(seccomp):
        return SeccompBlock(data, starts, ends, 0, [], np.zeros(0, np.int32), empty, empty, np.zeros(0), others)
    size = ends[seccomp] - starts[seccomp]
    length = header_length[seccomp]
    text_end = starts[seccomp] + np.where((length >= HEADER) & (length <= size), length, size)
    last = np.frombuffer(data, np.uint8)[text_end - 1]
    if ((last == 0) | (last == ord("\n"))).any():
        return None  # the per-record decoder strips these: leave it to it
    body_start = starts[seccomp] + HEADER + _SERIAL_AT + digits[seccomp] + 3
    body_length = text_end - body_start
    if int(body_length.min()) <= _INLINE or int(text_end.max()) >= 1 << 31:
        return None
    # Binary views (length, 4-byte prefix, buffer 0, offset) straight into the block: no copy.
    views = np.zeros((len(seccomp), 4), np.int32)
    views[:, 0] = body_length
    views[:, 1] = (words[body_start] & np.uint64(0xFFFFFFFF)).astype(np.uint32).view(np.int32)
    views[:, 3] = body_start
    bodies = pa.Array.from_buffers(pa.binary_view(), len(seccomp), [None, pa.py_buffer(views), pa.py_buffer(data)])
    encoded = pc.dictionary_encode(bodies)
    indices = encoded.indices  # int32, no nulls; read as numpy without pyarrow's pandas shim
    index = np.frombuffer(indices.buffers()[1], np.int32, len(indices), indices.offset * 4)
    groups = len(encoded.dictionary)
    # Arrow numbers the values by first appearance: where the running maximum grows is a first record.
    grown = np.flatnonzero(np.diff(np.maximum.accumulate(index), prepend=-1) > 0)
    if len(grown) != groups or not (index[grown] == np.arange(groups)).all():
        return None
    first_lines = []
    for start, end in zip(starts[seccomp[grown]].tolist(), text_end[grown].tolist(), strict=True):
        first_lines.append("type=SECCOMP msg=" + data[start + HEADER : end].decode("utf-8", "replace"))
    counts = np.bincount(index, minlength=groups).astype(np.int64)
    times = all_times[seccomp]
    grown = grown.astype(np.int64)
    return SeccompBlock(data, starts, ends, len(seccomp), first_lines, index, grown, counts, times, others)


def as_serials(serials: array[int]) -> npt.NDArray[np.uint32]:
    return np.frombuffer(serials, np.uint32).copy() if len(serials) else np.zeros(0, np.uint32)


def serial_counter(parts: list[npt.NDArray[np.uint32]]) -> tuple[int | None, Callable[[int, int], int]]:
    """(the first serial received, distinct_in(lo, hi)) over every block's serials, in spool order."""
    serials = np.concatenate(parts) if parts else np.zeros(0, np.uint32)  # 4 bytes a record, no more
    parts.clear()

    def distinct_in(lo: int, hi: int) -> int:
        inside = serials[(serials >= np.uint32(lo)) & (serials <= np.uint32(hi))] - np.uint32(lo)
        seen = np.zeros(hi - lo + 1, np.bool_)
        seen[inside] = True
        return int(np.count_nonzero(seen))

    return (int(serials[0]) if len(serials) else None), distinct_in
