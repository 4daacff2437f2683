"""What every line form reduces to: where the record body is, and who wrote it."""

from __future__ import annotations

import re
from typing import NamedTuple

from learn.model import ProblemKind

# The longest line considered as a record. The kernel writes at most 8970 bytes of audit
# record (MAX_AUDIT_MESSAGE_LENGTH) and printk cuts its lines at 1 KiB; journald's JSON and
# auditd's ENRICHED form add a few kB. Longer lines are reported, never decoded (learn/lines.py
# skips them while reading; this holds for lines from anywhere else).
MAX_RECORD_LINE = 64 << 10

# Substrings that mark a line as quoting a SECCOMP record, whoever wrote it.
RECORD_MARKS = ("type=SECCOMP", "type=1326", "SECCOMP auid=", 'reason="seccomp"')
# Substrings without which a line can hold neither a record nor a loss notice (JSON aside:
# journald may write MESSAGE as a byte array).
LOOK_MARKS = ("SECCOMP", "1326", "seccomp", "suppressed", "audit_lost", "exceeded", "hold queue", "code=")
# What a SECCOMP record looks like in any rendering: its type, or a syscall beside a code=.
_RECORD_TYPE = re.compile(r"type=(?:1326|SECCOMP)\b|\bSECCOMP (?:auid|msg)=")
_NAMED_CALL = re.compile(r"\b[0-9]{1,4}\([a-z0-9_]+\)")  # snappy-debug's `41(socket)`


class Framed(NamedTuple):
    """A record found in a line: its body, its audit stamp, and how to read it."""

    body: str
    stamp: str | None  # inside of audit(...); None where the form has none (journald text)
    interpreted: bool = False  # ausearch -i: names instead of numbers
    legacy: bool = False  # pre-3.14 kernels: type=1701 ... reason="seccomp", maybe no arch=
    node: str | None = None  # auditd's node= prefix: which host wrote it (part of its identity)
    # Why this form cannot prove the kernel wrote the record (anyone can write a line like
    # it); None where it does: audit.log, /dev/kmsg facility 0, journald's _TRANSPORT.
    # --strict-origin refuses every record with a doubt.
    doubt: str | None = None
    # The syscall name a rendering printed beside the number (snappy-debug's `41(socket)`):
    # the number decides, a name that disagrees with libseccomp's is reported.
    claimed_name: str | None = None


class Refused(NamedTuple):
    """A line that looks like a record but must not be read as one: forged, quoted or damaged."""

    kind: ProblemKind
    why: str


class Lost(NamedTuple):
    """The log itself says records were dropped."""

    dropped: int  # 0 when it does not say how many
    why: str


def looks_like_record(line: str) -> bool:
    """Whether a line is worth a problem report when no form reads it."""
    if _RECORD_TYPE.search(line):
        return True
    return "code=" in line and ("syscall=" in line or _NAMED_CALL.search(line) is not None)


def quotes_record(text: str) -> bool:
    return any(mark in text for mark in RECORD_MARKS) or ("code=" in text and _NAMED_CALL.search(text) is not None)
