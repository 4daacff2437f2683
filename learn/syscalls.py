"""Syscall names and numbers per arch, from libseccomp: no hand-written tables."""

from __future__ import annotations

from functools import lru_cache

import pyseccomp

from learn.arch import AUDIT_ARCH_BY_NAME


@lru_cache(maxsize=65536)
def syscall_name(arch: str, nr: int) -> str | None:
    """libseccomp's name for syscall nr on arch, or None when it has none."""
    try:
        name: bytes = pyseccomp.resolve_syscall(AUDIT_ARCH_BY_NAME[arch], nr)
        return name.decode()
    except (ValueError, KeyError):
        return None


@lru_cache(maxsize=65536)
def syscall_number(arch: str, name: str) -> int | None:
    """Number of a syscall on arch; None when arch lacks it (libseccomp's negative pseudo numbers)."""
    audit_arch = AUDIT_ARCH_BY_NAME.get(arch)
    if audit_arch is None:
        return None
    nr: int = pyseccomp.resolve_syscall(audit_arch, name)
    return nr if nr >= 0 else None


# libseccomp's pseudo numbers: -1 is "no such name"; -101..-120 and -201..-224 are the socket
# and SysV IPC calls on arches that reach them both directly and through socketcall(2)/ipc(2)
# (x86, s390, ppc, mips), for which rules do get generated; from -10001 down, calls an arch lacks.
_PNR_MULTIPLEXED_FLOOR = -10000


@lru_cache(maxsize=8192)
def exists(name: str, arch: str) -> bool:
    """Whether a rule for name on arch means something (x86's socket(2) included)."""
    audit_arch = AUDIT_ARCH_BY_NAME.get(arch)
    if audit_arch is None:
        return False
    nr: int = pyseccomp.resolve_syscall(audit_arch, name)
    return nr >= 0 or _PNR_MULTIPLEXED_FLOOR < nr < -1


@lru_cache(maxsize=4096)
def number_from_audit_name(machine: str, name: str) -> int | None:
    """Number for a name as auparse printed it (`ausearch -i`), by libaudit's own table.

    libaudit's names differ from libseccomp's for a few calls (x86_64 `pread` is pread64,
    aarch64 `newfstat` is fstat, arm `llseek` is _llseek), so the name is turned back into
    the number it came from, and libseccomp names that number.
    """
    try:
        import audit  # python3-audit, beside auparse
    except ImportError:
        return None
    mach = audit.audit_name_to_machine(machine)
    if mach < 0:
        return None
    nr: int = audit.audit_name_to_syscall(name, mach)
    return nr if nr >= 0 else None
