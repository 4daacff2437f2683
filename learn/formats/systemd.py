"""systemd unit drop-in: `SystemCallFilter=`, `SystemCallArchitectures=`, `SystemCallErrorNumber=`.

What systemd cannot say, and what the writer does instead (each noted):
- argument conditions: a conditional allow becomes an allow by name (issue 9: learned argument
  rules fall back to names, and clone3's ENOSYS, there only for clone's rules, goes with them);
  a conditional denial of an allowed call is lost (systemd allows the call);
- per-arch rules: one name set for all listed arches (the union);
- per-rule actions: an unconditional denial of an allowed name removes it from the list, with
  the default errno; LOG, TRACE, TRAP rules have no counterpart;
- systemd always adds its @default group to an allow list (v256: execve, exit_group, mmap, ...),
  so the unit allows those even where the profile does not;
- calls from an ABI outside SystemCallArchitectures= are killed, not given the default errno.
A LOG default (complain mode) becomes `SystemCallLog=` (systemd >= 247), which logs calls
outside the list and blocks nothing.
"""

from __future__ import annotations

import errno as errno_names
import functools

from learn.errors import ProfileError
from learn.formats.common import (
    HostContext,
    Notes,
    ReadResult,
    WriteResult,
    check_names,
    known_anywhere,
    per_arch_notes,
)
from learn.model import Action
from learn.profile import EPERM, Profile, Rule

CLONE3 = "clone3"  # learn.argrules.CLONE3 (not imported: argrules reads snap-seccomp's names from this package)

# systemd's spelling (seccomp_arch_to_string in src/shared/seccomp-util.c, v256).
SYSTEMD_ARCH = {
    "x86_64": "x86-64",
    "aarch64": "arm64",
    "mips64n32": "mips64-n32",
    "mipsel": "mips-le",
    "mipsel64": "mips64-le",
    "mipsel64n32": "mips64-le-n32",
    "ppc64le": "ppc64-le",
}
ARCH_FROM_SYSTEMD = {v: k for k, v in SYSTEMD_ARCH.items()}

# @default of systemd v256 (syscall_filter_sets[] in src/shared/seccomp-util.c): what systemd
# adds to every allow list.
# fmt: off
SYSTEMD_DEFAULT_GROUP = frozenset({
    "arch_prctl", "brk", "cacheflush", "clock_getres", "clock_getres_time64", "clock_gettime",
    "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64", "execve", "exit",
    "exit_group", "futex", "futex_time64", "futex_waitv", "get_robust_list", "get_thread_area",
    "getegid", "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups",
    "getgroups32", "getpgid", "getpgrp", "getpid", "getppid", "getrandom", "getresgid",
    "getresgid32", "getresuid", "getresuid32", "getrlimit", "getsid", "gettid", "gettimeofday",
    "getuid", "getuid32", "membarrier", "mmap", "mmap2", "mprotect", "munmap", "nanosleep",
    "pause", "prlimit64", "restart_syscall", "riscv_flush_icache", "riscv_hwprobe", "rseq",
    "rt_sigreturn", "sched_getaffinity", "sched_yield", "set_robust_list", "set_thread_area",
    "set_tid_address", "set_tls", "sigreturn", "time", "ugetrlimit",
})
# fmt: on


@functools.cache
def _default_known() -> tuple[str, ...]:
    return tuple(n for n in sorted(SYSTEMD_DEFAULT_GROUP) if known_anywhere(n))


def _errno_name(number: int) -> str:
    return errno_names.errorcode.get(number, str(number))


def _wrap(key: str, words: list[str], width: int = 100) -> list[str]:
    """One assignment per line group; systemd adds up repeated SystemCallFilter= lines."""
    lines, current = [], f"{key}="
    for word in words:
        if len(current) + len(word) + 1 > width and not current.endswith("="):
            lines.append(current)
            current = f"{key}="
        current += ("" if current.endswith("=") else " ") + word
    return [*lines, current]


def write_result(profile: Profile) -> WriteResult:
    notes = Notes()
    per_arch_notes(profile, notes, "systemd")
    denied: set[str] = set()
    by_name: set[str] = set()  # conditional allows: allowed by name instead
    lost: set[str] = set()  # conditional denials of allowed calls: allowed instead
    checked = {n for r in profile.rules if r.args and r.action is Action.ALLOW for n in r.names}
    for rule in profile.rules:
        if rule.names == (CLONE3,) and not rule.args and "clone" in checked:
            # clone3 gets ENOSYS only so that libc falls back to an argument-checked clone; with clone
            # allowed by name that buys nothing, and systemd's errno would stop thread creation.
            by_name.add(CLONE3)
            continue
        if rule.args:
            if rule.action is Action.ALLOW:
                by_name.update(rule.names)
            elif set(rule.names) & set(profile.names()):
                lost.update(set(rule.names) & set(profile.names()))
        elif rule.action is Action.ALLOW:
            notes.add(f"'{rule.describe()}' holds for some arches only: left out")
        elif rule.action is not Action.LOG:
            denied.update(rule.names)
            if rule.errno != profile.default_verdict().errno:
                notes.add(f"'{rule.describe()}' gets the default, {profile.default_verdict()}, instead")
        else:
            notes.add(f"systemd has no LOG rules: '{rule.describe()}' left out")
    by_name -= set(profile.names())
    if by_name:
        notes.add(
            "systemd has no argument conditions: calls allowed only for some arguments are allowed by name: "
            + " ".join(sorted(by_name))
        )
    if lost:
        notes.add(
            "systemd has no argument conditions: these are allowed whatever their arguments: " + " ".join(sorted(lost))
        )
    names = sorted(n for n in {*profile.names(), *by_name} if n not in denied)
    extra = sorted(SYSTEMD_DEFAULT_GROUP - set(names))
    lines = [f"# {line}" for line in profile.provenance]
    if profile.incomplete:
        lines.append("# INCOMPLETE: records were lost while learning; the program may need more")
    lines += ["# systemd unit drop-in: put it in /etc/systemd/system/UNIT.d/seccomp.conf", "[Service]"]
    default = profile.default_verdict()
    if default.action is Action.LOG:
        lines += _wrap("SystemCallLog", ["~", *names]) if names else ["SystemCallLog=~"]
    elif default.action is Action.ALLOW:
        notes.add("default allow: only the denials are written, as a deny list")
        lines += _wrap("SystemCallFilter", ["~", *sorted(denied)]) if denied else []
    else:
        if extra:
            notes.add(f"systemd always allows its @default group too: {' '.join(extra)}")
        lines += _wrap("SystemCallFilter", names or ["@default"])
        if default.action is Action.ERRNO:
            lines.append(f"SystemCallErrorNumber={_errno_name(default.errno or EPERM)}")
        elif default.action not in (Action.KILL_PROCESS, Action.KILL_THREAD):
            notes.add(f"systemd has no {default.action.value} default: it kills the process (SIGSYS)")
    if profile.arches:
        lines.append("SystemCallArchitectures=" + " ".join(SYSTEMD_ARCH.get(a, a) for a in profile.arches))
    # What the drop-in does not say goes into it too, where the next reader will look.
    service = lines.index("[Service]")
    lines[service:service] = [f"# not expressed: {note}" for note in notes.lines]
    return WriteResult("\n".join(lines) + "\n", tuple(notes.lines))


def write(profile: Profile) -> str:
    return write_result(profile).text


def _errno(value: str, where: str) -> int | None:
    """SystemCallErrorNumber= or a `:errno` suffix: a number, a name, or kill (None)."""
    if value in ("", "kill"):
        return None
    number = int(value) if value.isdigit() else getattr(errno_names, value, None)
    if not isinstance(number, int) or not 0 <= number <= 4095:
        raise ProfileError(f"{where}: {value!r} is not an errno")
    return number


def read(text: str, source: str, context: HostContext, strict: bool = False) -> ReadResult:
    """The [Service] settings the writer writes. The first SystemCallFilter= decides between an
    allow list (plus @default, as systemd adds it) and a deny list; later ones add and remove."""
    notes = Notes()
    allow_list: bool | None = None
    listed: dict[str, int | None] = {}  # name -> errno of a `~name:errno` in an allow list
    errno: int | None = None
    arches: list[str] = []
    logged: list[str] | None = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        key, _, value = raw.strip().partition("=")
        where, words = f"{source}:{lineno}", value.split()
        if key == "SystemCallFilter" and words:
            invert = words[0].startswith("~")
            if allow_list is None:
                allow_list = not invert
                if allow_list:
                    listed = dict.fromkeys(_default_known())
            for word in (w for w in (words[0].removeprefix("~"), *words[1:]) if w):
                name, _, err = word.partition(":")
                if name.startswith("@") and name != "@default":
                    raise ProfileError(f"{where}: systemd group {name} is not supported here; list the syscalls")
                adding = invert != allow_list  # an allow list's names, a deny list's ~names
                denying = (adding and not allow_list) or (not adding and bool(err))
                action = Action.ERRNO if denying else Action.ALLOW
                # systemd skips the names of its own groups that libseccomp lacks; so do we, quietly.
                group = _default_known() if name == "@default" else check_names([name], action, where, strict, notes)
                for n in group:
                    if adding:
                        listed[n] = _errno(err, where) if err else None
                    elif err:
                        listed[n] = _errno(err, where)  # an allow list's `~name:errno`: that errno
                    else:
                        listed.pop(n, None)
        elif key == "SystemCallErrorNumber":
            errno = _errno(value, where)
        elif key == "SystemCallArchitectures":
            arches = [context.arch if w == "native" else ARCH_FROM_SYSTEMD.get(w, w) for w in words]
        elif key == "SystemCallLog":
            logged = [w.removeprefix("~") for w in words if w != "~"]
    default = Action.ERRNO if errno is not None else Action.KILL_PROCESS
    rules: list[Rule] = []
    if allow_list is None:  # no filter: at most a complain-mode log
        default, allowed = (Action.LOG if logged is not None else Action.ALLOW), sorted(logged or [])
    elif allow_list:
        allowed = sorted(n for n, e in listed.items() if e is None)
        rules = [Rule((n,), Action.ERRNO, e) for n, e in listed.items() if e is not None]
    else:
        allowed = []
        rules = [Rule((n,), Action.ERRNO if (e or errno) is not None else Action.KILL_PROCESS, e or errno)
                 for n, e in listed.items()]  # fmt: skip
        default = Action.ALLOW
    profile = Profile(
        {arch: tuple(allowed) for arch in sorted(set(arches or context.abis))},
        default,
        errno if default is Action.ERRNO else None,
        provenance=(f"read from {source} (systemd)",),
        rules=tuple(rules),
    )
    return ReadResult(profile, "systemd", tuple(notes.lines))
