"""What the kmsg source makes of the kernel log it spooled: the loss counts its evidence gives.

The spool is built here in the reader's own framing (a length, then one /dev/kmsg record), so
the decoding is tested without the kernel; tests/kernel/test_sources.py runs it for real.
"""

from __future__ import annotations

import io
import struct

from learn.kernel.sources.kmsg import KmsgSource
from learn.kernel.sources.loss import LossKind

_LENGTH = struct.Struct("=I")


def spool(*records: tuple[int, str]) -> io.BytesIO:
    """(kmsg sequence number, message) pairs, all at facility kern, level notice."""
    data = b"".join(
        _LENGTH.pack(len(body)) + body for seq, text in records for body in [f"5,{seq},100,-;{text}\n".encode()]
    )
    return io.BytesIO(data)


def decode(source: KmsgSource, data: io.BytesIO) -> list[str]:
    return [r.line for r in source._records(data) if r.line is not None]


def test_suppressed_audit_records_are_counted_as_lost() -> None:
    source = KmsgSource()
    lines = decode(
        source,
        spool(
            (1, "audit: type=1326 audit(1.0:10): auid=0 syscall=110 code=0x7ffc0000"),
            (2, "kauditd_printk_skb: 1000787 callbacks suppressed"),
            (3, "audit: type=1326 audit(6.0:1000800): auid=0 syscall=110 code=0x7ffc0000"),
        ),
    )
    assert len(lines) == 2
    reasons = [r for r in source._reasons if r.kind is LossKind.PRINTK_SUPPRESSED]
    assert [r.lost for r in reasons] == [1000787]
    assert "about 1000787 audit records dropped" in reasons[0].message


def test_other_reporters_prove_no_count_of_audit_records() -> None:
    source = KmsgSource()
    decode(source, spool((1, "net_ratelimit: 12 callbacks suppressed")))
    reasons = [r for r in source._reasons if r.kind is LossKind.PRINTK_SUPPRESSED]
    assert [r.lost for r in reasons] == [0] and "net_ratelimit: 12 callbacks suppressed" in reasons[0].message


def test_an_overwritten_ring_says_how_many_messages_it_lost() -> None:
    source = KmsgSource()
    source.epipes = 1
    decode(source, spool((10, "x"), (11, "y"), (15, "z")))
    assert source.overwritten == 3
    reasons = [r for r in source._reasons if r.kind is LossKind.KMSG_OVERWRITTEN]
    assert "3 kernel messages were overwritten unread" in reasons[0].message
