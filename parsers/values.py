"""Values of a SECCOMP record that the kernel writes in one way only, and what breaks them.

Every parsing path (the general tokenizer, the fast line decoder, the bulk counter) asks
these same questions, so that all of them give one answer on every input.
"""

from __future__ import annotations

from learn.model import ACTION_BY_RET, RET_ACTION_MASK, RET_DATA_MASK, Action, ProblemKind

_DATA_ACTIONS = (Action.ERRNO, Action.TRAP, Action.TRACE)
U32 = 0xFFFFFFFF  # auid uid gid ses pid arch code: the kernel writes 32-bit values
U64 = (1 << 64) - 1  # ip
NO_SYSCALL = -1  # what seccomp reports for a syscall a tracer skipped


class BadRecord(Exception):
    def __init__(self, kind: ProblemKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def syscall_in_range(nr: int) -> bool:
    """A syscall= value the kernel can write: 32 bits (x32 numbers keep bit 30), or -1."""
    return 0 <= nr <= U32 or nr == NO_SYSCALL


def decode_code(value: int) -> tuple[Action, int | None]:
    """The action and its data from code=; a value the kernel cannot write is a cut record."""
    if not 0 <= value <= U32:
        raise BadRecord(ProblemKind.MALFORMED, f"code=0x{value:x} is out of range")
    action = ACTION_BY_RET.get(value & RET_ACTION_MASK)
    data = value & RET_DATA_MASK
    if action is None or (data and action not in _DATA_ACTIONS) or (action is Action.ERRNO and data > 4095):
        raise BadRecord(ProblemKind.TRUNCATED, f"code=0x{value:x} is no seccomp action (record cut short?)")
    # The kernel logs the action without its data, so errno is known only if a record has it.
    return action, (data or None) if action is Action.ERRNO else None
