"""The profile commands as a user runs them: what is not a profile, --profile-format, merge
--default, profiles for other hosts, errno values libseccomp cannot enforce (issues 7 and 8)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

LEARN = [sys.executable, "-m", "learn"]
ALLOW_READ = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["ptrace"], "action": "SCMP_ACT_ERRNO"}]}
ERRNO_READ = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}


def learn(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([*LEARN, *map(str, args)], capture_output=True, text=True, cwd=ROOT, env=env, check=False)


def one_line_error(result: subprocess.CompletedProcess[str], code: int = 2) -> str:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("learn: error:")]
    return line


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    made = {
        "empty": "",
        "prose": "This is a file of prose.\nread it\n",
        "comment": "# nothing here\n",
        "allow": json.dumps(ALLOW_READ),
        "errno": json.dumps(ERRNO_READ),
        "arm": json.dumps({**ERRNO_READ, "architectures": ["SCMP_ARCH_AARCH64"]}),
        "errno4095": json.dumps({**ERRNO_READ, "defaultErrnoRet": 4095}),
        "rule12345": json.dumps({**ERRNO_READ, "syscalls": [{"names": ["ptrace"], "action": "SCMP_ACT_ERRNO",
                                                               "errnoRet": 12345}]}),
    }  # fmt: skip
    out = {}
    for name, text in made.items():
        out[name] = tmp_path / name
        out[name].write_text(text)
    (tmp_path / "binary").write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)))
    out["binary"] = tmp_path / "binary"
    return out


@pytest.mark.parametrize("name", ["empty", "prose", "comment", "binary"])
@pytest.mark.parametrize("command", [["show"], ["compile", "-o", "/dev/null"], ["merge"], ["diff", "PROFILE"]])
def test_what_is_not_a_profile_is_one_line_and_exit_2(files: dict[str, Path], name: str, command: list[str]) -> None:
    args = [files[name] if a == "PROFILE" else a for a in command]
    line = one_line_error(learn(*args, files[name]))
    assert str(files[name]) in line


@pytest.mark.skipif(os.geteuid() != 0, reason="enforce and check need root")
@pytest.mark.parametrize("command", ["enforce", "check"])
@pytest.mark.parametrize("name", ["empty", "prose", "binary", "arm"])
def test_enforce_and_check_refuse_before_starting_anything(
    files: dict[str, Path], tmp_path: Path, command: str, name: str
) -> None:
    marker = tmp_path / "started"
    line = one_line_error(learn(command, files[name], "--", "touch", marker))
    assert not marker.exists()
    if name == "arm":
        assert "none of this host's ABIs (x86_64, x86, x32), only aarch64" in line


def test_profile_format_names_what_detection_refuses(files: dict[str, Path], tmp_path: Path) -> None:
    shown = learn("show", "--profile-format", "snapd", files["empty"])
    assert shown.returncode == 0 and "# x86_64: 0 allowed" in shown.stdout, shown.stderr
    assert learn("diff", "--profile-format", "snapd", files["empty"], files["comment"]).returncode == 0
    merged = learn("merge", "--profile-format", "snapd", files["empty"], files["comment"])
    assert merged.returncode == 0 and '"names"' not in merged.stdout
    compiled = learn("compile", "--profile-format", "snapd", files["empty"], "-o", tmp_path / "e.bpf")
    assert compiled.returncode == 0, compiled.stderr
    one_line_error(learn("show", "--profile-format", "oci", files["prose"]))  # named, and still not JSON
    nul = tmp_path / "nul"
    nul.write_bytes(b"read\n\x00\x01\n")  # UTF-8, but binary
    for command in (["show"], ["compile", "-o", tmp_path / "b.bpf"]):  # named, and still binary
        assert "binary data" in one_line_error(learn(*command, "--profile-format", "snapd", nul))
    assert "--profile-format" in learn("run", "--help").stdout


def test_merge_refuses_different_defaults_unless_chosen(files: dict[str, Path]) -> None:
    for pair in ((files["allow"], files["errno"]), (files["errno"], files["allow"])):
        line = one_line_error(learn("merge", *pair))
        assert "default actions differ (allow, errno(1))" in line and "--default" in line
    ab = learn("merge", "--default", "errno", files["allow"], files["errno"])
    ba = learn("merge", "--default", "errno", files["errno"], files["allow"])
    assert ab.returncode == ba.returncode == 0 and ab.stdout == ba.stdout
    assert json.loads(ab.stdout)["defaultAction"] == "SCMP_ACT_ERRNO"
    enosys = learn("merge", "--default", "errno:ENOSYS", files["allow"], files["errno"])
    assert json.loads(enosys.stdout)["defaultErrnoRet"] == 38
    assert "no seccomp action" in one_line_error(learn("merge", "--default", "deny", files["allow"]))


def test_errno_libseccomp_cannot_enforce_is_one_line(files: dict[str, Path], tmp_path: Path) -> None:
    line = one_line_error(learn("compile", files["errno4095"], "-o", tmp_path / "x.bpf"))
    assert "errno(4095): libseccomp takes errno 1..4094" in line
    line = one_line_error(learn("show", files["rule12345"]))
    assert "cannot enforce the rule errno(12345) for ptrace" in line
    kept = learn("merge", files["rule12345"])  # reading and writing keep it exactly
    assert kept.returncode == 0 and '"errnoRet": 12345' in kept.stdout
