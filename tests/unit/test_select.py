"""A selection by program keeps the execve that started it, and a live run names its launcher."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from learn.model import Action, SeccompEvent
from learn.pipeline import learn_from_logs
from learn.select import Selection
from learn.tally import LAUNCHER, Tally
from tests.conftest import SAMPLE_LOGS

LS_LA = SAMPLE_LOGS / "auditd/ls-la.audit.log"  # first record: the launcher's execve, exe=python3.11


def _record(serial: int, pid: int, exe: str, nr: int, node: str = "") -> str:
    comm = os.path.basename(exe)[:15]
    return (
        f'{node}type=SECCOMP msg=audit(1700000000.000:{serial}): auid=0 uid=0 gid=0 ses=1 pid={pid} comm="{comm}" '
        f'exe="{exe}" sig=0 arch=c000003e syscall={nr} compat=0 ip=0x1 code=0x7ffc0000'
    )


def _syscalls(path: Path, selection: Selection) -> dict[str, int]:
    usage = learn_from_logs([str(path)], selection).usage
    return {str(name): int(count) for name, count in usage.groupby("syscall")["count"].sum().items()}


@pytest.mark.parametrize(
    "selection",
    [
        Selection(exes=frozenset({"/usr/bin/ls"})),
        Selection(comms=frozenset({"ls"})),
        Selection(pids=frozenset({7094})),
    ],
    ids=["exe", "comm", "pid"],
)
def test_selection_keeps_the_execve_that_started_the_program(selection: Selection) -> None:
    found = _syscalls(LS_LA, selection)
    assert found.get("execve") == 1, found
    assert sum(found.values()) == 302  # and every record of ls


def test_only_the_exec_just_before_a_selected_record_is_kept(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_text(
        "\n".join([
            _record(1, 10, "/usr/bin/dash", 59),  # 10 execs ls: kept
            _record(2, 10, "/usr/bin/ls", 0),
            _record(3, 11, "/usr/bin/dash", 59),  # 11 execs cat: not ls
            _record(4, 11, "/usr/bin/cat", 0),
            _record(5, 12, "/usr/bin/dash", 59),  # 12 execs, then another record of its own...
            _record(6, 12, "/usr/bin/dash", 1),
            _record(7, 12, "/usr/bin/ls", 0),  # ...so this ls was not started by that exec
            _record(8, 13, "/usr/bin/dash", 59, node="node=a "),  # another host's pid 13
            _record(9, 13, "/usr/bin/ls", 0, node="node=b "),
        ]) + "\n"
    )  # fmt: skip
    found = _syscalls(log, Selection(exes=frozenset({"/usr/bin/ls"})))
    assert found == {"execve": 1, "read": 3}


def test_bulk_path_is_not_used_for_a_selection_by_program(tmp_path: Path) -> None:
    selection = Selection(exes=frozenset({"/usr/bin/ls"}))
    bulk = learn_from_logs([str(LS_LA)], selection, bulk_block=64)
    assert bulk.selected == 302


def test_a_live_runs_first_execve_is_named_for_learn_starting_the_target() -> None:
    own = os.readlink("/proc/self/exe")
    tally = Tally(["run"], Selection(), live=True)
    for serial, exe in enumerate([own, "/usr/bin/sh", own]):
        tally.event(SeccompEvent("x86_64", 59, "execve", Action.LOG, None, 5, "x", exe, f"1.0:{serial}", "run", 1))
    exes = sorted(tally.finish().usage["exe"])
    assert exes == sorted([LAUNCHER, "/usr/bin/sh", own])
