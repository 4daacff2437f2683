"""libseccomp 2.5.4's binary tree miscompiles some argument rules; learn checks the program it
built against the profile (learn.bpf.verify) and builds the linear chain instead (issue 8: no
filter other than the profile's)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.kernel.conftest import learn_argv

pytestmark = pytest.mark.kernel

# write: EACCES when a0 == 0, allowed when a1 == 1, else the default EPERM. Under the tree,
# write(1, NULL, 0) on x86 got EACCES: a1 (0) was compared with a0's constant.
PROFILE = {
    "defaultAction": "SCMP_ACT_ERRNO",
    "defaultErrnoRet": 1,
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
    "syscalls": [
        {"names": ["execve", "brk", "arch_prctl", "set_thread_area", "set_tid_address", "set_robust_list", "rseq",
                   "prlimit64", "ugetrlimit", "readlink", "readlinkat", "uname", "mprotect", "exit_group", "exit",
                   "mmap", "mmap2", "munmap", "access", "openat", "close", "fstat", "fstat64", "newfstatat",
                   "statx", "pread64", "getrandom"],
         "action": "SCMP_ACT_ALLOW"},
        {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["read", "write"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
         "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
        {"names": ["write"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 1, "op": "SCMP_CMP_EQ"}]},
    ],
}  # fmt: skip


@pytest.mark.parametrize("program", ["write0", "write0_32"])
def test_a_filter_libseccomp_miscompiles_is_not_loaded(programs: dict[str, Path], tmp_path: Path, program: str) -> None:
    profile = tmp_path / "p.json"
    profile.write_text(json.dumps(PROFILE))
    enforced = subprocess.run(
        [*learn_argv(), "enforce", profile, "--", programs[program]], capture_output=True, text=True, check=False
    )
    assert enforced.returncode == 1, enforced.stderr  # EPERM, the profile's default; not EACCES (13)
    bpf = tmp_path / "p.bpf"
    assert (
        subprocess.run([*learn_argv(), "compile", profile, "-o", bpf], capture_output=True, check=False).returncode == 0
    )
    loaded = subprocess.run(
        [*learn_argv(), "enforce", "--bpf", bpf, "--", programs[program]], capture_output=True, text=True, check=False
    )
    assert loaded.returncode == 1, loaded.stderr
