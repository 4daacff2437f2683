"""gzip, decompressed a block at a time, within bounds: a small .gz must not become a huge job.

Rotated logs are gzip (logrotate's default). Deflate reaches about 1030:1 on repeated bytes,
so a 1 MB file can stand for a gigabyte of newlines. Real logs compress far less (a busy
audit.log of near-identical SECCOMP records: 87:1 here), so output past MAX_OUTPUT_BYTES at
a ratio above MAX_RATIO is refused as a decompression bomb. A user who trusts such a file can
decompress it themselves and pipe it in (`zcat FILE | learn suggest -`): stdin is not bounded.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator

from learn.errors import InputError

GZIP_MAGIC = b"\x1f\x8b"
MAX_OUTPUT_BYTES = 1 << 30
MAX_RATIO = 250
_GZIP_WBITS = 16 + zlib.MAX_WBITS


def gunzip(blocks: Iterable[bytes], path: str, out_block: int) -> Iterator[bytes]:
    """The decompressed bytes of the gzip members in blocks, at most out_block at a time."""
    inflate = zlib.decompressobj(_GZIP_WBITS)
    member_started = False  # bytes of the current member were fed
    fed = produced = 0
    for block in blocks:
        fed += len(block)
        data = block
        while data:
            if not member_started:
                data = data.lstrip(b"\0")  # gzip(1) too ignores zero padding after a member
                if not data:
                    break
                if not data.startswith(GZIP_MAGIC[: len(data)]):
                    raise InputError(f"{path}: data after the end of the gzip stream", "the file is damaged")
                member_started = True
            try:
                chunk = inflate.decompress(data, out_block)
            except zlib.error as error:
                raise InputError(f"{path}: not valid gzip data ({error})", "the file is damaged") from None
            data = inflate.unconsumed_tail
            if inflate.eof:
                data, member_started = inflate.unused_data, False
                inflate = zlib.decompressobj(_GZIP_WBITS)
            produced += len(chunk)
            if produced > MAX_OUTPUT_BYTES and produced > MAX_RATIO * (fed - len(data)):
                raise InputError(
                    f"{path}: refused, decompresses to over {MAX_OUTPUT_BYTES >> 30} GiB at more than "
                    f"{MAX_RATIO}:1 (a decompression bomb?)",
                    f"if it is a real log, decompress it yourself: zcat {path} | learn suggest -",
                )
            if chunk:
                yield chunk
    if member_started:
        raise InputError(f"{path}: compressed data ends before the end of the gzip stream", "the file is cut short")
