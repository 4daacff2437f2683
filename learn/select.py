"""Which events the user asked for: --exe, --comm, --pid, --uid, --snap, --since, --action."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from learn.model import Action, SeccompEvent

DEFAULT_ACTIONS = frozenset({Action.LOG})


@dataclass(frozen=True)
class Selection:
    exes: frozenset[str] = frozenset()
    comms: frozenset[str] = frozenset()
    pids: frozenset[int] = frozenset()
    uids: frozenset[int] = frozenset()
    snap: str | None = None
    since: float | None = None
    until: float | None = None
    actions: frozenset[Action] = field(default=DEFAULT_ACTIONS)

    def matches(self, e: SeccompEvent) -> bool:
        if e.action not in self.actions:
            return False
        if self.exes and e.exe not in self.exes:
            return False
        if self.comms and e.comm not in self.comms:
            return False
        if self.pids and e.pid not in self.pids:
            return False
        if self.uids and e.uid not in self.uids:
            return False
        if self.snap is not None and not _belongs_to_snap(e, self.snap):
            return False
        if self.since is not None and (e.timestamp is None or e.timestamp < self.since):
            return False
        return not (self.until is not None and (e.timestamp is None or e.timestamp > self.until))

    def predicate(self) -> Callable[[SeccompEvent], bool]:
        """matches, or a cheaper test when only --action narrows the selection."""
        if self == Selection(actions=self.actions):
            actions = self.actions
            return lambda e: e.action in actions
        return self.matches


def _belongs_to_snap(e: SeccompEvent, snap: str) -> bool:
    """A snap's processes carry its AppArmor label snap.NAME.* or run from /snap/NAME/."""
    label = (e.subj or "").split(" ", 1)[0]
    if label == f"snap.{snap}" or label.startswith(f"snap.{snap}."):
        return True
    return e.exe is not None and e.exe.startswith(f"/snap/{snap}/")
