"""Live audit record streams for `learn run`, each of which accounts for what it lost.

A source starts before the target, stops after it, and hands back the SECCOMP records as
lines in auditd's raw audit.log form (`type=SECCOMP msg=audit(...): ...`), the form the
parsers already read. Only SECCOMP and ANOM_ABEND lines are kept: they are all the parsers
decode, and every other record is seen only for loss accounting.

Loss accounting rests on markers. At start and at stop the source has the kernel log a user
record carrying a random token; the kernel gives it the next audit serial and queues it
behind everything logged before it. Seeing the end marker therefore proves every earlier
record has been delivered (a drain barrier, better than any fixed sleep), and every kernel
serial between the two markers belongs to a record the source should have seen: the kernel
takes a serial only when it starts a record, after its exclude filter, and a record either
reaches the queue or is counted in the kernel's `lost` counter. Records of other processes
take serials too, which is why a source keeps looking at every record, not only SECCOMP
ones: a missing serial is a record lost, though maybe not one of the target's. Serials
only prove loss where the source receives every record (multicast, auditd's log, or the
kernel log while no auditd runs); each source says what else it watches.
"""

from __future__ import annotations

import re
import secrets
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from array import array
from collections.abc import Callable, Generator, Iterator
from types import TracebackType
from typing import IO, ClassVar, NamedTuple, Protocol, Self

from learn.errors import KernelError
from learn.kernel import features
from learn.kernel.sources.loss import LossKind, LossReason, LossReport, distinct_serials_in

# ANOM_ABEND: seccomp kills on pre-3.14 kernels; SYSCALL: a0..a3 for --args (learn.kernel.auditrules)
KEPT_TYPES = {1326: "SECCOMP", 1701: "ANOM_ABEND", 1300: "SYSCALL"}
STAMP = re.compile(r"audit\(\d+\.\d+:(\d+)\)")
_TOKEN_BYTES = 8
_MARKER_NUMBER = re.compile(r" (\d+)")


class Source(Protocol):
    name: str

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def lines(self) -> Iterator[str]: ...
    @property
    def loss(self) -> LossReport: ...


class Record(NamedTuple):
    """One record a source received, as its post-pass decodes it."""

    serial: int | None  # kernel serial; None for records that have none (auditd's DAEMON_*)
    text: str  # where the marker token is looked for
    line: str | None  # the auditd-form line to keep, or None


class SpoolingSource(ABC):
    """A reader thread spools raw records to a temp file; stop() decodes them and counts losses.

    The thread does as little as it can (read, write, look for the marker token), because
    time it spends decoding is time the kernel's buffers fill up.
    """

    name: ClassVar[str]

    def __init__(self, *, settle: float = 0.2, barrier_timeout: float = 2.0) -> None:
        self.settle = settle
        self.barrier_timeout = barrier_timeout
        self._token = f"learn-barrier-{secrets.token_hex(_TOKEN_BYTES)}"
        self._token_bytes = self._token.encode()
        self._markers: list[str] = []  # index = marker number, value = "start" / "end" / "settle"
        self._seen: set[int] = set()
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._spool: IO[bytes] | None = None
        self._kept: IO[str] | None = None
        self._thread: threading.Thread | None = None
        self._failure: str | None = None
        self._closed = False
        self._lost_before: int | None = None
        self._reasons: list[LossReason] = []
        self._caveats: list[str] = []
        self._report: LossReport | None = None
        self._collected = False
        self.collected = 0  # records the reader spooled (kmsg: kernel messages of any kind)
        self.decoded_records = 0
        self.barrier_elapsed = 0.0  # how long the last marker took to come back (or to give up)
        self._stop_at: int | None = None  # the reader stops once it has taken in this marker

    # -- what each source provides ------------------------------------------------------

    @classmethod
    @abstractmethod
    def unavailable(cls) -> str | None:
        """Why this source cannot run here, or None if it can."""

    @abstractmethod
    def _open(self) -> None:
        """Open the kernel or file endpoint; called by start() before the thread runs."""

    @abstractmethod
    def _read_loop(self) -> None:
        """Run on the thread until _stopping is set: _put() what arrives, _scan() it for markers."""

    @abstractmethod
    def _close(self) -> None: ...

    @abstractmethod
    def _records(self, spool: IO[bytes]) -> Iterator[Record]:
        """Decode the spool after the thread has stopped."""

    def _missed_barrier(self) -> bool:
        """The end marker did not show up in time: wait some other way; True if it showed up after all."""
        return False

    def _settle(self) -> None:
        """After the end marker: let records of other processes whose serial was taken just before
        the marker's, but queued just after it, arrive (else their serials would count as lost).

        A settle marker, which counts for nothing, makes the wait one more round trip through
        kauditd rather than a fixed sleep: a record that took its serial before the end marker
        has been queued by then. kmsg overrides this: each marker spends printk's rate limit.
        """
        if not self._barrier("settle", timeout=self.settle):
            time.sleep(max(0.0, self.settle - self.barrier_elapsed))

    # -- the common life cycle ------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            raise KernelError(f"{self.name} source started twice", "create a new source for each run")
        self._lost_before = self._kernel_lost()
        self._spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed by _account() or close()
        try:
            self._open()
        except BaseException:
            self.close()
            raise
        self._thread = threading.Thread(target=self._run, name=f"learn-{self.name}", daemon=True)
        self._thread.start()
        if not self._barrier("start"):
            self._caveats.append("the start marker never arrived: losses at the very start cannot be counted")

    def stop(self) -> None:
        """Collect the last records and decode them all: lines() and loss are then ready."""
        self.finish_collecting()
        self._kept = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115
        for line in self.decoded():
            self._kept.write(line + "\n")
        self._kept.flush()

    def finish_collecting(self) -> None:
        """Wait for the end marker (every earlier record has then arrived) and stop the reader."""
        if self._thread is None or self._collected:
            raise KernelError(f"{self.name} source stopped without running", "call start() first")
        if not (self._barrier("end") or self._missed_barrier()):
            self._wait_backlog_empty()
        else:
            self._settle()
        self._halt()
        if self._spool is not None:
            self._spool.flush()
        with self._cond:  # a reader of the spool (NetlinkSource.decoded_blocks) may be waiting
            self._collected = True
            self._cond.notify_all()

    def decoded(self) -> Generator[str, None, None]:
        """The kept records, decoded from the spool one by one; loss is ready once this ends.

        Closed early (learn was asked to stop), the report says so and counts no serial gaps:
        the serials not read yet would all look lost.
        """
        spool = self._take_spool()
        serials = array("I")  # audit serials are 32-bit
        marker_serials: dict[int, int] = {}
        complete = False
        try:
            for record in self._records(spool):
                self.decoded_records += 1
                if record.serial is not None:
                    serials.append(record.serial)
                    self._note_marker(record.text, record.serial, marker_serials)
                if record.line is not None:
                    yield record.line
            complete = True
        finally:
            spool.close()
            self._settle_accounts(
                complete, marker_serials, serials[0] if serials else None, distinct_serials_in(serials)
            )

    def _take_spool(self) -> IO[bytes]:
        if not self._collected or self._spool is None:
            raise KernelError(f"{self.name} source decoded twice or before it stopped", "call finish_collecting()")
        spool, self._spool = self._spool, None
        spool.flush()
        spool.seek(0)
        return spool

    def _note_marker(self, text: str, serial: int, marker_serials: dict[int, int]) -> None:
        at = text.find(self._token)
        if at >= 0 and (m := _MARKER_NUMBER.match(text, at + len(self._token))):
            marker_serials[int(m.group(1))] = serial

    def _settle_accounts(
        self,
        complete: bool,
        marker_serials: dict[int, int],
        first_serial: int | None,
        distinct_in: Callable[[int, int], int],
    ) -> None:
        """Once decoding ends: count serial gaps (unless it was stopped) and write the report.
        distinct_in(lo, hi): how many distinct serials from lo to hi were received."""
        if complete:
            self._count_gaps(marker_serials, first_serial, distinct_in)
        else:
            self._caveats.append("decoding was stopped: serial gaps were not counted")
        self._report = self._account()

    def close(self) -> None:
        """Stop the thread if it runs and drop the spools; the report stays readable."""
        self._halt()
        self._collected = True
        for handle in (self._spool, self._kept):
            if handle is not None:
                handle.close()
        self._spool = self._kept = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def lines(self) -> Iterator[str]:
        if self._kept is None:
            raise KernelError(f"{self.name} source read before stop()", "call stop() after the target exits")
        self._kept.seek(0)
        for line in self._kept:
            yield line.rstrip("\n")

    @property
    def loss(self) -> LossReport:
        if self._report is None:
            raise KernelError(f"{self.name} source has no loss report before stop()", "call stop() first")
        return self._report

    # -- helpers for the sources -----------------------------------------------------------

    def _put(self, data: bytes) -> None:
        assert self._spool is not None
        self._spool.write(data)

    def _scan(self, data: bytes) -> None:
        """Note every marker of ours in data; cheap enough to run on each received chunk."""
        at = data.find(self._token_bytes)
        while at >= 0:
            start = at + len(self._token_bytes) + 1
            end = start
            while end < len(data) and 48 <= data[end] <= 57:
                end += 1
            if end > start:
                number = int(data[start:end])
                with self._cond:
                    self._seen.add(number)
                    self._cond.notify_all()
                if number == self._stop_at:
                    self._stopping.set()
            at = data.find(self._token_bytes, end)

    def _reason(self, kind: LossKind, lost: int, message: str) -> None:
        self._reasons.append(LossReason(kind, lost, message))

    def _barrier(self, which: str, timeout: float | None = None) -> bool:
        number = len(self._markers)
        self._markers.append(which)
        began = time.monotonic()
        self.barrier_elapsed = 0.0
        try:
            features.send_audit_message(f"{self._token} {number}")
        except KernelError as err:
            self._caveats.append(f"cannot log a {which} marker: {err}")
            return False
        deadline = began + (self.barrier_timeout if timeout is None else timeout)
        try:
            with self._cond:
                while number not in self._seen and self._failure is None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    self._cond.wait(left)
            return number in self._seen
        finally:
            self.barrier_elapsed = time.monotonic() - began

    def _wait_backlog_empty(self) -> None:
        """Without a marker: wait until the kernel queue is empty, then a moment for the last send."""
        deadline = time.monotonic() + self.barrier_timeout
        while time.monotonic() < deadline:
            try:
                if features.audit_status().backlog == 0:
                    break
            except KernelError:
                break
            time.sleep(0.05)
        time.sleep(self.settle)

    @staticmethod
    def _kernel_lost() -> int | None:
        try:
            return features.audit_status().lost
        except KernelError:
            return None

    def _run(self) -> None:
        try:
            self._read_loop()
        except Exception as err:  # the report must say the reader died, not the thread print it
            self._failure = f"{type(err).__name__}: {err}"
            with self._cond:
                self._cond.notify_all()

    def _halt(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            if not self._closed:
                self._closed = True
                self._close()

    def _account(self) -> LossReport:
        self._count_kernel_lost()
        if self._failure is not None:
            self._reason(LossKind.READER_FAILED, 0, f"the {self.name} reader stopped: {self._failure}")
        lost = max((r.lost for r in self._reasons), default=0)
        if self._reasons:
            lost = max(lost, 1)
        return LossReport(lost, tuple(self._reasons), tuple(self._caveats))

    def _count_gaps(
        self, marker_serials: dict[int, int], first_serial: int | None, distinct_in: Callable[[int, int], int]
    ) -> None:
        ends = [n for n, which in enumerate(self._markers) if which == "end" and n in marker_serials]
        if not ends:  # then no window exists whose every serial must have arrived
            self._caveats.append(
                "the end marker never arrived: waited a fixed time for late records "
                "instead, and serial gaps were not counted"
            )
            return
        hi = marker_serials[ends[-1]]
        lo = marker_serials.get(0)
        if lo is None:  # no start marker: count from the first record this source received
            lo = first_serial if first_serial is not None else hi
        if hi < lo:
            self._caveats.append("audit serials wrapped around during the run: gaps were not counted")
            return
        span = hi - lo + 1
        # markers of ours that were themselves dropped (kmsg, overruns) are nobody's records
        unseen_markers = sum(1 for n in range(1, ends[-1]) if n not in marker_serials)
        missing = span - distinct_in(lo, hi) - unseen_markers
        if missing > 0:
            self._reason(
                LossKind.SERIAL_GAP,
                missing,
                f"{missing} audit serials between the start and end markers never arrived "
                "(records lost; some may be other processes')",
            )

    def _count_kernel_lost(self) -> None:
        after = self._kernel_lost()
        if self._lost_before is None or after is None:
            self._caveats.append("cannot read the kernel's audit lost counter (needs CAP_AUDIT_CONTROL)")
            return
        delta = (after - self._lost_before) & 0xFFFFFFFF
        if delta:
            self._reason(
                LossKind.KERNEL_LOST,
                delta,
                f"the kernel's audit lost counter grew by {delta} during the run "
                "(backlog limit, rate limit or memory; any process's records)",
            )


SOURCE_NAMES = ("netlink", "auditd", "kmsg")


def choose_source(preferred: str | None = None) -> SpoolingSource:
    """The named source, or the best one this host allows: netlink, else auditd's log, else kmsg."""
    # Imported here because each of them imports this package for SpoolingSource.
    from learn.kernel.sources.auditd import AuditdSource
    from learn.kernel.sources.kmsg import KmsgSource
    from learn.kernel.sources.netlink import NetlinkSource

    classes: dict[str, type[SpoolingSource]] = {
        "netlink": NetlinkSource,
        "auditd": AuditdSource,
        "kmsg": KmsgSource,
    }
    if preferred not in (None, "", "auto"):
        cls = classes.get(str(preferred))
        if cls is None:
            raise KernelError(f"unknown record source {preferred!r}", f"choose one of {', '.join(classes)}")
        why = cls.unavailable()
        if why is not None:
            raise KernelError(f"the {preferred} source cannot run: {why}", "choose another --source or auto")
        return cls()
    refusals = []
    for name, cls in classes.items():
        why = cls.unavailable()
        if why is None:
            return cls()
        refusals.append(f"{name}: {why}")
    raise KernelError("no audit record source works here (" + "; ".join(refusals) + ")", "run as root, or start auditd")
