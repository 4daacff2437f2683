"""The profile a running process is really under: `show --pid`, `dump`, `diff --pid`.

The process's filters are read from the kernel (learn.kernel.ptrace_filters) and decompiled
(learn.bpf): per arch and syscall, the verdict every call gets, stacked filters combined as the
kernel combines them. Threads may hold different filters (a filter loaded without TSYNC applies
to its thread only); each distinct stack is decompiled, the main thread's first.
"""

from __future__ import annotations

from dataclasses import dataclass

from learn.arch import host_abis, native_arch
from learn.bpf.assemble import Decompiled, decompile, normalize
from learn.diff import ProfileDiff, rule_lines
from learn.diff import diff as compare
from learn.kernel.ptrace_filters import MODES, ProcessFilters, read_filters
from learn.model import Action
from learn.profile import Profile
from learn.syscalls import syscall_name


@dataclass(frozen=True)
class Stack:
    tids: tuple[int, ...]
    filters: int  # programs stacked
    programs: tuple[bytes, ...]
    decompiled: Decompiled | None  # None: these threads have no filter


@dataclass(frozen=True)
class Process:
    pid: int
    comm: str
    seccomp_filters: int | None  # what /proc/PID/status says, where it says it
    mode: str  # the main thread's seccomp mode: disabled, strict or filter
    stacks: tuple[Stack, ...]  # the main thread's first

    @property
    def main(self) -> Stack:
        return self.stacks[0]

    restarted: tuple[tuple[int, str], ...] = ()  # (tid, syscall) whose restart the filter denies

    def notes(self) -> list[str]:
        out = list(self.main.decompiled.notes) if self.main.decompiled else []
        for tid, name in self.restarted:
            out.append(
                f"thread {tid} was stopped in {name}, which the kernel resumes through restart_syscall(2); "
                "its filter denies that, so the interrupted call failed (reading filters needs a ptrace "
                "stop: a profile should allow restart_syscall, as Docker's does)"
            )
        if len(self.stacks) > 1:
            others = ", ".join(str(t) for s in self.stacks[1:] for t in s.tids)
            out.append(
                f"threads {others} hold other filters than the main thread {self.pid} "
                f"(see learn show --pid {self.pid}); this is the main thread's"
            )
        return out


def inspect(pid: int) -> Process:
    read: ProcessFilters = read_filters(pid)
    stacks = [
        Stack(tids, len(programs), programs, decompile(programs) if programs else None)
        for tids, programs in read.groups()
    ]
    mode = MODES.get(read.mode, str(read.mode))
    return Process(read.pid, read.comm, read.count, mode, tuple(stacks), _restarted(read, stacks))


# Calls the kernel resumes after a stop through restart_syscall(2) (ERESTART_RESTARTBLOCK).
RESTARTED_BY_BLOCK = frozenset({"nanosleep", "clock_nanosleep", "clock_nanosleep_time64", "poll", "futex"})


def _restarted(read: ProcessFilters, stacks: list[Stack]) -> tuple[tuple[int, str], ...]:
    arch = native_arch()
    out = []
    for thread in read.threads:
        name = syscall_name(arch, thread.blocked_in) if thread.blocked_in is not None else None
        stack = next(s for s in stacks if thread.tid in s.tids)
        profile = stack.decompiled.profile if stack.decompiled is not None else None
        denied = profile is not None and profile.decide(arch, "restart_syscall").action is not Action.ALLOW
        if name in RESTARTED_BY_BLOCK and denied:
            out.append((thread.tid, name))
    return tuple(out)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def profile_lines(profile: Profile) -> list[str]:
    """The profile as `learn show PROFILE` heads its output: allowed names, then rules, per arch."""
    lines = []
    for arch in profile.arches:
        names = profile.allowed.get(arch, ())
        lines.append(f"# {arch}: {len(names)} allowed: {' '.join(names)}")
        lines += [f"# {arch}: {line}" for line in rule_lines(profile, arch)]
    lines.append(f"# default: {profile.default_verdict()}")
    return lines


def show_lines(process: Process) -> list[str]:
    main = process.main
    said = f" (Seccomp_filters: {process.seccomp_filters})" if process.seccomp_filters is not None else ""
    filters = _plural(main.filters, "filter")
    lines = [f"# pid {process.pid} ({process.comm}): seccomp mode {process.mode}, {filters}{said}"]
    for stack in process.stacks:
        if len(process.stacks) > 1:
            lines.append(f"# threads {' '.join(map(str, stack.tids))}: {_plural(stack.filters, 'filter')}")
        if stack.decompiled is None:
            lines.append("# no filter: every call is allowed")
            continue
        lines += profile_lines(stack.decompiled.profile)
        other = stack.decompiled.other_arches
        if other is not None and other != stack.decompiled.profile.default_verdict():
            lines.append(f"# other arches: {other}")
    return lines


def effective(process: Process) -> Profile:
    """The main thread's profile: what `dump` writes and `diff --pid` compares."""
    if process.main.decompiled is None:
        return Profile({}, default_action=Action.ALLOW, default_errno=None)  # nothing confines it
    return process.main.decompiled.profile


def against(process: Process, profile: Profile, process_first: bool) -> tuple[ProfileDiff, list[str]]:
    """What the process's filter and the profile decide differently, on this host's ABIs: both
    in the decompiler's canonical shape around the profile's default, so equal meaning prints
    equal lines; and the notes on the process's side."""
    intended = normalize(profile, host_abis())
    running, notes = effective(process), process.notes()
    if process.main.programs:
        forced = decompile(process.main.programs, intended.default_verdict())
        running = forced.profile
        notes = list(forced.notes) + notes[len(process.main.decompiled.notes if process.main.decompiled else ()) :]
    return (compare(running, intended) if process_first else compare(intended, running)), notes
