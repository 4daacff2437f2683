"""Audit syscall rules for `--args`: the kernel writes a0..a3 of the table's syscalls for one session.

`learn run --args` (and `check --args`) adds, over the audit netlink socket, one rule per ABI:

    -a exit,always -F arch=ARCH -S socket -S ioctl ... -F sessionid=N -k learn-args:PID:START

With it the kernel writes a `type=SYSCALL` record (a0..a3) for each of those calls the target's
session makes (threads, forks and execs inherit the session), which parsers.syscall_join pairs
with the call's SECCOMP record. The rules go when the run ends, on Ctrl-C and on errors; a learn
killed outright leaves them, so each start removes rules whose key names a learn that is gone
(its pid and start time: a reused pid is not that learn). The key is how learn tells its own
rules from anyone else's: nothing else is ever deleted.

x32 calls cannot be named in an audit rule (its syscall numbers carry bit 30, beyond the rule's
2048-bit syscall mask), so on x32 the table's syscalls are learned by name (a note says so).
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import struct
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from learn.arch import AUDIT_ARCH_BY_NAME, host_abis
from learn.argrules import ROWS_BY_SYSCALL
from learn.errors import KernelError
from learn.kernel import features
from learn.syscalls import syscall_name

AUDIT_ADD_RULE = 1011
AUDIT_DEL_RULE = 1012
AUDIT_LIST_RULES = 1013
NLMSG_DONE = 3
AUDIT_FILTER_EXIT = 0x04
AUDIT_ALWAYS = 2
AUDIT_ARCH = 11
AUDIT_SESSIONID = 25
AUDIT_FILTERKEY = 210
AUDIT_EQUAL = 0x40000000
BITMASK_WORDS = 64
MAX_FIELDS = 64
_HEAD = struct.Struct(f"=3I{BITMASK_WORDS}I{MAX_FIELDS}I{MAX_FIELDS}I{MAX_FIELDS}II")
KEY_PREFIX = "learn-args:"
# Fields whose value is a string in buf (values[i] is its length): libaudit's string fields.
_STRING_FIELDS = frozenset({*range(13, 18), *range(19, 24), 105, 107, 112, AUDIT_FILTERKEY})


@dataclass(frozen=True)
class AuditRule:
    arch: int  # AUDIT_ARCH_*
    syscalls: tuple[int, ...]
    session: int
    key: str

    def pack(self) -> bytes:
        mask = [0] * BITMASK_WORDS
        for nr in self.syscalls:
            mask[nr // 32] |= 1 << (nr % 32)
        key = self.key.encode()
        fields = [AUDIT_ARCH, AUDIT_SESSIONID, AUDIT_FILTERKEY] + [0] * (MAX_FIELDS - 3)
        values = [self.arch, self.session, len(key)] + [0] * (MAX_FIELDS - 3)
        flags = [AUDIT_EQUAL] * 3 + [0] * (MAX_FIELDS - 3)
        return _HEAD.pack(AUDIT_FILTER_EXIT, AUDIT_ALWAYS, 3, *mask, *fields, *values, *flags, len(key)) + key


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def own_key() -> str:
    return f"{KEY_PREFIX}{os.getpid()}:{_start_time(os.getpid())}"


def rules_for(session: int, key: str, abis: Sequence[str] | None = None) -> tuple[list[AuditRule], list[str]]:
    """One rule per ABI the host runs, for the table's syscalls; and the ABIs left without one."""
    rules, without = [], []
    for arch in abis if abis is not None else host_abis():
        if arch == "x32":
            without.append(arch)
            continue
        numbers = _table_numbers(arch)
        if numbers and max(numbers) < BITMASK_WORDS * 32:
            rules.append(AuditRule(AUDIT_ARCH_BY_NAME[arch], tuple(numbers), session, key))
        else:
            without.append(arch)
    return rules, without


def _table_numbers(arch: str) -> list[int]:
    """The kernel's numbers of the table's syscalls on arch. By number, not name: for x86's
    socket(2) family libseccomp resolves the name to a pseudo number (the socketcall path)."""
    return [nr for nr in range(BITMASK_WORDS * 32) if syscall_name(arch, nr) in ROWS_BY_SYSCALL]


def _send(msg_type: int, payload: bytes) -> None:
    try:
        features._request(msg_type, payload)
    except KernelError as error:
        raise KernelError(f"audit rule for --args: {error}", "run learn as root (CAP_AUDIT_CONTROL)") from None


def listed_rules() -> Iterator[tuple[bytes, str | None]]:
    """Every audit rule the kernel has: (its rule data, its key or None)."""
    with features.audit_socket() as sock:
        sock.settimeout(2.0)
        header = features.NLMSG_HEADER
        sock.sendto(header.pack(header.size, AUDIT_LIST_RULES, features.NLM_F_REQUEST | features.NLM_F_ACK, 1, 0),
                    (0, 0))  # fmt: skip
        done = False
        while not done:
            try:
                data = sock.recv(1 << 16)
            except (TimeoutError, OSError):
                return
            for rtype, body in features._messages(data):
                if rtype == NLMSG_DONE:
                    done = True
                elif rtype == features.NLMSG_ERROR:
                    code = -struct.unpack_from("=i", body)[0] if len(body) >= 4 else 0
                    if code:
                        return
                elif rtype == AUDIT_LIST_RULES and len(body) >= _HEAD.size:
                    yield body, _key_of(body)


def _key_of(body: bytes) -> str | None:
    head = _HEAD.unpack_from(body)
    count = head[2]
    fields = head[3 + BITMASK_WORDS : 3 + BITMASK_WORDS + MAX_FIELDS]
    values = head[3 + BITMASK_WORDS + MAX_FIELDS : 3 + BITMASK_WORDS + 2 * MAX_FIELDS]
    offset = _HEAD.size
    for i in range(min(count, MAX_FIELDS)):
        if fields[i] in _STRING_FIELDS:
            text = body[offset : offset + values[i]]
            offset += values[i]
            if fields[i] == AUDIT_FILTERKEY:
                return text.decode(errors="replace")
    return None


def _stale(key: str) -> bool:
    pid_text, _, start = key.removeprefix(KEY_PREFIX).partition(":")
    if not pid_text.isdigit():
        return False
    return _start_time(int(pid_text)) != start


def remove_stale() -> int:
    """Delete the rules of learns that are gone; how many were deleted."""
    stale = [body for body, key in listed_rules() if key is not None and key.startswith(KEY_PREFIX) and _stale(key)]
    for body in stale:
        with contextlib.suppress(KernelError):
            _send(AUDIT_DEL_RULE, body)
    return len(stale)


class SessionRules:
    """The rules of one run: add() once the session is known, remove() in any case (idempotent).
    The kernel writes SYSCALL records only while audit is enabled: see learn.kernel.auditenabled."""

    def __init__(self) -> None:
        self.key = own_key()
        self.added: list[AuditRule] = []
        self.without: list[str] = []

    def add(self, session: int) -> None:
        rules, self.without = rules_for(session, self.key)
        for rule in rules:
            _send(AUDIT_ADD_RULE, rule.pack())
            self.added.append(rule)

    def remove(self) -> None:
        while self.added:
            rule = self.added.pop()
            with contextlib.suppress(KernelError):
                _send(AUDIT_DEL_RULE, rule.pack())


def session_of_self() -> int:
    with open("/proc/self/sessionid") as f:
        return int(f.read())


class SessionHandshake:
    """The target's session is known only in the child, after it wrote its loginuid; the rules
    must be in place before its filter and its first call. So the child's install step sends
    its session id up a pipe and waits; a thread of learn adds the rules and answers."""

    def __init__(self, rules: SessionRules) -> None:
        self.rules = rules
        self.error: KernelError | None = None
        self._up_r, self._up_w = os.pipe2(os.O_CLOEXEC)
        self._down_r, self._down_w = os.pipe2(os.O_CLOEXEC)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="learn-audit-rules", daemon=True)

    def wrap(self, install: Callable[[], None]) -> Callable[[], None]:
        """install, run in the child once learn's rules cover its session."""
        up, down = self._up_w, self._down_r

        def child_install() -> None:
            os.write(up, _SESSION.pack(session_of_self()))
            if os.read(down, 1) != b"1":
                raise OSError(errno.EPERM, "learn could not add its audit rules")
            install()

        return child_install

    def _serve(self) -> None:
        with select.epoll() as poll:
            poll.register(self._up_r, select.EPOLLIN)
            while not self._stop.is_set():
                if not poll.poll(0.05):
                    continue
                data = os.read(self._up_r, _SESSION.size)
                if len(data) != _SESSION.size:
                    return
                try:
                    self.rules.add(_SESSION.unpack(data)[0])
                except KernelError as error:
                    self.error = error
                    os.write(self._down_w, b"0")
                    return
                os.write(self._down_w, b"1")
                return

    def __enter__(self) -> SessionHandshake:
        remove_stale()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.rules.remove()
        for fd in (self._up_r, self._up_w, self._down_r, self._down_w):
            with contextlib.suppress(OSError):
                os.close(fd)


_SESSION = struct.Struct("=I")
