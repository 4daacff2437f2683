"""Is this a log at all? Decided on the first block, before any line is parsed.

An ELF, a journald journal file or random bytes parse into nonsense problems ("journal JSON
entry cut short") that hide the real mistake; say what the file is instead. NUL bytes do not
count: a syslog file after a crash holds runs of them and is still a log.
"""

from __future__ import annotations

SAMPLE_BYTES = 64 << 10
MAX_NONTEXT = 0.10  # share of bytes that no text log holds

# magic -> (what it is, how to read it instead)
_MAGIC: dict[bytes, tuple[str, str]] = {
    b"\x7fELF": ("an ELF binary", "give the program's logs, not the program"),
    b"LPKSHHRH": ("a journald journal file", "journalctl --file FILE -o json | learn suggest -"),
    b"\xfd7zXZ\x00": ("xz-compressed", "xzcat FILE | learn suggest -"),
    b"\x28\xb5\x2f\xfd": ("zstd-compressed", "zstdcat FILE | learn suggest -"),
    b"BZh": ("bzip2-compressed", "bzcat FILE | learn suggest -"),
    b"\x04\x22\x4d\x18": ("lz4-compressed", "lz4cat FILE | learn suggest -"),
    b"PK\x03\x04": ("a zip archive", "unzip it first"),
}
# Control bytes a text log may hold: tab, newline, CR, form feed, ESC (colours), 0x1d (auditd ENRICHED).
_TEXT_CONTROLS = b"\t\n\r\x0c\x1b\x1d"
_NONTEXT = bytes(b for b in range(0x20) if b not in _TEXT_CONTROLS) + b"\x7f"


def not_a_log(head: bytes) -> tuple[str, str] | None:
    """(what the data is, a hint) when head cannot be the start of a text log; None otherwise."""
    for magic, (what, hint) in _MAGIC.items():
        if head.startswith(magic) and (magic != b"BZh" or head[4:10] == b"1AY&SY"):
            return what, hint
    sample = head[:SAMPLE_BYTES].replace(b"\0", b"")
    if not sample:
        return None
    controls = len(sample) - len(sample.translate(None, _NONTEXT))
    invalid = sample.decode("utf-8", errors="replace").count("\ufffd")  # not UTF-8 (or a char cut at the end)
    if (controls + invalid) > MAX_NONTEXT * len(sample):
        return "binary data", "give a text log: audit.log, dmesg or journalctl output"
    return None
