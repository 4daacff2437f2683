"""Audit records straight from the kernel: the NETLINK_AUDIT multicast group AUDIT_NLGRP_READLOG.

kauditd copies every record to this group whether or not auditd runs (checked: with auditd
running, the group and auditd's unicast socket both got all 200,002 records of a burst), so
this source neither needs auditd nor disturbs it. The price is that multicast never waits:
when the socket's receive queue is full the kernel drops the copy and the next recv()
fails with ENOBUFS. Hence the 64 MiB buffer (SO_RCVBUFFORCE, which as root ignores
net.core.rmem_max), a thread that only receives and spools, and three kinds of evidence:

- ENOBUFS: proves a loss but not its size (each one is at least one record);
- serial gaps between the start and end markers: this socket is sent every record the
  kernel queues, so each missing serial is a record dropped, ours or another process's;
- the kernel `lost` counter: records dropped before multicast (backlog, rate limit). On
  hosts booted with audit=1 and no auditd it also counts records auditd's hold queue had no
  room for, which this socket did receive; it is reported anyway, because the counter
  cannot tell the two apart and a false alarm is better than a silent gap.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import struct
import threading
from array import array
from collections.abc import Generator, Iterator
from typing import IO, TYPE_CHECKING

from learn.errors import KernelError
from learn.kernel import features
from learn.kernel.sources import KEPT_TYPES, STAMP, Record, SpoolingSource
from learn.kernel.sources.loss import LossKind

if TYPE_CHECKING:
    from learn.kernel.sources.spoolblocks import SeccompBlock

DEFAULT_RCVBUF = 64 << 20  # measured: a 200,000-record burst loses nothing at 64 MiB, ~10% at the default
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
_GROUP_MASK = 1 << (features.AUDIT_NLGRP_READLOG - 1)
_RECV_SIZE = 1 << 16  # an audit record is at most 8970 bytes (MAX_AUDIT_MESSAGE_LENGTH)
BLOCK_RECORDS = 1 << 14  # decoded_blocks(): records a block (about 4 MiB of spool; numpy's arrays stay small)
_CHUNK_BYTES = 1 << 20  # the reader receives into a chunk this big, and spools it whole (then flushed)
_SECCOMP_LOW_BYTE = 1326 & 0xFF  # nlmsg_type's first byte (little-endian) in a SECCOMP record
_POLL = 0.05  # seconds decoded_blocks() waits for the reader between looks


class NetlinkSource(SpoolingSource):
    name = "netlink"

    def __init__(
        self, *, rcvbuf: int | None = DEFAULT_RCVBUF, settle: float = 0.2, barrier_timeout: float = 2.0
    ) -> None:
        """rcvbuf: receive buffer to ask for in bytes (the kernel doubles it); None keeps the default."""
        super().__init__(settle=settle, barrier_timeout=barrier_timeout)
        self.requested_rcvbuf = rcvbuf
        self.rcvbuf = 0  # what the kernel granted, as getsockopt(SO_RCVBUF) reports it
        self.overruns = 0
        self._sock: socket.socket | None = None
        # The spool holds the records back to back; their sizes are kept here (4 bytes a record),
        # so that a block of records can be framed without reading it record by record.
        self._sizes = array("I")
        self._flushed = 0  # records of the spool flushed to its file, whole

    @classmethod
    def unavailable(cls) -> str | None:
        try:
            features.audit_socket(_GROUP_MASK).close()
        except KernelError as err:
            return str(err)
        return None

    def _open(self) -> None:
        sock = features.audit_socket(_GROUP_MASK)
        if self.requested_rcvbuf:
            try:
                sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, self.requested_rcvbuf)
            except OSError:  # no CAP_NET_ADMIN: the ordinary option, capped by net.core.rmem_max
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.requested_rcvbuf)
        self.rcvbuf = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        if self.requested_rcvbuf and self.rcvbuf < self.requested_rcvbuf:
            self._caveats.append(
                f"receive buffer is {self.rcvbuf} bytes, not the {self.requested_rcvbuf} "
                "asked for (no CAP_NET_ADMIN?): bursts may overflow it"
            )
        # How often the thread looks at the stop flag: a timeout the kernel keeps (EAGAIN), not
        # Python's socket timeout, which would poll() before every recv (measured: a third of
        # the reader's CPU on a million records).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("@ll", 0, 50_000))
        self._sock = sock

    def _read_loop(self) -> None:
        assert self._sock is not None
        # The kernel never waits for a multicast reader: a reader starved of CPU by the target
        # loses records (measured: 250k-740k of a 1.1M burst on 2 busy CPUs). Nice is per
        # thread on Linux, so only this reader runs ahead of the target.
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), -20)
        self._receive(self._stopping)
        # After the stop flag, take what is already queued without waiting for more.
        self._sock.setblocking(False)
        self._receive(None)

    def _receive(self, stopping: threading.Event | None) -> None:
        """Receive into a chunk, spooled whole: until stopping is set, or (None) the queue is empty.

        Per record only a recv_into, a look at its type (a marker is looked for in user records
        only) and its size: the reader must keep up with the kernel, on CPUs the target keeps
        busy. The stop flag is looked at on each receive timeout, after each marker and after
        each chunk: a stream that never pauses still stops within a chunk."""
        assert self._sock is not None and self._spool is not None
        chunk = bytearray(_CHUNK_BYTES)
        view = memoryview(chunk)
        recv_into, find, token, size = self._sock.recv_into, chunk.find, self._token_bytes, self._sizes.append
        before = len(self._sizes)
        at = 0
        try:
            while stopping is None or not stopping.is_set():
                while True:
                    try:
                        n = recv_into(view[at:])
                    except BlockingIOError:  # SO_RCVTIMEO passed, or (stopping None) the queue is empty
                        if stopping is None:
                            return
                        break
                    except OSError as err:
                        if err.errno != errno.ENOBUFS:
                            raise
                        self.overruns += 1
                        continue
                    end = at + n
                    size(n)
                    if chunk[at + 4] != _SECCOMP_LOW_BYTE and find(token, at, end) >= 0:
                        self._scan(bytes(view[at:end]))
                        at = end
                        break
                    at = end
                    if at > _CHUNK_BYTES - _RECV_SIZE:  # room for the largest record, or spool the chunk
                        self._spool.write(view[:at])
                        self._flush()
                        at = 0
                        break
        finally:
            self._spool.write(view[:at])
            self.collected += len(self._sizes) - before

    def _flush(self) -> None:
        assert self._spool is not None
        self._spool.flush()
        self._flushed = len(self._sizes)

    def _settle(self) -> None:
        """The reader stops as it takes the settle marker in, not at its next recv() timeout."""
        self._stop_at = len(self._markers)  # the number the settle marker gets
        super()._settle()

    def _missed_barrier(self) -> bool:
        """An overrun can drop the end marker itself; by now the queue has drained, so mark again."""
        return self._barrier("end")

    def _close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _records(self, spool: IO[bytes]) -> Iterator[Record]:
        self._note_overruns()
        for size in self._sizes:
            if (record := record_of(spool.read(size))) is not None:
                yield record

    def _note_overruns(self) -> None:
        if self.overruns:
            self._reason(
                LossKind.SOCKET_OVERRUN,
                self.overruns,
                f"the netlink receive buffer ({self.rcvbuf} bytes) overflowed {self.overruns} "
                "times (ENOBUFS): the kernel dropped records meant for this socket",
            )

    def wait_for_records(self, n: int, abandoned: threading.Event) -> bool:
        """Wait until n records are spooled (True) or collecting ends with fewer (False)."""
        with self._cond:
            while not self._collected and self._flushed < n and not abandoned.is_set():
                self._cond.wait(_POLL)
        return not abandoned.is_set() and (len(self._sizes) if self._collected else self._flushed) >= n

    def decoded_blocks(
        self, *, fast: bool = True, abandoned: threading.Event | None = None
    ) -> Generator[list[str] | SeccompBlock, None, None]:
        """decoded(), a block of records at a time, and from while the reader still runs (a block
        is handed over once the reader has spooled it whole): a SeccompBlock
        (learn.kernel.sources.spoolblocks) where the vectorised reading can vouch for the whole
        block, else the block's kept lines as decoded() gives them. The loss accounting is the
        same, once collecting has finished; closed early, serial gaps are not counted."""
        from learn.kernel.sources import spoolblocks  # numpy and pyarrow: only for a big spool

        if self._spool is None or self._thread is None:
            raise KernelError(f"{self.name} source decoded twice or before it started", "call start() first")
        spool = self._spool
        serials: list[object] = []  # per block, in order: its records' serials (numpy arrays)
        marker_serials: dict[int, int] = {}
        complete = False
        lo = offset = 0
        try:
            while (block_sizes := self._next_block(lo, abandoned)) is not None:
                lo += len(block_sizes)
                length = sum(block_sizes)
                data = _pread(spool.fileno(), length, offset)
                offset += length
                parsed = spoolblocks.parse(data, memoryview(block_sizes)) if fast else None
                if parsed is None:
                    lines, scalar = [], array("I")
                    for record in spoolblocks.records(data, block_sizes, record_of):
                        self.decoded_records += 1
                        if record.serial is not None:
                            scalar.append(record.serial)
                            self._note_marker(record.text, record.serial, marker_serials)
                        if record.line is not None:
                            lines.append(record.line)
                    serials.append(spoolblocks.as_serials(scalar))
                    yield lines
                    continue
                block_serials, block = parsed
                self.decoded_records += len(block_sizes)
                serials.append(block_serials)
                for other in block.others:  # a SECCOMP record holds no marker (it has no free text)
                    marker = record_of(block.record(other))
                    if marker is not None and marker.serial is not None:
                        self._note_marker(marker.text, marker.serial, marker_serials)
                yield block
            complete = self._collected and not (abandoned is not None and abandoned.is_set())
        finally:
            if self._collected:  # else the reader still writes: close() ends both
                self._spool = None
                spool.close()
                self._note_overruns()
                first, distinct_in = spoolblocks.serial_counter(serials)  # type: ignore[arg-type]
                self._settle_accounts(complete, marker_serials, first, distinct_in)

    def _next_block(self, lo: int, abandoned: threading.Event | None) -> array[int] | None:
        """The sizes of the next block from record lo: whole, or the last one once collecting ended."""
        with self._cond:
            while abandoned is None or not abandoned.is_set():
                done = self._collected
                available = len(self._sizes) if done else self._flushed
                if available - lo >= BLOCK_RECORDS or (done and available > lo):
                    return self._sizes[lo : min(lo + BLOCK_RECORDS, available)]
                if done:
                    return None
                self._cond.wait(_POLL)
            return None


def _pread(fd: int, length: int, offset: int) -> bytes:
    data = os.pread(fd, length, offset)
    while len(data) < length:
        more = os.pread(fd, length - len(data), offset + len(data))
        if not more:
            raise KernelError("the record spool ended early", "report this as a bug in learn")
        data += more
    return data


def record_of(data: bytes) -> Record | None:
    """One spooled netlink message as a Record; None when it is too short to be one."""
    header = features.NLMSG_HEADER
    if len(data) < header.size:
        return None
    length, rtype = header.unpack_from(data)[:2]
    end = length if header.size <= length <= len(data) else len(data)
    text = data[header.size : end].rstrip(b"\0\n").decode("utf-8", "replace")
    m = STAMP.match(text)
    name = KEPT_TYPES.get(rtype)
    return Record(int(m.group(1)) if m else None, text, f"type={name} msg={text}" if name else None)
