"""Join each SECCOMP event with the SYSCALL record of the same syscall: its a0..a3.

With an audit syscall rule, a syscall writes a SECCOMP record when the filter runs and a
type=SYSCALL record when the call returns. On this kernel (6.18, x86_64) the two do NOT share
the event's serial: seccomp runs before audit's syscall entry, so the SECCOMP record gets a
serial of its own and the SYSCALL record the next one (sample-logs/auditd-args shows it). So the
join is by what the records do share: node, pid, arch and syscall number. Within a thread
calls follow each other, so a SYSCALL record belongs to the oldest waiting SECCOMP event of its
(node, pid, arch, nr); two threads of one process calling the same syscall at once may swap
their values, which changes nothing learned (both values were used by that process). A
SYSCALL record with no SECCOMP event waiting (a call the filter allowed silently) is dropped.

A call that blocks (a LOG-ed accept) writes its SYSCALL record much later, and other events'
records come in between; so an event waits in a FIFO until its SYSCALL record arrives or
WINDOW more records have passed, and events leave in the order they came. Only the syscalls
the argument table covers wait: the others' arguments would never be used.

SYSCALL records are taken only in auditd's own form (audit.log, `ausearch --raw`, learn's live
sources): a forged one in a text syslog could add values to a profile. auparse reads the same
records independently; tests use it as the oracle.
"""

from __future__ import annotations

import contextlib
import re
from collections import deque
from collections.abc import Iterable, Iterator
from typing import TypeGuard

from learn.arch import arch_from_audit
from learn.argrules import ROWS_BY_SYSCALL
from learn.model import Action, Item, SeccompEvent

WINDOW = 4096  # records an event waits for its SYSCALL record

_SYSCALL = re.compile(
    r"(?:node=(\S+) )?type=(?:SYSCALL|1300) msg=audit\([0-9]+\.[0-9]+:[0-9]+\): ?"
    r"arch=([0-9a-fA-F]{1,8}) syscall=([0-9]{1,10}) (?:per=[0-9a-fA-F]+ )?(?:success=\w+ exit=-?[0-9]+ )?"
    r"a0=([0-9a-fA-F]{1,16}) a1=([0-9a-fA-F]{1,16}) a2=([0-9a-fA-F]{1,16}) a3=([0-9a-fA-F]{1,16}) "
    r"items=[0-9]+ ppid=[0-9]+ pid=([0-9]+) "
)

Args = tuple[int, int, int, int]
_Key = tuple[str | None, int | None, str, int]  # node, pid, arch, nr


class _Waiting:
    __slots__ = ("args", "item", "queued_at")

    def __init__(self, queued_at: int, item: Item) -> None:
        self.queued_at = queued_at
        self.item = item
        self.args: Args | None = None


class SyscallJoin:
    """Tap the lines with lines(), pass the parsed items through items(): events come out joined."""

    def __init__(self, window: int = WINDOW) -> None:
        self.window = window
        self.records = 0  # lines seen so far: an event's age is counted in them
        self._queue: deque[_Waiting] = deque()
        self._waiting: dict[_Key, deque[_Waiting]] = {}  # events of the table waiting for their SYSCALL record
        self.joined = 0

    def lines(self, lines: Iterable[tuple[int, str]]) -> Iterator[tuple[int, str]]:
        for number, raw in lines:
            self.records += 1
            if "SYSCALL " in raw or "1300 " in raw:
                self._syscall(raw)
            yield number, raw

    def _syscall(self, raw: str) -> None:
        m = _SYSCALL.match(raw)
        if m is None:
            return
        node, arch_hex, nr_text, a0, a1, a2, a3, pid = m.groups()
        nr = int(nr_text)
        arch = arch_from_audit(int(arch_hex, 16), nr)
        key = (node, int(pid), arch or "", nr)
        waiting = self._waiting.get(key)
        if waiting:  # the oldest call of this thread group still waiting: calls of a thread come in order
            first = waiting.popleft()
            if not waiting:
                del self._waiting[key]
            first.args = (int(a0, 16), int(a1, 16), int(a2, 16), int(a3, 16))
            self.joined += 1

    def items(self, items: Iterable[Item]) -> Iterator[Item]:
        queue = self._queue
        for item in items:
            if _waits(item):
                entry = _Waiting(self.records, item)
                self._waiting.setdefault((item.node, item.pid, item.arch, item.nr), deque()).append(entry)
            elif not queue:  # nothing ahead of it, nothing to wait for: the common case
                yield item
                continue
            else:
                entry = _Waiting(self.records, item)
            queue.append(entry)
            yield from self._ready(final=False)
        yield from self._ready(final=True)

    def _ready(self, *, final: bool) -> Iterator[Item]:
        queue = self._queue
        while queue:
            first = queue[0]
            item = first.item
            if first.args is not None:
                assert isinstance(item, SeccompEvent)
                item = item._replace(args=first.args)
            elif not final and _waits(item) and self.records - first.queued_at <= self.window:
                return
            queue.popleft()
            self._forget(first)
            yield item

    def _forget(self, entry: _Waiting) -> None:
        item = entry.item
        if entry.args is None and _waits(item):
            key = (item.node, item.pid, item.arch, item.nr)
            waiting = self._waiting.get(key)
            if waiting is not None:
                with contextlib.suppress(ValueError):
                    waiting.remove(entry)
                if not waiting:
                    del self._waiting[key]


def _waits(item: Item) -> TypeGuard[SeccompEvent]:
    """Does a SYSCALL record follow this event? Only a call the filter let run (LOG) returns
    through audit's syscall exit: a denied one (ERRNO, TRAP, KILL) is rejected before audit's
    syscall entry and gets none, and pairing it with a later call's record would give it that
    call's values (measured: check's denied ioctl(TIOCSTI) took the next allowed ioctl's)."""
    return type(item) is SeccompEvent and item.action is Action.LOG and item.syscall in ROWS_BY_SYSCALL
