"""`learn enforce` and `learn check`: a profile applied to a real run.

Enforce mode is the profile's default action (ERRNO(EPERM)) with SECCOMP_FILTER_FLAG_LOG, so
the kernel logs every denial; `check` collects those records the way `learn run` collects
its own and reports what was denied. `--complain` allows the profile and logs the rest
(snapd's devmode): the program is not disturbed, and the report is what enforce would deny.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from learn.argrules import CLONE3, ENOSYS
from learn.compiled import UNRESTRICTED_NOTE, load_compiled, unrestricted
from learn.kernel import features, launch
from learn.kernel.bpf import load_bpf
from learn.kernel.filters import Mode, build_filter, install, require_host_abi
from learn.model import Action, Item, SeccompEvent
from learn.profile import Profile
from learn.select import Selection
from learn.supervise import SOURCE_NAME, Supervised, supervise
from learn.tally import Findings, Tally

DENIALS = frozenset({Action.ERRNO, Action.KILL_THREAD, Action.KILL_PROCESS, Action.TRAP})
_ANSWERED = frozenset({Action.ERRNO, Action.LOG})  # clone3's ENOSYS, enforced or (--complain) logged


@dataclass(frozen=True)
class Installer:
    install: Callable[[], None]
    notes: tuple[str, ...]  # what the user should hear once (e.g. denials will not be logged)


def profile_installer(profile: Profile, *, complain: bool = False) -> Installer:
    """Build the filter in the parent (libseccomp allocates); the child only loads it."""
    if unrestricted(profile):
        return Installer(_no_filter, (UNRESTRICTED_NOTE,))
    require_host_abi(profile)
    notes: list[str] = []
    flag_log = features.flag_log_probe()
    if not complain and not flag_log.ok:
        notes.append(f"{flag_log.message}: denials will not be logged ({flag_log.fix})")
    built = build_filter(profile, mode=Mode.COMPLAIN if complain else Mode.ENFORCE, log_denials=flag_log.ok)
    for arch, names in sorted(built.skipped.items()):
        notes.append(f"{arch} has no {', '.join(names)}: left out of its rules")
    notes += built.notes
    return Installer(lambda: install(built), tuple(notes))


def compiled_installer(path: str) -> Installer:
    """Load the BPF at path once learn.compiled vouches it is its source's build; denials are
    logged where the kernel can (probed here, never taken from the sidecar)."""
    flag_log = features.flag_log_probe()
    compiled = load_compiled(path, log_denials=flag_log.ok)
    if compiled.unrestricted:
        return Installer(_no_filter, (f"{path}: {UNRESTRICTED_NOTE}",))
    notes = () if flag_log.ok else (f"{flag_log.message}: denials will not be logged ({flag_log.fix})",)
    program = compiled.program
    return Installer(lambda: load_bpf(program, log=flag_log.ok), notes)


def _no_filter() -> None:
    """snap-confine loads nothing for @unrestricted; neither does learn (nor no_new_privs)."""


def enforce(argv: Sequence[str], installer: Installer, creds: launch.Credentials | None = None) -> int:
    """Run argv under the filter; its exit status (128+N if killed by signal N)."""
    with launch.signal_policy() as signals:
        target = launch.start(argv, installer.install, creds, signals.running)
        signals.running(target.pid)
        return launch.wait(target.pid, signals)


@dataclass
class CheckResult:
    run: Supervised
    denied: Findings  # the denied (or, in complain mode, logged) calls of the target
    clone3_enosys: int = 0  # clone3 calls answered ENOSYS: the argument rules' fallback, not a denial


def check(
    argv: Sequence[str],
    installer: Installer,
    *,
    complain: bool = False,
    source: str | None = None,
    creds: launch.Credentials | None = None,
    args: bool = False,
    profile: Profile | None = None,
    until_exit: bool = False,
) -> CheckResult:
    """args: audit rules for the session give the denied calls' arguments (learn.kernel.auditrules).
    profile: the checked profile, to tell its clone3 ENOSYS answer from denials (records say
    ERRNO without the errno)."""
    enosys = {a for a in profile.arches if profile.decide(a, CLONE3) == (Action.ERRNO, ENOSYS)} if profile else set()
    selection = Selection(actions=frozenset({Action.LOG}) if complain else DENIALS)
    tally = Tally([SOURCE_NAME], selection, live=True, args=args)
    fallbacks = 0

    def item(one: Item) -> None:
        nonlocal fallbacks
        # A profile with argument rules answers clone3 ENOSYS on purpose (learn.arglearn): libc
        # then calls clone, whose flags the rules check. The program is not denied anything.
        if type(one) is SeccompEvent and one.syscall == CLONE3 and one.arch in enosys and one.action in _ANSWERED:
            fallbacks += 1
            return
        tally.item(one)

    run = supervise(argv, installer.install, item, source, creds, args=args, follow_tree=not until_exit)
    return CheckResult(run, tally.finish(), fallbacks)
