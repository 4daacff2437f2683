"""Seccomp BPF programs back to what they decide: per arch and syscall, each verdict's arguments.

Each program runs, as the kernel would run it, for every syscall number of every arch it checks,
with the arguments left symbolic: a conditional jump on an argument word follows both ways, each
path keeping the set of argument values that take it (learn.bpf.argsets). A path's return value
then holds for exactly that set. This needs no knowledge of who generated the program
(libseccomp's 64-bit comparisons are two 32-bit ones, high word first; a hand-written filter may
test bits with JSET or mask with AND): any classic BPF the kernel accepts for seccomp is read,
except arithmetic on argument words other than AND, which no filter generator emits.

Stacked filters combine as the kernel combines them (kernel/seccomp.c, seccomp_run_filters): every
filter runs, the action with the lowest signed value (the most restrictive) wins, and among equal
actions the most recently installed filter's return value (its errno) counts.
"""

from __future__ import annotations

import heapq
import sys
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from learn.arch import AUDIT_ARCH_BY_NAME, NAME_BY_AUDIT_ARCH, X32_SYSCALL_BIT, host_abis
from learn.bpf.argsets import FALSE, TRUE, Cmp, Sets
from learn.bpf.interpret import (
    ABS,
    ALU,
    DATA_SIZE,
    IMM,
    JEQ,
    JGE,
    JGT,
    JMP,
    JSET,
    LD,
    LDX,
    LEN,
    MEM,
    MISC,
    RET,
    RET_A,
    SRC_X,
    ST,
    STX,
    TAX,
    W,
    decode,
)
from learn.errors import LearnError
from learn.model import ACTION_BY_RET, Action
from learn.profile import ARCHES_32, Verdict
from learn.syscalls import syscall_name

_U32 = 0xFFFFFFFF
_NR, _ARCH, _IP_LO, _IP_HI, _ARGS = 0, 4, 8, 12, 16
_BIG_ENDIAN = sys.byteorder == "big"
MAX_STATES = 4096  # register states meeting at one instruction: no generator comes near
MAX_ERRNO = 4095  # the kernel caps SECCOMP_RET_ERRNO's data here
NO_ARCH = 0  # no AUDIT_ARCH_* is 0: what a call from an arch the filter does not check meets
_ALU_OPS = {0x00: "add", 0x10: "sub", 0x20: "mul", 0x30: "div", 0x40: "or", 0x60: "lsh", 0x70: "rsh"}
_ALU_OPS |= {0x80: "neg", 0x90: "mod", 0xA0: "xor"}

Partition = dict[int, int]  # SECCOMP_RET_* value -> the argument set (argsets node) that gets it
Insn = tuple[int, int, int, int]


class DecompileError(LearnError):
    """A program the decompiler cannot read (the kernel would have refused most of them)."""

    hint = "the filter uses BPF no seccomp filter generator emits; `learn dump --format bpf` is not possible"


@dataclass(frozen=True)
class Word:
    """The accumulator holds (argument word & mask), not a number."""

    index: int  # argument 0..5
    shift: int  # 0: the low 32 bits, 32: the high ones
    mask: int = _U32


Value = int | Word


@dataclass
class Reads:
    """What the programs looked at besides the syscall number, arch and arguments."""

    instruction_pointer: bool = False
    high_words_of_32bit_abis: bool = False


def arch_tokens(programs: Sequence[bytes]) -> list[int]:
    """AUDIT_ARCH_* values the programs compare with: the arches they check."""
    found: dict[int, None] = {}
    for prog in programs:
        for code, _, _, k in decode(prog):
            if code & 0x07 == JMP and not code & SRC_X and k in NAME_BY_AUDIT_ARCH:
                found[k] = None
    return list(found)


def arch_numbers(arch: str) -> dict[int, str]:
    """Every syscall number libseccomp names on arch (x32's with X32_SYSCALL_BIT set)."""
    base = X32_SYSCALL_BIT if arch == "x32" else 0
    names = {base + n: syscall_name(arch, base + n) for n in range(1024)}
    return {nr: name for nr, name in names.items() if name is not None}


def evaluate_arches(programs: Sequence[bytes]) -> tuple[list[str], bool]:
    """The arches to evaluate, and whether the programs check the arch at all."""
    tokens = arch_tokens(programs)
    checked = bool(tokens)
    if not tokens:
        tokens = list(dict.fromkeys(AUDIT_ARCH_BY_NAME["x86_64" if a == "x32" else a] for a in host_abis()))
    arches: list[str] = []
    for token in tokens:
        name = NAME_BY_AUDIT_ARCH[token]
        arches += [name, "x32"] if name == "x86_64" else [name]
    return list(dict.fromkeys(arches)), checked


def token_of(arch: str) -> int:
    return AUDIT_ARCH_BY_NAME["x86_64" if arch == "x32" else arch]


def jump_targets(prog: Sequence[Insn]) -> frozenset[int]:
    """Instructions more than one path may reach: where explore merges the paths."""
    out: set[int] = set()
    for pc, (code, jt, jf, k) in enumerate(prog):
        if code & 0x07 == JMP:
            out |= {pc + 1 + k} if code & 0xF0 == 0x00 else {pc + 1 + jt, pc + 1 + jf}
    return frozenset(out)


State = tuple[Value, Value, tuple[Value, ...]]  # A, X, the scratch memory


def explore(sets: Sets, prog: list[Insn], nr: int, arch: str, reads: Reads, targets: frozenset[int]) -> Partition:
    """The program's return values for syscall nr from arch (a libseccomp name, or "" for an
    arch it does not check), each with the argument values that get it.

    Jumps only go forward, so paths are followed in the order of the instructions they reach,
    and paths that meet at a jump target with the same registers go on as one (their argument
    sets united): libseccomp's rule chains would otherwise multiply into thousands of paths."""
    token = token_of(arch) if arch else NO_ARCH
    narrow = arch in ARCHES_32
    out: Partition = {}
    waiting: dict[int, dict[State, int]] = {}
    order: list[int] = []

    def reach(pc: int, state: State, cond: int) -> None:
        if not 0 <= pc < len(prog):
            raise DecompileError(f"the filter jumps to instruction {pc}, outside its {len(prog)}")
        states = waiting.get(pc)
        if states is None:
            states = waiting[pc] = {}
            heapq.heappush(order, pc)
        states[state] = sets.either(states.get(state, FALSE), cond)
        if len(states) > MAX_STATES:
            raise DecompileError(f"the filter keeps over {MAX_STATES} states at instruction {pc} for syscall {nr}")

    reach(0, (0, 0, (0,) * 16), TRUE)
    while order:
        start = heapq.heappop(order)
        for (a, x, mem), cond in waiting.pop(start).items():
            pc = start
            while True:
                if pc != start and pc in targets:
                    reach(pc, (a, x, mem), cond)
                    break
                if not 0 <= pc < len(prog):
                    raise DecompileError(f"the filter runs past its last instruction ({len(prog)})")
                code, jt, jf, k = prog[pc]
                pc += 1
                cls, op, mode = code & 0x07, code & 0xF0, code & 0xE0
                if cls == LD and mode == ABS and code & 0x18 == W:
                    a = _load(k, nr, token, narrow, reads)
                elif cls in (LD, LDX) and mode in (IMM, MEM, LEN) and (mode != MEM or k < 16):
                    value = mem[k] if mode == MEM else DATA_SIZE if mode == LEN else k
                    a, x = (value, x) if cls == LD else (a, value)
                elif cls in (ST, STX) and k < 16:
                    mem = (*mem[:k], a if cls == ST else x, *mem[k + 1 :])
                elif cls == ALU:
                    result = _alu(op, a, x if code & SRC_X else k, pc - 1)
                    if result is None:  # division by zero: the kernel returns 0, KILL_THREAD
                        out[0] = sets.either(out.get(0, FALSE), cond)
                        break
                    a = result
                elif cls == JMP:
                    if op == 0x00:
                        reach(pc + k, (a, x, mem), cond)
                        break
                    taken = _test(sets, op, a, x if code & SRC_X else k, pc - 1)
                    if isinstance(taken, bool):
                        reach(pc + (jt if taken else jf), (a, x, mem), cond)
                        break
                    yes, no = sets.both(cond, taken), sets.minus(cond, taken)
                    for target, when in ((pc + jt, yes), (pc + jf, no)):
                        if when != FALSE:
                            reach(target, (a, x, mem), when)
                    break
                elif cls == RET:
                    ret = a if code & RET_A else k
                    if isinstance(ret, Word):
                        raise DecompileError(f"instruction {pc - 1} returns an argument word as the verdict")
                    out[ret] = sets.either(out.get(ret, FALSE), cond)
                    break
                elif cls == MISC:
                    a, x = (a, a) if op == TAX else (x, x)
                else:
                    raise DecompileError(f"opcode {code:#06x} at instruction {pc - 1} is not seccomp BPF")
    return out


def _load(k: int, nr: int, token: int, narrow: bool, reads: Reads) -> Value:
    if k % 4 or k + 4 > DATA_SIZE:
        raise DecompileError(f"the filter loads offset {k}, outside seccomp_data or unaligned")
    if k == _NR:
        return nr & _U32
    if k == _ARCH:
        return token
    if k in (_IP_LO, _IP_HI):
        reads.instruction_pointer = True
        return 0
    index, word = divmod(k - _ARGS, 8)
    high = (word == 0) if _BIG_ENDIAN else (word == 4)
    if high and narrow:
        # A 32-bit ABI's arguments are 32 bits: the kernel zero-extends them (x32 aside, whose
        # high words libseccomp never compares either, and a profile cannot).
        reads.high_words_of_32bit_abis = True
        return 0
    return Word(index, 32 if high else 0)


def _alu(op: int, a: Value, operand: Value, pc: int) -> Value | None:
    if isinstance(a, int) and isinstance(operand, int):
        if op in (0x30, 0x90) and operand == 0:
            return None
        return _ALU_CONCRETE[op](a, operand) & _U32
    if op == 0x50 and isinstance(a, Word) and isinstance(operand, int):
        return Word(a.index, a.shift, a.mask & operand)
    if op == 0x50 and isinstance(operand, Word) and isinstance(a, int):
        return Word(operand.index, operand.shift, operand.mask & a)
    raise DecompileError(f"instruction {pc} computes {_ALU_OPS.get(op, hex(op))} with an argument word")


_ALU_CONCRETE: dict[int, Callable[[int, int], int]] = {
    0x00: lambda a, b: a + b,
    0x10: lambda a, b: a - b,
    0x20: lambda a, b: a * b,
    0x30: lambda a, b: a // b,
    0x40: lambda a, b: a | b,
    0x50: lambda a, b: a & b,
    0x60: lambda a, b: a << b if b < 32 else 0,
    0x70: lambda a, b: a >> b if b < 32 else 0,
    0x80: lambda a, b: -a,
    0x90: lambda a, b: a % b,
    0xA0: lambda a, b: a ^ b,
}


def _test(sets: Sets, op: int, a: Value, operand: Value, pc: int) -> bool | int:
    """The jump's condition: a bool when the values are known, else the argument set it holds for."""
    if isinstance(a, int) and isinstance(operand, int):
        return {JEQ: a == operand, JGT: a > operand, JGE: a >= operand, JSET: bool(a & operand)}[op]
    if not isinstance(a, Word) or not isinstance(operand, int):
        raise DecompileError(f"instruction {pc} compares two argument words with each other")
    if op == JSET:
        return sets.neg(sets.compare(a.index, a.shift, 32, a.mask & operand, 0, Cmp.EQ))
    cmp = {JEQ: Cmp.EQ, JGT: Cmp.GT, JGE: Cmp.GE}[op]
    return sets.compare(a.index, a.shift, 32, a.mask, operand, cmp)


def action_order(ret: int) -> int:
    """The kernel's ACTION_ONLY: the action as a signed number; lower is more restrictive."""
    action = ret & 0xFFFF0000
    return action - (1 << 32) if action & 0x80000000 else action


def stack(sets: Sets, partitions: Sequence[Partition]) -> Partition:
    """Filters' partitions, most recently installed first, combined as the kernel does."""
    combined: Partition = {0x7FFF0000: TRUE}  # SECCOMP_RET_ALLOW, where the kernel starts
    for part in partitions:
        out: Partition = {}
        for have, region in combined.items():
            for ret, other in part.items():
                both = sets.both(region, other)
                if both != FALSE:
                    # An older filter's action replaces only a strictly less restrictive one.
                    winner = ret if action_order(ret) < action_order(have) else have
                    out[winner] = sets.either(out.get(winner, FALSE), both)
        combined = out
    return combined


def verdict_of(ret: int) -> tuple[Verdict, bool]:
    """What the kernel does with a return value, and whether the action is one it does not know
    (which it treats as KILL_PROCESS)."""
    action = ACTION_BY_RET.get(ret & 0xFFFF0000)
    if action is None:
        return Verdict(Action.KILL_PROCESS, None), True
    data = ret & 0xFFFF
    if action is Action.ERRNO:
        return Verdict(action, min(data, MAX_ERRNO)), False
    return Verdict(action, data if action is Action.TRACE else None), False


def verdicts(sets: Sets, part: Partition, unknown: set[int]) -> dict[Verdict, int]:
    out: dict[Verdict, int] = {}
    for ret, region in sorted(part.items()):
        verdict, strange = verdict_of(ret)
        if strange:
            unknown.add(ret)
        out[verdict] = sets.either(out.get(verdict, FALSE), region)
    return out


@dataclass(frozen=True)
class Table:
    """What a stack of programs decides: (arch, nr) -> verdict -> argument set."""

    arches: tuple[str, ...]
    checks_arch: bool
    decisions: Mapping[tuple[str, int], dict[Verdict, int]]
    other_arches: dict[Verdict, int]  # what a call from an arch the programs do not check gets
    reads: Reads
    unknown_actions: tuple[int, ...]
    # What the unnamed numbers below each arch's highest named one get, unconditionally: where a
    # filter's own default shows (runc's answers ENOSYS only above its profile's highest number).
    holes: Mapping[str, Mapping[Verdict, int]] = field(default_factory=dict)  # arch -> verdict -> numbers


def evaluate(sets: Sets, programs: Sequence[bytes]) -> Table:
    """Run the programs (oldest first, as PTRACE_SECCOMP_GET_FILTER numbers them) for every
    syscall of every arch they check."""
    if not programs:
        raise DecompileError("no filter to decompile")
    decoded = [(decode(p), jump_targets(decode(p))) for p in reversed(programs)]  # the kernel runs the newest first
    arches, checked = evaluate_arches(programs)
    reads = Reads()
    unknown: set[int] = set()
    decisions: dict[tuple[str, int], dict[Verdict, int]] = {}
    holes: dict[str, Counter[Verdict]] = {}
    for arch in arches:
        named = arch_numbers(arch)
        for nr in range(min(named), max(named) + 1):
            parts = [explore(sets, prog, nr, arch, reads, targets) for prog, targets in decoded]
            part = verdicts(sets, stack(sets, parts), unknown)
            if nr in named:
                decisions[arch, nr] = part
            elif len(part) == 1:
                holes.setdefault(arch, Counter()).update(part)
    other = verdicts(sets, stack(sets, [explore(sets, p, 0, "", reads, t) for p, t in decoded]), unknown)
    return Table(tuple(arches), checked, decisions, other, reads, tuple(sorted(unknown)), holes)
