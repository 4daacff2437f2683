"""What readers and writers share: results that carry notes, the host a profile is read for,
the libseccomp names of actions and comparisons, and the check for syscall names."""

from __future__ import annotations

import errno as errno_names
import platform
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from learn.arch import AUDIT_ARCH_BY_NAME, compat_arch, host_abis, native_arch
from learn.errors import ProfileError
from learn.kernel.multiplexers import MULTIPLEXED, MULTIPLEXED_ARCHES
from learn.lowering import overlapping
from learn.model import Action
from learn.profile import Op, Profile, Rule, Verdict, rank
from learn.syscalls import exists

ACTION_NAMES = {
    Action.KILL_PROCESS: "SCMP_ACT_KILL_PROCESS",
    Action.KILL_THREAD: "SCMP_ACT_KILL_THREAD",
    Action.TRAP: "SCMP_ACT_TRAP",
    Action.ERRNO: "SCMP_ACT_ERRNO",
    Action.USER_NOTIF: "SCMP_ACT_NOTIFY",
    Action.TRACE: "SCMP_ACT_TRACE",
    Action.LOG: "SCMP_ACT_LOG",
    Action.ALLOW: "SCMP_ACT_ALLOW",
}
# SCMP_ACT_KILL is libseccomp's old name for KILL_THREAD.
ACTION_BY_NAME = {v: k for k, v in ACTION_NAMES.items()} | {"SCMP_ACT_KILL": Action.KILL_THREAD}
OP_NAMES = {op: "SCMP_CMP_" + op.name for op in Op}
OP_BY_NAME = {v: k for k, v in OP_NAMES.items()}

# Docker's default capability set (moby oci/caps defaults): what a container gets unless the
# user adds or drops some, so what moby's `includes`/`excludes` of a profile are evaluated with.
MOBY_DEFAULT_CAPS = frozenset(
    {
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_FSETID",
        "CAP_FOWNER",
        "CAP_MKNOD",
        "CAP_NET_RAW",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETFCAP",
        "CAP_SETPCAP",
        "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT",
        "CAP_KILL",
        "CAP_AUDIT_WRITE",
    }
)


@dataclass(frozen=True)
class HostContext:
    """The host a profile is read for. Some formats only mean something on a host: moby
    evaluates `includes`/`excludes` against the daemon's arch, the container's capabilities and
    the kernel version; snap-seccomp compiles for the native ABI and its compat ABI."""

    arch: str  # libseccomp name of the native ABI
    compat: str | None = None  # the 32-bit ABI it also runs (snap-seccomp adds it)
    caps: frozenset[str] = MOBY_DEFAULT_CAPS
    kernel: tuple[int, int] = (0, 0)  # major, minor

    @classmethod
    def host(cls) -> HostContext:
        native = native_arch()
        match = re.match(r"(\d+)\.(\d+)", platform.release())
        kernel = (int(match[1]), int(match[2])) if match else (0, 0)
        return cls(native, compat_arch(native), MOBY_DEFAULT_CAPS, kernel)

    @property
    def abis(self) -> tuple[str, ...]:
        return (self.arch,) + ((self.compat,) if self.compat else ())


@dataclass(frozen=True)
class ReadResult:
    profile: Profile
    fmt: str
    notes: tuple[str, ...] = ()  # what was left out or assumed, one line each, `file:line: ...`


@dataclass(frozen=True)
class WriteResult:
    text: str
    notes: tuple[str, ...] = ()  # what the format cannot say about this profile, one line each


@dataclass
class Notes:
    """Collects the notes of one read or write, without repeating one (a dict: hostile profiles
    can hold 100k names, and a list's `in` would make reading them quadratic)."""

    seen: dict[str, None] = field(default_factory=dict)
    unknown_names: int = 0  # names check_names left out so far

    def add(self, line: str) -> None:
        self.seen.setdefault(line)

    @property
    def lines(self) -> list[str]:
        return list(self.seen)


_ARCH_ORDER = tuple(dict.fromkeys([*host_abis(), *AUDIT_ARCH_BY_NAME]))  # known names resolve at once


def known_anywhere(name: str) -> bool:
    return any(exists(name, arch) for arch in _ARCH_ORDER)


MAX_NAMES_NOTED = 16  # a note lists this many unknown names, then says how many more
# Real profiles name a few syscalls libseccomp does not know yet (moby's default: 9). Each costs
# a lookup on every arch, so a file of 100k made-up names is refused, not looked up.
MAX_UNKNOWN_NAMES = 1024


def check_names(names: Sequence[str], action: Action, where: str, strict: bool, notes: Notes) -> list[str]:
    """The names libseccomp knows on some arch. Other names are an error in a rule that denies
    (the denial would be lost) or when strict; in an allow rule they are left out with a note,
    as snap-seccomp and runc leave them out: libc names like `_exit`, syscalls newer than
    libseccomp. Names missing on only some arches stay: the filter skips them there."""
    unknown: list[str] = []
    for name in dict.fromkeys(names):
        if known_anywhere(name):
            continue
        if strict or action is not Action.ALLOW:
            raise ProfileError(f"{where}: unknown syscall {name!r}")
        unknown.append(name)
        notes.unknown_names += 1
        if notes.unknown_names > MAX_UNKNOWN_NAMES:
            raise ProfileError(
                f"{where}: over {MAX_UNKNOWN_NAMES} syscall names libseccomp knows on no arch: not a seccomp profile"
            )
    if not unknown:
        return list(names)
    shown = ", ".join(repr(n) for n in unknown[:MAX_NAMES_NOTED])
    more = f" and {len(unknown) - MAX_NAMES_NOTED} more" if len(unknown) > MAX_NAMES_NOTED else ""
    word = "syscall" if len(unknown) == 1 else "syscalls"
    notes.add(f"{where}: unknown {word} {shown}{more}: libseccomp knows {'it' if len(unknown) == 1 else 'them'} "
              "on no arch; left out")  # fmt: skip
    dropped = set(unknown)
    return [n for n in names if n not in dropped]


def errno_number(value: object, where: str) -> int:
    """An errno given as a number or a name (containers-common writes both)."""
    if isinstance(value, bool):
        raise ProfileError(f"{where}: errno {value!r} is not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and isinstance(getattr(errno_names, value, None), int):
        return int(getattr(errno_names, value))
    raise ProfileError(f"{where}: errno {value!r} is neither a number nor an errno name")


def per_arch_notes(profile: Profile, notes: Notes, fmt: str) -> None:
    """Formats with one rule set for every arch say the union of what each arch allows."""
    sets = {frozenset(names) for names in profile.allowed.values()}
    if len(sets) > 1:
        notes.add(f"{fmt} has no per-arch rules: every name allowed on some arch is allowed on all")
    pinned: dict[tuple[str, ...], list[Rule]] = {}
    for rule in profile.rules:
        if rule.arches is not None and set(rule.arches) != set(profile.arches):
            pinned.setdefault(rule.arches, []).append(rule)
    for arches, rules in pinned.items():
        if len(rules) == 1:
            notes.add(f"{fmt} has no per-arch rules: '{rules[0].describe()}' (for {' '.join(arches)}) applies to all")
        else:  # learned argument rules come per arch, many at once: one line says it
            names = sorted({n for r in rules for n in r.names})
            notes.add(
                f"{fmt} has no per-arch rules: {len(rules)} rules for {' '.join(arches)} apply to all arches "
                f"({' '.join(names)})"
            )


def multiplexer_notes(profile: Profile, notes: Notes, fmt: str) -> None:
    """Argument rules a runtime's libseccomp lets through socketcall(2)/ipc(2) (see
    learn.kernel.multiplexers): the format cannot say "deny them there"."""
    for arch in sorted(set(profile.arches) & MULTIPLEXED_ARCHES):
        names = sorted(
            {n for r in profile.rules if r.args and arch in (r.arches or profile.arches) for n in r.names}
            & set(MULTIPLEXED)
        )
        if names:
            notes.add(
                f"{fmt} cannot deny calls through socketcall(2)/ipc(2): on {arch}, runtimes that hand the rules to "
                f"libseccomp (runc, crun, snap-seccomp) allow {' '.join(names)} there whatever the arguments; "
                "learn's own filters deny them there"
            )


def overlap_notes(profile: Profile, notes: Notes, where: str = "") -> None:
    """Rules that overlap with different actions: the model (and snapd, and learn's own filters)
    takes the most restrictive; libseccomp fed the rules one by one, as runc and crun feed them,
    does not (measured with libseccomp 2.5.4)."""
    names = []
    index = profile.rules_by_name()
    for name in sorted(set(profile.names()) | set(index)):
        for arch in profile.arches:
            rules = [r for r in index.get(name, ()) if r.applies(arch, name, profile.arches)]
            entries = [(Verdict(r.action, r.errno), r.args) for r in rules]
            if name in profile.allowed[arch]:
                entries.append((Verdict(Action.ALLOW, None), ()))
            if overlapping(sorted(entries, key=lambda e: rank(e[0].action))):
                names.append(name)
                break
    if names:
        notes.add(
            f"{where}rules with different actions overlap for {' '.join(names)}: runc and crun hand "
            "them to libseccomp one by one, where the first unconditional rule of a syscall wins and "
            "overlapping conditional ones follow libseccomp's own order; learn applies the most "
            "restrictive rule"
        )
