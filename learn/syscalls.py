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


def exists(name: str, arch: str) -> bool:
    return syscall_number(arch, name) is not None
