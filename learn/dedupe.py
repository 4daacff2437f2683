"""The same event printed twice counts once.

journald keeps a kernel copy (`kernel: audit: type=1326 audit(T:S): ...`) and an audit copy
(`audit[PID]: SECCOMP ...`, with no stamp) of each record; dmesg and syslog hold the same
records too. Stamped copies match by their audit stamp `timestamp:serial`. An unstamped copy
matches one stamped copy with the same record text nearby; each copy pairs at most once, so
a loop that makes the same call again still counts every time.
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


class Deduplicator:
    def __init__(self, stamp_window: int = STAMP_WINDOW, pair_window: int = PAIR_WINDOW) -> None:
        self.duplicates = 0
        self._stamps: set[int] = set()
        self._stamp_order: deque[int] = deque()
        self._stamp_window = stamp_window
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
        key = hash((e.serial, str(e.nr)))  # the form parsers.bulk hashes, so the two paths agree
        if key in self._stamps:
            return True
        self._stamps.add(key)
        self._stamp_order.append(key)
        if len(self._stamp_order) > self._stamp_window:
            self._stamps.discard(self._stamp_order.popleft())
        body = _body(e)
        if self._unpaired_unstamped and self._unpaired_unstamped.get(body):
            self._unpaired_unstamped[body] -= 1
            return True
        self._recent_stamped.append(body)
        return False

    def accept_stamps(self, stamps: list[int]) -> bool:
        """Take a block's stamps at once if none repeats; False leaves it to is_duplicate."""
        fresh = set(stamps)
        if len(fresh) != len(stamps) or not self._stamps.isdisjoint(fresh):
            return False
        self._stamps |= fresh
        self._stamp_order.extend(stamps)
        while len(self._stamp_order) > self._stamp_window:
            self._stamps.discard(self._stamp_order.popleft())
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
