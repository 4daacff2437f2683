"""`learn enforce`, `check`, `compile`, `show` and `diff` as a user runs them, on this kernel."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.kernel
PROGS = Path(__file__).resolve().parent / "progs"
LEARN = [sys.executable, "-m", "learn"]


def learn(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LEARN, *map(str, args)], capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The probe program and the OCI profile learned from one run of it."""
    tmp = tmp_path_factory.mktemp("probe")
    exe = tmp / "probe"
    subprocess.run(["gcc", "-O2", "-o", exe, PROGS / "probe.c"], check=True)
    profile = tmp / "probe.json"
    learned = learn("run", "-q", "-o", profile, "--", exe)
    assert learned.returncode == 0, learned.stderr
    return exe, profile


def test_enforce_runs_the_program_and_denies_the_rest(probe: tuple[Path, Path]) -> None:
    exe, profile = probe
    assert learn("enforce", profile, "--", exe).stdout == "hello\n"
    denied = learn("enforce", profile, "--", exe, "probe")
    assert (denied.returncode, denied.stdout) == (0, "hello\nsysinfo: -1 errno 1\n")


def test_check_reports_exactly_the_denied_syscall(probe: tuple[Path, Path]) -> None:
    exe, profile = probe
    clean = learn("check", profile, "--", exe)
    assert clean.returncode == 0, clean.stderr
    assert "nothing denied" in clean.stderr
    denied = learn("check", profile, "--", exe, "probe")
    assert denied.returncode == 3, denied.stderr
    assert "1 calls denied" in denied.stderr and "sysinfo" in denied.stderr
    complain = learn("check", "--complain", profile, "--", exe, "probe")
    assert complain.returncode == 3 and "would be denied" in complain.stderr
    assert "sysinfo: 0 errno 0" in complain.stdout  # complain mode disturbs nothing


def test_compiled_bpf_runs_and_is_refused_when_stale(probe: tuple[Path, Path], tmp_path: Path) -> None:
    exe, learned = probe
    profile = tmp_path / "p.json"
    profile.write_text(learned.read_text())
    bpf = tmp_path / "p.bpf"
    compiled = learn("compile", profile, "-o", bpf)
    assert compiled.returncode == 0, compiled.stderr
    sidecar = json.loads((tmp_path / "p.bpf.json").read_text())
    assert sidecar["arches"] == ["x86_64"] and sidecar["instructions"] * 8 == bpf.stat().st_size
    assert learn("enforce", "--bpf", bpf, "--", exe, "probe").stdout == "hello\nsysinfo: -1 errno 1\n"

    profile.write_text(profile.read_text().replace('"write"', '"write", "sysinfo"'))
    stale = learn("enforce", "--bpf", bpf, "--", exe)
    assert stale.returncode == 2 and "stale" in stale.stderr and stale.stdout == ""

    assert learn("compile", profile, "-o", bpf).returncode == 0
    assert learn("enforce", "--bpf", bpf, "--", exe, "probe").stdout == "hello\nsysinfo: 0 errno 0\n"
    (tmp_path / "p.bpf.json").unlink()
    missing = learn("enforce", "--bpf", bpf, "--", exe)
    assert missing.returncode == 2 and "missing" in missing.stderr


def test_show_and_diff(probe: tuple[Path, Path], tmp_path: Path) -> None:
    _, learned = probe
    shown = learn("show", learned)
    assert shown.returncode == 0 and "# x86_64:" in shown.stdout and "if ($syscall ==" in shown.stdout
    wider = tmp_path / "wider.json"
    wider.write_text(learned.read_text().replace('"write"', '"sysinfo", "write"'))
    changed = learn("diff", learned, wider)
    assert changed.returncode == 1 and "+x86_64 sysinfo" in changed.stdout  # diff(1): 1 different
