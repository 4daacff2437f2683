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
from collections.abc import Iterator
from typing import IO

from learn.errors import KernelError
from learn.kernel import features
from learn.kernel.sources import KEPT_TYPES, STAMP, LossKind, Record, SpoolingSource

DEFAULT_RCVBUF = 64 << 20  # measured: a 200,000-record burst loses nothing at 64 MiB, ~10% at the default
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
_GROUP_MASK = 1 << (features.AUDIT_NLGRP_READLOG - 1)
_LENGTH = struct.Struct("=I")  # spool framing: our own length prefix, not the kernel's nlmsg_len
_RECV_SIZE = 1 << 16  # an audit record is at most 8970 bytes (MAX_AUDIT_MESSAGE_LENGTH)


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
        sock.settimeout(0.05)  # how often the thread looks at the stop flag
        self._sock = sock

    def _read_loop(self) -> None:
        assert self._sock is not None
        # The kernel never waits for a multicast reader: a reader starved of CPU by the target
        # loses records (measured: 250k-740k of a 1.1M burst on 2 busy CPUs). Nice is per
        # thread on Linux, so only this reader runs ahead of the target.
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), -20)
        recv, put, scan, pack = self._sock.recv, self._put, self._scan, _LENGTH.pack
        stopping = self._stopping
        received = 0
        while not stopping.is_set():
            try:
                data = recv(_RECV_SIZE)
            except TimeoutError:
                continue
            except OSError as err:
                if err.errno != errno.ENOBUFS:
                    raise
                self.overruns += 1
                continue
            put(pack(len(data)))
            put(data)
            scan(data)
            received += 1
        self.collected += received
        self._drain()

    def _drain(self) -> None:
        """After the stop flag, take what is already queued without waiting for more."""
        assert self._sock is not None
        self._sock.setblocking(False)
        while True:
            try:
                data = self._sock.recv(_RECV_SIZE)
            except BlockingIOError:
                return
            except OSError as err:
                if err.errno != errno.ENOBUFS:
                    raise
                self.overruns += 1
                continue
            self._put(_LENGTH.pack(len(data)))
            self._put(data)
            self.collected += 1

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
        if self.overruns:
            self._reason(
                LossKind.SOCKET_OVERRUN,
                self.overruns,
                f"the netlink receive buffer ({self.rcvbuf} bytes) overflowed {self.overruns} "
                "times (ENOBUFS): the kernel dropped records meant for this socket",
            )
        header = features.NLMSG_HEADER
        while len(prefix := spool.read(_LENGTH.size)) == _LENGTH.size:
            data = spool.read(_LENGTH.unpack(prefix)[0])
            if len(data) < header.size:
                continue
            length, rtype = header.unpack_from(data)[:2]
            end = length if header.size <= length <= len(data) else len(data)
            text = data[header.size : end].rstrip(b"\0\n").decode("utf-8", "replace")
            m = STAMP.match(text)
            name = KEPT_TYPES.get(rtype)
            yield Record(int(m.group(1)) if m else None, text, f"type={name} msg={text}" if name else None)
