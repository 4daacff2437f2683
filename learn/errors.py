"""Exception roots, one per layer, each carrying a one-line hint for the user."""

from __future__ import annotations


class LearnError(Exception):
    """Root of every error learn reports to the user as one line."""

    exit_code = 2
    hint = ""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


class InputError(LearnError):
    """An input cannot be read: missing file, bad gzip, a directory with nothing in it."""

    hint = "check the path; use - to read standard input"


class OutputError(LearnError):
    """An output file cannot be written: a directory, a missing directory, a full disk."""

    hint = "choose a writable -o path"


class UsageError(LearnError):
    """Options that contradict each other or do not parse."""

    hint = "see learn --help"


class SyscallResolutionError(LearnError):
    """libseccomp does not know an arch or syscall name."""

    hint = "libseccomp names syscalls per arch; see `scmp_sys_resolver -a ARCH NAME`"


class ProfileError(LearnError):
    """A profile cannot be built, read or written."""

    hint = "check the profile file and its format"


class KernelError(LearnError):
    """The running kernel cannot do what was asked (seccomp, audit, logging)."""

    hint = "see the section 'Kernel requirements' of learn's README"
