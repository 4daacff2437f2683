"""learn run --save-usage: the run's usage as a shard, from which learn suggest builds the
run's profile (its syscalls; the provenance names the run)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from learn.usage import read
from tests.kernel.conftest import learn_argv

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: seccomp filters, audit records"),
]


def learn(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*learn_argv(), *map(str, args)], capture_output=True, text=True, timeout=120, check=False)


def _syscalls(profile: Path) -> list[dict[str, object]]:
    return list(json.loads(profile.read_text())["syscalls"])


def test_run_writes_a_shard_that_suggest_turns_into_the_runs_profile(tmp_path: Path) -> None:
    ran, shard, again = tmp_path / "run.json", tmp_path / "run.parquet", tmp_path / "again.json"
    result = learn("run", "-q", "-o", ran, "--save-usage", shard, "--", "ls", "/")
    assert result.returncode == 0, result.stderr
    usage = read(str(shard))
    assert usage.sources[0].startswith("a run of ls") and usage.events > 0 and usage.lost == 0
    assert all(e.sample and e.first_seen for e in usage.rows.values())
    result = learn("suggest", shard, "-q", "-o", again)
    assert result.returncode == 0, result.stderr
    assert _syscalls(again) == _syscalls(ran)
