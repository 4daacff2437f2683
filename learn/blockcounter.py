"""Count a live run's records while the target runs: a thread that takes the netlink spool a
block at a time as the reader writes it (NetlinkSource.decoded_blocks) and counts each block
(learn.livecount), so that after the target exits only the last block is left to decode.

The CPU a block costs is the same whenever it is spent, but spent during the run it shares
the machine with the target instead of adding to learn's time after it; numpy and pyarrow
release the GIL for most of it, and the reader thread (nice -20) keeps running.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Self

from learn.kernel.sources.netlink import NetlinkSource, record_of
from learn.model import SeccompEvent
from learn.tally import Tally
from parsers import InputFormat, parse_numbered

if TYPE_CHECKING:
    from learn.kernel.sources.spoolblocks import SeccompBlock


class BlockCounter:
    """Counts a netlink source's spool into a tally on a thread of its own, from while the target
    runs, so that after its exit only the last block is left. It starts once from_records
    records are spooled (numpy and pyarrow take 0.2 s to import: a short run decodes faster
    record by record); if collecting ends first, used stays False and nothing was read.

    Records are counted as supervise's per-record decoding counts them: the kept ones numbered
    from 1, the events of the target's session handed to the tally, the others skipped.
    """

    def __init__(
        self,
        live: NetlinkSource,
        tally: Tally,
        session: int,
        stop_signal: Callable[[], int | None],
        source: str,
        from_records: int,
    ) -> None:
        self.live, self.tally, self.session, self.source = live, tally, session, source
        self.records = 0  # kept records read, every process's
        self.events = 0  # the session's events
        self.stopped: tuple[int, int, int] | None = None  # (signal, records decoded, collected) when stopped
        self.used = False
        self._stop_signal = stop_signal
        self._from_records = from_records
        self._error: BaseException | None = None
        self._abandoned = threading.Event()
        self._thread = threading.Thread(target=self._run, name="learn-count", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self._abandoned.set()
        self._thread.join()

    def result(self) -> bool:
        """Wait for the count (once collecting has finished); True when it counted the whole run."""
        while self._thread.is_alive():
            self._thread.join(0.1)  # in slices: the main thread's signal handlers run meanwhile
        if self._error is not None:
            raise self._error
        return self.used

    def _run(self) -> None:
        try:
            if not self.live.wait_for_records(self._from_records, self._abandoned):
                return
            self.used = True
            with contextlib.closing(self.live.decoded_blocks(abandoned=self._abandoned)) as blocks:
                while (signum := self._stop_signal()) is None:  # asked before each block is read
                    if (block := next(blocks, None)) is None:
                        return
                    self._count(block)
                self.stopped = (signum, self.live.decoded_records, self.live.collected)
        except BaseException as error:  # handed to the main thread by result()
            self._error = error

    def _count(self, block: list[str] | SeccompBlock) -> None:
        from learn.livecount import count_block

        if not isinstance(block, list):
            counted = count_block(block, self.tally, self.session, self.records, self.source)
            if counted is not None:
                self.records += block.kept
                self.events += counted
                return
            block = [r.line for data in block.seccomp_records() if (r := record_of(data)) and r.line]
        numbered = list(enumerate(block, self.records + 1))
        self.records += len(block)
        for item in parse_numbered(numbered, self.source, InputFormat.AUDITD):
            if isinstance(item, SeccompEvent):
                if item.ses != self.session:
                    continue
                self.events += 1
            self.tally.item(item)
