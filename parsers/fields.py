"""The body of a SECCOMP record: `auid=... pid=... comm=... arch=... syscall=... code=...`.

The kernel writes the fields in a fixed order (audit_seccomp(): the task's auid uid gid ses
[subj] pid comm exe, then sig arch syscall compat ip code), so one anchored regex reads
almost every record. Anything it does not match (interpreted `ausearch -i` output, old
kernels, hand-edited fixtures) goes through a general tokenizer that is slower but lenient.
"""

from __future__ import annotations

import re

from learn.model import ProblemKind
from parsers.values import BadRecord

# auditd's ENRICHED format appends `\x1d AUID="root" UID=... ARCH=x86_64 SYSCALL=openat`.
# Once that separator is lost (copied logs, some libraries), the tail is glued to code=;
# the kernel prints code with lower-case %x, so the upper-case key after it is the seam.
ENRICH_SEPARATOR = "\x1d"
_GLUED_ENRICHMENT = re.compile(r"(code=0x[0-9a-f]+)(?=[A-Z][A-Z_]*=)")

_VALUE = r'(?:"[^"]*"|[0-9A-F]+|\(null\)|\?)'
# Decimal numbers of at most 20 digits (a 64-bit value): int() refuses strings of over 4300
# digits, and a longer number is no id anyway; the general path calls it malformed.
FAST_BODY = re.compile(
    r"auid=(\d{1,20}) uid=(\d{1,20}) gid=(\d{1,20}) ses=(\d{1,20})(?: subj=(.*?))? pid=(\d{1,20})"
    rf" comm=({_VALUE}) exe=({_VALUE}) sig=\d+ arch=([0-9a-f]+) syscall=(-?\d{{1,20}})"
    r" compat=\d ip=0x([0-9a-f]+) code=0x([0-9a-f]+)(?:$|\x1d| |(?=[A-Z][A-Z_]*=))",
    re.ASCII,  # \d: the kernel writes ASCII digits; int() would also take other scripts' digits
)

# subj= is the one value that is neither quoted nor hex-encoded, and may hold spaces, `=`
# and parentheses (AppArmor "snap.foo.bar (complain)"); the kernel always writes pid= next,
# and comm= and exe= after it, so a subj= after pid= is the text of a name.
_SUBJ = re.compile(r"(?:^| )subj=(.*?)(?= pid=| comm=| exe=| sig=| arch=|$)")
# A key starts a word: without the look-behind, a long run of letters costs a match attempt
# (and a scan to its end) at every one of its characters, quadratic in the line.
_TOKEN = re.compile(r'(?<![A-Za-z0-9_-])([A-Za-z_][A-Za-z0-9_-]*)=("[^"]*"|\S*)')
_HEX = re.compile(r"(?:[0-9A-F]{2})+")


def strip_enrichment(body: str) -> str:
    """The kernel's part of a record, without auditd's ENRICHED tail."""
    cut = body.find(ENRICH_SEPARATOR)
    if cut >= 0:
        return body[:cut]
    m = _GLUED_ENRICHMENT.search(body)
    return body[: m.end(1)] if m else body


def tokenize(body: str) -> dict[str, str]:
    """key -> raw value (quotes kept) for a record body; raises BadRecord if a key repeats.

    The kernel writes each key once and hex-encodes a name that holds a space, but `ausearch
    -i` prints names decoded: a program named `x syscall=ptrace` spells a second syscall=
    there. Which one the kernel wrote cannot be told, so such a record is refused."""
    fields: dict[str, str] = {}
    pid_at = body.find(" pid=")
    m = _SUBJ.search(body, 0, pid_at if pid_at >= 0 else len(body))
    if m:
        fields["subj"] = m.group(1)
        body = body[: m.start()] + body[m.end() :]
    for key, value in _TOKEN.findall(body):
        if key == "subj":
            continue  # not before pid=: the text of a name
        if key in fields:
            raise BadRecord(
                ProblemKind.MALFORMED, f"{key}= appears twice (a name that spells fields?); read the raw log"
            )
        fields[key] = value
    return fields


def untrusted_string(value: str | None, *, interpreted: bool = False) -> str | None:
    """Decode comm=/exe= the way the kernel encoded them: quoted, or hex when unsafe.

    `ausearch -i` has already decoded them, so there an unquoted value is plain text.
    """
    if value is None or value in ("(null)", "?", ""):
        return None
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return value[1:-1]
    if not interpreted and _HEX.fullmatch(value):
        return bytes.fromhex(value).decode("utf-8", errors="backslashreplace")
    return value
