"""A classic-BPF interpreter for seccomp filters: a filter's verdict on (arch, nr, args)
without loading it into the kernel (the filter tests use it; learn.bpf.decompile explores the
same instruction set symbolically).

It runs the bytes libseccomp exports, as the kernel would: the same `struct seccomp_data`
layout, unsigned 32-bit arithmetic, and it refuses what the kernel's seccomp checker refuses
(loads outside seccomp_data, unaligned loads, jumps past the end) instead of guessing.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import NamedTuple

INSN = struct.Struct("=HBBI")  # struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }, native order
DATA_SIZE = 64  # sizeof(struct seccomp_data): nr, arch, instruction_pointer, args[6]
_MASK = 0xFFFFFFFF

# Opcode parts from <linux/bpf_common.h>.
LD, LDX, ST, STX, ALU, JMP, RET, MISC = range(8)
W, ABS, IMM, MEM, LEN = 0x00, 0x20, 0x00, 0x60, 0x80
JA, JEQ, JGT, JGE, JSET = 0x00, 0x10, 0x20, 0x30, 0x40
SRC_X = 0x08
RET_A = 0x10
TAX, TXA = 0x00, 0x80

_ALU: dict[int, Callable[[int, int], int]] = {
    0x00: lambda a, b: a + b,
    0x10: lambda a, b: a - b,
    0x20: lambda a, b: a * b,
    0x40: lambda a, b: a | b,
    0x50: lambda a, b: a & b,
    0x60: lambda a, b: a << b if b < 32 else 0,
    0x70: lambda a, b: a >> b if b < 32 else 0,
    0xA0: lambda a, b: a ^ b,
}


class Verdict(NamedTuple):
    ret: int  # the filter's SECCOMP_RET_* value (action | data)
    steps: int  # instructions executed: what the filter costs for this call


def seccomp_data(nr: int, arch: int, args: tuple[int, ...] = (), ip: int = 0) -> bytes:
    """The 64 bytes the kernel hands the filter; nr is an int, so -1 stays -1."""
    full = tuple(args) + (0,) * (6 - len(args))
    return struct.pack("=iIQ6Q", nr, arch, ip, *(a & 0xFFFFFFFFFFFFFFFF for a in full))


def decode(prog: bytes) -> list[tuple[int, int, int, int]]:
    if len(prog) % INSN.size:
        raise ValueError(f"{len(prog)} bytes is not a whole number of instructions")
    return [INSN.unpack_from(prog, off) for off in range(0, len(prog), INSN.size)]


def run(prog: bytes, nr: int, arch: int, args: tuple[int, ...] = (), ip: int = 0) -> Verdict:
    return run_decoded(decode(prog), nr, arch, args, ip)


def run_decoded(
    insns: list[tuple[int, int, int, int]], nr: int, arch: int, args: tuple[int, ...] = (), ip: int = 0
) -> Verdict:
    """run() on a program decoded once, for callers that run it many times."""
    data = seccomp_data(nr, arch, args, ip)
    a = x = 0
    mem = [0] * 16
    pc = steps = 0
    while True:
        if not 0 <= pc < len(insns):
            raise ValueError(f"pc {pc} outside a {len(insns)}-instruction program")
        code, jt, jf, k = insns[pc]
        steps += 1
        pc += 1
        cls, op = code & 0x07, code & 0xF0
        if cls == LD and code & 0xE0 == ABS and code & 0x18 == W:
            if k % 4 or k + 4 > DATA_SIZE:
                raise ValueError(f"load at offset {k} outside seccomp_data or unaligned")
            (a,) = struct.unpack_from("=I", data, k)
        elif cls in (LD, LDX) and code & 0xE0 in (IMM, MEM, LEN):
            # seccomp allows BPF_LEN: the size of seccomp_data.
            mode = code & 0xE0
            value = mem[k] if mode == MEM else DATA_SIZE if mode == LEN else k
            if cls == LD:
                a = value
            else:
                x = value
        elif cls in (ST, STX):
            mem[k] = a if cls == ST else x
        elif cls == ALU:
            operand = x if code & SRC_X else k
            if op == 0x80:
                a = -a & _MASK
            elif op in (0x30, 0x90):
                if operand == 0:
                    return Verdict(0, steps)  # the kernel's verdict on division by zero: kill
                a = a // operand if op == 0x30 else a % operand
            else:
                a = _ALU[op](a, operand) & _MASK
        elif cls == JMP:
            operand = x if code & SRC_X else k
            if op == JA:
                pc += k
                continue
            taken = {JEQ: a == operand, JGT: a > operand, JGE: a >= operand, JSET: bool(a & operand)}[op]
            pc += jt if taken else jf
        elif cls == RET:
            return Verdict(a if code & RET_A else k, steps)
        elif cls == MISC:
            if op == TAX:
                x = a
            else:
                a = x
        else:
            raise ValueError(f"opcode {code:#06x} at {pc - 1} is not classic BPF")
