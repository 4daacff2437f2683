"""`learn run`'s fixed cost: what a run of a trivial target pays beyond the target itself.

Import only what the command needs (pandas takes 0.4 s to import and `learn run -q` needs none of
it), and wait on barriers, not fixed sleeps (learn.kernel.sources: the settle marker).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from learn.kernel import features
from learn.kernel.sources.kmsg import KmsgSource
from learn.kernel.sources.netlink import NetlinkSource
from tests.kernel.test_sources import events_of, run_exec, run_getppid

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: seccomp filters and audit records"),
]

# Runs the CLI, then says on stderr whether pandas was ever imported.
PROBE = (
    "import atexit, sys\n"
    "atexit.register(lambda: sys.stderr.write(f'pandas imported: {\"pandas\" in sys.modules}\\n'))\n"
    "sys.argv = ['learn', *sys.argv[1:]]\n"
    "from learn.cli import main\n"
    "main()\n"
)


def test_quiet_run_never_imports_pandas(tmp_path: Path) -> None:
    out = tmp_path / "true.json"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, "run", "-q", "-o", str(out), "--", "/bin/true"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "pandas imported: False" in done.stderr
    names = json.loads(out.read_text())["syscalls"][0]["names"]
    assert {"execve", "exit_group"} <= set(names)


def test_run_summary_and_report_need_no_pandas(tmp_path: Path) -> None:
    """Without -q, the summary and --report-json list the usage from the counts, without pandas."""
    report = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, "run", "-o", str(tmp_path / "p.json"), "--report-json", str(report),
         "--", "/bin/true"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "exit_group" in done.stderr
    assert "pandas imported: False" in done.stderr
    usage = json.loads(report.read_text())["usage"]
    assert any(row["syscall"] == "exit_group" for row in usage)


def test_netlink_settles_on_a_marker_not_a_fixed_sleep() -> None:
    """After the end marker, a settle marker (one more round trip through kauditd) stands in for
    the fixed settle time: that time is now only the marker's timeout."""
    with NetlinkSource(settle=5.0) as source:
        source.start()
        pid = run_exec(["/bin/true"])
        began = time.monotonic()
        source.stop()
        took = time.monotonic() - began
        names = {e.syscall for e in events_of(source, pid)}
    assert took < 2.5, took  # it slept the whole 5 s before
    assert source._markers == ["start", "end", "settle"]
    assert {"execve", "exit_group"} <= names
    assert source.loss.lossless, source.loss


@pytest.mark.skipif(bool(os.geteuid() == 0 and features.audit_status().pid), reason="auditd runs: kmsg gets nothing")
def test_kmsg_settles_by_a_fixed_wait_to_spare_printks_rate_limit() -> None:
    """Each marker costs one of printk's 10 messages a window: kmsg sends no settle marker."""
    with KmsgSource(settle=0.3) as source:
        source.start()
        run_getppid(1)
        began = time.monotonic()
        source.stop()
        took = time.monotonic() - began
    assert "settle" not in source._markers
    assert took >= 0.3
