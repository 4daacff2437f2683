"""Which syscalls get argument rules, and how: the one table argument-level learning reads.

Each row says: this syscall's argument `index` is of this `kind`, compared on these bits, and
its values have these names (for the summary and for snapd's symbolic syntax). Adding a row is
all it takes to learn one more argument. The kinds:

  ENUM   one rule per value seen: EQ, or MASKED_EQ(mask, value) when the row compares only some
         bits (socket's type without SOCK_NONBLOCK|SOCK_CLOEXEC; mprotect's PROT_WRITE|PROT_EXEC;
         ioctl's request on its low 32 bits, which is all the kernel reads: a rule on 64 bits is
         bypassable with the high word set, CVE-2019-7303).
  FLAGS  allowed when no bit outside the union seen is set: MASKED_EQ(~union, 0) on the low 32
         bits, all that clone(2) and unshare(2) read (clone3 has the 64-bit flags). clone without
         CLONE_NEWUSER stays without it.

A row with `when` counts only if another argument has a value (socket's protocol is a netlink
family only for AF_NETLINK). A row never reaches past its syscall's arity (ARITY; checked on
import): registers beyond it hold whatever the caller left there. Values are those of x86 and
the generic UAPI; tty ioctl numbers differ on ppc, mips and sparc.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from signal import Signals

from learn.formats.snapd_names import CONSTANTS

U64 = (1 << 64) - 1
U32 = (1 << 32) - 1


class Kind(StrEnum):
    ENUM = "enum"
    FLAGS = "flags"


@dataclass(frozen=True)
class ArgRow:
    syscall: str
    index: int
    kind: Kind
    names: Mapping[int, str]
    mask: int = U64  # the bits compared (ENUM; FLAGS: the bits the kernel reads)
    when: tuple[int, int] | None = None  # (index, value): the row counts only when that argument has that value
    not_on: frozenset[str] = frozenset()  # arches where the argument is elsewhere (s390's clone) or in memory

    def projected(self, value: int) -> int:
        return value & self.mask


# Syscalls with argument rows and their arity (arguments the kernel reads).
ARITY: dict[str, int] = {
    "socket": 3, "socketpair": 4, "ioctl": 3, "clone": 5, "prctl": 5, "personality": 1, "unshare": 1,
    "setns": 2, "setsockopt": 5, "getsockopt": 5, "keyctl": 5, "bpf": 3, "ptrace": 4, "fcntl": 3,
    "fcntl64": 3, "mprotect": 3, "pkey_mprotect": 4, "mmap": 6, "mmap2": 6,
}  # fmt: skip

# clone3's flags are in memory: with argument rules it gets ENOSYS, and libc falls back to clone.
CLONE3 = "clone3"
ENOSYS = 38


def _prefixed(prefix: str) -> dict[int, str]:
    """snap-seccomp's names with this prefix, first name of each value."""
    names: dict[int, str] = {}
    for name, value in CONSTANTS.items():
        if name.startswith(prefix) and not name.startswith("PF_"):
            names.setdefault(value, name)
    return names


AF = _prefixed("AF_") | {0: "AF_UNSPEC", 41: "AF_SMC", 43: "AF_KCM", 45: "AF_MCTP"}
SOCK_TYPES = {1: "SOCK_STREAM", 2: "SOCK_DGRAM", 3: "SOCK_RAW", 4: "SOCK_RDM", 5: "SOCK_SEQPACKET", 6: "SOCK_DCCP",
              10: "SOCK_PACKET"}  # fmt: skip
SOCK_FLAGS = 0o4000 | 0o2000000  # SOCK_NONBLOCK | SOCK_CLOEXEC
NETLINK = _prefixed("NETLINK_")
AF_NETLINK = 16
CLONE_FLAGS = {
    0x100: "CLONE_VM", 0x200: "CLONE_FS", 0x400: "CLONE_FILES", 0x800: "CLONE_SIGHAND", 0x1000: "CLONE_PIDFD",
    0x2000: "CLONE_PTRACE", 0x4000: "CLONE_VFORK", 0x8000: "CLONE_PARENT", 0x10000: "CLONE_THREAD",
    0x20000: "CLONE_NEWNS", 0x40000: "CLONE_SYSVSEM", 0x80000: "CLONE_SETTLS", 0x100000: "CLONE_PARENT_SETTID",
    0x200000: "CLONE_CHILD_CLEARTID", 0x400000: "CLONE_DETACHED", 0x800000: "CLONE_UNTRACED",
    0x1000000: "CLONE_CHILD_SETTID", 0x2000000: "CLONE_NEWCGROUP", 0x4000000: "CLONE_NEWUTS",
    0x8000000: "CLONE_NEWIPC", 0x10000000: "CLONE_NEWUSER", 0x20000000: "CLONE_NEWPID", 0x40000000: "CLONE_NEWNET",
    0x80000000: "CLONE_IO", 0x80: "CLONE_NEWTIME",
}  # fmt: skip
NAMESPACES = {0: "0"} | {v: n for v, n in CLONE_FLAGS.items() if "NEW" in n}
# prctl's own options, not snap-seccomp's PR_CAP_AMBIENT_* sub-operations or PR_SET_MM_* fields.
PR = {v: n for n, v in CONSTANTS.items() if n.startswith("PR_") and "AMBIENT_" not in n and "SET_MM_" not in n} | {
    52: "PR_GET_SPECULATION_CTRL", 53: "PR_SET_SPECULATION_CTRL", 55: "PR_SET_TAGGED_ADDR_CTRL",
    57: "PR_SET_IO_FLUSHER", 0x53564D41: "PR_SET_VMA",
}  # fmt: skip
IOCTLS = {
    0x5401: "TCGETS", 0x5402: "TCSETS", 0x5403: "TCSETSW", 0x5404: "TCSETSF", 0x5409: "TCSBRK", 0x540A: "TCXONC",
    0x540B: "TCFLSH", 0x540E: "TIOCSCTTY", 0x540F: "TIOCGPGRP", 0x5410: "TIOCSPGRP", 0x5411: "TIOCOUTQ",
    0x5412: "TIOCSTI", 0x5413: "TIOCGWINSZ", 0x5414: "TIOCSWINSZ", 0x541B: "FIONREAD", 0x541C: "TIOCLINUX",
    0x5421: "FIONBIO", 0x5422: "TIOCNOTTY", 0x5429: "TIOCGSID", 0x5450: "FIONCLEX", 0x5451: "FIOCLEX",
    0x5452: "FIOASYNC", 0x80045430: "TIOCGPTN", 0x40045431: "TIOCSPTLCK", 0x5441: "TIOCGPTPEER",
    0x8912: "SIOCGIFCONF", 0x8927: "SIOCGIFHWADDR", 0x8933: "SIOCGIFINDEX", 0x8913: "SIOCGIFFLAGS",
}  # fmt: skip
PROT = {0: "PROT_NONE|PROT_READ", 2: "PROT_WRITE", 4: "PROT_EXEC", 6: "PROT_WRITE|PROT_EXEC"}
PROT_WX = 2 | 4
PERSONALITY = {0: "PER_LINUX", 8: "PER_LINUX32", 0x40000: "ADDR_NO_RANDOMIZE", 0xFFFFFFFF: "query"}
SOL = {0: "IPPROTO_IP", 1: "SOL_SOCKET", 6: "IPPROTO_TCP", 17: "IPPROTO_UDP", 41: "IPPROTO_IPV6",
       58: "IPPROTO_ICMPV6", 255: "IPPROTO_RAW", 263: "SOL_PACKET", 270: "SOL_NETLINK", 279: "SOL_ALG"}  # fmt: skip
KEYCTL = {0: "KEYCTL_GET_KEYRING_ID", 1: "KEYCTL_JOIN_SESSION_KEYRING", 2: "KEYCTL_UPDATE", 6: "KEYCTL_LINK",
          11: "KEYCTL_READ", 29: "KEYCTL_RESTRICT_KEYRING"}  # fmt: skip
BPF = {0: "BPF_MAP_CREATE", 1: "BPF_MAP_LOOKUP_ELEM", 2: "BPF_MAP_UPDATE_ELEM", 5: "BPF_PROG_LOAD",
       8: "BPF_PROG_ATTACH", 18: "BPF_BTF_LOAD", 28: "BPF_LINK_CREATE"}  # fmt: skip
PTRACE = {0: "PTRACE_TRACEME", 16: "PTRACE_ATTACH", 17: "PTRACE_DETACH", 0x4206: "PTRACE_SEIZE",
          2: "PTRACE_PEEKDATA", 7: "PTRACE_CONT", 12: "PTRACE_GETREGS", 0x4204: "PTRACE_GETREGSET"}  # fmt: skip
FCNTL = {0: "F_DUPFD", 1: "F_GETFD", 2: "F_SETFD", 3: "F_GETFL", 4: "F_SETFL", 5: "F_GETLK", 6: "F_SETLK",
         7: "F_SETLKW", 8: "F_SETOWN", 9: "F_GETOWN", 1030: "F_DUPFD_CLOEXEC", 1033: "F_ADD_SEALS",
         1034: "F_GET_SEALS", 1031: "F_SETPIPE_SZ", 1032: "F_GETPIPE_SZ", 36: "F_OFD_GETLK", 37: "F_OFD_SETLK",
         38: "F_OFD_SETLKW", 12: "F_GETLK64", 13: "F_SETLK64", 14: "F_SETLKW64"}  # fmt: skip
_S390 = frozenset({"s390", "s390x"})  # clone(stack, flags, ...) there

ROWS: tuple[ArgRow, ...] = (
    ArgRow("socket", 0, Kind.ENUM, AF),
    ArgRow("socket", 1, Kind.ENUM, SOCK_TYPES, mask=U32 & ~SOCK_FLAGS),
    ArgRow("socket", 2, Kind.ENUM, NETLINK, when=(0, AF_NETLINK)),
    ArgRow("socketpair", 0, Kind.ENUM, AF),
    ArgRow("socketpair", 1, Kind.ENUM, SOCK_TYPES, mask=U32 & ~SOCK_FLAGS),
    ArgRow("socketpair", 2, Kind.ENUM, NETLINK, when=(0, AF_NETLINK)),
    ArgRow("ioctl", 1, Kind.ENUM, IOCTLS, mask=U32),
    ArgRow("clone", 0, Kind.FLAGS, CLONE_FLAGS, mask=U32, not_on=_S390),
    ArgRow("prctl", 0, Kind.ENUM, PR),
    ArgRow("personality", 0, Kind.ENUM, PERSONALITY),
    ArgRow("unshare", 0, Kind.FLAGS, CLONE_FLAGS, mask=U32),
    ArgRow("setns", 1, Kind.ENUM, NAMESPACES),
    ArgRow("setsockopt", 1, Kind.ENUM, SOL),
    ArgRow("setsockopt", 2, Kind.ENUM, {}),
    ArgRow("getsockopt", 1, Kind.ENUM, SOL),
    ArgRow("getsockopt", 2, Kind.ENUM, {}),
    ArgRow("keyctl", 0, Kind.ENUM, KEYCTL),
    ArgRow("bpf", 0, Kind.ENUM, BPF),
    ArgRow("ptrace", 0, Kind.ENUM, PTRACE),
    ArgRow("fcntl", 1, Kind.ENUM, FCNTL),
    ArgRow("fcntl64", 1, Kind.ENUM, FCNTL),
    ArgRow("mprotect", 2, Kind.ENUM, PROT, mask=PROT_WX),
    ArgRow("pkey_mprotect", 2, Kind.ENUM, PROT, mask=PROT_WX),
    # x86's mmap is old_mmap(struct *): its arguments are in memory; mmap2 has them in registers.
    ArgRow("mmap", 2, Kind.ENUM, PROT, mask=PROT_WX, not_on=frozenset({"x86"})),
    ArgRow("mmap2", 2, Kind.ENUM, PROT, mask=PROT_WX),
)

ROWS_BY_SYSCALL: dict[str, tuple[ArgRow, ...]] = {}
for _row in ROWS:
    if _row.index >= ARITY[_row.syscall]:  # pragma: no cover - a wrong row fails every import
        raise AssertionError(f"{_row.syscall} takes {ARITY[_row.syscall]} arguments, not a{_row.index}")
    ROWS_BY_SYSCALL[_row.syscall] = (*ROWS_BY_SYSCALL.get(_row.syscall, ()), _row)

# The syscall record carries a0..a3 only: a row past that could never be learned.
MAX_INDEX = 3
assert all(r.index <= MAX_INDEX for r in ROWS)


def rows_for(arch: str, syscall: str | None) -> tuple[ArgRow, ...]:
    """The rows that apply to syscall on arch; () for a syscall learned by name only."""
    rows = ROWS_BY_SYSCALL.get(syscall or "", ())
    return tuple(r for r in rows if arch not in r.not_on)


Key = tuple[int | None, ...]  # per row of rows_for(): the projected value, or None where `when` does not hold


def project(rows: tuple[ArgRow, ...], args: tuple[int, ...], width: int = U64) -> Key:
    """The values that decide a call's rule: each row's argument, masked, within the ABI's width."""
    key: list[int | None] = []
    for row in rows:
        if row.when is not None and args[row.when[0]] & width != row.when[1]:
            key.append(None)
        else:
            key.append(row.projected(args[row.index] & width))
    return tuple(key)


def value_name(row: ArgRow, value: int) -> str:
    """AF_INET, TCGETS, CLONE_VM|CLONE_FS|SIGCHLD; a number where the table has no name."""
    if row.kind is Kind.FLAGS:
        parts = [n for bit, n in sorted(row.names.items()) if value & bit == bit and bit]
        rest = value & ~sum(b for b in row.names if value & b == b)
        if rest:
            parts.append(_signal(rest) if rest < 0x80 and row.syscall == "clone" else hex(rest))
        return "|".join(parts) or "0"
    name = row.names.get(value)
    return name if name is not None else (str(value) if value < 0x10000 else hex(value))


def _signal(number: int) -> str:
    """clone's low byte: the signal the child sends its parent at exit."""
    try:
        return Signals(number).name
    except ValueError:
        return f"signal {number}"


def snapd_name(syscall: str, index: int, value: int) -> str | None:
    """The name snap-seccomp knows value by as this argument, if the table names it so."""
    for row in ROWS_BY_SYSCALL.get(syscall, ()):
        if row.index == index and row.kind is Kind.ENUM:
            name = row.names.get(value)
            return name if name is not None and CONSTANTS.get(name) == value else None
    return None
