"""Counting a block of auditd text with Arrow and numpy: parsers.bulk without the GIL.

parsers.bulk counts a block with one Python `re` findall, about 2 µs a record, holding the
GIL. Here the work is done by kernels in C that release it, so two threads count two
blocks at once, and no pass of a regex goes over every byte:

- the block becomes an Arrow array of its lines without a copy;
- in a SECCOMP line of auditd's form (STRICT_LINE, a subset of parsers.bulk's BULK_LINE) every
  value from pid= on is one space-free token, so the fields are found by position: counting
  spaces back from the end of the kernel's part (the line, or up to auditd's \x1d tail), the
  9th starts " pid=", the 8th " comm=", the 2nd " ip=0x", the last " code=0x";
- what lies between the varying values (stamp, pid, ip, code) is two runs of text, grouped as
  Arrow views of the block; each distinct run is checked against its part of STRICT_LINE (and
  decoded) once, in Python, and remembered across blocks;
- the varying values are checked and read as numbers by numpy at their places: the stamp
  (10-digit seconds, 3-digit millis), pid (at most 32 bits), ip (at most 16 hex digits), code.

A line is taken only if every part passes, and STRICT_LINE is exactly those parts one after
the other, so a line taken is a line STRICT_LINE takes, read as it reads it. auditd's node=
prefix (an aggregating server's log) is skipped, and the node kept. Whatever this cannot
vouch for (a SECCOMP line of another shape, a value of another width, a node holding
whitespace) makes count_block return None, and the caller counts the block the slower way,
so the result is always what parsers.bulk gives.
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
# The parts of a line between its varying values, each checked once per distinct text.
# subj= is any text, spaces too (AppArmor names a profile by a path: "=/opt/Half-Life 2/hl2
# (enforce)"): the fields are counted from the line's end. But not " pid=", where the line
# parser's lazy subj would end (and RE2, which has no look-ahead, cannot say so in STRICT_LINE).
_SUBJ = r"(?: subj=[^\n\x1d]+)?"
_BEFORE_PID = rf"\): auid={_U32} uid={_U32} gid={_U32} ses={_U32}{_SUBJ} pid="
_BEFORE_PID_TEXT = re.compile(_BEFORE_PID.replace(_SUBJ, r"(?: subj=(?:(?! pid=)[^\n\x1d])+)?"))


def _comm_to_ip(group: str) -> str:
    """From " comm=" to " ip=0x"; group opens exe, arch and syscall: "(" to capture them."""
    return (
        r" comm=(?:\"[^\" \n\x1d]*\"|[0-9A-F]+|\(null\)|\?)"
        rf" exe={group}\"[^\" \n\x1d]*\"|[0-9A-F]+|\(null\)|\?) sig=[0-9]+ arch={group}[0-9a-f]+)"
        rf" syscall={group}{_SYSCALL}) compat=[0-9] ip=0x"
    )


# One line with its "\n", as the line parser's FAST_LINE reads it. Less: no space in a quoted comm
# or exe, no \x1d before auditd's tail (so the first one starts it), after code= only the
# line's end or that tail, and the widths the varying values are read in (see count_block).
# More than parsers.bulk's BULK_LINE: a subj= with spaces.
STRICT_LINE = (
    r"^type=SECCOMP msg=audit\([1-9][0-9]{9}\.[0-9]{3}:(?:0|[1-9][0-9]{0,9})"
    + _BEFORE_PID
    + rf"{_U32}"
    + _comm_to_ip("(?:")
    + r"[0-9a-f]{1,16} code=0x(?:0|[1-9a-f][0-9a-f]{0,7})(?:\n|\x1d[^\n]*\n)$"
)
_COMM_TO_IP_TEXT = re.compile(_comm_to_ip("("))
# Tokens counted back from the end of the kernel's part: the space that starts each.
_PID, _COMM, _IP, _CODE = 9, 8, 2, 1
_WORD = {_PID: b" pid=", _COMM: b" comm=", _IP: b" ip=0x", _CODE: b" code=0x"}
_MAX_PID_DIGITS, _MAX_IP_DIGITS, _MAX_CODE_DIGITS = 10, 16, 8
# The stamp's fixed places, counted from its start after PREFIX: "SSSSSSSSSS.mmm:N...)"
_DOT, _COLON, _SERIAL = 10, 14, 15
_SECONDS = len(PREFIX)
_MAX_SERIAL_DIGITS = 10
_STAMP_WINDOW = _SERIAL + _MAX_SERIAL_DIGITS + 1
_POWERS = 10.0 ** np.arange(9, -1, -1)
# Row k: the place values of a number of 10 - k digits right-aligned in 10 places, or of
# the serial's digits and the ")" after them (11 places).
_PLACES = np.array([[10.0 ** (9 - k - j) if j < 10 - k else 0.0 for j in range(11)] for k in range(11)])
_DIGIT_VALUE = np.full(256, 255, np.uint8)  # of a lowercase hex or decimal digit; 255 for any other byte
_DIGIT_VALUE[np.frombuffer(b"0123456789abcdef", np.uint8)] = np.arange(16)
_IS_DIGIT = np.zeros(256, bool)
_IS_DIGIT[np.frombuffer(b"0123456789", np.uint8)] = True
_U32_MAX = 4294967295
# What each distinct run of text was found to be, shared by the counting threads (a dict's
# item assignment is atomic), bounded.
_RUNS_LIMIT = 1 << 16
_BEFORE_PID_SEEN: dict[bytes, bool] = {}
_COMM_TO_IP_SEEN: dict[bytes, tuple[str, str, str] | None] = {}
_NODE = re.compile(r"\S+")  # parsers.auditd's node=(\S+), on the decoded text
# framing.LOOK_MARKS as parsers.bulk._worth_a_look spells them (a test keeps them in step).
LOOK = r"SECCOMP|1326|seccomp|suppressed|audit_lost|exceeded|hold queue|code=|^\{"


class Stamp(NamedTuple):
    seconds: int
    millis: int
    serial: int


@dataclass(frozen=True)
class Stamps:
    """A block's records' stamps, as (seconds, millis, serial) numbers, and syscall numbers."""

    seconds: Ints
    millis: Ints
    serials: Ints
    key_index: Ints  # each record's row in syscalls
    syscalls: tuple[str, ...]  # the syscall number as written, per distinct " comm=... ip=0x"

    def __len__(self) -> int:
        return len(self.serials)

    def texts(self) -> list[tuple[str, str]]:
        """(stamp, syscall number) of each record as written: count_block took only 10-digit
        seconds, 3-digit millis and serials without a leading zero, so the text is rebuilt exactly."""
        names = self.syscalls
        columns = (self.seconds.tolist(), self.millis.tolist(), self.serials.tolist(), self.key_index.tolist())
        return [(f"{s}.{m:03d}:{n}", names[i]) for s, m, n, i in zip(*columns, strict=True)]


@dataclass(frozen=True)
class StampRun:
    """A block's stamps without node=, all distinct (learn.dedupe.OrderedStamps)."""

    first: Stamp  # the least
    last: Stamp  # the greatest
    stamps: Stamps

    def __len__(self) -> int:
        return len(self.stamps)

    def keys(self, stamp_key: Callable[[str | None, str, str], int]) -> list[int]:
        """learn.dedupe.stamp_key(None, ...) of every record in order (the slow part, done on demand)."""
        return [stamp_key(None, stamp, nr) for stamp, nr in self.stamps.texts()]


@dataclass(frozen=True)
class HostStamps:
    """A node= block's records: each one's node (None without node=) and stamp."""

    nodes: list[str | None]
    stamps: Stamps

    def keys(self, stamp_key: Callable[[str | None, str, str], int]) -> tuple[list[int], list[int], list[int]]:
        """As parsers.bulk.BlockCount has them: stamp_key of the records without node=, of those
        with it, and theirs without the node (a Python hash each: the slow part of a node= log)."""
        hostless, named, named_hostless = [], [], []
        for node, (stamp, nr) in zip(self.nodes, self.stamps.texts(), strict=True):
            bare = stamp_key(None, stamp, nr)
            if node is None:
                hostless.append(bare)
            else:
                named.append(stamp_key(node, stamp, nr))
                named_hostless.append(bare)
        return hostless, named, named_hostless


class ArrowBlockCount(NamedTuple):
    counts: Counter[Key]  # in the order the keys first appear, as parsers.bulk counts them
    stamps: StampRun | None  # a block without node=: its stamps, distinct (None: no SECCOMP line)
    others: list[tuple[int, str]]  # (0-based line in block, line) for the per-line parser
    lines: int
    hosts: HostStamps | None = None  # a block with node=: its records' nodes and stamps


def count_block(data: bytes) -> ArrowBlockCount | None:
    """Counts of the SECCOMP lines of data (whole lines), or None to count it another way."""
    if not data:
        return ArrowBlockCount(Counter(), None, [], 0)  # a file truncated under the reader: the caller says so
    if not data.endswith(b"\n"):
        data += b"\n"  # the last line of a file without one: a row like the others
    octets = np.frombuffer(data, np.uint8)
    ends = np.flatnonzero(octets == 10)  # each line's "\n"
    starts = np.concatenate(([0], ends[:-1] + 1)).astype(np.int64)
    rows = _rows(data, ends)
    spaces = np.flatnonzero(octets == 32)
    named = pc.starts_with(rows, pattern=b"node=").to_numpy(zero_copy_only=False)
    record_at = starts.copy()  # where "type=" is: after auditd's "node=NAME " on an aggregating server
    if named.any():
        after = np.append(spaces, len(octets))  # a space past every line
        record_at[named] = np.minimum(after[np.searchsorted(after, starts[named])] + 1, ends[named])
    seccomp = _each_starts_with(octets, record_at, PREFIX)
    others = _others(rows, np.flatnonzero(~seccomp))
    if not seccomp.any():
        return ArrowBlockCount(Counter(), None, others, len(rows))
    found = _count_records(data, octets, spaces, record_at[seccomp], ends[seccomp])
    if found is None:
        return None
    counts, stamps = found
    hosts = named[seccomp]
    if hosts.any():  # each host has serials of its own: no order to take them in
        with_hosts = _hosts(data, starts[seccomp], record_at[seccomp], hosts, stamps)
        return None if with_hosts is None else ArrowBlockCount(counts, None, others, len(rows), with_hosts)
    run = _distinct(stamps)
    if run is None:
        return None  # a stamp twice in the block: the set path finds which
    return ArrowBlockCount(counts, StampRun(*run, stamps), others, len(rows))


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
    data: bytes, octets: NDArray[np.uint8], spaces: NDArray[np.intp], starts: Ints, ends: Ints
) -> tuple[Counter[Key], Stamps] | None:
    """Counts and stamps of SECCOMP lines (starts: where "type=SECCOMP" is; spaces: where the
    block's are), if every one is in STRICT_LINE's form; else None."""
    stamps = _stamps(octets, starts)
    if stamps is None:
        return None
    seconds, millis, serials, after_stamp = stamps
    # The kernel's part ends at the line's end or where auditd's \x1d tail starts.
    tails = np.append(np.flatnonzero(octets == 0x1D), len(octets))  # a last one past every line
    kernel_end = np.minimum(tails[np.searchsorted(tails, starts)], ends)
    before_end = np.searchsorted(spaces, kernel_end)  # the spaces before each kernel part's end
    if (before_end < _PID).any():
        return None
    at = {back: spaces[before_end - back] for back in _WORD}  # where each word starts, if all is well
    if not all(_each_starts_with(octets, at[back], word).all() for back, word in _WORD.items()):
        return None
    pid_at, ip_at, code_at = at[_PID] + len(_WORD[_PID]), at[_IP] + len(_WORD[_IP]), at[_CODE] + len(_WORD[_CODE])
    before_pid, comm_to_ip = pid_at - after_stamp, ip_at - at[_COMM]
    if (before_pid < len("): auid=0 uid=0 gid=0 ses=0 pid=")).any() or (comm_to_ip < len(" comm=? exe=?")).any():
        return None  # a word found in another line: fewer tokens than the form has
    pid_digits = _digits(octets, pid_at, at[_COMM], _MAX_PID_DIGITS, 10)
    code_digits = _digits(octets, code_at, kernel_end, _MAX_CODE_DIGITS, 16)
    ip_digits = _digits(octets, ip_at, at[_CODE], _MAX_IP_DIGITS, 16)  # only checked: not counted
    if pid_digits is None or code_digits is None or ip_digits is None or (_value(pid_digits, 10) > _U32_MAX).any():
        return None
    codes = _value(code_digits, 16)
    if ((code_at + 1 < kernel_end) & (octets[code_at] == ord("0"))).any():
        return None  # a leading zero: the text would not be f"{code:x}" again
    heads = pc.unique(_views(data, octets, after_stamp, before_pid)).to_pylist()
    if not all(_before_pid_ok(head) for head in heads):
        return None
    middles = pc.dictionary_encode(_views(data, octets, at[_COMM], comm_to_ip))
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
    return tally, Stamps(seconds, millis, serials, middle_index, syscalls)


def _each_starts_with(octets: NDArray[np.uint8], at: Ints, word: bytes) -> NDArray[np.bool_]:
    """Whether each position of at starts word (a line shorter than word holds its "\n" there)."""
    inside = at <= len(octets) - len(word)
    found = np.zeros(len(at), bool)
    if not inside.any():
        return found
    window = sliding_window_view(octets, len(word))[at[inside]]
    found[inside] = (window == np.frombuffer(word, np.uint8)).all(axis=1)
    return found


def _hosts(data: bytes, starts: Ints, record_at: Ints, hosts: NDArray[np.bool_], stamps: Stamps) -> HostStamps | None:
    r"""Each record's node (None without node=), or None if one is not what `node=(\S+) ` reads."""
    node_of: dict[bytes, str] = {}
    at, until = (starts + len("node=")).tolist(), (record_at - 1).tolist()
    texts = [data[a:b] if host else None for a, b, host in zip(at, until, hosts.tolist(), strict=True)]
    for raw in {t for t in texts if t is not None}:
        node_of[raw] = raw.decode("utf-8", errors="replace")
        if not _NODE.fullmatch(node_of[raw]):
            return None
    return HostStamps([node_of[t] if t is not None else None for t in texts], stamps)


def _before_pid_ok(head: bytes) -> bool:
    try:
        return _BEFORE_PID_SEEN[head]
    except KeyError:
        pass
    ok = _BEFORE_PID_TEXT.fullmatch(head.decode("utf-8", errors="replace")) is not None
    if len(_BEFORE_PID_SEEN) < _RUNS_LIMIT:
        _BEFORE_PID_SEEN[head] = ok
    return ok


def _exe_arch_syscall(middle: bytes) -> tuple[str, str, str] | None:
    """(exe, arch, syscall) as written in " comm=... ip=0x", or None if it is not in that form."""
    try:
        return _COMM_TO_IP_SEEN[middle]
    except KeyError:
        pass
    m = _COMM_TO_IP_TEXT.fullmatch(middle.decode("utf-8", errors="replace"))
    found = (m.group(1), m.group(2), m.group(3)) if m else None
    if len(_COMM_TO_IP_SEEN) < _RUNS_LIMIT:
        _COMM_TO_IP_SEEN[middle] = found
    return found


def _stamps(octets: NDArray[np.uint8], starts: Ints) -> tuple[Ints, Ints, Ints, Ints] | None:
    """(seconds, millis, serial, where the "): " after the stamp is) of each line, or None if
    a stamp is not 10-digit seconds, 3-digit millis and a serial without a leading zero
    (the widths StampRun.keys rebuilds the text from)."""
    if (starts + _SECONDS > len(octets) - _STAMP_WINDOW).any():
        return None  # a line too short to hold a stamp, at the block's end
    window = sliding_window_view(octets, _STAMP_WINDOW)[starts + _SECONDS]  # "SSSSSSSSSS.mmm:N...)"
    if (window[:, _DOT] != ord(".")).any() or (window[:, _COLON] != ord(":")).any() or (window[:, 0] == 48).any():
        return None
    if not _IS_DIGIT[window[:, :_DOT]].all() or not _IS_DIGIT[window[:, _DOT + 1 : _COLON]].all():
        return None
    serial = window[:, _SERIAL:]
    digit = _IS_DIGIT[serial]
    width = np.argmin(digit, axis=1)  # the digits before the first non-digit
    if not (serial[np.arange(len(width)), width] == ord(")")).all():
        return None  # no digit, more than 10, or no ")" right after them
    if ((width == 0) | ((width > 1) & (serial[:, 0] == 48))).any():
        return None
    digits = window.astype(np.float64) - 48  # BLAS sums them; exact below 2**53
    seconds = digits[:, :_DOT] @ _POWERS
    millis = digits[:, _DOT + 1 : _COLON] @ _POWERS[-(_COLON - _DOT - 1) :]
    # The digits right-aligned: the place values past the serial's last digit are 0.
    serials = np.einsum("ij,ij->i", digits[:, _SERIAL:], _PLACES[_MAX_SERIAL_DIGITS - width])
    after = starts + _SECONDS + _SERIAL + width
    return seconds.astype(np.int64), millis.astype(np.int64), serials.astype(np.int64), after


def _distinct(stamps: Stamps) -> tuple[Stamp, Stamp] | None:
    """(least, greatest) stamp if no two are the same number, else None."""
    s, m, n = stamps.seconds, stamps.millis, stamps.serials
    ds, dm, dn = np.diff(s), np.diff(m), np.diff(n)
    if not ((ds > 0) | ((ds == 0) & ((dm > 0) | ((dm == 0) & (dn > 0))))).all():  # not in order as written
        order = np.lexsort((n, m, s))
        s, m, n = s[order], m[order], n[order]
        if ((np.diff(s) == 0) & (np.diff(m) == 0) & (np.diff(n) == 0)).any():
            return None
    return Stamp(int(s[0]), int(m[0]), int(n[0])), Stamp(int(s[-1]), int(m[-1]), int(n[-1]))


def _digits(octets: NDArray[np.uint8], starts: Ints, ends: Ints, most: int, base: int) -> NDArray[np.uint8] | None:
    """The digits at [starts, ends), lowercase hex (base 16) or decimal, 1 to most of them, right-
    aligned in most places (0 before them); None if one is not such a number."""
    width = ends - starts
    if (width < 1).any() or (width > most).any():
        return None
    window = sliding_window_view(octets, most)[ends - most]  # the digits end at ends
    digits = np.where(np.arange(most) >= (most - width)[:, None], _DIGIT_VALUE[window], 0)
    return None if (digits >= base).any() else digits


def _value(digits: NDArray[np.uint8], base: int) -> Ints:
    """The numbers of _digits' rows (exact: BLAS in float64, and at most 2**53 here)."""
    most = digits.shape[1]
    places = float(base) ** np.arange(most - 1, -1, -1)
    values: Ints = (digits.astype(np.float64) @ places).astype(np.int64)
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
