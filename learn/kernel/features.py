"""What the running kernel can do for `learn run`, and the audit knobs it needs.

Every check returns a Check (ok, message, fix) rather than raising, so `learn doctor`-style
callers can show them all at once; `require` turns the first failure into a KernelError.
The audit status and backlog limit (see learn.kernel.backlog) are read and set over NETLINK_AUDIT, the same requests
auditctl makes, because no file in /proc or /sys exposes them.
"""

from __future__ import annotations

import ctypes
import errno
import os
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from learn.errors import KernelError

NETLINK_AUDIT = 9
AUDIT_NLGRP_READLOG = 1  # the multicast group every audit record is copied to (CAP_AUDIT_READ)
AUDIT_GET = 1000
AUDIT_SET = 1001
AUDIT_USER_AVC = 1107
AUDIT_TRUSTED_APP = 1121
AUDIT_STATUS_BACKLOG_LIMIT = 0x0010
NLMSG_ERROR = 2
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLMSG_HEADER = struct.Struct("=IHHII")  # len, type, flags, seq, pid
_STATUS = struct.Struct("=11I")

PR_GET_SECCOMP = 21
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_LOG = 2
SECCOMP_DIR = "/proc/sys/kernel/seccomp"
_REQUEST_NAMES = {
    AUDIT_GET: "AUDIT_GET",
    AUDIT_SET: "AUDIT_SET",
    AUDIT_USER_AVC: "USER_AVC",
    AUDIT_TRUSTED_APP: "TRUSTED_APP",
}
_HINT_ROOT = "run learn as root (it needs CAP_AUDIT_READ, CAP_AUDIT_CONTROL and CAP_AUDIT_WRITE)"


@dataclass(frozen=True)
class Check:
    """One kernel requirement: whether it holds, what was seen, and how to fix it if not."""

    name: str
    ok: bool
    message: str
    fix: str = ""


class AuditStatus(NamedTuple):
    """struct audit_status as AUDIT_GET returns it; fields newer kernels lack read as 0."""

    mask: int
    enabled: int  # 0 off, 1 on, 2 locked; SECCOMP records are sent even when it is 0
    failure: int
    pid: int  # auditd's pid, 0 when no daemon is registered
    rate_limit: int
    backlog_limit: int  # 0 means unlimited
    lost: int  # records the kernel dropped since boot (backlog, rate limit, memory)
    backlog: int  # records queued in the kernel, not yet handed to auditd/multicast/printk
    feature_bitmap: int
    backlog_wait_time: int
    backlog_wait_time_actual: int


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def seccomp_filter_support() -> Check:
    """prctl(PR_GET_SECCOMP) fails with EINVAL on kernels built without CONFIG_SECCOMP."""
    libc = _libc()
    mode = libc.prctl(PR_GET_SECCOMP, 0, 0, 0, 0)
    if mode < 0:
        err = ctypes.get_errno()
        return Check(
            "seccomp",
            False,
            f"prctl(PR_GET_SECCOMP) failed: {os.strerror(err)}",
            "use a kernel built with CONFIG_SECCOMP and CONFIG_SECCOMP_FILTER",
        )
    status = _proc_status_field("Seccomp")
    note = " (learn itself already runs under a filter)" if mode == 2 else ""
    return Check("seccomp", True, f"seccomp available, mode {mode}, /proc status Seccomp: {status}{note}")


def _proc_status_field(name: str) -> str:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                key, _, value = line.partition(":")
                if key == name:
                    return value.strip()
    except OSError:
        pass
    return "absent"


def _read_words(name: str) -> list[str] | None:
    try:
        with open(os.path.join(SECCOMP_DIR, name)) as handle:
            return handle.read().split()
    except OSError:
        return None


def log_action_available() -> Check:
    avail = _read_words("actions_avail")
    if avail is None:
        return Check(
            "log-action",
            False,
            f"{SECCOMP_DIR}/actions_avail is missing (kernel older than 4.14)",
            "use Linux 4.14 or newer: SECCOMP_RET_LOG is what learn runs the target under",
        )
    if "log" not in avail:
        return Check("log-action", False, f"the kernel offers {' '.join(avail)} but not log", "use Linux 4.14 or newer")
    return Check("log-action", True, "SECCOMP_RET_LOG is available")


def log_action_logged() -> Check:
    logged = _read_words("actions_logged")
    if logged is None:
        return Check("log-logged", False, f"{SECCOMP_DIR}/actions_logged is missing", "use Linux 4.14 or newer")
    if "log" not in logged:
        wanted = " ".join([*logged, "log"])
        return Check(
            "log-logged",
            False,
            "the kernel does not write records for the log action",
            f'sysctl kernel.seccomp.actions_logged="{wanted}"',
        )
    return Check("log-logged", True, "records of the log action are written")


def seccomp_syscall_number() -> int | None:
    """__NR_seccomp for the ABI this Python runs as, named by libseccomp rather than a table."""
    from learn.arch import native_arch
    from learn.syscalls import syscall_number

    return syscall_number(native_arch(), "seccomp")


def flag_log_probe() -> Check:
    """seccomp(SET_MODE_FILTER, FLAG_LOG, NULL): EFAULT means the flag passed validation."""
    nr = seccomp_syscall_number()
    if nr is None:
        return Check("flag-log", False, "libseccomp knows no seccomp syscall for this arch", "")
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    rc = libc.syscall(
        ctypes.c_long(nr),
        ctypes.c_long(SECCOMP_SET_MODE_FILTER),
        ctypes.c_long(SECCOMP_FILTER_FLAG_LOG),
        None,
    )
    err = ctypes.get_errno()
    if rc == 0:  # cannot happen with a NULL program; say so rather than guess
        return Check("flag-log", False, "seccomp() accepted a NULL filter", "report this kernel")
    if err == errno.EFAULT:
        return Check("flag-log", True, "SECCOMP_FILTER_FLAG_LOG is supported")
    if err == errno.EINVAL:
        return Check(
            "flag-log",
            False,
            "SECCOMP_FILTER_FLAG_LOG is not supported",
            "use Linux 4.14 or newer to log denials of an enforced profile",
        )
    return Check("flag-log", False, f"seccomp() probe failed: {os.strerror(err)}", "")


def audit_socket(groups: int = 0) -> socket.socket:
    """A NETLINK_AUDIT socket bound to groups (a bitmask); KernelError when it cannot be had."""
    try:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_AUDIT)
    except OSError as err:
        raise KernelError(
            f"cannot open an audit netlink socket: {err.strerror}", "use a kernel built with CONFIG_AUDIT"
        ) from None
    try:
        sock.bind((0, groups))
    except OSError as err:
        sock.close()
        what = "join the audit multicast group" if groups else "bind an audit socket"
        raise KernelError(f"cannot {what}: {err.strerror}", _HINT_ROOT) from None
    return sock


def audit_read_permission() -> Check:
    """Binding to AUDIT_NLGRP_READLOG is the real test of CAP_AUDIT_READ (also in user namespaces)."""
    try:
        audit_socket(1 << (AUDIT_NLGRP_READLOG - 1)).close()
    except KernelError as err:
        return Check("audit-read", False, str(err), err.hint)
    return Check("audit-read", True, "can join the audit multicast group")


def _request(msg_type: int, payload: bytes, reply_type: int | None = None) -> bytes | None:
    """Send one audit request to the kernel; return the reply_type payload, or None after the ACK.

    The kernel sends AUDIT_GET's reply from a worker thread, so the ACK can come first.
    """
    with audit_socket() as sock:
        sock.settimeout(2.0)
        seq = 1
        sock.sendto(
            NLMSG_HEADER.pack(NLMSG_HEADER.size + len(payload), msg_type, NLM_F_REQUEST | NLM_F_ACK, seq, 0) + payload,
            (0, 0),
        )
        acked, reply = False, None
        try:
            while not acked or (reply_type is not None and reply is None):
                data = sock.recv(65536)
                for rtype, body in _messages(data):
                    if rtype == NLMSG_ERROR:
                        code = -struct.unpack_from("=i", body)[0] if len(body) >= 4 else 0
                        if code:
                            raise OSError(code, os.strerror(code))
                        acked = True
                    elif rtype == reply_type:
                        reply = body
        except TimeoutError:
            raise KernelError(
                f"the kernel did not answer {_REQUEST_NAMES.get(msg_type, msg_type)}", _HINT_ROOT
            ) from None
        except OSError as err:
            raise KernelError(f"{_REQUEST_NAMES.get(msg_type, msg_type)} refused: {err.strerror}", _HINT_ROOT) from None
        return reply


def _messages(data: bytes) -> Iterator[tuple[int, bytes]]:
    offset = 0
    while offset + NLMSG_HEADER.size <= len(data):
        length, rtype, _flags, _seq, _pid = NLMSG_HEADER.unpack_from(data, offset)
        end = offset + length if NLMSG_HEADER.size <= length <= len(data) - offset else len(data)
        yield rtype, data[offset + NLMSG_HEADER.size : end]
        offset = (end + 3) & ~3


def audit_status() -> AuditStatus:
    reply = _request(AUDIT_GET, b"", AUDIT_GET)
    assert reply is not None  # _request waits for it
    return AuditStatus(*_STATUS.unpack(reply[: _STATUS.size].ljust(_STATUS.size, b"\0")))


def audit_status_check() -> Check:
    try:
        s = audit_status()
    except KernelError as err:
        return Check("audit-status", False, str(err), err.hint)
    daemon = f"auditd pid {s.pid}" if s.pid else "no auditd"
    return Check(
        "audit-status",
        True,
        f"audit enabled={s.enabled}, {daemon}, lost={s.lost}, "
        f"backlog={s.backlog}/{s.backlog_limit}, rate_limit={s.rate_limit}",
    )


def set_backlog_limit(limit: int) -> None:
    payload = _STATUS.pack(AUDIT_STATUS_BACKLOG_LIMIT, 0, 0, 0, 0, limit, 0, 0, 0, 0, 0)
    _request(AUDIT_SET, payload)


def send_audit_message(text: str) -> None:
    """Have the kernel log text as a user record, to mark a point in the record stream.

    TRUSTED_APP is the type meant for free text, but the kernel drops user messages while
    audit is disabled (enabled=0) except USER_AVC, which it always accepts; SECCOMP records
    flow in both states, so the marker falls back to USER_AVC to keep working.
    """
    try:
        enabled = audit_status().enabled
    except KernelError:
        enabled = 1
    msg_type = AUDIT_TRUSTED_APP if enabled else AUDIT_USER_AVC
    _request(msg_type, text.encode() + b"\0")


def run_checks() -> list[Check]:
    return [
        seccomp_filter_support(),
        log_action_available(),
        log_action_logged(),
        flag_log_probe(),
        audit_read_permission(),
        audit_status_check(),
    ]


def require(checks: list[Check]) -> None:
    for check in checks:
        if not check.ok:
            raise KernelError(f"{check.name}: {check.message}", check.fix or None)
