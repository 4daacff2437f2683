"""Decode one SECCOMP record body into a SeccompEvent, by the record's own ABI."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

from learn.arch import arch_from_audit, canonical_arch, compat_arch, native_arch
from learn.model import (
    Action,
    Item,
    Problem,
    ProblemKind,
    SeccompEvent,
)
from learn.syscalls import number_from_audit_name, syscall_name, syscall_number
from parsers.fastpath import FastDecoder
from parsers.fields import FAST_BODY, strip_enrichment, tokenize, untrusted_string
from parsers.values import BadRecord, decode_code

__all__ = ["BadRecord", "decode_code", "decode_record", "parse_stamp"]

# Records the fast shape fits are decoded as on the fast line path; odd values (an arch
# libseccomp lacks, a cut code=) fall through to the tokenizer, which names the problem.
_FAST = FastDecoder()

U32 = 0xFFFFFFFF
_RAW_STAMP = re.compile(r"(\d+)\.(\d+):(\d+)")
# `ausearch -i` prints local time with the C locale's %x (2-digit year) or a 4-digit year.
_INTERPRETED_STAMP = re.compile(r"(\d\d)/(\d\d)/(\d\d|\d{4}) (\d\d):(\d\d):(\d\d)\.(\d+):(\d+)")
_ELIDED_STAMP = "..."
# auparse's names for code= are those of SECCOMP_RET_ACTION (a 15-bit mask, so it calls
# KILL_PROCESS "kill" too); "kill" is the historical name of SECCOMP_RET_KILL = KILL_THREAD.
_INTERPRETED_CODE = re.compile(r"([a-z_]+)(?:\((\d+)\))?")
_INTERPRETED_ACTIONS = {a.value: a for a in Action} | {"kill": Action.KILL_THREAD}
_UNKNOWN_SYSCALL = re.compile(r"unknown-syscall\((-?\d+)\)")


def parse_stamp(stamp: str) -> tuple[str | None, float | None]:
    """(serial text "seconds.millis:serial", epoch seconds) from the inside of audit(...)."""
    m = _RAW_STAMP.fullmatch(stamp)
    if m:
        return stamp, float(f"{m.group(1)}.{m.group(2)}")
    m = _INTERPRETED_STAMP.fullmatch(stamp)
    if m:
        month, day, year, hour, minute, second, millis, serial = m.groups()
        full_year = int(year) + (2000 if len(year) == 2 else 0)
        local = (full_year, int(month), int(day), int(hour), int(minute), int(second), 0, 0, -1)
        seconds = int(time.mktime(local))
        return f"{seconds}.{millis}:{serial}", float(f"{seconds}.{millis}")
    if stamp == _ELIDED_STAMP:
        return None, None
    raise BadRecord(ProblemKind.MALFORMED, f"audit stamp {stamp!r} is not seconds.millis:serial")


def _int(fields: dict[str, str], key: str, *, required: bool = False, limit: int = U32) -> int | None:
    raw = fields.get(key)
    if raw is None or raw == "":
        if required:
            kind = ProblemKind.TRUNCATED if raw == "" or key in ("syscall", "code") else ProblemKind.MALFORMED
            raise BadRecord(kind, f"no {key}= value")
        return None
    try:
        value = int(raw, 16) if raw.startswith("0x") or key == "arch" else int(raw)
    except ValueError:
        kind = ProblemKind.TRUNCATED if raw in ("0x", "-") else ProblemKind.MALFORMED
        raise BadRecord(kind, f"{key}={raw} is not a number") from None
    if not 0 <= value <= limit and not (key == "syscall" and value == -1):
        raise BadRecord(ProblemKind.MALFORMED, f"{key}={raw} is out of range")
    return value


def _interpreted_int(fields: dict[str, str], key: str) -> int | None:
    raw = fields.get(key)
    return int(raw) if raw is not None and raw.isdigit() else None


def _decode_fields(
    fields: dict[str, str], *, interpreted: bool, legacy: bool
) -> tuple[str, int, str | None, Action, int | None]:
    """arch, nr, name, action, errno from a tokenized body; raises BadRecord."""
    if interpreted:
        return _decode_interpreted(fields)
    nr = _int(fields, "syscall", required=True, limit=U32)
    assert nr is not None
    if "arch" in fields or not legacy:
        audit_arch = _int(fields, "arch", required=True)
        assert audit_arch is not None
        arch = arch_from_audit(audit_arch, nr)
        if arch is None:
            raise BadRecord(ProblemKind.MALFORMED, f"arch={fields['arch']} is no arch libseccomp knows")
    else:
        native = native_arch()
        arch = (compat_arch(native) or native) if fields.get("compat") == "1" else native
    if fields.get("code") and not fields["code"].startswith("0x"):  # the kernel writes %#x
        raise BadRecord(ProblemKind.TRUNCATED, f"code={fields['code']} is cut short")
    code = _int(fields, "code", required=True)
    assert code is not None
    action, errno = decode_code(code)
    return arch, nr, syscall_name(arch, nr), action, errno


def _decode_interpreted(fields: dict[str, str]) -> tuple[str, int, str | None, Action, int | None]:
    for key in ("arch", "syscall", "code"):
        if not fields.get(key):
            raise BadRecord(ProblemKind.TRUNCATED, f"no {key}= value")
    arch = canonical_arch(fields["arch"])
    if arch is None:
        raise BadRecord(ProblemKind.MALFORMED, f"arch={fields['arch']} is no arch libseccomp knows")
    name = fields["syscall"]
    unknown = _UNKNOWN_SYSCALL.fullmatch(name)
    if unknown:
        nr = int(unknown.group(1))
        if nr < 0:
            raise BadRecord(
                ProblemKind.MALFORMED,
                "auparse printed no syscall number (unknown-syscall(-1)); read the raw log instead",
            )
    else:
        found = syscall_number(arch, name)
        if found is None:
            found = number_from_audit_name(fields["arch"], name)
        if found is None:
            raise BadRecord(ProblemKind.MALFORMED, f"syscall={name} is not a {arch} syscall")
        nr = found
    code = _INTERPRETED_CODE.fullmatch(fields["code"])
    if code is None or code.group(1) not in _INTERPRETED_ACTIONS:
        raise BadRecord(ProblemKind.TRUNCATED, f"code={fields['code']} is no seccomp action")
    action = _INTERPRETED_ACTIONS[code.group(1)]
    errno = int(code.group(2)) if code.group(2) and action is Action.ERRNO else None
    return arch, nr, syscall_name(arch, nr), action, errno


def decode_record(
    body: str,
    stamp: str | None,
    source: str,
    line: int,
    *,
    interpreted: bool = False,
    legacy: bool = False,
) -> Iterator[Item]:
    """Events and problems for one record; `legacy` is the pre-3.14 ANOM_ABEND form."""
    try:
        serial, ts = parse_stamp(stamp) if stamp is not None else (None, None)
        if not interpreted and not legacy:
            m = FAST_BODY.match(body)
            event = _FAST.body(m.groups(), serial, ts, source, line) if m else None
            if event is not None:
                yield event
                return
        fields = tokenize(strip_enrichment(body))
        arch, nr, name, action, errno = _decode_fields(fields, interpreted=interpreted, legacy=legacy)
        if legacy and "arch" not in fields:
            yield Problem(ProblemKind.NOTE, f"record has no arch=; took {arch} from compat=", source, line)
        if interpreted:
            pid, uid, auid, ses = (_interpreted_int(fields, k) for k in ("pid", "uid", "auid", "ses"))
            ip = None
        else:
            pid, uid, auid, ses = (_int(fields, k, limit=U32) for k in ("pid", "uid", "auid", "ses"))
            _int(fields, "gid")  # a gid the kernel cannot write marks the record as damaged
            ip = _int(fields, "ip", limit=(1 << 64) - 1)
        yield SeccompEvent(
            arch, nr, name, action, errno, pid,
            untrusted_string(fields.get("comm"), interpreted=interpreted),
            untrusted_string(fields.get("exe"), interpreted=interpreted),
            serial, source, line, ts, uid, auid, ses, fields.get("subj"), ip,
        )  # fmt: skip
    except BadRecord as bad:
        yield Problem(bad.kind, str(bad), source, line)
