"""Audit records from auditd's log, followed from its end like `tail -F`, through rotations.

auditd is the lossless path in the kernel's design: while its queue is over the backlog
limit the kernel makes the logging task wait (up to backlog_wait_time) instead of dropping.
It is also slow (the target ran about 4x slower than with the netlink source in a
200,000-record burst), and its log rotates under load: with the stock max_log_file = 8 MB
and num_logs = 5 that burst rotated the log four times and the oldest of its records were
already deleted when it ended. So the follower keeps its file open across a rename, reads
it to the end, then reads any newer rotated files it missed before taking up the new log;
files are told apart by inode, so none is read twice.

Loss shows as serial gaps between the markers (auditd writes every record the kernel sends
it; its own DAEMON_* records carry auditd's serials and records of other nodes carry theirs,
so neither counts), the kernel `lost` counter (the backlog wait ran out), and auditd
changing pid during the run. A rotation the follower could not order, or a log that shrank,
is reported as a loss only when there is no end marker to count gaps against.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import IO

from learn.errors import KernelError
from learn.kernel.sources import KEPT_TYPES, Record, SpoolingSource
from learn.kernel.sources.kmsg import auditd_pid
from learn.kernel.sources.loss import LossKind

DEFAULT_CONFIG = "/etc/audit/auditd.conf"
DEFAULT_LOG = "/var/log/audit/audit.log"
_LINE = re.compile(r"(?:node=(\S+) )?type=(\S+) msg=audit\(\d+\.\d+:(\d+)\)")
_NODE = re.compile(rb"node=(\S+) ")
_KEPT = {*KEPT_TYPES.values(), *(str(t) for t in KEPT_TYPES), *(f"UNKNOWN[{t}]" for t in KEPT_TYPES)}
_CHUNK = 1 << 20


def auditd_config(pid: int) -> dict[str, str]:
    """The settings of the auditd with this pid: its -c directory's auditd.conf, else the default."""
    path = DEFAULT_CONFIG
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            argv = handle.read().decode(errors="replace").split("\0")
        if "-c" in argv[:-1]:
            path = os.path.join(argv[argv.index("-c") + 1], "auditd.conf")
    except OSError:
        pass
    settings: dict[str, str] = {}
    try:
        with open(path) as handle:
            for line in handle:
                key, sep, value = line.partition("=")
                if sep and not key.lstrip().startswith("#"):
                    settings[key.strip().lower()] = value.strip()
    except OSError:
        pass
    return settings


def _log_file(pid: int) -> tuple[str | None, str | None]:
    """(log path, None) or (None, why auditd's log cannot be followed)."""
    conf = auditd_config(pid)
    if conf.get("write_logs", "yes").lower() == "no" or conf.get("log_format", "").upper() == "NOLOG":
        return None, "auditd is configured not to write a log (write_logs = no)"
    path = conf.get("log_file", DEFAULT_LOG)
    if not os.access(path, os.R_OK):
        return None, f"cannot read {path}"
    return path, None


class AuditdSource(SpoolingSource):
    name = "auditd"

    def __init__(
        self,
        *,
        log_file: str | None = None,
        poll: float = 0.02,
        settle: float = 0.2,
        barrier_timeout: float = 5.0,
    ) -> None:
        """log_file: follow this file instead of the one the running auditd's config names."""
        # the marker has to wait for the next poll, so the barrier waits longer than one
        super().__init__(settle=settle, barrier_timeout=max(barrier_timeout, 2 * poll + 1))
        self.log_file = log_file
        self.poll = poll
        self.rotations = 0
        self._pid = 0
        self._fd = -1
        self._id = (0, 0)  # (st_dev, st_ino) of the file being followed
        self._offset = 0
        self._done: set[tuple[int, int]] = set()
        self._tail = b""
        self._ends_in_newline = True
        self._node: str | None = None  # node= of our own markers' lines: the local host's records
        self._trouble: list[tuple[LossKind, str]] = []

    @classmethod
    def unavailable(cls) -> str | None:
        pid = auditd_pid()
        if not pid:
            return "auditd is not running"
        return _log_file(pid)[1]

    def _open(self) -> None:
        self._pid = auditd_pid()
        if not self._pid:
            raise KernelError("auditd source: auditd is not running", "start auditd, or use netlink")
        if self.log_file is None:
            self.log_file, why = _log_file(self._pid)
            if self.log_file is None:
                raise KernelError(f"auditd source: {why}", "use the netlink source")
        try:
            self._fd = os.open(self.log_file, os.O_RDONLY)
        except OSError as err:
            raise KernelError(
                f"auditd source: cannot open {self.log_file}: {err.strerror}", "run learn as root"
            ) from None
        st = os.fstat(self._fd)
        self._id, self._offset = (st.st_dev, st.st_ino), st.st_size
        os.lseek(self._fd, self._offset, os.SEEK_SET)  # from now on; what came before is not this run's
        self._done.add(self._id)

    def _read_loop(self) -> None:
        while not self._stopping.wait(self.poll):
            self._follow()
        self._follow()

    def _follow(self) -> None:
        self._read_to_end()
        assert self.log_file is not None
        try:
            st = os.stat(self.log_file)
        except FileNotFoundError:  # between auditd's rename and its open of the new file
            return
        if (st.st_dev, st.st_ino) != self._id:
            self._rotated()
        elif st.st_size < self._offset:
            self._trouble.append(
                (LossKind.LOG_TRUNCATED, f"{self.log_file} shrank from {self._offset} to {st.st_size} bytes")
            )
            os.lseek(self._fd, 0, os.SEEK_SET)
            self._offset = 0

    def _read_to_end(self) -> None:
        while data := os.read(self._fd, _CHUNK):
            self._offset += len(data)
            self._take(data)

    def _take(self, data: bytes) -> None:
        self._put(data)
        self.collected += data.count(b"\n")
        self._ends_in_newline = data.endswith(b"\n")
        window = self._tail + data  # a marker can straddle two reads
        at = window.find(self._token_bytes)
        if at >= 0:
            self._scan(window)
            if self._node is None:
                m = _NODE.match(window, window.rfind(b"\n", 0, at) + 1)
                self._node = m.group(1).decode() if m else ""
        self._tail = data[-(len(self._token_bytes) + 16) :]

    def _rotated(self) -> None:
        """The log was renamed away: finish the old file, then any rotated files newer than it."""
        assert self.log_file is not None
        self.rotations += 1
        old, rotated = self._id, []
        index = 1
        while os.path.exists(f"{self.log_file}.{index}"):
            rotated.append(f"{self.log_file}.{index}")
            index += 1
        ids = [_file_id(path) for path in rotated]
        if old in ids:
            newer = rotated[: ids.index(old)]
        else:  # deleted already, or renamed past our view: read all we have not read
            newer = rotated
            self._trouble.append(
                (LossKind.LOG_ROTATED_AWAY, f"{self.log_file} rotated past the follower; files may be gone")
            )
        os.close(self._fd)
        self._fd = -1
        for path in reversed(newer):  # oldest first
            self._read_whole(path)
        self._open_current()

    def _read_whole(self, path: str) -> None:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return
        try:
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) in self._done:
                return
            self._done.add((st.st_dev, st.st_ino))
            self._separate()
            while data := os.read(fd, _CHUNK):
                self._take(data)
        finally:
            os.close(fd)

    def _open_current(self) -> None:
        assert self.log_file is not None
        self._fd = os.open(self.log_file, os.O_RDONLY)
        st = os.fstat(self._fd)
        self._id, self._offset = (st.st_dev, st.st_ino), 0
        self._done.add(self._id)
        self._separate()

    def _separate(self) -> None:
        if not self._ends_in_newline:  # a file's cut-off last line must not swallow the next's first
            self._put(b"\n")
            self._ends_in_newline = True

    def _close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _records(self, spool: IO[bytes]) -> Iterator[Record]:
        for raw in spool:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            m = _LINE.match(line)
            if m is None:
                continue
            node, rtype, serial = m.groups()
            local = self._node is None or (node or "") == self._node
            counted = local and not rtype.startswith("DAEMON_")  # auditd numbers those itself
            yield Record(int(serial) if counted else None, line, line if rtype in _KEPT else None)
        self._auditd_reasons()

    def _auditd_reasons(self) -> None:
        ended = any(n in self._seen for n, which in enumerate(self._markers) if which == "end")
        for kind, message in self._trouble:
            if ended:  # the serial gap count covers whatever this lost
                self._caveats.append(message)
            else:
                self._reason(kind, 0, message)
        pid = auditd_pid()
        if pid != self._pid:
            now = f"pid {pid}" if pid else "not running"
            self._reason(
                LossKind.DAEMON_CHANGED,
                0,
                f"auditd changed during the run (pid {self._pid}, now {now}): records "
                "between the two may be lost or in another log",
            )


def _file_id(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)
