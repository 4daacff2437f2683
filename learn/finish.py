"""What `run` and `suggest` do to a learned profile before writing it: add the baseline, drop
the names the user denied (`--deny`), and say so."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from learn.baseline import with_baseline
from learn.errors import UsageError
from learn.formats.common import known_anywhere
from learn.model import Action
from learn.profile import Profile


@dataclass(frozen=True)
class Finished:
    profile: Profile
    notes: list[str] = field(default_factory=list)  # one line each, for the summary
    baseline_added: dict[str, tuple[str, ...]] = field(default_factory=dict)
    denied: tuple[str, ...] = ()  # names --deny removed from the profile


def check_denied(names: Sequence[str]) -> tuple[str, ...]:
    """--deny values, checked before any work: a typo must not pass for a removal."""
    for name in names:
        if not known_anywhere(name):
            raise UsageError(f"--deny {name!r}: libseccomp knows no such syscall", "e.g. --deny ptrace")
    return tuple(dict.fromkeys(names))


def finish(
    profile: Profile, *, baseline: bool = True, deny: Sequence[str] = (), still_running: Sequence[str] = ()
) -> Finished:
    notes: list[str] = []
    if still_running:
        line = (
            f"POSSIBLY INCOMPLETE: processes still running when learning stopped (--until-exit): "
            f"{', '.join(still_running)}; what they did afterwards is not in the profile"
        )
        profile = replace(profile, provenance=(*profile.provenance, line))
    added: dict[str, tuple[str, ...]] = {}
    if baseline:
        profile, added = with_baseline(profile)
        unseen = sorted({n for names in added.values() for n in names})
        if unseen:
            notes.append(
                f"baseline: allowed though not in the records: {' '.join(unseen)} "
                "(signal handlers return, restarted sleeps and exits need them; --no-baseline leaves them out)"
            )
    removed: list[str] = []
    argument_checked = {n for r in profile.rules if r.action is Action.ALLOW for n in r.names}
    for name in check_denied(deny):
        if name in argument_checked or any(name in names for names in profile.allowed.values()):
            removed.append(name)
        else:
            notes.append(f"--deny {name}: not in the profile; nothing removed")
    if removed:
        allowed = {arch: tuple(n for n in names if n not in removed) for arch, names in profile.allowed.items()}
        rules = [  # an allow for some arguments (--args) goes too
            r if r.action is not Action.ALLOW else replace(r, names=tuple(n for n in r.names if n not in removed))
            for r in profile.rules
            if r.action is not Action.ALLOW or set(r.names) - set(removed)
        ]
        line = f"removed by --deny (the program made these calls; it gets EPERM now): {' '.join(removed)}"
        profile = replace(profile, allowed=allowed, rules=tuple(rules), provenance=(*profile.provenance, line))
        notes.append(line)
    return Finished(profile, notes, added, tuple(removed))
