"""Kernel-log forms: dmesg, /dev/kmsg, syslog files, journald text and JSON.

Anyone can write a line that looks like an audit record into some of these logs (`logger`,
a write to /dev/kmsg, a kernel message that prints a user's string), and a forged record
would widen the sandbox. So a record is accepted only where the kernel's own audit message
begins, right after the line's prefix, never inside another message; a form that shows who
wrote the line must show the kernel (kmsg facility 0, `dmesg -x` kern, the `kernel:` or
journald's `audit[PID]:` syslog tag, journald's trusted `_TRANSPORT` in JSON).

Only /dev/kmsg lines and journald's JSON prove it: dmesg masks the facility in `-r`, and
with `-S` (as /proc/kmsg readers like rsyslog's imklog) prints every line of a multi-line
kernel message with its own prefix; in text syslog, any program can log with any tag.
Records of those forms carry a doubt, and --strict-origin refuses them.
"""

from __future__ import annotations

import json
import re

from learn.model import ProblemKind
from parsers.auditd import AUDITD_LINE, CONSOLE_DOUBT, frame_auditd
from parsers.framing import Framed, Lost, Refused, quotes_record

# 5,1234,5678,-;message — /dev/kmsg: priority+facility, sequence, usec, flags
_KMSG = re.compile(r"(\d{1,9}),\d+,\d+,[^;]*;")  # at most 9 digits: int() refuses 4300
_PRIORITY = re.compile(r"<(\d{1,9})>")
_FACILITY = re.compile(r"(\w+) *:(\w+) *: ")  # dmesg -x
# [ 123.456789]  [Mon Jul  6 15:37:40 2020]  [Jul 6 15:37]  [  +0.000123]  (dmesg, -T, -H)
_BRACKET = re.compile(r"\[[^\]]*\] ?")
_MONTH_DAY_TIME = r"[^\W\d_]{3,5}\.? +\d{1,2} \d\d:\d\d:\d\d(?:\.\d+)?"
_ISO_TIME = r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?"
_MONOTONIC = r"\[ *\d+\.\d+\]"
_TIME_ONLY = r"\d\d:\d\d:\d\d(?:\.\d+)?"  # GNOME Logs exports, excerpts with the date cut off
# syslog / journalctl short, short-iso, short-precise, short-monotonic: [time] [host] tag: msg.
# Excerpts in the wild lose the time, the host or both; the tag stays, and decides.
_SYSLOG = re.compile(
    rf"(?:(?:{_MONTH_DAY_TIME}|{_ISO_TIME}|{_MONOTONIC}|{_TIME_ONLY}) )?(?:(\S+) )??([^\s:\[]+)(\[\d+\])?: ?(.*)", re.S
)
# The audit dispatcher's syslog plugin forwards auditd's records as they are (`node=... type=...`).
_AUDIT_FORWARDERS = ("audispd", "audisp-syslog")
_JOURNAL_AUDIT = re.compile(r"audit\[\d+\]: (SECCOMP|ANOM_ABEND) (.*)", re.S)
_USEC = re.compile(r"[0-9]{1,20}")  # not str.isdigit(): int() refuses other scripts' digits and 4300 of them
_KERNEL_AUDIT = re.compile(r"audit: (type=\w+ audit\(.*)", re.S)
# Loss notices, like records, count only where the kernel's message begins.
_SUPPRESSED = re.compile(r"(k?audit\w*): ([0-9]{1,20}) callbacks suppressed")  # int() refuses 4300 digits
_AUDIT_LOST = re.compile(r"audit: audit_lost=([0-9]+)")
_LOSS_NOTICES = ("audit: backlog limit exceeded", "audit: rate limit exceeded", "audit: kauditd hold queue overflow")

# kauditd prints every record with pr_notice(); dmesg -x names the levels.
_NOTICE = 5
_LEVELS = {name: n for n, name in enumerate(("emerg", "alert", "crit", "err", "warn", "notice", "info", "debug"))}
_NO_KERNEL_FORM = "not in a log form that shows the kernel wrote it"
# Why each form cannot prove the kernel wrote a line (Framed.doubt).
_DMESG = "dmesg text (no facility; `dmesg -S` gives every line of a kernel message its own prefix)"
_DMESG_RAW = "dmesg -r text (util-linux prints only the level, <5> for a user's message too)"
_DMESG_DECODED = "dmesg -x text (`dmesg -S -x` gives every line of a kernel message its own facility)"
_SYSLOG_KERNEL = "a text syslog line tagged kernel: (any program can log with that tag)"
_SYSLOG_AUDIT = "a text syslog line tagged audit[PID]: (any program can log with that tag)"
_WORD_BEFORE = (
    "a word before the kernel's `audit:` message: the start of another kernel message (dmesg -t),"
    " or a syslog host with its tag cut off; learn cannot tell which (read the log it came from)"
)
_SYSLOG_FORWARDER = "a text syslog line tagged {}: (any program can log with that tag)"


def frame_kernel_message(msg: str, doubt: str | None = CONSOLE_DOUBT) -> Framed | Refused | Lost | None:
    """A message the kernel printed: `audit: type=1326 audit(...): ...` or a loss notice.

    doubt says why the form msg came in cannot prove the kernel printed it (None: it does)."""
    m = _KERNEL_AUDIT.match(msg)
    if m:
        record = m.group(1)
    elif msg.startswith("type=") and AUDITD_LINE.match(msg):
        record = msg  # old kernels printed records without "audit: "
    else:
        return _loss(msg)
    framed = frame_auditd(record)
    return framed._replace(doubt=doubt) if isinstance(framed, Framed) else framed


def _loss(msg: str) -> Lost | None:
    m = _SUPPRESSED.match(msg)
    if m:
        return Lost(int(m.group(2)), f"{m.group(1)}: {m.group(2)} callbacks suppressed (printk rate limit)")
    m = _AUDIT_LOST.match(msg)
    if m:
        return Lost(0, f"kernel audit_lost counter reached {m.group(1)}")
    for notice in _LOSS_NOTICES:
        if msg.startswith(notice):
            return Lost(0, notice)
    return None


def _from_kernel_facility(priority: int) -> bool:
    return priority >> 3 == 0


def frame_kernel_log(line: str) -> Framed | Refused | Lost | None:
    """dmesg (plain, -r, -x, -T, -H), /dev/kmsg and syslog/journald short forms."""
    rest = line
    doubt: str | None = CONSOLE_DOUBT
    level: int | None = None  # where the form shows it
    m = _KMSG.match(rest)
    if m:  # the kernel sets the facility, and escapes control characters and newlines
        doubt = None
    else:
        m = _PRIORITY.match(rest)
        doubt = _DMESG_RAW if m else doubt
    if m:
        if not _from_kernel_facility(int(m.group(1))):
            return _refuse(rest, "written to the kernel log by a user process (facility is not kern)")
        rest, level = rest[m.end() :], int(m.group(1)) & 7
    m = _FACILITY.match(rest)
    if m:
        if m.group(1) != "kern":
            return _refuse(rest, f"written to the kernel log with facility {m.group(1)}")
        rest, doubt, level = rest[m.end() :], _DMESG_DECODED, _LEVELS.get(m.group(2), level)
    message = rest
    if rest.startswith("["):
        m = _BRACKET.match(rest)
        if m:
            message = rest[m.end() :]
            doubt = _DMESG if doubt == CONSOLE_DOUBT else doubt
    framed = frame_kernel_message(message, doubt)
    if isinstance(framed, Framed) and level not in (None, _NOTICE):
        # `dmesg -S` and /proc/kmsg readers give each line of a multi-line message (a warning
        # that prints a user's file name with a newline in it) the message's own prefix.
        return Refused(ProblemKind.UNTRUSTED, f"an audit record at level {level}: the kernel prints them at 5 (notice)")
    framed = framed or _frame_syslog(rest)
    if doubt != CONSOLE_DOUBT and isinstance(framed, Refused) and framed.why == _NO_KERNEL_FORM:
        return Refused(ProblemKind.UNTRUSTED, "a record inside another kernel message (a record starts the message)")
    return framed


def _frame_syslog(line: str) -> Framed | Refused | Lost | None:
    m = _JOURNAL_AUDIT.match(line)  # journald audit transport with its time cut off
    if m is None:
        m_sys = _SYSLOG.match(line)
        if m_sys is None:
            return _refuse(line, _NO_KERNEL_FORM)
        _host, tag, pid, msg = m_sys.groups()
        if tag == "kernel" and pid is None:
            msg = _BRACKET.sub("", msg, count=1) if msg.startswith("[") else msg
            return frame_kernel_message(msg, _SYSLOG_KERNEL) or _refuse(msg, "the kernel's message is no audit record")
        if tag in _AUDIT_FORWARDERS:
            forwarded = frame_auditd(msg)
            if isinstance(forwarded, Framed):
                return forwarded._replace(doubt=_SYSLOG_FORWARDER.format(tag + (pid or "")))
            return forwarded or _refuse(msg, f"{tag} forwarded no SECCOMP record")
        if tag == "audit" and pid is None:  # `myhost audit: type=1326`, or `word audit: ...` in dmesg -t
            return _refuse(msg, _WORD_BEFORE)
        if tag != "audit" or pid is None:
            return _refuse(msg, f"logged by {tag}{pid or ''}, not by the kernel")
        m = _JOURNAL_AUDIT.match(f"audit{pid}: {msg}")
        if m is None:
            return _refuse(msg, "journald audit message is no SECCOMP record")
    rtype, body = m.groups()
    if rtype == "ANOM_ABEND":
        return Framed(body, None, legacy=True, doubt=_SYSLOG_AUDIT) if 'reason="seccomp"' in body else None
    return Framed(body, None, doubt=_SYSLOG_AUDIT)


def _refuse(text: str, why: str) -> Refused | None:
    return Refused(ProblemKind.UNTRUSTED, why) if quotes_record(text) else None


def frame_journal_json(line: str) -> Framed | Refused | Lost | None:
    """`journalctl -o json`: journald's trusted `_TRANSPORT` field says who wrote the entry."""
    try:
        entry = json.loads(line)
    except ValueError:
        return Refused(ProblemKind.TRUNCATED, "journal JSON entry does not parse (cut short?)")
    except RecursionError:  # journald's entries are flat: strings, byte arrays, null
        return Refused(ProblemKind.MALFORMED, "journal JSON entry nested deeper than journald writes")
    if not isinstance(entry, dict):
        return None
    msg = entry.get("MESSAGE")
    if isinstance(msg, list):  # journald writes non-UTF-8 messages as byte arrays
        msg = bytes(b for b in msg if isinstance(b, int) and 0 <= b < 256).decode("utf-8", "replace")
    if not isinstance(msg, str):
        return None
    transport = entry.get("_TRANSPORT")
    if transport == "kernel":
        # journald gives kmsg records of another facility (a process's writes) a SYSLOG_FACILITY.
        facility = entry.get("SYSLOG_FACILITY")
        if facility is not None and str(facility) != "0":
            return _refuse(msg, f"written to the kernel log by a process (SYSLOG_FACILITY={facility})")
        return frame_kernel_message(msg, None)
    if transport == "audit":
        return _frame_journal_audit(entry, msg)
    return _refuse(msg, f"journal entry came through _TRANSPORT={transport}, not from the kernel")


def _frame_journal_audit(entry: dict[str, object], msg: str) -> Framed | Refused | None:
    audit_type = entry.get("_AUDIT_TYPE")  # trusted: the netlink message type
    if str(audit_type) != "1326" and (audit_type is not None or not msg.startswith("SECCOMP ")):
        return _refuse(msg, f"a journald audit record of type {audit_type} quotes a SECCOMP record")
    body = msg.removeprefix("SECCOMP ")
    stamp = None
    audit_id, realtime = entry.get("_AUDIT_ID"), entry.get("_SOURCE_REALTIME_TIMESTAMP")
    if isinstance(audit_id, str) and isinstance(realtime, str) and _USEC.fullmatch(realtime):
        usec = int(realtime)
        stamp = f"{usec // 1_000_000}.{usec // 1000 % 1000:03d}:{audit_id}"
    return Framed(body, stamp)
