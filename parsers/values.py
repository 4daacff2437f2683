"""Values of a SECCOMP record that the kernel writes in one way only, and what breaks them."""

from __future__ import annotations

from learn.model import ACTION_BY_RET, RET_ACTION_MASK, RET_DATA_MASK, Action, ProblemKind

_DATA_ACTIONS = (Action.ERRNO, Action.TRAP, Action.TRACE)


class BadRecord(Exception):
    def __init__(self, kind: ProblemKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def decode_code(value: int) -> tuple[Action, int | None]:
    """The action and its data from code=; a value the kernel cannot write is a cut record."""
    action = ACTION_BY_RET.get(value & RET_ACTION_MASK)
    data = value & RET_DATA_MASK
    if action is None or (data and action not in _DATA_ACTIONS) or (action is Action.ERRNO and data > 4095):
        raise BadRecord(ProblemKind.TRUNCATED, f"code=0x{value:x} is no seccomp action (record cut short?)")
    # The kernel logs the action without its data, so errno is known only if a record has it.
    return action, (data or None) if action is Action.ERRNO else None
