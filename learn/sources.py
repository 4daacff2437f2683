"""Open the logs the user named: files, rotated sets, directories, .gz, and - for stdin."""

from __future__ import annotations

import gzip
import io
import os
import re
import sys
from collections.abc import Callable, Iterator
from typing import BinaryIO, TextIO

from learn.errors import InputError

STDIN = "-"
# audit.log.3 is older than audit.log.1, which is older than audit.log (logrotate's order too).
_ROTATED = re.compile(r"(.*?)(?:[.-](\d+))?(?:\.gz)?")

# (path, size in bytes) -> advance(bytes read): how a reader reports progress, if asked to.
Progress = Callable[[str, int], Callable[[int], None]]


class _Counted(io.RawIOBase):
    """A raw file that reports how many bytes were read through it."""

    def __init__(self, raw: BinaryIO, advance: Callable[[int], None]) -> None:
        self._raw, self._advance = raw, advance

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        self._advance(len(data))
        return len(data)


def _rotation_key(path: str) -> tuple[str, int]:
    m = _ROTATED.fullmatch(os.path.basename(path))
    assert m is not None  # the pattern matches every string
    base, number = m.groups()
    return (os.path.join(os.path.dirname(path), base), -int(number) if number else 0)


def expand(paths: list[str]) -> list[str]:
    """Directories become their files; members of one rotated set are read oldest first."""
    out: list[str] = []
    for path in paths:
        if path != STDIN and os.path.isdir(path):
            files = [os.path.join(path, n) for n in os.listdir(path)]
            files = [f for f in files if os.path.isfile(f)]
            if not files:
                raise InputError(f"{path}: directory holds no files")
            out += sorted(files, key=_rotation_key)
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


def _open_binary(path: str) -> tuple[BinaryIO, int]:
    if path == STDIN:
        return sys.stdin.buffer, 0
    try:
        handle: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed by read_lines
        size = os.fstat(handle.fileno()).st_size
    except OSError as err:
        raise InputError(f"{path}: {err.strerror}") from None
    return handle, size


def read_lines(path: str, progress: Progress | None = None) -> Iterator[str]:
    """Lines of one input, decoded leniently: a log is evidence, not a text to reject."""
    raw, size = _open_binary(path)
    try:
        head = raw.peek(2)[:2] if isinstance(raw, io.BufferedReader) else b""
        if progress is not None and path != STDIN:
            raw = io.BufferedReader(_Counted(raw, progress(path, size)))
        gzipped = head == b"\x1f\x8b" or path.endswith(".gz")
        stream: BinaryIO = gzip.GzipFile(fileobj=raw) if gzipped else raw  # type: ignore[assignment]
        text: TextIO = io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline="")
        try:
            yield from text
        except (OSError, EOFError, gzip.BadGzipFile) as err:
            raise InputError(f"{path}: {err}") from None
    finally:
        if path != STDIN:
            raw.close()
