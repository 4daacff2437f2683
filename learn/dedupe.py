"""The same event printed twice counts once.

journald keeps a kernel copy (`kernel: audit: type=1326 audit(T:S): ...`) and an audit copy
(`audit[PID]: SECCOMP ...`, with no stamp) of each record; dmesg and syslog hold the same
records too. Stamped copies match by their audit stamp `timestamp:serial`. An unstamped copy
matches one stamped copy with the same record text nearby; each copy pairs at most once, so
a loop that makes the same call again still counts every time.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Hashable, Iterable, Iterator

from learn.model import Item, SeccompEvent

# Memory stays bounded whatever the log's size: a million stamps (about 60 MB) reaches
# across files (dmesg beside kern.log); copies in journald sit within a few lines.
STAMP_WINDOW = 1 << 20
PAIR_WINDOW = 4096


class Deduplicator:
    def __init__(self, stamp_window: int = STAMP_WINDOW, pair_window: int = PAIR_WINDOW) -> None:
        self.duplicates = 0
        self._stamps: set[int] = set()
        self._stamp_order: deque[int] = deque()
        self._stamp_window = stamp_window
        # record text -> how many copies of one kind (True: stamped) are still unpaired
        self._unpaired: OrderedDict[tuple[Hashable, bool], int] = OrderedDict()
        self._pair_window = pair_window

    def __call__(self, items: Iterable[Item]) -> Iterator[Item]:
        for item in items:
            if isinstance(item, SeccompEvent) and self._is_duplicate(item):
                self.duplicates += 1
                continue
            yield item

    def _is_duplicate(self, e: SeccompEvent) -> bool:
        if e.serial is not None:
            key = hash((e.serial, e.arch, e.nr, e.pid))
            if key in self._stamps:
                return True
            self._stamps.add(key)
            self._stamp_order.append(key)
            if len(self._stamp_order) > self._stamp_window:
                self._stamps.discard(self._stamp_order.popleft())
        body = (e.source, e.arch, e.nr, e.pid, e.ip, e.action, e.comm, e.exe)
        stamped = e.serial is not None
        other = (body, not stamped)
        if self._unpaired.get(other):
            self._unpaired[other] -= 1
            return True
        mine = (body, stamped)
        self._unpaired[mine] = self._unpaired.get(mine, 0) + 1
        self._unpaired.move_to_end(mine)
        if len(self._unpaired) > self._pair_window:
            self._unpaired.popitem(last=False)
        return False
