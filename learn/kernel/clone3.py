"""clone3(2) gets ENOSYS while learning with --args, as the learned profile will give it.

clone3 passes its flags in memory, which seccomp cannot read, so an argument-checked profile
answers it ENOSYS and libc falls back to clone(2), whose flags are checked. The learning run
must take the same path, or the profile would never see the clone flags the program needs.
The filter is stacked under learn's own: the kernel takes the most restrictive verdict
(ERRNO before LOG), and everything else it allows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pyseccomp

from learn.arch import AUDIT_ARCH_BY_NAME, native_arch
from learn.argrules import CLONE3, ENOSYS
from learn.kernel.filters import load


def enosys_filter(arches: Sequence[str]) -> pyseccomp.SyscallFilter:
    """Built in the parent (libseccomp allocates); the child only loads it."""
    flt = pyseccomp.SyscallFilter(pyseccomp.ALLOW)
    for arch in arches:
        if arch != native_arch():
            flt.add_arch(AUDIT_ARCH_BY_NAME[arch])
    flt.add_rule(pyseccomp.ERRNO(ENOSYS), CLONE3)
    return flt


def stacked(arches: Sequence[str], install: Callable[[], None]) -> Callable[[], None]:
    """install, with the clone3 filter loaded first."""
    flt = enosys_filter(arches)

    def both() -> None:
        load(flt)
        install()

    return both
