"""Decode one SECCOMP record body into a SeccompEvent, by the record's own ABI."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import tzinfo
from typing import NamedTuple

from learn.arch import arch_from_audit, canonical_arch, compat_arch
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
from parsers.stamps import parse_stamp
from parsers.values import U32, U64, BadRecord, decode_code, syscall_in_range

__all__ = [
    "DEFAULT_DECODING",
    "UNKNOWN_ARCH",
    "BadRecord",
    "DecodeOptions",
    "decode_code",
    "decode_general",
    "decode_record",
    "parse_stamp",
]

UNKNOWN_ARCH = "unknown"  # the arch of a record that does not say (no arch=) when the user did not either

# Records the fast shape fits are decoded as on the fast line path; odd values (an arch
# libseccomp lacks, a cut code=) fall through to the tokenizer, which names the problem.
_FAST = FastDecoder()

# auparse's names for code= are those of SECCOMP_RET_ACTION (a 15-bit mask, so it calls
# KILL_PROCESS "kill" too); "kill" is the historical name of SECCOMP_RET_KILL = KILL_THREAD.
# auditd 3.0 prints kill, trap, errno, user-notify, trace, log, allow; other versions and
# hand-written copies spell kill-thread, kill-process, user-notif; a code auparse cannot name
# keeps its number (`unknown-...(0x...)`), which is decoded as the kernel wrote it.
_INTERPRETED_CODE = re.compile(r"([a-z_-]+)(?:\(([0-9]{1,9}|0x[0-9a-f]{1,8})\))?")  # bounded: int() refuses 4300 digits
_INTERPRETED_ACTIONS = (
    {a.value: a for a in Action}
    | {a.value.replace("_", "-"): a for a in Action}
    | {"kill": Action.KILL_THREAD, "user-notify": Action.USER_NOTIF, "user_notify": Action.USER_NOTIF}
)
_UNKNOWN_SYSCALL = re.compile(r"unknown-syscall\((-?[0-9]{1,20})\)")


class DecodeOptions(NamedTuple):
    """What a record may leave unsaid, as the user stated it."""

    missing_arch: str | None = None  # --arch: the ABI of the machine that wrote records without arch=
    zone: tzinfo | None = None  # --timezone: where `ausearch -i` printed its local-time stamps
    strict_origin: bool = False  # --strict-origin: refuse records of forms anyone can write (parsers.parse)


DEFAULT_DECODING = DecodeOptions()
_DECIMAL = re.compile(r"-?[0-9]+")
_HEX_DIGITS = re.compile(r"[0-9a-fA-F]+")


def _int(fields: dict[str, str], key: str, *, required: bool = False, limit: int = U32) -> int | None:
    raw = fields.get(key)
    if raw is None or raw == "":
        if required:
            kind = ProblemKind.TRUNCATED if raw == "" or key in ("syscall", "code") else ProblemKind.MALFORMED
            raise BadRecord(kind, f"no {key}= value")
        return None
    hexadecimal = raw.startswith("0x") or key == "arch"
    digits = raw.removeprefix("0x") if hexadecimal else raw
    if not (_HEX_DIGITS if hexadecimal else _DECIMAL).fullmatch(digits):  # ASCII digits only, as int() is not
        kind = ProblemKind.TRUNCATED if raw in ("0x", "-") else ProblemKind.MALFORMED
        raise BadRecord(kind, f"{key}={raw} is not a number")
    if not hexadecimal and len(digits) > 20:  # no 64-bit value; int() refuses over 4300 digits
        raise BadRecord(ProblemKind.MALFORMED, f"{key}={raw[:24]}... is out of range")
    value = int(digits, 16 if hexadecimal else 10)
    if not (syscall_in_range(value) if key == "syscall" else 0 <= value <= limit):
        raise BadRecord(ProblemKind.MALFORMED, f"{key}={raw} is out of range")
    return value


def _interpreted_int(fields: dict[str, str], key: str) -> int | None:
    raw = fields.get(key)
    if raw is None or not _DECIMAL.fullmatch(raw) or len(raw) > 20 or not 0 <= int(raw) <= U32:
        return None  # ausearch -i prints names (unset, root) where it can
    return int(raw)


def _decode_fields(
    fields: dict[str, str], options: DecodeOptions, *, interpreted: bool
) -> tuple[str, int, str | None, Action, int | None]:
    """arch, nr, name, action, errno from a tokenized body; raises BadRecord."""
    if interpreted:
        return _decode_interpreted(fields)
    nr = _int(fields, "syscall", required=True)
    assert nr is not None
    if "arch" in fields:
        audit_arch = _int(fields, "arch", required=True)
        assert audit_arch is not None
        arch = arch_from_audit(audit_arch, nr)
        if arch is None:
            raise BadRecord(ProblemKind.MALFORMED, f"arch={fields['arch']} is no arch libseccomp knows")
    else:
        arch = _missing_arch(fields, options)
    if fields.get("code") and not fields["code"].startswith("0x"):  # the kernel writes %#x
        raise BadRecord(ProblemKind.TRUNCATED, f"code={fields['code']} is cut short")
    code = _int(fields, "code", required=True)
    assert code is not None
    action, errno = decode_code(code)
    return arch, nr, syscall_name(arch, nr) if arch != UNKNOWN_ARCH else None, action, errno


def _missing_arch(fields: dict[str, str], options: DecodeOptions) -> str:
    """Kernels before 3.14 wrote no arch=: the ABI is the user's word, never the reader's own."""
    if options.missing_arch is None:
        return UNKNOWN_ARCH
    if fields.get("compat") == "1":
        return compat_arch(options.missing_arch) or options.missing_arch
    return options.missing_arch


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
        if not syscall_in_range(nr):
            raise BadRecord(ProblemKind.MALFORMED, f"syscall={name} is out of range")
    else:
        found = syscall_number(arch, name)
        if found is None:
            found = number_from_audit_name(fields["arch"], name)
        if found is None:
            raise BadRecord(ProblemKind.MALFORMED, f"syscall={name} is not a {arch} syscall")
        nr = found
    code = _INTERPRETED_CODE.fullmatch(fields["code"])
    if code is not None and code.group(1).startswith("unknown") and (code.group(2) or "").startswith("0x"):
        action, errno = decode_code(int(code.group(2), 16))
        return arch, nr, syscall_name(arch, nr), action, errno
    if code is None or code.group(1) not in _INTERPRETED_ACTIONS or (code.group(2) or "").startswith("0x"):
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
    node: str | None = None,
    options: DecodeOptions = DEFAULT_DECODING,
) -> Iterator[Item]:
    """Events and problems for one record; `legacy` is the pre-3.14 ANOM_ABEND form."""
    try:
        serial, ts = parse_stamp(stamp, options.zone) if stamp is not None else (None, None)
        if not interpreted and not legacy:
            m = FAST_BODY.match(body)
            event = _FAST.body(m.groups(), serial, ts, source, line, node) if m else None
            if event is not None:
                yield event
                return
    except BadRecord as bad:
        yield Problem(bad.kind, str(bad), source, line)
        return
    yield from decode_general(body, serial, ts, source, line, interpreted=interpreted, node=node, options=options)


def decode_general(
    body: str,
    serial: str | None,
    ts: float | None,
    source: str,
    line: int,
    *,
    interpreted: bool = False,
    node: str | None = None,
    options: DecodeOptions = DEFAULT_DECODING,
) -> Iterator[Item]:
    """The reference decoder (a tokenizer, lenient about form, strict about values): what the
    fast line path and the bulk counter must agree with on every input."""
    try:
        fields = tokenize(strip_enrichment(body))
        arch, nr, name, action, errno = _decode_fields(fields, options, interpreted=interpreted)
        if interpreted:
            pid, uid, auid, ses = (_interpreted_int(fields, k) for k in ("pid", "uid", "auid", "ses"))
            ip = None
        else:
            pid, uid, auid, ses = (_int(fields, k) for k in ("pid", "uid", "auid", "ses"))
            _int(fields, "gid")  # a gid the kernel cannot write marks the record as damaged
            ip = _int(fields, "ip", limit=U64)
        if arch == UNKNOWN_ARCH:
            why = f"record has no arch= (a kernel before 3.14): syscall {nr} of an unknown ABI has no name"
            yield Problem(ProblemKind.UNKNOWN_ARCH, f"{why} (--arch ARCH: the machine that wrote it)", source, line)
        yield SeccompEvent(
            arch, nr, name, action, errno, pid,
            untrusted_string(fields.get("comm"), interpreted=interpreted),
            untrusted_string(fields.get("exe"), interpreted=interpreted),
            serial, source, line, ts, uid, auid, ses, fields.get("subj"), ip, node,
        )  # fmt: skip
    except BadRecord as bad:
        yield Problem(bad.kind, str(bad), source, line)
