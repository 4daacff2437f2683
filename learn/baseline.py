"""The baseline: the few syscalls every learned profile allows on each of its ABIs.

They are the calls a program makes on paths one run rarely shows, and whose denial turns a
recoverable moment into a crash or a hang while protecting nothing (they give no capability):

* `rt_sigreturn` (and `sigreturn` where the ABI has it: x86, arm): a signal handler returns
  through it. Learned from a run where no handler returned, a profile without it turns the
  first SIGTERM handler into a SIGSEGV (exit 139).
* `restart_syscall`: the kernel restarts a sleep interrupted by a stop signal (SIGSTOP, then
  SIGCONT) through it; denied, `sleep` fails with EPERM after a `kill -STOP`/`-CONT`.
* `exit`, `exit_group`: how a thread and a process end. Learned from a run that died by a
  signal, a profile without them makes the first error exit loop on EPERM (Go's runtime) or
  fault (glibc's `_exit` ends in `hlt`).

Every one of them is allowed unconditionally by moby's default profile, snapd's template and
systemd's `@default` set. Nothing else is added (see docs/DESIGN-NOTES.md for what was
considered): a call a run shows on every path is learned, and a call that grants something
is the user's decision, not the learner's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from learn.model import Action
from learn.profile import Profile
from learn.syscalls import syscall_number

BASELINE = ("exit", "exit_group", "restart_syscall", "rt_sigreturn", "sigreturn")


def baseline_for(arch: str) -> tuple[str, ...]:
    """The baseline names this ABI has (sigreturn exists on x86 and arm, not on x86_64)."""
    return tuple(name for name in BASELINE if syscall_number(arch, name) is not None)


def missing(profile: Profile) -> dict[str, tuple[str, ...]]:
    """arch -> baseline names the profile does not allow there (unconditionally or by a rule)."""
    out: dict[str, tuple[str, ...]] = {}
    for arch in profile.arches:
        lacking = tuple(n for n in baseline_for(arch) if profile.decide(arch, n).action is not Action.ALLOW)
        if lacking:
            out[arch] = lacking
    return out


def with_baseline(profile: Profile) -> tuple[Profile, dict[str, tuple[str, ...]]]:
    """profile allowing the baseline on each of its arches, and what was added per arch (names the
    records did not show). The provenance says so; a profile without arches is left as it is."""
    added: dict[str, tuple[str, ...]] = {}
    allowed: dict[str, tuple[str, ...]] = {}
    for arch, names in profile.allowed.items():
        new = tuple(n for n in baseline_for(arch) if n not in names)
        if new:
            added[arch] = new
        allowed[arch] = tuple(sorted({*names, *new}))
    if not profile.allowed:
        return profile, added
    line = provenance_line(profile.allowed, added)
    return replace(profile, allowed=allowed, provenance=(*profile.provenance, line)), added


def provenance_line(allowed: Mapping[str, tuple[str, ...]], added: Mapping[str, tuple[str, ...]]) -> str:
    every = sorted({n for arch in allowed for n in baseline_for(arch)})
    unseen = sorted({n for names in added.values() for n in names})
    line = f"baseline, allowed on every ABI whatever the records show (--no-baseline: none): {' '.join(every)}"
    return line + (f"; not in the records: {' '.join(unseen)}" if unseen else "")
