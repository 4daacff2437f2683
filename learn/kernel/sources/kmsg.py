"""Audit records from the kernel log, /dev/kmsg: the last resort, and a lossy one.

While no auditd is registered, kauditd prints each record (`audit: type=1326 audit(...): ...`)
through printk_ratelimit(): by default 10 messages per 5 seconds across the whole kernel,
the rest only counted and reported later as `kauditd_printk_skb: N callbacks suppressed`.
That report comes with the first message after the 5-second window, so it can arrive long
after the records it speaks of; stop() therefore marks the end, and if the marker itself
was suppressed, waits the window out and marks again, which flushes the report. Loss shows as:

- serial gaps between the markers: with no auditd every record except EOE is printed (EOE
  shares its event's serial), so each missing serial is a record suppressed or overwritten;
- `callbacks suppressed` reports after the start marker: kauditd_printk_skb's count is taken
  as that many audit records lost (the limit is printk_ratelimit()'s, shared with its few
  other callers in the kernel, so the count is nearly all audit records); this is the
  measure when the end marker never arrived and serial gaps cannot be counted;
- EPIPE on read: the ring buffer wrapped and overwrote records not read yet;
- auditd starting during the run: records then go to it and no longer to the log.

Only facility-0 messages are read: a user process writing to /dev/kmsg gets LOG_USER, so
forged records cannot get in. The kernel prints at most about 1000 bytes of a message;
longer records arrive cut short, and the parsers flag them.
"""

from __future__ import annotations

import errno
import os
import re
import select
import struct
import time
from collections.abc import Iterator
from typing import IO

from learn.errors import KernelError
from learn.kernel import features
from learn.kernel.sources import KEPT_TYPES, STAMP, Record, SpoolingSource
from learn.kernel.sources.loss import LossKind

KMSG = "/dev/kmsg"
_LENGTH = struct.Struct("=I")
_KMSG_RECORD = re.compile(r"(\d+),(\d+),[^;]*;([^\n]*)")
_AUDIT = re.compile(r"audit: type=(\d+) (audit\(.*)")
_SUPPRESSED = re.compile(r"(\S+): (\d+) callbacks suppressed")
_KAUDITD = "kauditd_printk_skb"  # the kernel function that prints audit records when no auditd runs
_ESCAPE = re.compile(r"\\x([0-9a-f]{2})")  # kmsg escapes bytes < 0x20, >= 0x7f and the backslash


def auditd_pid() -> int:
    """auditd's pid as the kernel knows it, or from /proc when the audit status is unreadable."""
    try:
        return features.audit_status().pid
    except KernelError:
        pass
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as comm:
                    if comm.read().strip() == "auditd":
                        return int(entry)
            except OSError:
                continue
    return 0


def _ratelimit_interval() -> float:
    try:
        with open("/proc/sys/kernel/printk_ratelimit") as handle:
            return float(handle.read().strip())
    except (OSError, ValueError):
        return 5.0  # the kernel's default


class KmsgSource(SpoolingSource):
    name = "kmsg"

    def __init__(self, *, settle: float = 0.2, barrier_timeout: float = 1.0, max_wait: float = 10.0) -> None:
        """max_wait: the longest stop() waits out the printk rate limit to learn how much it dropped."""
        super().__init__(settle=settle, barrier_timeout=barrier_timeout)
        self.max_wait = max_wait
        self.epipes = 0
        self.overwritten = 0  # kernel messages (of any kind) the ring overwrote before they were read
        self.suppressed = 0
        self.suppressed_audit = 0  # the part kauditd_printk_skb reported
        self._fd = -1

    @classmethod
    def unavailable(cls) -> str | None:
        pid = auditd_pid()
        if pid:
            return f"auditd is running (pid {pid}): the kernel sends records to it, not to the kernel log"
        try:
            os.close(os.open(KMSG, os.O_RDONLY | os.O_NONBLOCK))
        except OSError as err:
            return f"cannot read {KMSG}: {err.strerror}"
        return None

    def _open(self) -> None:
        why = self.unavailable()
        if why is not None:
            raise KernelError(f"kmsg source: {why}", "use the auditd or netlink source")
        self._fd = os.open(KMSG, os.O_RDONLY | os.O_NONBLOCK)
        os.lseek(self._fd, 0, os.SEEK_END)  # records from now on, not the boot log

    def _read_loop(self) -> None:
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        while not self._stopping.is_set():
            self._read_available()
            poller.poll(50)
        self._read_available()

    def _read_available(self) -> None:
        while True:
            try:
                data = os.read(self._fd, 8192)  # one record per read, by /dev/kmsg's contract
            except BlockingIOError:
                return
            except OSError as err:
                if err.errno != errno.EPIPE:
                    raise
                self.epipes += 1  # the next read resumes at the oldest record still there
                continue
            self._put(_LENGTH.pack(len(data)))
            self._put(data)
            self._scan(data)
            self.collected += 1

    def _missed_barrier(self) -> bool:
        """The marker was rate limited: wait out the window, so the next marker gets printed
        together with the `callbacks suppressed` report for the window."""
        interval = _ratelimit_interval()
        if interval > self.max_wait:
            self._caveats.append(
                f"printk_ratelimit is {interval:g}s, longer than learn waits: the "
                "suppressed-message report was not collected"
            )
            return False
        time.sleep(interval + 0.1)
        return self._barrier("end")

    def _settle(self) -> None:
        """A settle marker would spend printk's rate limit (10 messages a window): a fixed wait."""
        time.sleep(self.settle)

    def _close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _records(self, spool: IO[bytes]) -> Iterator[Record]:
        start_mark = f"{self._token} 0'"
        after_start = 0 not in self._seen  # without a start marker, every report counts
        reporters: set[str] = set()
        last_seq: int | None = None
        while len(prefix := spool.read(_LENGTH.size)) == _LENGTH.size:
            m = _KMSG_RECORD.match(spool.read(_LENGTH.unpack(prefix)[0]).decode("utf-8", "replace"))
            if m is not None:  # kmsg numbers every message: a jump is what the ring overwrote unread
                seq = int(m.group(2))
                if last_seq is not None and seq > last_seq + 1:
                    self.overwritten += seq - last_seq - 1
                last_seq = seq
            if m is None or int(m.group(1)) >> 3 != 0:  # not from the kernel itself
                continue
            message = _ESCAPE.sub(lambda e: chr(int(e.group(1), 16)), m.group(3))
            audit = _AUDIT.match(message)
            if audit is None:
                suppressed = _SUPPRESSED.match(message)
                if suppressed and after_start:
                    self.suppressed += int(suppressed.group(2))
                    reporters.add(suppressed.group(1))
                    if suppressed.group(1) == _KAUDITD:
                        self.suppressed_audit += int(suppressed.group(2))
                continue
            rtype, text = int(audit.group(1)), audit.group(2)
            after_start = after_start or start_mark in text
            stamp = STAMP.match(text)
            name = KEPT_TYPES.get(rtype)
            yield Record(int(stamp.group(1)) if stamp else None, text, f"type={name} msg={text}" if name else None)
        self._kmsg_reasons(reporters)

    def _kmsg_reasons(self, reporters: set[str]) -> None:
        if self.suppressed_audit:
            self._reason(
                LossKind.PRINTK_SUPPRESSED,
                self.suppressed_audit,
                f"about {self.suppressed_audit} audit records dropped by the printk rate limit "
                f"({_KAUDITD}: {self.suppressed_audit} callbacks suppressed)",
            )
        if self.suppressed > self.suppressed_audit:
            others = sorted(reporters - {_KAUDITD})
            self._reason(
                LossKind.PRINTK_SUPPRESSED,
                0,
                f"{', '.join(others)}: {self.suppressed - self.suppressed_audit} callbacks suppressed "
                "(the printk rate limit dropped kernel messages, maybe audit records among them)",
            )
        if self.epipes:
            self._reason(
                LossKind.KMSG_OVERWRITTEN,
                0,
                f"the kernel log ring wrapped {self.epipes} times before it was read (EPIPE): "
                f"{self.overwritten} kernel messages were overwritten unread, audit records among them",
            )
        pid = auditd_pid()
        if pid:
            self._reason(
                LossKind.DAEMON_CHANGED,
                0,
                f"auditd (pid {pid}) started during the run: records since went to it, not to the kernel log",
            )
