"""`learn suggest --exe PROG` on a real capture keeps the execve that started PROG (issue 7).

The kernel logs an execve under the exe= of the program that calls it, so the shell's exec
of ls is a /usr/bin/dash record; without it the profile cannot even start ls.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.kernel
LEARN = [sys.executable, "-m", "learn"]


def _learn(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LEARN, *map(str, args)], capture_output=True, text=True, check=False)


def test_profile_of_a_program_started_by_a_shell_runs_it(tmp_path: Path) -> None:
    capture, profile = tmp_path / "sh.audit.log", tmp_path / "ls.json"
    script = "/usr/bin/ls / >/dev/null; true"  # the shell forks, then its child execs ls
    learned = _learn("run", "-q", "-o", tmp_path / "sh.json", "--save-log", capture, "--", "/bin/sh", "-c", script)
    assert learned.returncode == 0, learned.stderr
    suggested = _learn("suggest", "-q", "--exe", "/usr/bin/ls", capture, "-o", profile)
    assert suggested.returncode == 0, suggested.stderr
    assert "execve" in json.loads(profile.read_text())["syscalls"][0]["names"]
    enforced = _learn("enforce", profile, "--", "/usr/bin/ls", "/")
    assert enforced.returncode == 0, enforced.stderr
    assert "usr" in enforced.stdout.split()
