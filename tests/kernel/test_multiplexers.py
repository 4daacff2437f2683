"""x86 socketcall(2) under `learn enforce`: an argument rule on socket(2) is not bypassed (issue 8)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from learn.arch import native_arch

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(native_arch() != "x86_64", reason="an i386 program on an x86_64 kernel"),
]
PROGRAMS = Path(__file__).resolve().parent / "programs"
LEARN = [sys.executable, "-m", "learn"]
# socket(2) for AF_UNIX only; socketcall(2) is not listed. x86_64 needs execve: learn's child
# makes it, after loading the filter.
PROFILE = {
    "defaultAction": "SCMP_ACT_ERRNO",
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
    "syscalls": [
        {"names": ["execve", "write", "exit", "exit_group"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
    ],
}
FREE = (
    "socket(AF_UNIX) ok\nsocket(AF_INET) ok\nsocketcall(SYS_SOCKET, AF_UNIX) ok\nsocketcall(SYS_SOCKET, AF_INET) ok\n"
)
ENFORCED = (
    "socket(AF_UNIX) ok\nsocket(AF_INET) errno 1\n"
    "socketcall(SYS_SOCKET, AF_UNIX) errno 1\nsocketcall(SYS_SOCKET, AF_INET) errno 1\n"
)


@pytest.fixture(scope="module")
def socketcall32(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if os.geteuid() != 0:
        pytest.skip("needs root: seccomp filters")
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    exe = tmp_path_factory.mktemp("socketcall32") / "socketcall32"
    flags = ["-m32", "-static", "-nostdlib", "-ffreestanding", "-fno-builtin", "-fno-pie", "-no-pie"]
    built = subprocess.run(
        ["gcc", "-O2", *flags, "-fno-stack-protector", "-o", str(exe), str(PROGRAMS / "socketcall32.c")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if built.returncode != 0:
        pytest.skip(f"cannot build an i386 program (gcc-multilib?): {built.stderr.strip()[:200]}")
    return exe


def learn(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LEARN, *map(str, args)], capture_output=True, text=True, check=False)


def test_socketcall_cannot_bypass_an_argument_rule(socketcall32: Path, tmp_path: Path) -> None:
    assert subprocess.run([socketcall32], capture_output=True, text=True, check=True).stdout == FREE
    profile = tmp_path / "p.json"
    profile.write_text(json.dumps(PROFILE))
    enforced = learn("enforce", profile, "--", socketcall32)
    assert (enforced.returncode, enforced.stdout) == (0, ENFORCED), enforced.stderr
    assert "socketcall(2)/ipc(2)" in enforced.stderr  # the note says what happens there
    # The compiled BPF holds the same guard.
    bpf = tmp_path / "p.bpf"
    compiled = learn("compile", profile, "-o", bpf)
    assert compiled.returncode == 0, compiled.stderr
    from_bpf = learn("enforce", "--bpf", bpf, "--", socketcall32)
    assert (from_bpf.returncode, from_bpf.stdout) == (0, ENFORCED), from_bpf.stderr
    guard = "# learn checks before libseccomp's filter: x86: socketcall(a0 == 1, i.e. socket): errno(1)"
    assert guard in learn("show", profile).stdout
    assert guard in learn("merge", "-f", "pfc", profile).stdout
