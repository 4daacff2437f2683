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
from collections.abc import Iterable, Iterator

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
        self._size = size

    def __contains__(self, key: int) -> bool:
        return key in self.members

    def add(self, key: int) -> None:
        self.members.add(key)
        self._order.append(key)
        if len(self._order) > self._size:
            self.members.discard(self._order.popleft())

    def update(self, keys: list[int]) -> None:
        self.members.update(keys)
        self._order.extend(keys)
        while len(self._order) > self._size:
            self.members.discard(self._order.popleft())


def stamp_key(node: str | None, serial: str, nr: str) -> int:
    """What identifies a stamped record (parsers.bulk hashes the same, so the paths agree)."""
    return hash((node, serial, nr))


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

    def __call__(self, items: Iterable[Item]) -> Iterator[Item]:
        for item in items:
            if isinstance(item, SeccompEvent) and self.is_duplicate(item):
                continue
            yield item

    def is_duplicate(self, e: SeccompEvent) -> bool:
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
