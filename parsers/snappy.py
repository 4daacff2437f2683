"""snappy-debug's renderings of a SECCOMP record.

snappy-debug (the snap developer's log scanner) prints each record in a block:

    = Seccomp =
    Time: Mar 27 20:29:40
    Log: auid=1000 ... sig=0 arch=c000003e 314(sched_setattr) compat=0 ip=0x... code=0x7ffc0000
    Syscall: sched_setattr
    Suggestion:
    * add 'process-control' to 'plugs'

and older snapd docs show syslog lines it had rewritten the same way, without `type=`:
`audit(1461950702.321:54): auid=... arch=c000003e 41(socket) compat=0 ...`. The record is the
`Log:` line; `syscall=` became `N(name)`, with the name from the host snappy-debug ran on.
The number decides (the record's arch names it with libseccomp); a name that disagrees is
reported, never chosen. A rendering proves nothing about who wrote the record.
"""

from __future__ import annotations

import re

from parsers.framing import Framed

# ` 41(socket) ` where the kernel wrote ` syscall=41 `, right after arch= (kernels >= 3.14) or sig=.
NAMED_CALL = re.compile(r" (-?[0-9]{1,10})\(([A-Za-z0-9_]{1,64})\)(?= compat=)")
_LOG_LINE = re.compile(r"Log: (auid=.*)", re.S)
_REWRITTEN = re.compile(r"audit\(([^)]*)\): (auid=.*)", re.S)
SNAPPY_STARTS = ("Log: auid=", "audit(")
_DOUBT = "snappy-debug output (a rendering of a log line)"


def frame_snappy(line: str) -> Framed | None:
    """A `Log:` line of snappy-debug's block, or a syslog line it rewrote; None if neither."""
    m = _LOG_LINE.match(line)
    stamp = None
    if m is None:
        m = _REWRITTEN.match(line)
        if m is None:
            return None
        stamp = m.group(1)
    body = m.group(m.lastindex or 1)
    named = NAMED_CALL.search(body)
    if named is None:
        return None
    body = f"{body[: named.start()]} syscall={named.group(1)}{body[named.end() :]}"
    return Framed(body, stamp, doubt=_DOUBT, claimed_name=named.group(2))
