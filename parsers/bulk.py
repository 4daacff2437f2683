"""Counting a block of auditd text at once: the path for logs of millions of lines.

Decoding each record into an event costs a loop iteration, a match and an object per line.
Here one C-level `findall` over megabytes of text pulls (stamp, exe, arch, syscall, code) out
of every SECCOMP line written exactly as auditd writes it, `Counter` tallies them, and only
the distinct keys are decoded later. Lines of any other form go to the per-line parser. When
this cannot vouch for a block (a SECCOMP line of unusual shape), it says so and the caller
reads that block line by line, so the result is always what `parse` gives.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import NamedTuple

PREFIX = "type=SECCOMP msg=audit("
# Values the kernel can write, as values.py and the fast path decide them with int():
# ids of at most 4294967295, syscall numbers of 32 bits (or -1) written without leading
# zeros (the stamp hash below uses the number as written), ip of at most 64 bits. [0-9], not
# \d, which takes other scripts' digits too; node= takes \S, as parsers.auditd does.
_U32 = (
    r"(?:4294967295|[0-9]{1,9}|[1-3][0-9]{9}|4[01][0-9]{8}|42[0-8][0-9]{7}|429[0-3][0-9]{6}"
    r"|4294[0-8][0-9]{5}|42949[0-5][0-9]{4}|429496[0-6][0-9]{3}|4294967[01][0-9]{2}|42949672[0-8][0-9]"
    r"|429496729[0-4])"
)
_SYSCALL = rf"(-1|0|(?=[1-9]){_U32})"
_IP = r"0x0*[0-9a-f]{1,16}"
# A subset of what FAST_LINE accepts (subj= without spaces, or AppArmor's "label (mode)",
# since a lazy match costs twice the time), led by "\n" so the engine scans for a literal
# prefix (a (?m)^ anchor makes it try every character). Tests keep the two in step.
BULK_LINE = re.compile(
    rf"\n(?:node=(\S+) )?type=SECCOMP msg=audit\(([0-9]+\.[0-9]+:[0-9]+)\):"
    rf" auid={_U32} uid={_U32} gid={_U32} ses={_U32}"
    rf"(?: subj=[^ \n]+(?: \([a-z]+\))?)? pid={_U32} comm=(?:\"[^\"\n]*\"|[0-9A-F]+|\(null\)|\?)"
    rf" exe=(\"[^\"\n]*\"|[0-9A-F]+|\(null\)|\?) sig=[0-9]+ arch=([0-9a-f]+) syscall={_SYSCALL}"
    rf" compat=[0-9] ip={_IP} code=0x([0-9a-f]+)(?=\n|\x1d| |[A-Z][A-Z_]*=)"
)
# auditd's node= prefix (name_format in auditd.conf; every line of an aggregating server's log)
_NODE_SECCOMP = re.compile(r"\nnode=\S+ type=SECCOMP msg=audit\(")

# Every line not in auditd's SECCOMP form; led by "\n" for the same literal-prefix scan.
_OTHER_LINE = re.compile(r"\n(?!(?:node=\S+ )?type=SECCOMP msg=audit\()([^\n]*)")

Key = tuple[str, str, str, str]  # raw exe, arch hex, syscall number, code hex


class BlockCount(NamedTuple):
    counts: Counter[Key]
    hostless: list[int]  # learn.dedupe.stamp_key of the records without node=
    named: list[int]  # stamp_key of the records with node=
    named_hostless: list[int]  # their stamp_key without the node, in the same order
    others: list[tuple[int, str]]  # (0-based line in block, line) for the per-line parser
    lines: int


def count_block(block: str) -> BlockCount | None:
    """Counts of the SECCOMP lines of block (whole lines), or None to read it line by line."""
    text = "\n" + block
    matches = BULK_LINE.findall(text)
    expected = text.count("\n" + PREFIX)
    nodes = "node=" in text and "\nnode=" in text  # the short needle alone is 8x slower to find
    if nodes:
        expected += len(_NODE_SECCOMP.findall(text))
    if len(matches) != expected:
        return None
    counts: Counter[Key] = Counter(m[2:] for m in matches)
    # learn.dedupe.stamp_key: the node is part of a record's identity (two hosts may write
    # one stamp); a copy without node= pairs with one copy that has it.
    if not nodes:
        return BlockCount(
            counts, [hash((None, m[1], m[4])) for m in matches], [], [], _others(text), _line_count(block)
        )
    hostless = [hash((None, m[1], m[4])) for m in matches if not m[0]]
    named = [hash((m[0], m[1], m[4])) for m in matches if m[0]]
    named_hostless = [hash((None, m[1], m[4])) for m in matches if m[0]]
    return BlockCount(counts, hostless, named, named_hostless, _others(text), _line_count(block))


def _others(text: str) -> list[tuple[int, str]]:
    """(0-based line, line) of the lines of another form worth the per-line parser's look."""
    found, line, scanned = [], 0, 0
    for m in _OTHER_LINE.finditer(text):
        if _worth_a_look(m.group(1)):  # `in` tests: C string searches, 6x faster than a regex here
            line += text.count("\n", scanned, m.start() + 1)
            scanned = m.start() + 1
            found.append((line - 1, m.group(1)))
    return found


def _worth_a_look(line: str) -> bool:
    """framing.LOOK_MARKS spelled out: an `or` chain of `in` tests beats any() here (a test
    keeps the two in step)."""
    return (
        "SECCOMP" in line or "1326" in line or "seccomp" in line or "suppressed" in line
        or "audit_lost" in line or "exceeded" in line or "hold queue" in line or "code=" in line
        or line.startswith("{")
    )  # fmt: skip


def _line_count(block: str) -> int:
    return block.count("\n") + (bool(block) and not block.endswith("\n"))
