"""Open the logs the user named: files, rotated sets, directories, .gz, and - for stdin.

Every input is read in blocks through one descriptor opened once, so a file renamed, replaced
or removed while it is read is still read whole, as it was opened (like cat or grep). A file
that shrinks while read (truncated, e.g. by logrotate's copytruncate) has lost what was not
read yet: that is reported as loss. A file that grows while read (a live audit.log) is read to
the end found; nothing is said.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import sys
from collections.abc import Callable, Iterator
from itertools import chain
from typing import BinaryIO

from learn.errors import InputError
from learn.gunzip import GZIP_MAGIC, gunzip
from learn.lines import LineSplitter, NumberedLine
from learn.model import Problem, ProblemKind
from learn.sniff import not_a_log

STDIN = "-"
BLOCK_BYTES = 1 << 20

# (path, size in bytes or None when unknown) -> advance(bytes read): progress, if asked for.
Progress = Callable[[str, int | None], Callable[[int], None]]

# A rotated member's suffix: a count (audit.log.3 is older than audit.log.1, logrotate's order)
# or a date (logrotate's dateext: syslog-20251201, audit.log-2025-12-01, -2025120113, -%s).
_ROTATED = re.compile(r"(.*?)(?:[.-](\d{4}-\d\d-\d\d(?:[-_.]?\d+)*|\d+(?:[-_]\d+)*))?(?:\.(?:gz|xz|bz2|zst|lz4))?")
_MIN_DATE_DIGITS = 8  # a rotation count never has this many digits


def _rotation_key(path: str) -> tuple[str, int, tuple[int, ...]]:
    """(set, rank, order): within a set, counted members oldest first, then dated ones, then the live file."""
    m = _ROTATED.fullmatch(os.path.basename(path))
    assert m is not None  # the pattern matches every string
    base, suffix = m.groups()
    where = os.path.join(os.path.dirname(path), base)
    if suffix is None:
        return (where, 2, ())
    numbers = tuple(int(n) for n in re.findall(r"\d+", suffix))
    if len(numbers) == 1 and len(suffix) < _MIN_DATE_DIGITS:
        return (where, 0, (-numbers[0],))
    return (where, 1, numbers)


def _files_of(directory: str) -> list[str]:
    try:
        names = os.listdir(directory)
    except OSError as error:
        raise _os_error(directory, error) from None
    files = [f for f in (os.path.join(directory, n) for n in names) if os.path.isfile(f)]
    if not files:
        raise InputError(f"{directory}: directory holds no files")
    return files


def rotated_set(path: str) -> str:
    """The name a rotated file shares with its set (audit.log.1 -> audit.log): one run of `suggest`."""
    return _rotation_key(path)[0]


def expand(paths: list[str]) -> list[str]:
    """Directories become their files; members of one rotated set are read oldest first."""
    out: list[str] = []
    for path in paths:
        if path != STDIN and os.path.isdir(path):
            out += sorted(_files_of(path), key=_rotation_key)
        else:
            out.append(path)
    groups: dict[str, list[str]] = {}
    for path in out:
        groups.setdefault(_rotation_key(path)[0], []).append(path)
    ordered: list[str] = []
    for path in out:
        group = groups.get(_rotation_key(path)[0])
        if group:
            ordered += sorted(group, key=_rotation_key)
            groups[_rotation_key(path)[0]] = []
    return ordered


def changed_while_read(path: str, fd: int, had: int, line: int, shrank_to: int | None = None) -> list[Problem]:
    """Problems for a regular file read through fd that once had `had` bytes: LOSS if it shrank
    (now, or to shrank_to as seen earlier), or if its path no longer leads to it."""
    problems = []
    now = os.fstat(fd)
    if shrank_to is None and now.st_size < had:
        shrank_to = now.st_size
    if shrank_to is not None:
        message = (
            f"the file shrank from {had} to {shrank_to} bytes while it was read (truncated, e.g. by logrotate's "
            "copytruncate): records past that point may be missing"
        )
        problems.append(Problem(ProblemKind.LOSS, message, path, line))
    try:
        there = os.stat(path)
        replaced = (there.st_dev, there.st_ino) != (now.st_dev, now.st_ino)
    except OSError:
        replaced = True
    if replaced:
        # Loss, as the issue asks: the file at this path is not the one read, so whatever was
        # written to the new one while we read (a rotation mid-read) is not in the result.
        message = (
            "the file was renamed, replaced or removed while it was read: learn read the file that was there "
            "when it was opened, to its end; records written meanwhile to a new file at this path are not in "
            "the result (read it again)"
        )
        problems.append(Problem(ProblemKind.LOSS, message, path, line))
    return problems


def _os_error(path: str, error: OSError) -> InputError:
    hint = "read it as root, or as a member of its group (adm for /var/log)" if error.errno == errno.EACCES else None
    return InputError(f"{path}: {error.strerror or error}", hint)


class _Watched:
    """Raw blocks of one input; for a regular file, notices it shrinking or being replaced."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.offset = 0
        self.shrank_to: int | None = None
        if path == STDIN:
            self.stream: BinaryIO = sys.stdin.buffer
            self.size: int | None = None
            return
        try:
            self.stream = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by close()
            self.opened = os.fstat(self.stream.fileno())
        except OSError as error:
            raise _os_error(path, error) from None
        regular = stat.S_ISREG(self.opened.st_mode)
        self.size = self.opened.st_size if regular and self.opened.st_size > 0 else None  # /proc says 0

    def blocks(self, advance: Callable[[int], None]) -> Iterator[bytes]:
        read = getattr(self.stream, "read1", self.stream.read)  # a pipe: what is there, not a full block
        while True:
            try:
                block: bytes = read(BLOCK_BYTES)
            except OSError as error:
                raise _os_error(self.path, error) from None
            if not block:
                return
            self.offset += len(block)
            self._observe()
            advance(len(block))
            yield block

    def _observe(self) -> None:
        """Note the file shrinking below a size it had: a block per call, one fstat."""
        if self.size is None or self.shrank_to is not None:
            return
        now = os.fstat(self.stream.fileno()).st_size
        if now < max(self.size, self.offset):
            self.shrank_to = now

    def check(self, line: int) -> list[Problem]:
        """After the last block: did the file shrink under us, or leave its path?"""
        if self.size is None:
            return []
        self._observe()
        return changed_while_read(self.path, self.stream.fileno(), max(self.size, self.offset), line, self.shrank_to)

    def close(self) -> None:
        if self.path != STDIN:
            self.stream.close()


class LogLines:
    """One input as (line number, line) pairs, blank lines left out.

    Iterate once; afterwards .problems holds what reading found (over-long lines, a file that
    shrank). Bad input (missing, unreadable, not a log, a gzip bomb) raises InputError."""

    def __init__(self, path: str, progress: Progress | None = None) -> None:
        self.path = path
        self.problems: list[Problem] = []
        self._progress = progress

    def __iter__(self) -> Iterator[NumberedLine]:
        raw = _Watched(self.path)
        try:
            advance = self._progress(self.path, raw.size) if self._progress else _ignore
            blocks = raw.blocks(advance)
            first = next(blocks, b"")
            while 0 < len(first) < len(GZIP_MAGIC):  # a pipe may hand over a single byte first
                more = next(blocks, b"")
                if not more:
                    break
                first += more
            gzipped = first.startswith(GZIP_MAGIC)
            content = gunzip(chain([first], blocks), self.path, BLOCK_BYTES) if gzipped else chain([first], blocks)
            splitter = LineSplitter(self.path)
            head = next(content, b"")
            self._sniff(head)
            for block in chain([head], content):
                yield from splitter.feed(block)
            yield from splitter.finish()
            self.problems += splitter.problems + raw.check(splitter.lines)
        except MemoryError:
            raise InputError(f"{self.path}: out of memory while reading it", "raise the memory limit") from None
        finally:
            raw.close()

    def _sniff(self, head: bytes) -> None:
        found = not_a_log(head)
        if found is not None:
            what, hint = found
            raise InputError(f"{self.path}: not a log ({what})", hint)


def _ignore(_n: int) -> None:
    pass
