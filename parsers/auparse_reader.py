"""auditd logs read through auparse (python3-audit): the independent second reader.

auparse groups the records of one event and knows auditd's own format inside out, but from
Python it reads about 38k lines/s and Debian's 3.0.9 names every SECCOMP syscall
`unknown-syscall(-1)`. So it is not the bulk path: it reads raw field values only, names
come from libseccomp by the record's own arch, and tests use it as an oracle for the fast
parser on every auditd log we have.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from learn.arch import arch_from_audit
from learn.model import ACTION_BY_RET, RET_ACTION_MASK, SeccompEvent
from learn.syscalls import syscall_name
from parsers.fields import untrusted_string

SECCOMP = 1326


def available() -> bool:
    try:
        import auparse  # noqa: F401
    except ImportError:
        return False
    return True


def _fields(au: Any) -> dict[str, str]:
    fields: dict[str, str] = {}
    au.first_field()
    while True:
        fields.setdefault(au.get_field_name(), au.get_field_str())
        if not au.next_field():
            return fields


def seccomp_events(text: str, source: str) -> Iterator[SeccompEvent]:
    """SECCOMP records of an audit.log text, decoded from auparse's raw field values."""
    import auparse

    au = auparse.AuParser(auparse.AUSOURCE_BUFFER, text)
    while au.parse_next_event():
        stamp = au.get_timestamp()
        for index in range(au.get_num_records()):
            au.goto_record_num(index)
            if au.get_type() != SECCOMP:
                continue
            f = _fields(au)
            nr = int(f["syscall"])
            arch = arch_from_audit(int(f["arch"], 16), nr)
            if arch is None:
                continue
            action = ACTION_BY_RET[int(f["code"], 16) & RET_ACTION_MASK]
            yield SeccompEvent(
                arch, nr, syscall_name(arch, nr), action, None,
                int(f["pid"]) if "pid" in f else None,
                untrusted_string(f.get("comm")), untrusted_string(f.get("exe")),
                f"{stamp.sec}.{stamp.milli:03d}:{stamp.serial}", source, au.get_line_number(),
            )  # fmt: skip
