"""Issue 2's loop, for real: capture, `learn suggest`, enforce the profile on this kernel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from learn.kernel.filters import Mode, build_filter, load
from learn.profile import Profile

pytestmark = pytest.mark.kernel
PROGS = Path(__file__).resolve().parent / "progs"
LEARN = [sys.executable, "-m", "learn"]


def _compile(tmp: Path, name: str) -> Path:
    exe = tmp / name
    subprocess.run(["gcc", "-O2", "-o", exe, PROGS / f"{name}.c"], check=True)
    return exe


def _profile_from_oci(path: Path) -> Profile:
    spec = json.loads(path.read_text())
    names = tuple(spec["syscalls"][0]["names"])
    arches = [a.removeprefix("SCMP_ARCH_").lower() for a in spec["architectures"]]
    return Profile({arch: names for arch in arches})


def _run_enforced(profile: Profile, argv: list[str]) -> tuple[int, str]:
    built = build_filter(profile, mode=Mode.ENFORCE)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        os.dup2(write_end, 1)
        try:
            load(built.filter)
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    os.close(write_end)
    with os.fdopen(read_end) as out:
        text = out.read()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), text


def test_suggested_profile_runs_the_program_and_denies_the_rest(tmp_path: Path) -> None:
    exe = _compile(tmp_path, "probe")
    capture = tmp_path / "capture.log"
    learned = subprocess.run(
        [*LEARN, "run", "-q", "-o", tmp_path / "run.json", "--save-log", capture, "--", exe],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert learned.returncode == 0, learned.stderr
    assert "hello" in learned.stdout
    suggested = subprocess.run(
        [*LEARN, "suggest", capture, "-o", tmp_path / "p.json"], capture_output=True, check=False
    )
    assert suggested.returncode == 0, suggested.stderr
    assert (tmp_path / "p.json").read_bytes() == (tmp_path / "run.json").read_bytes()

    profile = _profile_from_oci(tmp_path / "p.json")
    assert "sysinfo" not in profile.names()
    assert _run_enforced(profile, [str(exe)]) == (0, "hello\n")
    # A syscall the learning run never made is denied with EPERM, and nothing else changes.
    assert _run_enforced(profile, [str(exe), "probe"]) == (0, "hello\nsysinfo: -1 errno 1\n")
