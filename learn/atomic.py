"""Write a file so that readers see the old content or the new, never half of it."""

from __future__ import annotations

import os
import tempfile

from learn.errors import InputError


def write_atomically(path: str, data: str | bytes) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=directory)
    except OSError as err:
        raise InputError(f"{path}: cannot write here: {err.strerror}", hint="choose a writable -o path") from None
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data.encode() if isinstance(data, str) else data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
