"""Architectures: AUDIT_ARCH_* values, libseccomp names, and the ABIs this host can run."""

from __future__ import annotations

import platform

import pyseccomp

X32_SYSCALL_BIT = 0x40000000

# libseccomp arch name -> AUDIT_ARCH_* value; pyseccomp derives them from the ELF machine
# numbers exactly as <linux/audit.h> does, so there is no table of magic numbers here.
AUDIT_ARCH_BY_NAME: dict[str, int] = {
    name.lower(): value for name, value in vars(pyseccomp.Arch).items() if name.isupper() and name != "NATIVE"
}
NAME_BY_AUDIT_ARCH: dict[int, str] = {v: n for n, v in AUDIT_ARCH_BY_NAME.items()}

# What uname(2) and auparse's interpreted `arch=` call an ABI, when it differs from libseccomp.
_ALIASES = {
    "i386": "x86",
    "i486": "x86",
    "i586": "x86",
    "i686": "x86",
    "amd64": "x86_64",
    "arm64": "aarch64",
    "armv7l": "arm",
    "armv6l": "arm",
    "armhf": "arm",
    "armel": "arm",
    "armeb": "arm",
    "powerpc": "ppc",
    "ppc64el": "ppc64le",
    "mips64el": "mipsel64",
    "mipsn32": "mips64n32",
    "mipsn32el": "mipsel64n32",
}

# The 32-bit ABI a 64-bit kernel also runs (what compat=1 means on old records with no arch=).
_COMPAT_ABI = {"x86_64": "x86", "aarch64": "arm", "ppc64": "ppc", "s390x": "s390", "mips64": "mips"}


def arch_from_audit(value: int, nr: int) -> str | None:
    """libseccomp name of the ABI a record came from; x32 hides in x86_64's syscall numbers."""
    name = NAME_BY_AUDIT_ARCH.get(value)
    if name == "x86_64" and nr >= 0 and nr & X32_SYSCALL_BIT:
        return "x32"
    return name


def canonical_arch(name: str) -> str | None:
    """libseccomp name for an arch as uname or `ausearch -i` prints it; None if unknown."""
    low = name.strip().lower()
    low = _ALIASES.get(low, low)
    return low if low in AUDIT_ARCH_BY_NAME else None


def native_arch() -> str:
    native = NAME_BY_AUDIT_ARCH.get(pyseccomp.system_arch())
    return native or canonical_arch(platform.machine()) or platform.machine()


def compat_arch(native: str) -> str | None:
    return _COMPAT_ABI.get(native)


def host_abis() -> list[str]:
    """Every ABI the host kernel can execute, native first (on x86_64: x86_64, x86, x32)."""
    native = native_arch()
    abis = [native]
    if native == "x86_64":
        abis += ["x86", "x32"]
    elif (compat := compat_arch(native)) is not None:
        abis.append(compat)
    return abis


def oci_arch(name: str) -> str:
    """OCI / Docker spelling: x86_64 -> SCMP_ARCH_X86_64."""
    return "SCMP_ARCH_" + name.upper()


def from_oci_arch(value: str) -> str | None:
    if not value.startswith("SCMP_ARCH_"):
        return None
    return canonical_arch(value.removeprefix("SCMP_ARCH_"))
