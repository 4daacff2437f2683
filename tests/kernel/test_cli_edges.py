"""The edges of `learn run` and `learn check` on the real kernel: the program's own options,
the target's failure, a base profile's counts, a full file system, container runtimes."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kernel.conftest import learn_argv
from tests.kernel.test_run import BURST, kmsg_quiet  # noqa: F401 (a fixture)

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: seccomp filters, audit records, mount"),
]


def learn(
    *args: object, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*learn_argv(), *map(str, args)],
        capture_output=True, text=True, cwd=cwd, env=env, timeout=120, check=False,
    )  # fmt: skip


def names(profile: Path) -> set[str]:
    return {n for rule in json.loads(profile.read_text())["syscalls"] for n in rule["names"]}


@pytest.mark.parametrize("dashes", [[], ["--"]])
def test_everything_after_the_program_is_the_programs(tmp_path: Path, dashes: list[str]) -> None:
    profile = tmp_path / "z.json"
    result = learn("run", "-o", profile, *dashes, "ls", "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: ls"), result.stdout[:200]  # ls's help, not learn's
    assert "write" in names(profile)


def test_check_exits_5_when_the_target_fails_with_nothing_denied(tmp_path: Path) -> None:
    profile = tmp_path / "sh.json"
    learned = learn("run", "-q", "-o", profile, "/bin/sh", "-c", "exit 7")
    assert learned.returncode == 7, learned.stderr
    checked = learn("check", profile, "/bin/sh", "-c", "exit 7")
    assert checked.returncode == 5, checked.stderr
    assert "nothing denied, but the target failed (exit status 7)" in checked.stderr
    assert learn("check", profile, "/bin/sh", "-c", "exit 0").returncode == 0


def test_run_with_a_base_profile_says_new_and_total(tmp_path: Path) -> None:
    base, out = tmp_path / "base.json", tmp_path / "out.json"
    assert learn("run", "-q", "-o", base, "/bin/true").returncode == 0
    result = learn("run", "--profile", base, "-o", out, "/bin/sh", "-c", "ls / > /dev/null")
    assert result.returncode == 0, result.stderr
    match = re.search(
        r"x86_64: (\d+) new syscalls, (\d+) in the profile \((\d+) from the base profile\)", result.stderr
    )
    assert match, result.stderr
    new, total, from_base = map(int, match.groups())
    assert total == len(names(out)) and from_base == len(names(base) & names(out)) and new == total - from_base > 0


def test_container_runtime_without_bundle_gets_a_note(tmp_path: Path) -> None:
    runc = shutil.which("runc")
    if runc is None:
        pytest.skip("runc is not installed")
    result = learn("run", "-q", "-o", tmp_path / "runc.json", runc, "--version")
    assert result.returncode == 0, result.stderr
    assert "learn: note: runc is a container runtime" in result.stderr and "--oci-bundle" in result.stderr


@pytest.fixture
def full_fs(tmp_path: Path) -> Iterator[Path]:
    """A tiny tmpfs, filled up: every write there fails with ENOSPC."""
    mnt = tmp_path / "full"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], check=True)
    try:
        subprocess.run(["dd", "if=/dev/zero", f"of={mnt}/fill", "bs=4k"], capture_output=True, check=False)
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_run_whose_output_fs_is_full_keeps_profile_and_log(tmp_path: Path, full_fs: Path) -> None:
    state = tmp_path / "state"
    env = {**os.environ, "XDG_STATE_HOME": str(state)}
    marker = tmp_path / "ran"
    result = learn(
        "run", "-o", full_fs / "p.json", "--save-log", full_fs / "l.log", "touch", marker, env=env
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert marker.exists()  # the target ran: the directory was writable when it started
    errors = [line for line in result.stderr.splitlines() if line.startswith("learn: error:")]
    assert len(errors) == 1 and "No space left on device" in errors[0], result.stderr
    kept = sorted((state / "learn").iterdir())
    assert len(kept) == 2 and all(str(k) in errors[0] for k in kept)
    profile = next(k for k in kept if k.name.endswith("p.json"))
    assert "utimensat" in names(profile) or "openat" in names(profile)
    assert not (full_fs / "p.json").exists() and [p.name for p in full_fs.iterdir()] == ["fill"]


@pytest.mark.usefixtures("kmsg_quiet")
def test_quiet_run_still_says_records_were_lost(programs: dict[str, Path], tmp_path: Path) -> None:
    """kmsg under a burst loses records to printk's rate limit: -q must still say so, and the
    OCI profile carries its loss mark."""
    profile = tmp_path / "p.json"
    result = learn("run", "-q", "--source", "kmsg", "-o", profile, programs["burst"], BURST)
    assert result.returncode == 4, result.stderr
    assert "records lost:" in result.stderr and "INCOMPLETE" in result.stderr
    assert "source:" not in result.stderr  # the summary itself is quiet
    assert json.loads(profile.read_text())["x-learn-incomplete"].startswith("records were lost")
