"""`learn enforce` and `learn check`: a profile applied to a real run.

Enforce mode is the profile's default action (ERRNO(EPERM)) with SECCOMP_FILTER_FLAG_LOG, so
the kernel logs every denial; `check` collects those records the way `learn run` collects
its own and reports what was denied. `--complain` allows the profile and logs the rest
(snapd's devmode): the program is not disturbed, and the report is what enforce would deny.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from learn.kernel import features, launch
from learn.kernel.filters import Mode, build_filter, load
from learn.model import Action
from learn.profile import Profile
from learn.select import Selection
from learn.supervise import SOURCE_NAME, Supervised, supervise
from learn.tally import Findings, Tally

DENIALS = frozenset({Action.ERRNO, Action.KILL_THREAD, Action.KILL_PROCESS, Action.TRAP})


@dataclass(frozen=True)
class Installer:
    install: Callable[[], None]
    notes: tuple[str, ...]  # what the user should hear once (e.g. denials will not be logged)


def profile_installer(profile: Profile, *, complain: bool = False) -> Installer:
    """Build the filter in the parent (libseccomp allocates); the child only loads it."""
    notes: list[str] = []
    flag_log = features.flag_log_probe()
    if not complain and not flag_log.ok:
        notes.append(f"{flag_log.message}: denials will not be logged ({flag_log.fix})")
    built = build_filter(profile, mode=Mode.COMPLAIN if complain else Mode.ENFORCE, log_denials=flag_log.ok)
    for arch, names in sorted(built.skipped.items()):
        notes.append(f"{arch} has no {', '.join(names)}: left out of its rules")
    return Installer(lambda: load(built.filter), tuple(notes))


def enforce(argv: Sequence[str], installer: Installer, creds: launch.Credentials | None = None) -> int:
    """Run argv under the filter; its exit status (128+N if killed by signal N)."""
    target = launch.start(argv, installer.install, creds)
    with launch.forwarding(target.pid):
        return launch.wait(target.pid)


@dataclass
class CheckResult:
    run: Supervised
    denied: Findings  # the denied (or, in complain mode, logged) calls of the target


def check(
    argv: Sequence[str],
    installer: Installer,
    *,
    complain: bool = False,
    source: str | None = None,
    creds: launch.Credentials | None = None,
) -> CheckResult:
    tally = Tally([SOURCE_NAME], Selection(actions=frozenset({Action.LOG}) if complain else DENIALS), live=True)
    run = supervise(argv, installer.install, tally.item, source, creds)
    return CheckResult(run, tally.finish())
