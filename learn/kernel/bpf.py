"""Load a compiled BPF program with seccomp(2) directly, as snap-confine does."""

from __future__ import annotations

import ctypes
import os

from learn.errors import KernelError
from learn.kernel.features import SECCOMP_FILTER_FLAG_LOG, SECCOMP_SET_MODE_FILTER, seccomp_syscall_number

PR_SET_NO_NEW_PRIVS = 38
INSTRUCTION_BYTES = 8  # struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }
MAX_INSTRUCTIONS = 4096  # BPF_MAXINSNS


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))


def validate(program: bytes) -> int:
    """Number of instructions; raises if the bytes cannot be a seccomp BPF program."""
    count, rest = divmod(len(program), INSTRUCTION_BYTES)
    if rest or not 0 < count <= MAX_INSTRUCTIONS:
        raise KernelError(f"not a seccomp BPF program ({len(program)} bytes)", "recompile it with learn compile")
    return count


def load_bpf(program: bytes, *, log: bool) -> None:
    """Install program on the calling thread for good (it survives fork and execve)."""
    count = validate(program)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise KernelError(f"prctl(PR_SET_NO_NEW_PRIVS): {os.strerror(ctypes.get_errno())}")
    nr = seccomp_syscall_number()
    if nr is None:
        raise KernelError("seccomp(2) is not known on this arch")
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(count, ctypes.cast(buffer, ctypes.c_void_p))
    flags = SECCOMP_FILTER_FLAG_LOG if log else 0
    if libc.syscall(nr, SECCOMP_SET_MODE_FILTER, flags, ctypes.byref(fprog)) != 0:
        raise KernelError(f"seccomp(SET_MODE_FILTER): {os.strerror(ctypes.get_errno())}")
