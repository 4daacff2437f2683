"""`learn suggest --follow`: a growing file or stdin, each new call said as it appears."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from learn.follow import follow
from learn.model import Problem, SeccompEvent
from learn.select import Selection
from tests.conftest import ROOT, SAMPLE_LOGS

DEVMODE = SAMPLE_LOGS / "wild" / "devmode-snap.audit.log"
LINES = DEVMODE.read_text().splitlines(keepends=True)


def _run(path: Path, writer: threading.Thread, stop: threading.Event) -> tuple[list[str], int]:
    said: list[str] = []
    problems: list[Problem] = []
    writer.start()

    def new(e: SeccompEvent) -> None:
        said.append(e.syscall or "?")

    counts = follow(str(path), Selection(snap="learn-demo"), new, problems.append, keep_going=lambda: not stop.is_set())
    writer.join()
    assert not problems
    return said, sum(counts.values())


def test_a_growing_file_is_read_as_it_grows_and_a_split_line_is_joined(tmp_path: Path) -> None:
    log = tmp_path / "grow.log"
    log.write_text(LINES[0][:100])  # a record half written
    stop = threading.Event()

    def write() -> None:
        time.sleep(0.3)
        with log.open("a") as f:
            f.write(LINES[0][100:])
            f.flush()
            time.sleep(0.3)
            f.writelines(LINES[1:])
            f.writelines(LINES)  # the same records again: said once, counted once
        time.sleep(0.6)
        stop.set()

    said, selected = _run(log, threading.Thread(target=write), stop)
    assert said == ["sched_setattr", "setpriority", "socket", "bind", "mount", "add_key", "ptrace"]
    assert selected == len(LINES)


def test_a_rotated_file_is_read_from_its_start(tmp_path: Path) -> None:
    log = tmp_path / "grow.log"
    log.write_text("".join(LINES[:1]))
    stop = threading.Event()

    def rotate() -> None:
        time.sleep(0.4)
        log.rename(tmp_path / "grow.log.1")
        log.write_text("".join(LINES[1:]))
        time.sleep(0.8)
        stop.set()

    said, _ = _run(log, threading.Thread(target=rotate), stop)
    assert said[0] == "sched_setattr" and "ptrace" in said


def test_follow_stdin_until_it_ends() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "learn", "suggest", "--follow", "--snap", "learn-demo", "-"],
        input="".join(LINES), capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("= Seccomp =") == 7 and "* add 'process-control' to 'plugs'" in done.stdout
    assert "9 records selected, 7 distinct calls" in done.stderr


def test_follow_reads_one_log() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "learn", "suggest", "--follow", str(DEVMODE), str(DEVMODE)],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and "--follow reads one log" in done.stderr


def test_follow_writes_no_profile() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "learn", "suggest", "--follow", "-o", "x.json", str(DEVMODE)],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and "--follow writes no profile" in done.stderr
