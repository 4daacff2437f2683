"""The common case at full speed: a SECCOMP line exactly as auditd writes it.

Most lines of a big audit.log are this one form, so it gets one anchored regex and a few
dict look-ups; anything else, or anything odd about it, falls through to the general path,
which decides the same things more slowly. The caches are bounded by what is distinct in a
log (arches and syscalls, actions, program names), not by its length.
"""

from __future__ import annotations

import re

from learn.arch import arch_from_audit
from learn.model import Action, SeccompEvent
from learn.syscalls import syscall_name
from parsers.fields import FAST_BODY, untrusted_string
from parsers.values import U32, U64, BadRecord, decode_code, syscall_in_range

# A stamp's seconds and millis are int()ed here: at most 20 digits (int() refuses 4300).
FAST_LINE = re.compile(r"type=SECCOMP msg=audit\(((\d{1,20})\.(\d{1,20}):\d+)\): " + FAST_BODY.pattern, re.ASCII)
_U32_DIGITS = len(str(U32)) - 1  # ids this long or shorter fit in 32 bits without int()
_U64_HEX_DIGITS = 16
_CACHE_LIMIT = 1 << 16


class FastDecoder:
    def __init__(self) -> None:
        self._syscalls: dict[tuple[str, str], tuple[str, int, str | None] | None] = {}
        self._codes: dict[str, tuple[Action, int | None] | None] = {}
        self._strings: dict[str, str | None] = {}

    def __call__(self, line: str, source: str, number: int) -> SeccompEvent | None:
        """The event, or None when the general path must decide (also for every problem)."""
        m = FAST_LINE.match(line)
        if m is None:
            return None
        groups = m.groups()
        stamp, sec, ms = groups[:3]
        return self.body(groups[3:], stamp, int(sec) + int(ms) / 1000, source, number)

    def body(
        self,
        groups: tuple[str, ...],
        stamp: str | None,
        ts: float | None,
        source: str,
        number: int,
        node: str | None = None,
    ) -> SeccompEvent | None:
        """The event for FAST_BODY's groups, or None when a value is odd (the general path says why)."""
        auid_s, uid_s, gid, ses_s, subj, pid_s, comm, exe, arch_hex, nr_s, ip, code = groups
        auid, uid, ses, pid = int(auid_s), int(uid_s), int(ses_s), int(pid_s)
        if auid > U32 or uid > U32 or ses > U32 or pid > U32 or (len(gid) > _U32_DIGITS and int(gid) > U32):
            return None
        if len(ip) > _U64_HEX_DIGITS and int(ip, 16) > U64:
            return None
        syscall = self._syscall(arch_hex, nr_s)
        action = self._code(code)
        if syscall is None or action is None:
            return None
        arch, nr, name = syscall
        return SeccompEvent(
            arch, nr, name, action[0], action[1], pid, self._string(comm), self._string(exe), stamp,
            source, number, ts, uid, auid, ses, subj, int(ip, 16), node,
        )  # fmt: skip

    def key(
        self, exe: str, arch_hex: str, nr_s: str, code: str
    ) -> tuple[str, int, str | None, Action, str | None] | None:
        """Decoded (arch, nr, name, action, exe) for raw values; None if the record is odd."""
        syscall, action = self._syscall(arch_hex, nr_s), self._code(code)
        if syscall is None or action is None:
            return None
        return (*syscall, action[0], self._string(exe))

    def _syscall(self, arch_hex: str, nr_s: str) -> tuple[str, int, str | None] | None:
        key = (arch_hex, nr_s)
        try:
            return self._syscalls[key]
        except KeyError:
            pass
        nr = int(nr_s)
        arch = arch_from_audit(int(arch_hex, 16), nr) if syscall_in_range(nr) else None
        found = (arch, nr, syscall_name(arch, nr)) if arch is not None else None
        if len(self._syscalls) < _CACHE_LIMIT:
            self._syscalls[key] = found
        return found

    def _code(self, code: str) -> tuple[Action, int | None] | None:
        try:
            return self._codes[code]
        except KeyError:
            pass
        try:
            found: tuple[Action, int | None] | None = decode_code(int(code, 16))
        except BadRecord:
            found = None
        if len(self._codes) < _CACHE_LIMIT:
            self._codes[code] = found
        return found

    def _string(self, raw: str) -> str | None:
        try:
            return self._strings[raw]
        except KeyError:
            pass
        decoded = untrusted_string(raw)
        if len(self._strings) < _CACHE_LIMIT:
            self._strings[raw] = decoded
        return decoded
