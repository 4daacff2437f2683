"""The profile model every format reads and writes: per-arch allowed syscalls, a default."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from learn.model import Action

EPERM = 1


@dataclass(frozen=True)
class Profile:
    """An enforce-mode seccomp profile: allow what was seen, ERRNO(EPERM) for the rest."""

    allowed: Mapping[str, tuple[str, ...]]  # arch -> sorted syscall names
    default_action: Action = Action.ERRNO
    default_errno: int | None = EPERM
    # What the profile was learned from, for the formats that can carry comments.
    provenance: tuple[str, ...] = field(default=())
    incomplete: bool = False  # records were lost: the program may need more than this

    @property
    def arches(self) -> tuple[str, ...]:
        return tuple(sorted(self.allowed))

    def names(self) -> tuple[str, ...]:
        """Every allowed name on any arch: what formats without per-arch rules can say."""
        return tuple(sorted({name for names in self.allowed.values() for name in names}))


def merge(*profiles: Profile) -> Profile:
    allowed: dict[str, set[str]] = {}
    for p in profiles:
        for arch, names in p.allowed.items():
            allowed.setdefault(arch, set()).update(names)
    first = profiles[0]
    return Profile(
        {arch: tuple(sorted(names)) for arch, names in sorted(allowed.items())},
        first.default_action,
        first.default_errno,
        tuple(line for p in profiles for line in p.provenance),
        any(p.incomplete for p in profiles),
    )
