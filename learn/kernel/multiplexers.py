"""socketcall(2) and ipc(2): argument rules that must not be bypassed through a multiplexer.

On x86 (and s390, ppc, 32-bit mips) socket(2) can also be called as socketcall(SYS_SOCKET,
&args), and semctl(2) as ipc(SEMCTL, ...). Through the multiplexer the call's arguments sit
behind a pointer seccomp cannot read. libseccomp 2.5.4, given a rule for socket(2) on x86,
adds it to socketcall(2) too with a0 made the call number and the rule's own a0 condition
dropped: `socket if a0 == AF_UNIX` then also allows socketcall(SYS_SOCKET, AF_INET).

learn takes the safe side. A call whose rules have argument conditions gets, through the
multiplexer, the most restrictive verdict its rules or the default can give (a rule's on a
tie): `socket if a0 == AF_UNIX` leaves socketcall(SYS_SOCKET, ...) denied as the default
denies. glibc calls the socket syscalls directly on kernels >= 4.3, so only old or hand-written
32-bit code meets this. Direct calls keep their rules exactly.

libseccomp cannot say that in one filter: a rule whose action is the filter's default is
refused (EACCES), and its own copy of the direct call's rule on the multiplexer cannot be
removed. So the filter libseccomp builds keeps the multiplexer at the least restrictive verdict
of the call's rules (`V if a0 == call`, which keeps its copies, of any verdict, from colliding),
and a short guard goes in front of libseccomp's program: `arch == x86 && nr == socketcall &&
a0 == SYS_SOCKET: return V`. It is plain classic BPF; libseccomp's jumps are relative, so its
program runs unchanged after the guard.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from learn.arch import AUDIT_ARCH_BY_NAME
from learn.lowering import Lowered
from learn.profile import Arg, Op, Verdict, rank
from learn.syscalls import syscall_number

# The ABIs with a multiplexer libseccomp knows about.
MULTIPLEXED_ARCHES = frozenset({"x86", "s390", "s390x", "ppc", "ppc64", "ppc64le", "mips", "mipsel"})
# fmt: off
_SOCKETCALLS = (  # linux/net.h: SYS_SOCKET = 1 ...
    "socket", "bind", "connect", "listen", "accept", "getsockname", "getpeername", "socketpair",
    "send", "recv", "sendto", "recvfrom", "shutdown", "setsockopt", "getsockopt", "sendmsg",
    "recvmsg", "accept4", "recvmmsg", "sendmmsg",
)
_IPC_CALLS = {  # linux/ipc.h
    "semop": 1, "semget": 2, "semctl": 3, "semtimedop": 4, "msgsnd": 11, "msgrcv": 12, "msgget": 13,
    "msgctl": 14, "shmat": 21, "shmdt": 22, "shmget": 23, "shmctl": 24,
}
# fmt: on
# name -> (the multiplexer, the call's number there)
MULTIPLEXED: dict[str, tuple[str, int]] = {n: ("socketcall", i) for i, n in enumerate(_SOCKETCALLS, 1)} | {
    n: ("ipc", nr) for n, nr in _IPC_CALLS.items()
}

_AUDIT_ARCH_LE = 0x40000000  # <linux/audit.h>: the ABI is little-endian
_INSN = struct.Struct("=HBBI")  # struct sock_filter, native byte order
_LD_ABS, _JEQ, _RET = 0x20, 0x15, 0x06  # BPF_LD|BPF_W|BPF_ABS, BPF_JMP|BPF_JEQ|BPF_K, BPF_RET|BPF_K
_NR, _ARCH, _ARG0 = 0, 4, 16  # offsets in struct seccomp_data


@dataclass(frozen=True, order=True)
class Guard:
    """`arch == ARCH && nr == MUX && low word of a0 == CALL: return RET`, before libseccomp's filter."""

    arch: str
    mux: str
    call: int
    name: str  # the multiplexed call, for people
    verdict: Verdict

    def __str__(self) -> str:
        return f"{self.arch}: {self.mux}(a0 == {self.call}, i.e. {self.name}): {self.verdict}"


def through_multiplexers(
    arch: str, rules: list[tuple[str, Lowered]], default: Verdict
) -> tuple[list[tuple[str, Lowered]], list[Guard]]:
    """The rules for libseccomp, and the guards that give multiplexed calls the safe verdict.

    For each call whose rules have conditions, the multiplexer gets one rule first, `V if a0 ==
    call` with V the least restrictive verdict of the rules; libseccomp's copies, each made
    longer than it by an always-true condition where needed, then add nothing there
    (libseccomp keeps the shorter chain of two) and cannot collide with each other (EEXIST).
    The guard overrides V with the safe verdict where they differ."""
    out: list[tuple[str, Lowered]] = []
    guards: list[Guard] = []
    for name in dict.fromkeys(n for n, _ in rules):
        lows = [low for n, low in rules if n == name]
        if name not in MULTIPLEXED or not any(low.args for low in lows):
            out += [(name, low) for low in lows]
            continue
        mux, call = MULTIPLEXED[name]
        loosest = max((low.verdict for low in lows), key=lambda v: rank(v.action))
        safest = min([*(low.verdict for low in lows), default], key=lambda v: rank(v.action))
        out.append((mux, Lowered(loosest, (Arg(0, Op.EQ, call),))))
        if safest != loosest:
            guards.append(Guard(arch, mux, call, name, safest))
        for low in lows:
            if all(a.index == 0 for a in low.args):
                # GE 0, not MASKED_EQ(0, 0): libseccomp folds a zero mask away, and the copy
                # would then be as short as the multiplexer's rule and collide with it.
                free = max(set(range(6)) - {a.index for a in low.args})
                low = Lowered(low.verdict, (*low.args, Arg(free, Op.GE, 0)))
            out.append((name, low))
    return out, guards


def notes(arch: str, guards: Sequence[Guard], allowed: Sequence[str]) -> list[str]:
    if not guards:
        return []
    calls = ", ".join(f"{g.name}: {g.verdict}" for g in guards)
    out = [
        f"{arch}: through socketcall(2)/ipc(2) seccomp cannot read a call's arguments, so calls with "
        f"argument conditions get their most restrictive verdict there ({calls}); direct calls get "
        "their rules exactly"
    ]
    for mux in sorted({g.mux for g in guards} & set(allowed)):
        bypassed = ", ".join(g.name for g in guards if g.mux == mux)
        out.append(f"{arch}: the profile allows {mux} itself, which bypasses the conditions of {bypassed}")
    return out


def guard_program(guards: Sequence[Guard], rets: Mapping[Verdict, int]) -> bytes:
    """Classic BPF that returns each guard's verdict for its calls and falls through otherwise."""
    insns: list[tuple[int, int, int, int]] = []
    for arch in sorted({g.arch for g in guards}):
        token = AUDIT_ARCH_BY_NAME[arch]
        arg0_low = _ARG0 if token & _AUDIT_ARCH_LE else _ARG0 + 4
        body: list[tuple[int, int, int, int]] = []
        for mux in sorted({g.mux for g in guards if g.arch == arch}):
            nr = syscall_number(arch, mux)
            if nr is None:
                continue
            calls: list[tuple[int, int, int, int]] = [(_LD_ABS, 0, 0, arg0_low)]
            for g in sorted(g for g in guards if g.arch == arch and g.mux == mux):
                calls += [(_JEQ, 0, 1, g.call), (_RET, 0, 0, rets[g.verdict])]
            body += [(_LD_ABS, 0, 0, _NR), (_JEQ, 0, len(calls), nr), *calls]
        insns += [(_LD_ABS, 0, 0, _ARCH), (_JEQ, 0, len(body), token), *body]
    return b"".join(_INSN.pack(*insn) for insn in insns)
