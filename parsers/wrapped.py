"""Records hard-wrapped over several lines by a pager, a terminal copy or a poster.

The first line frames as a record but is cut short (no code=, or a code= the kernel cannot
write); the next lines continue it when they are no log lines of their own. A pager cuts at
a column, maybe inside a value (`syscall=` / `208 compat=1 ...`); a poster wraps at a space and
drops it (`comm="ls"` / `exe="/bin/ls" ...`): a continuation that starts with a key after a
line that ended in a value is joined with a space, any other is joined as it is.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from learn.model import Item, Problem, ProblemKind

WRAPPED = "a record joined from hard-wrapped lines (a paste proves nothing about its writer)"
MAX_CONTINUATIONS = 16  # lines a wrapped record may continue over (a 1 KiB record at 64 columns)
# What starts a log line of its own: a kmsg or dmesg prefix, a syslog time or tag, auditd's
# type=/node=, JSON, snappy-debug's block lines, a pasted quote.
_LOG_LINE = re.compile(
    r"[ \t]*(?:\d+,\d+,\d+,|<\d+>|\[|>|\{|type=|node=|audit|Log:|Time:|Syscall:|Suggestion|= |"
    r"[^\W\d_]{3,5}\.? +\d{1,2} \d\d:|\d{4}-\d\d-\d\d|(?:[\w.-]+ )?[\w.-]+(?:\[\d+\])?: )"
)
_STARTS_WITH_KEY = re.compile(r"[a-z_]+=")
_KEY = re.compile(r"(?<![A-Za-z0-9_-])([a-z_][a-z0-9_-]*)=")
# audit_seccomp()'s keys (and the old ANOM_ABEND's reason=), with auditd's prefix
_KERNEL_KEYS = frozenset(
    [
        "type",
        "msg",
        "node",
        "auid",
        "uid",
        "gid",
        "ses",
        "subj",
        "pid",
        "comm",
        "exe",
        "sig",
        "arch",
        "syscall",
        "compat",
        "ip",
        "code",
        "reason",
    ]
)


def _keys_score(line: str) -> int:
    keys = _KEY.findall(line)
    return sum(1 if key in _KERNEL_KEYS else -2 for key in keys)


UNREAD = "looks like a SECCOMP record, but in no form learn reads (cut, re-rendered?); nothing counted"


def truncated(items: list[Item]) -> bool:
    """A record that decoded to nothing but a cut-short problem (after notes), or a line cut
    so early (inside its stamp) that no form reads it."""
    if not items or not all(isinstance(i, Problem) for i in items):
        return False
    last = items[-1]
    assert isinstance(last, Problem)
    return last.kind is ProblemKind.TRUNCATED or last.message == UNREAD


class Held(NamedTuple):
    number: int  # the record's first line
    line: str  # its lines so far, joined
    items: list[Item]  # what the record gives as it is (a truncated problem)
    continuations: int = 0

    def extend(self, raw: str) -> list[str]:
        """The record joined with the next line, the likelier join first; none if that line is
        a log line of its own."""
        part = raw.rstrip("\r\n")
        if not part.strip() or _LOG_LINE.match(part):
            return []
        if self.line.endswith((" ", "=")):
            return [self.line + part]
        # `sys` / `call=59` (a pager) or `comm="ls"` / `exe="/bin/ls"` (a poster): the join
        # that spells the kernel's keys first
        joins = [self.line + part, f"{self.line} {part}"]
        if part.startswith(": "):  # `ausearch -i` writes `audit(...) : auid=`
            return joins[::-1]
        return sorted(joins, key=_keys_score, reverse=True) if _STARTS_WITH_KEY.match(part) else joins

    def more(self) -> bool:
        return self.continuations + 1 < MAX_CONTINUATIONS

    def grown(self, joined: str) -> Held:
        return self._replace(line=joined, continuations=self.continuations + 1)
