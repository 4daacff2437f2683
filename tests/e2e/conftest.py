"""Helpers for the end-to-end tests: real programs (memcached, runc) learned and checked by the
`learn` command itself, as a user runs it. Every test here is marked `kernel` (root, audit).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.kernel.conftest import learn_argv

# A row of the per-arch table `learn suggest/run/check` print on stderr:
# "syscall  nr  count  executables" (executables may be empty or hold spaces and commas).
_TABLE_TITLE = re.compile(r"^(\S+): (\d+) syscalls$")
_TABLE_ROW = re.compile(r"^(\w+)\s+(\d+)\s+(\d+)(?:\s+(.*?))?\s*$")


def needs_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: seccomp filters and audit records")


def table(stderr: str) -> dict[str, dict[str, int]]:
    """arch -> {syscall: count} from the summary tables in learn's stderr."""
    tables: dict[str, dict[str, int]] = {}
    rows: dict[str, int] | None = None
    for line in stderr.splitlines():
        title = _TABLE_TITLE.match(line.strip())
        if title:
            rows = tables.setdefault(title[1], {})
            continue
        if rows is None:
            continue
        if line.split()[:2] == ["syscall", "nr"]:
            continue
        row = _TABLE_ROW.match(line.strip())
        if row is None:
            rows = None  # the table ended
            continue
        rows[row[1]] = int(row[3])
    return tables


@dataclass
class Learn:
    """A `learn` subcommand running in the background, in a process group of its own."""

    proc: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM to learn (which passes it on to its target); learn's exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def err(self) -> str:
        return self.stderr.read_text(errors="replace")

    def out(self) -> str:
        return self.stdout.read_text(errors="replace")


@contextlib.contextmanager
def learn_background(args: Sequence[str], workdir: Path, name: str) -> Iterator[Learn]:
    """Start `learn ARGS`; on the way out make sure it and its target are gone."""
    workdir.mkdir(parents=True, exist_ok=True)
    stdout, stderr = workdir / f"{name}.stdout", workdir / f"{name}.stderr"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        proc = subprocess.Popen(
            [*learn_argv(), *args], stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=workdir,
            start_new_session=True,  # its own group: the cleanup below reaches the target too
        )  # fmt: skip
    try:
        yield Learn(proc, stdout, stderr)
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, step: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
