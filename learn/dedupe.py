"""The same event printed twice counts once.

journald keeps a kernel copy (`kernel: audit: type=1326 audit(T:S): ...`) and an audit copy
(`audit[PID]: SECCOMP ...`, with no stamp) of each record; dmesg and syslog hold the same
records too. Stamped copies match by their audit stamp `timestamp:serial` and host: auditd's
`node=` is part of a record's identity (two hosts aggregated into one log may write the same
stamp). A copy that names no host (dmesg, kern.log) is the same record as one named copy with
its stamp, which it pairs with once. An unstamped copy matches one stamped copy with the same
record text nearby; each copy pairs at most once, so a loop that makes the same call again
still counts every time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

from learn.model import Item, SeccompEvent

# Memory stays bounded whatever the log's size: a million stamps (about 60 MB) reach across
# files (dmesg beside kern.log); the two journald copies of a record sit within a few lines.
STAMP_WINDOW = 1 << 20
PAIR_WINDOW = 256

Body = tuple[object, ...]


def _body(e: SeccompEvent) -> Body:
    return (e.source, e.arch, e.nr, e.pid, e.ip, e.action, e.comm, e.exe)


class _Window:
    """A set that forgets its oldest members beyond a size."""

    def __init__(self, size: int) -> None:
        self.members: set[int] = set()
        self._order: deque[int] = deque()
        self.size = size

    def __contains__(self, key: int) -> bool:
        return key in self.members

    def add(self, key: int) -> None:
        self.members.add(key)
        self._order.append(key)
        if len(self._order) > self.size:
            self.members.discard(self._order.popleft())

    def update(self, keys: list[int]) -> None:
        self.members.update(keys)
        self._order.extend(keys)
        while len(self._order) > self.size:
            self.members.discard(self._order.popleft())


def stamp_key(node: str | None, serial: str, nr: str) -> int:
    """What identifies a stamped record (parsers.bulk hashes the same, so the paths agree)."""
    return hash((node, serial, nr))


class OrderedStamps(Protocol):
    """A block's hostless stamps, all distinct (parsers.arrowbulk.StampRun)."""

    @property
    def first(self) -> tuple[int, int, int]: ...  # (seconds, millis, serial), compared as numbers
    @property
    def last(self) -> tuple[int, int, int]: ...
    def __len__(self) -> int: ...
    def keys(self, stamp_key: Callable[[str | None, str, str], int]) -> list[int]: ...


class Deduplicator:
    def __init__(self, stamp_window: int = STAMP_WINDOW, pair_window: int = PAIR_WINDOW) -> None:
        self.duplicates = 0
        # stamp_key of every copy; a copy naming a node also leaves its hostless key in
        # _named, so that a hostless copy seen later is known as one of it.
        self._seen = _Window(stamp_window)
        self._named = _Window(stamp_window)
        self._recent_stamped: deque[Body] = deque(maxlen=pair_window)  # not yet paired
        self._unpaired_unstamped: dict[Body, int] = {}
        self._unstamped_order: deque[Body] = deque()
        self._pair_window = pair_window
        # Blocks taken by accept_ordered whose keys nobody has needed yet (see there).
        self._pending: deque[OrderedStamps] = deque()
        self._pending_records = 0
        self._pending_last: tuple[int, int, int] | None = None

    def __call__(self, items: Iterable[Item]) -> Iterator[Item]:
        for item in items:
            if isinstance(item, SeccompEvent) and self.is_duplicate(item):
                continue
            yield item

    def is_duplicate(self, e: SeccompEvent) -> bool:
        if self._pending:
            self._settle()
        duplicate = self._stamped_duplicate(e) if e.serial is not None else self._unstamped_duplicate(e)
        self.duplicates += duplicate
        return duplicate

    def _stamped_duplicate(self, e: SeccompEvent) -> bool:
        assert e.serial is not None
        nr = str(e.nr)
        hostless = stamp_key(None, e.serial, nr)
        if e.node is None:
            if hostless in self._seen or hostless in self._named:
                return True
            self._seen.add(hostless)
        else:
            key = stamp_key(e.node, e.serial, nr)
            if key in self._seen:
                return True
            self._seen.add(key)
            # a hostless copy of it, seen before and not yet taken by another host's copy
            claims = hostless in self._seen and hostless not in self._named
            self._named.add(hostless)
            if claims:
                return True
        body = _body(e)
        if self._unpaired_unstamped and self._unpaired_unstamped.get(body):
            self._unpaired_unstamped[body] -= 1
            return True
        self._recent_stamped.append(body)
        return False

    def accept_stamps(self, hostless: list[int], named: list[int], named_hostless: list[int]) -> bool:
        """Take a block's stamp keys at once if none meets another; False leaves it to is_duplicate.

        hostless: stamp_key(None, ...) of the copies naming no node; named: stamp_key of those
        that do, and named_hostless: their stamp_key(None, ...), in the same order."""
        if self._pending:
            self._settle()
        bare = hostless + named_hostless
        fresh = set(bare)
        if len(fresh) != len(bare) or not self._seen.members.isdisjoint(fresh):
            return False
        if not self._named.members.isdisjoint(fresh) or not self._seen.members.isdisjoint(named):
            return False
        self._seen.update(hostless)
        self._seen.update(named)
        self._named.update(named_hostless)
        return True

    def accept_ordered(self, stamps: OrderedStamps) -> bool:
        """Take a block's distinct hostless stamps without a lookup, if that cannot miss a copy.

        It cannot while every stamp taken so far came this way, each block's after the last
        one's: then no two are the same. Their keys, a Python hash each (the slow part of a
        big log), are worked out only when something must be looked up among them: a record
        of another kind, a block out of order, or another file. False leaves the block to
        accept_stamps or is_duplicate.
        """
        if self._seen.members or self._named.members:
            return False
        if self._pending_last is not None and stamps.first <= self._pending_last:
            return False
        self._pending.append(stamps)
        self._pending_records += len(stamps)
        self._pending_last = stamps.last
        while self._pending_records - len(self._pending[0]) >= self._seen.size:
            self._pending_records -= len(self._pending.popleft())  # beyond the window anyway
        return True

    def _settle(self) -> None:
        """Turn the blocks accept_ordered took into keys, as if each had been looked up."""
        keys = [key for stamps in self._pending for key in stamps.keys(stamp_key)]
        self._pending.clear()
        self._pending_records = 0
        self._seen.update(keys[-self._seen.size :])

    def _unstamped_duplicate(self, e: SeccompEvent) -> bool:
        body = _body(e)
        try:
            self._recent_stamped.remove(body)
            return True
        except ValueError:
            pass
        self._unpaired_unstamped[body] = self._unpaired_unstamped.get(body, 0) + 1
        self._unstamped_order.append(body)
        if len(self._unstamped_order) > self._pair_window:
            old = self._unstamped_order.popleft()
            if self._unpaired_unstamped.get(old, 0) > 0:
                self._unpaired_unstamped[old] -= 1
            if not self._unpaired_unstamped.get(old):
                self._unpaired_unstamped.pop(old, None)
        return False
