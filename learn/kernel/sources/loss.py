"""What a live source lost, and the evidence for it (learn.kernel.sources' loss accounting)."""

from __future__ import annotations

from array import array
from collections.abc import Callable
from enum import StrEnum
from typing import NamedTuple


class LossKind(StrEnum):
    SERIAL_GAP = "serial-gap"  # serials between the markers that never arrived
    KERNEL_LOST = "kernel-lost"  # the kernel's own lost counter grew during the run
    SOCKET_OVERRUN = "socket-overrun"  # netlink receive buffer full: recv() said ENOBUFS
    PRINTK_SUPPRESSED = "printk-suppressed"  # printk rate limit: "N callbacks suppressed"
    KMSG_OVERWRITTEN = "kmsg-overwritten"  # kernel log ring wrapped under the reader: EPIPE
    LOG_ROTATED_AWAY = "log-rotated-away"  # auditd rotated a log file away before it was read
    LOG_TRUNCATED = "log-truncated"  # the audit log shrank under the reader
    DAEMON_CHANGED = "daemon-changed"  # auditd started, stopped or restarted during the run
    READER_FAILED = "reader-failed"  # the reader thread died


class LossReason(NamedTuple):
    kind: LossKind
    lost: int  # records this evidence proves lost; 0 when it cannot say how many
    message: str


class LossReport(NamedTuple):
    """What a source lost: lost is a lower bound, and is 0 only when nothing points to a loss."""

    lost: int
    reasons: tuple[LossReason, ...] = ()
    caveats: tuple[str, ...] = ()  # what could not be checked, so "no loss" is weaker than it looks

    @property
    def lossless(self) -> bool:
        return self.lost == 0

    def kinds(self) -> set[LossKind]:
        return {reason.kind for reason in self.reasons}


def distinct_serials_in(serials: array[int]) -> Callable[[int, int], int]:
    """distinct_in(lo, hi): how many distinct serials from lo to hi are in serials (in plain
    Python: the record-by-record path never imports numpy; spoolblocks.serial_counter is the
    numpy twin for spooled blocks)."""

    def count(lo: int, hi: int) -> int:
        seen = bytearray((hi - lo + 8) // 8)  # one bit a serial: a busy host's run spans many millions
        for serial in serials:
            if lo <= serial <= hi:
                offset = serial - lo
                seen[offset >> 3] |= 1 << (offset & 7)
        return int.from_bytes(seen, "little").bit_count()

    return count
