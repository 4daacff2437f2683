"""Write a user-named output file the way a careful Unix tool does.

A regular file (or a path that does not exist yet) is replaced atomically: readers see the
old content or the new, never half of it. Anything else at the path is not ours to replace:
a character device or FIFO is opened and written through (`-o /dev/null`, `-o /dev/stdout`,
`-o fifo`), a socket is connected to, a directory or a block device is refused. A symlink
is followed and its target replaced, except one planted in a sticky world-writable directory
by someone else (the rule of fs.protected_symlinks, which rename() would not apply).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import stat
import sys
import tempfile
import time
from typing import BinaryIO

from learn.errors import OutputError

# Paths that name one of this process's descriptors: written to that descriptor, as a shell does.
_FD_PATH = re.compile(r"/(?:dev/fd|proc/(?:self|thread-self)/fd)/(\d+)")
_STD_PATHS = {"/dev/stdout": 1, "/dev/stderr": 2}


def write_atomically(path: str, data: str | bytes) -> None:
    """Write data to path: atomically for a regular file, through for a device, FIFO or socket."""
    payload = data.encode() if isinstance(data, str) else data
    fd = _descriptor(path)
    if fd is not None:
        _write_fd(path, fd, payload)
        return
    mode = _kind(path)
    if mode is None or stat.S_ISREG(mode):
        _replace(_resolved(path), payload)
    elif stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        _write_through(path, payload)
    elif stat.S_ISSOCK(mode):
        _send(path, payload)
    else:
        raise AssertionError(f"{path}: refused by _kind")


def check_writable(path: str) -> None:
    """Fail now, before any work, if path cannot be written (OutputError; nothing is created)."""
    if _descriptor(path) is not None:
        return
    mode = _kind(path)
    if mode is not None and not stat.S_ISREG(mode):
        if not os.access(path, os.W_OK):
            raise OutputError(f"cannot write {path}: permission denied")
        return
    directory = os.path.dirname(_resolved(path)) or "."
    if not os.path.isdir(directory):
        raise OutputError(f"cannot write {path}: directory {directory} does not exist", "create it first")
    try:  # os.access says yes to root on a read-only file system; a real file says the truth
        fd, probe = tempfile.mkstemp(prefix=".learn-probe.", dir=directory)
    except OSError as err:
        raise OutputError(f"cannot write {path}: {err.strerror}") from None
    os.close(fd)
    os.unlink(probe)


def keep_elsewhere(name: str, data: str | bytes) -> str | None:
    """Save data that could not be written where asked; the path it went to, or None.

    Tried in order: $XDG_STATE_HOME/learn (default ~/.local/state/learn), /var/tmp, /tmp.
    The file is new (O_EXCL), mode 0600, with a unique name: it may hold what a program did."""
    payload = data.encode() if isinstance(data, str) else data
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    stamp = time.strftime("%Y%m%dT%H%M%S")
    base = os.path.basename(name.rstrip("/")) or "output"
    for directory in (os.path.join(state, "learn"), "/var/tmp", "/tmp"):
        kept = os.path.join(directory, f"learn-{stamp}-{os.getpid()}-{base}")
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
            fd = os.open(kept, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError:
            continue
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(payload)
                out.flush()
                os.fsync(out.fileno())
        except OSError:
            os.unlink(kept)
            continue
        return kept
    return None


def _descriptor(path: str) -> int | None:
    if path == "":
        raise OutputError("an empty output path", "give a file name, or - for standard output")
    absolute = os.path.normpath(os.path.abspath(path))
    if absolute in _STD_PATHS:
        return _STD_PATHS[absolute]
    match = _FD_PATH.fullmatch(absolute)
    return int(match[1]) if match else None


def _kind(path: str) -> int | None:
    """st_mode of what path leads to (None: nothing yet); refuses what must never be replaced."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as err:
        raise OutputError(f"cannot write {path}: {err.strerror}") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise OutputError(f"cannot write {path}: it is a directory", "give a file name inside it")
    if mode is not None and stat.S_IFMT(mode) not in (stat.S_IFREG, stat.S_IFCHR, stat.S_IFIFO, stat.S_IFSOCK):
        raise OutputError(f"refusing to write a profile onto {path}: not a regular file, FIFO or character device")
    _check_planted_symlink(path)
    return mode


def _check_planted_symlink(path: str) -> None:
    """fs.protected_symlinks' rule: in a sticky world-writable directory, follow a symlink only
    if it is ours or the directory owner's (creating its target with rename would bypass it)."""
    try:
        link = os.lstat(path)
    except OSError:
        return
    if not stat.S_ISLNK(link.st_mode):
        return
    parent = os.stat(os.path.dirname(os.path.abspath(path)))
    sticky_public = parent.st_mode & stat.S_ISVTX and parent.st_mode & stat.S_IWOTH
    if sticky_public and link.st_uid not in (os.geteuid(), parent.st_uid):
        raise OutputError(
            f"refusing to follow {path}: a symlink of uid {link.st_uid} in a sticky world-writable directory",
            "write somewhere else, or remove the link",
        )


def _resolved(path: str) -> str:
    return os.path.realpath(path) if os.path.islink(path) else path


def _replace(path: str, payload: bytes) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=directory)
    except OSError as err:
        raise OutputError(f"cannot write {path}: {err.strerror}", "choose a writable -o path") from None
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(payload)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as err:
        os.unlink(tmp)
        raise OutputError(f"cannot write {path}: {err.strerror}") from None
    except BaseException:
        os.unlink(tmp)
        raise


def _write_fd(path: str, fd: int, payload: bytes) -> None:
    if fd in (1, 2):
        (sys.stdout if fd == 1 else sys.stderr).flush()
    try:
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view) :]
    except OSError as err:
        raise OutputError(f"cannot write {path}: {err.strerror}") from None


def _write_through(path: str, payload: bytes) -> None:
    """Open and write, as `cat > path` does: no rename, no chmod, nothing created."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as err:
        raise OutputError(f"cannot write {path}: {err.strerror}") from None
    try:
        _write_fd(path, fd, payload)
    finally:
        os.close(fd)


def _send(path: str, payload: bytes) -> None:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(path)
            sock.sendall(payload)
    except OSError as err:
        raise OutputError(f"cannot write {path}: {err.strerror or err}") from None


class StreamedOutput:
    """An output written as it is produced (`--save-log` of a long run), by the rules above.

    A regular file (or a new path) is written under a temporary name beside the file it
    replaces and renamed over it by commit(), so readers see the old content or the whole
    new one; a device, FIFO, socket or descriptor path gets the data as it comes. Every
    failure is an OutputError; discard() drops the temporary file.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._tmp: str | None = None
        self._final = path
        self._mode = 0o644
        self._owned = True  # the descriptor is ours to close
        fd = _descriptor(path)
        if fd is not None:
            self._fd, self._owned = fd, False
            return
        mode = _kind(path)
        try:
            if mode is None or stat.S_ISREG(mode):
                self._final = _resolved(path)
                self._mode = stat.S_IMODE(mode) if mode is not None else 0o666 & ~_umask()
                directory = os.path.dirname(os.path.abspath(self._final))
                self._fd, self._tmp = tempfile.mkstemp(prefix=f".{os.path.basename(self._final)}.", dir=directory)
            elif stat.S_ISSOCK(mode):
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    sock.connect(path)
                except OSError:
                    sock.close()
                    raise
                self._fd = sock.detach()
            else:
                self._fd = os.open(path, os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC)
        except OSError as err:
            raise OutputError(f"cannot write {path}: {err.strerror or err}") from None

    def write(self, data: bytes) -> None:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as err:
            raise OutputError(f"cannot write {self.path}: {err.strerror}") from None

    def copy_written(self, to: BinaryIO) -> None:
        """Copy what was written so far (only a temporary file can be read back) to another file."""
        if self._tmp is not None:
            with open(self._tmp, "rb") as written:
                shutil.copyfileobj(written, to, 1 << 20)

    def commit(self) -> None:
        """Make the output final (rename a temporary file over the target); on failure the
        temporary file stays for copy_written() until discard()."""
        try:
            if self._tmp is not None:
                os.fsync(self._fd)
                os.fchmod(self._fd, self._mode)
            self._close()
            if self._tmp is not None:
                os.replace(self._tmp, self._final)
                self._tmp = None
        except OSError as err:
            self._close()
            raise OutputError(f"cannot write {self.path}: {err.strerror}") from None

    def discard(self) -> None:
        self._close()
        if self._tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._tmp)
            self._tmp = None

    def _close(self) -> None:
        if self._owned and self._fd >= 0:
            os.close(self._fd)
        self._fd = -1


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask
