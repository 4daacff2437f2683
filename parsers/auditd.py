"""auditd's audit.log (RAW and ENRICHED), `ausearch --raw` and `ausearch -i` lines."""

from __future__ import annotations

import re

from learn.model import ProblemKind
from parsers.framing import Framed, Refused, quotes_record

# Optional `grep -n`/`grep -Hn` prefixes, then auditd's optional `node=` and the record.
# `type=1326 audit(...)` without msg= is how old kernels printed records to the console.
AUDITD_LINE = re.compile(r"(?:(?:[^\s:=]+:)?\d+:)?(?:node=(\S+) )?type=(\w+) (msg=)?audit\(([^)]*)\)( ?): ?(.*)", re.S)
_SECCOMP_TYPES = ("SECCOMP", "1326")
_ABEND_TYPES = ("ANOM_ABEND", "1701")
# auditd always writes msg=; a record without it is the kernel's console text, which proves
# nothing about who wrote it (see parsers/kernel.py for the kernel-log forms).
_CUT_IN_STAMP = re.compile(r"^\w+ (?:msg=)?audit\([^)]*(?:\) ?:?)?$")  # the line ends inside or right after it
CONSOLE_DOUBT = "a kernel record without its log prefix"


def frame_auditd(line: str) -> Framed | Refused | None:
    """Frame a line in auditd's own format; None if it is another record type or not audit."""
    m = AUDITD_LINE.match(line)
    if m is None:
        return _unframed(line)
    node, rtype, msg, stamp, space, body = m.groups()
    interpreted = space == " "
    doubt = None if msg else CONSOLE_DOUBT
    if rtype in _SECCOMP_TYPES:
        return Framed(body, stamp, interpreted=interpreted, node=node, doubt=doubt)
    if rtype in _ABEND_TYPES and 'reason="seccomp"' in body:
        return Framed(body, stamp, interpreted=interpreted, legacy=True, node=node, doubt=doubt)
    if quotes_record(body):
        return Refused(ProblemKind.UNTRUSTED, f"a type={rtype} record quotes a SECCOMP record in its text")
    return None


def _unframed(line: str) -> Refused | None:
    """A line that starts like a SECCOMP record but has no audit stamp is a damaged record."""
    stripped = line.split("type=", 1)
    if len(stripped) == 2 and stripped[1].startswith(("SECCOMP ", "1326 ")):
        if "audit(" not in line:
            return Refused(ProblemKind.TRUNCATED, "no audit(...) stamp: the record is damaged or cut short")
        if _CUT_IN_STAMP.search(stripped[1]):
            return Refused(ProblemKind.TRUNCATED, "cut short in or after its audit(...) stamp")
    return None
