"""learn.trusted walks a path as the kernel would, but only through what no one else can write.

The attacks (other owners, world-writable directories, planted symlinks) need root to set up and
live in tests/kernel/test_compiled_trust.py; here, the walk itself, as any user.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from learn.errors import InputError
from learn.trusted import MissingFileError, UntrustedFileError, read_trusted


def test_reads_a_file_by_relative_dotted_and_linked_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_bytes(b"data")
    (tmp_path / "link").symlink_to("d/f")
    (tmp_path / "dirlink").symlink_to(tmp_path / "d")
    monkeypatch.chdir(tmp_path)
    for path in ("d/f", "./d/../d/f", "link", "dirlink/f", str(tmp_path / "dirlink" / ".." / "link")):
        assert read_trusted(path, 4) == b"data", path


def test_refuses_what_is_not_a_small_regular_file(tmp_path: Path) -> None:
    (tmp_path / "big").write_bytes(b"12345")
    with pytest.raises(InputError, match="larger than 4 bytes"):
        read_trusted(str(tmp_path / "big"), 4)
    for directory in (str(tmp_path), "/", f"{tmp_path}/..", "/.."):
        with pytest.raises(UntrustedFileError, match="not a regular file"):
            read_trusted(directory, 4)
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(UntrustedFileError, match="not a regular file"):
        read_trusted(str(tmp_path / "fifo"), 4)  # returns at once: never opened
    with pytest.raises(MissingFileError, match="missing"):
        read_trusted(str(tmp_path / "nothing" / "here"), 4)
    (tmp_path / "loop").symlink_to("loop")
    with pytest.raises(InputError, match="too many levels"):
        read_trusted(str(tmp_path / "loop"), 4)


def test_refuses_a_file_others_can_write(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x")
    (tmp_path / "f").chmod(0o646)
    with pytest.raises(UntrustedFileError, match="writable by others"):
        read_trusted(str(tmp_path / "f"), 4)
