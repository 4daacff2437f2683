"""`learn` as a user runs it: exit codes, one-line errors, atomic output, stdin, .gz, rotation."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CORPUS_LOGS, ROOT

LEARN = [sys.executable, "-m", "learn"]
KUBE = CORPUS_LOGS / "kubernetes-website_seccomp_tutorial.log"
SPREAD = CORPUS_LOGS / "snapd_testing_tools_log_parser_with-debug-output.log.spread"


def learn(*args: str | Path, stdin: bytes | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LEARN, *map(str, args)],
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int) -> None:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("learn: error:")]
    assert len(errors) == 1, result.stderr


def test_suggest_writes_oci_profile_and_summary() -> None:
    result = learn("suggest", KUBE)
    assert result.returncode == 0, result.stderr
    profile = json.loads(result.stdout)
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO" and profile["defaultErrnoRet"] == 1
    assert profile["architectures"] == ["SCMP_ARCH_X86_64"]
    assert profile["syscalls"][0]["names"] == [
        "accept4",
        "exit",  # the baseline: not in the records, allowed on every ABI
        "exit_group",
        "futex",
        "getsockname",
        "pselect6",
        "read",
        "restart_syscall",
        "rt_sigreturn",
        "setsockopt",
    ]
    assert "x86_64: 6 syscalls" in result.stderr and "/http-echo" in result.stderr


def test_output_is_deterministic(tmp_path: Path) -> None:
    for fmt in ("oci", "snapd"):
        a, b = tmp_path / f"a.{fmt}", tmp_path / f"b.{fmt}"
        assert learn("suggest", SPREAD, "--format", fmt, "-o", a).returncode == 0
        assert learn("suggest", SPREAD, "--format", fmt, "-o", b).returncode == 0
        assert a.read_bytes() == b.read_bytes()


def test_no_records_exits_1_with_a_hint(tmp_path: Path) -> None:
    empty = tmp_path / "empty.log"
    empty.write_text("nothing to see\n")
    result = learn("suggest", empty, "-o", tmp_path / "out.json")
    assert_one_line_error(result, 1)
    assert "auditd" in result.stderr and not (tmp_path / "out.json").exists()


def test_kill_records_need_action() -> None:
    log = CORPUS_LOGS / "issues/dhcpcd_issue_460.log"
    assert learn("suggest", log).returncode == 1
    result = learn("suggest", log, "--action", "kill")
    assert result.returncode == 0 and "rt_sigprocmask" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["suggest", "/no/such/file"],
        ["suggest", KUBE, "--since", "yesterday-ish"],
        ["suggest", KUBE, "--action", "explode"],
        ["suggest", KUBE, "-o", "/no/such/dir/profile.json"],
        ["events", "/no/such/file"],
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str]) -> None:
    assert_one_line_error(learn(*args), 2)


def test_unreadable_file(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads everything")
    log = tmp_path / "secret.log"
    log.write_text("x\n")
    log.chmod(0)
    assert_one_line_error(learn("suggest", log), 2)


def test_usage_error_exits_2() -> None:
    result = learn("suggest", "--no-such-option")
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_help_documents_exit_codes() -> None:
    result = learn("--help")
    assert result.returncode == 0
    assert "1 no seccomp records found" in " ".join(result.stdout.split())


def test_loss_exits_4_but_writes_profile(tmp_path: Path) -> None:
    log = CORPUS_LOGS / "spectrum-config-imx8_README_console.log"
    out = tmp_path / "p.snapd"
    result = learn("suggest", log, "--format", "snapd", "-o", out)
    assert result.returncode == 4
    assert "INCOMPLETE" in out.read_text() and "records lost" in result.stderr
    assert learn("suggest", log, "--allow-loss", "-o", out).returncode == 0


def test_stdin_gzip_and_rotated_directory(tmp_path: Path) -> None:
    lines = KUBE.read_bytes().splitlines(keepends=True)
    rotated = tmp_path / "logs"
    rotated.mkdir()
    (rotated / "kern.log.2.gz").write_bytes(gzip.compress(b"".join(lines[:3])))
    (rotated / "kern.log.1").write_bytes(b"".join(lines[3:6]))
    (rotated / "kern.log").write_bytes(b"".join(lines[6:]))
    from_dir = learn("events", rotated)
    assert [json.loads(x)["line"] for x in from_dir.stdout.splitlines()] == [1, 2, 3, 1, 2, 3, 1, 2]
    from_stdin = learn("events", "-", stdin=KUBE.read_bytes())
    assert len(from_stdin.stdout.splitlines()) == 8
    assert json.loads(from_stdin.stdout.splitlines()[0])["source"] == "-"


def test_events_prints_problems_with_file_and_line() -> None:
    log = CORPUS_LOGS / "spo_auditsource_test_0b0c42b_assembled_reject.log"
    result = learn("events", log)
    assert result.stdout == ""
    assert [line.split(": ")[0] for line in result.stderr.splitlines()] == [f"{log}:{n}" for n in range(1, 7)]


def test_events_keys() -> None:
    first = json.loads(learn("events", KUBE).stdout.splitlines()[0])
    assert list(first) == [
        "arch",
        "nr",
        "syscall",
        "action",
        "errno",
        "pid",
        "comm",
        "exe",
        "node",
        "serial",
        "source",
        "line",
        "args",
    ]


def test_filters_select_records(tmp_path: Path) -> None:
    merged = tmp_path / "both.log"
    shutil.copy(KUBE, merged)
    with merged.open("a") as out:
        out.write(SPREAD.read_text())
    # --no-baseline: only what the selected records show (the baseline would add exit_group)
    curl = json.loads(learn("suggest", merged, "--snap", "test-snapd-curl", "--no-baseline").stdout)
    echo = json.loads(learn("suggest", merged, "--exe", "/http-echo", "--no-baseline").stdout)
    assert "exit_group" in curl["syscalls"][0]["names"] and "accept4" not in curl["syscalls"][0]["names"]
    assert "accept4" in echo["syscalls"][0]["names"] and "exit_group" not in echo["syscalls"][0]["names"]
    late = learn("suggest", KUBE, "--since", "1594067900", "--no-baseline")
    assert json.loads(late.stdout)["syscalls"][0]["names"] == ["futex", "pselect6"]


def test_atomic_output_keeps_old_file_on_failure(tmp_path: Path) -> None:
    out = tmp_path / "profile.json"
    out.write_text("old\n")
    assert learn("suggest", tmp_path / "missing.log", "-o", out).returncode == 2
    assert out.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["profile.json"]
