"""Fixtures for the real-kernel tests: compiled test programs, and `learn run` / strace runs.

Every fixture here is only used by tests marked `kernel` (they need root, gcc and strace).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from learn.arch import from_oci_arch
from learn.profile import Profile

PROGRAMS_SRC = Path(__file__).resolve().parent / "programs"

# name -> (source, extra gcc flags)
PROGRAMS: dict[str, tuple[str, tuple[str, ...]]] = {
    "forkthread": ("forkthread.c", ("-pthread",)),
    "execer": ("execer.c", ()),
    "unamer": ("unamer.c", ()),
    "unamer32": ("unamer.c", ("-m32", "-static")),
    "killed": ("killed.c", ()),
    "burst": ("burst.c", ()),
    "handler": ("handler.c", ()),
    "argcalls": ("argcalls.c", ()),
    "argcalls32": ("argcalls.c", ("-m32",)),
    "write0": ("write0.c", ()),
    "write0_32": ("write0.c", ("-m32", "-static")),
}

# A line of `strace -f -qq -o FILE`: "PID  name(" or "PID  <... name resumed>"; signal (---),
# exit (+++) and personality ([ Process ...) lines name no syscall.
_STRACE_CALL = re.compile(r"^(?:\d+\s+)?(?:<\.\.\. (\w+) resumed>|(\w+)\()")


def learn_argv() -> list[str]:
    """The venv's `learn` script, or `python -m learn` with the interpreter running the tests."""
    script = Path(sys.executable).parent / "learn"
    return [str(script)] if script.exists() else [sys.executable, "-m", "learn"]


@pytest.fixture(scope="session")
def programs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The C programs of tests/kernel/programs/, compiled once per session (name -> path)."""
    if os.geteuid() != 0:
        pytest.skip("needs root: seccomp filters and audit records")
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed")
    out = tmp_path_factory.mktemp("programs")
    built: dict[str, Path] = {}
    for name, (source, flags) in PROGRAMS.items():
        target = out / name
        result = subprocess.run(
            [gcc, "-O2", "-Wall", "-o", str(target), str(PROGRAMS_SRC / source), *flags],
            capture_output=True, text=True,
        )  # fmt: skip
        if result.returncode != 0:
            if "-m32" in flags:  # gcc-multilib missing: only the i386 test can't run
                continue
            raise AssertionError(f"gcc {source} failed:\n{result.stderr}")
        built[name] = target
    return built


@dataclass
class LearnResult:
    argv: list[str]
    status: int
    stderr: str
    output: Path  # the profile
    log: Path | None  # --save-log

    def text(self) -> str:
        return self.output.read_text()

    def oci(self) -> dict[str, object]:
        return dict(json.loads(self.text()))

    def names(self) -> set[str]:
        spec = self.oci()
        rules = spec["syscalls"]
        assert isinstance(rules, list)
        return {name for rule in rules for name in rule["names"]}

    def profile(self) -> Profile:
        """The OCI profile as the model: every listed arch allows every listed name."""
        spec = self.oci()
        arches = spec["architectures"]
        assert isinstance(arches, list)
        names = tuple(sorted(self.names()))
        allowed = {}
        for value in arches:
            arch = from_oci_arch(value)
            assert arch is not None, value
            allowed[arch] = names
        return Profile(allowed)

    def summary(self) -> tuple[str, int, int, int]:
        """(source, records collected, from the target, lost) from the run summary's last lines."""
        match = re.search(
            r"source: (\w+); (\d+) records collected, (\d+) from the target .*?; lost: (\d+)", self.stderr
        )
        assert match, self.stderr
        return match[1], int(match[2]), int(match[3]), int(match[4])


def learn_run(
    argv: Sequence[str],
    workdir: Path,
    *options: str,
    stdout: Path | None = None,
    timeout: float = 60,
) -> LearnResult:
    """`learn run [options] -o PROFILE --save-log LOG -- argv`, the target's stdout to a file."""
    workdir.mkdir(parents=True, exist_ok=True)
    output = workdir / ("profile.snapd" if "snapd" in options else "profile.json")
    log = workdir / "records.log"
    stdout = stdout or workdir / "stdout"
    with stdout.open("wb") as out:
        done = subprocess.run(
            [*learn_argv(), "run", *options, "-o", str(output), "--save-log", str(log), "--", *argv],
            stdout=out, stderr=subprocess.PIPE, text=True, cwd=workdir, timeout=timeout,
        )  # fmt: skip
    return LearnResult(list(argv), done.returncode, done.stderr, output, log if log.exists() else None)


def strace_names(argv: Sequence[str], workdir: Path) -> set[str]:
    """The syscall names `strace -f` shows for argv (its stdout to a file, as under learn)."""
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed")
    workdir.mkdir(parents=True, exist_ok=True)
    trace = workdir / "strace.out"
    with (workdir / "strace.stdout").open("wb") as out:
        subprocess.run(
            [strace, "-f", "-qq", "-o", str(trace), "--", *argv],
            stdout=out, stderr=subprocess.DEVNULL, cwd=workdir, timeout=60,
        )  # fmt: skip
    names: set[str] = set()
    for line in trace.read_text().splitlines():
        match = _STRACE_CALL.match(line)
        if match:
            names.add(match[1] or match[2])
    assert names, trace.read_text()
    return names
