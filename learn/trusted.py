"""Read a file only if no one but root and the invoking user can have written it.

`learn enforce --bpf` hands a file's bytes to the kernel as a seccomp filter, so the BPF, its
sidecar and the source profile they were built from must be the ones their owners wrote. As
snap-confine does for its cache, and then some:

* every directory from / down to the file, and the file itself, must belong to root or the
  invoking user (the effective user; under sudo, also the user who ran sudo);
* none may be writable by group or others, except a directory with the sticky bit (/tmp),
  where others can add names but not replace ours;
* a symlink is followed only where no one else can have planted it: in a directory only
  trusted users can write, or owned by a trusted user (what fs.protected_symlinks enforces in
  sticky directories, checked here whatever the sysctl says);
* only a regular file is opened (a FIFO or /dev/zero would hang the read), and at most
  `limit` bytes are read.

The path is walked one component at a time with file descriptors (openat with O_NOFOLLOW) and
each check is made on what was opened (fstat), so nothing can be swapped between check and use.
"""

from __future__ import annotations

import os
import stat

from learn.errors import InputError

MAX_SYMLINKS = 40  # the kernel's own limit on a path walk (ELOOP)
_DIR_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


class UntrustedFileError(InputError):
    """A file someone other than root or the invoking user could have written."""

    hint = "keep compiled filters and their sources in directories only root (or you) can write, mode 644 or stricter"


class MissingFileError(InputError):
    """The path, or a directory on it, does not exist."""


def trusted_uids() -> frozenset[int]:
    uids = {0, os.geteuid()}
    sudo_uid = os.environ.get("SUDO_UID", "")
    if os.geteuid() == 0 and sudo_uid.isdigit():
        uids.add(int(sudo_uid))  # root's environment: only root (or sudo itself) set it
    return frozenset(uids)


def read_trusted(path: str, limit: int) -> bytes:
    """The bytes of the regular file at path (at most limit), once the whole path is trusted."""
    uids = trusted_uids()
    parent, name, shown, first = _walk_to_parent(path, uids)
    try:
        if not stat.S_ISREG(first.st_mode):  # not even opened: opening a device can do things
            raise UntrustedFileError(f"{path}: not a regular file", "give the file itself")
        try:
            fd = os.open(name, _FILE_FLAGS, dir_fd=parent)
        except OSError as err:
            raise InputError(f"{path}: {err.strerror}") from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):  # swapped since lstat
                raise UntrustedFileError(f"{path}: not a regular file", "give the file itself")
            _check_owner(st, uids, shown, "file")
            return _read_at_most(fd, limit, path)
        finally:
            os.close(fd)
    finally:
        os.close(parent)


def _walk_to_parent(path: str, uids: frozenset[int]) -> tuple[int, str, str, os.stat_result]:
    """(fd of the checked directory holding the file, the file's name there, its resolved path,
    its lstat)."""
    absolute = path if path.startswith("/") else os.path.join(os.getcwd(), path)
    pending = _parts(absolute)
    stack = [_open_dir("/", None, "/", uids)]  # (fd, stat, shown path) of each directory walked
    links = 0
    try:
        while pending:
            part = pending.pop(0)
            fd, dir_st, where = stack[-1]
            if part == "..":
                if len(stack) > 1:
                    os.close(stack.pop()[0])
                continue
            shown = os.path.join(where, part)
            try:
                st = os.stat(part, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                where_missing = "" if shown == os.path.normpath(absolute) else f" ({shown})"
                raise MissingFileError(f"{path}: missing{where_missing}") from None
            except OSError as err:
                raise InputError(f"{path}: {err.strerror} ({shown})") from None
            if stat.S_ISLNK(st.st_mode):
                links += 1
                if links > MAX_SYMLINKS:
                    raise InputError(f"{path}: too many levels of symbolic links")
                if dir_st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and st.st_uid not in uids:
                    raise UntrustedFileError(
                        f"{shown}: a symlink owned by uid {st.st_uid} in {where}, which others can write: not followed"
                    )
                target = os.readlink(part, dir_fd=fd)
                if target.startswith("/"):
                    for fd_, _, _ in stack[1:]:
                        os.close(fd_)
                    del stack[1:]
                pending[:0] = _parts(target)
                continue
            if not pending:
                parent = stack.pop()[0]
                return parent, part, shown, st
            stack.append(_open_dir(part, fd, shown, uids))
        raise UntrustedFileError(f"{path}: not a regular file", "give the file itself")  # a directory
    finally:
        for fd_, _, _ in stack:
            os.close(fd_)


def _parts(path: str) -> list[str]:
    return [p for p in path.split("/") if p not in ("", ".")]


def _open_dir(name: str, dir_fd: int | None, shown: str, uids: frozenset[int]) -> tuple[int, os.stat_result, str]:
    try:
        fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except OSError as err:
        raise InputError(f"{shown}: {err.strerror}") from None
    st = os.fstat(fd)
    try:
        _check_owner(st, uids, shown, "directory")
    except BaseException:
        os.close(fd)
        raise
    return fd, st, shown


def _check_owner(st: os.stat_result, uids: frozenset[int], shown: str, what: str) -> None:
    if st.st_uid not in uids:
        raise UntrustedFileError(f"{shown}: {what} owned by uid {st.st_uid}, not by root or you: not trusted")
    writable = st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    if writable and not (what == "directory" and st.st_mode & stat.S_ISVTX):
        by = "others" if st.st_mode & stat.S_IWOTH else "its group"
        sticky = " without the sticky bit" if what == "directory" else ""
        raise UntrustedFileError(
            f"{shown}: {what} writable by {by}{sticky} (mode {stat.S_IMODE(st.st_mode):04o}): not trusted"
        )


def _read_at_most(fd: int, limit: int, path: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = os.read(fd, limit + 1 - size)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
    raise InputError(f"{path}: larger than {limit} bytes, more than learn reads here", "is it the right file?")
