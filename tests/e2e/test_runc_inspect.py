"""`learn show --pid` / `learn diff --pid` of a runc container's process: what runc's filter
decides matches the profile runc was given, moby's default and a learned one. What runc adds
shows in `show`: calls from arches its filter does not check are killed (libseccomp's default
bad-arch action), where the profile's default is EPERM."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from learn.bpf.assemble import names_of
from learn.formats import OutputFormat, load_profile, write
from learn.syscalls import syscall_number
from tests.conftest import HAVE_CORPUS, NO_CORPUS, SHARED
from tests.e2e.conftest import needs_root, wait_until
from tests.e2e.test_runc import delete_container, read_config, with_seccomp, write_config
from tests.kernel.conftest import learn_argv

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: runc, ptrace and seccomp filters"),
]
TIMEOUT = 60
MOBY = SHARED / "corpus" / "profiles" / "moby-profiles_seccomp_default.json"


@pytest.fixture(scope="module")
def runc() -> str:
    needs_root()
    found = shutil.which("runc")
    if found is None:
        pytest.skip("runc is not installed")
    return found


@pytest.fixture(scope="module")
def bundle(runc: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed")
    path = tmp_path_factory.mktemp("waiter-bundle")
    (path / "rootfs").mkdir()
    source = Path(__file__).resolve().parent / "programs" / "waiter.c"
    built = subprocess.run(
        [gcc, "-O2", "-Wall", "-static", "-o", str(path / "rootfs" / "waiter"), str(source)],
        capture_output=True, text=True, timeout=TIMEOUT,
    )  # fmt: skip
    if built.returncode != 0:
        pytest.skip(f"gcc -static failed:\n{built.stderr}")
    subprocess.run([runc, "spec"], cwd=path, check=True, timeout=TIMEOUT)
    config = read_config(path)
    config["process"]["terminal"] = False
    config["process"]["args"] = ["/waiter"]
    config["root"] = {"path": "rootfs", "readonly": True}
    write_config(path, config)
    return path


@contextlib.contextmanager
def container(runc: str, bundle: Path, name: str) -> Iterator[int]:
    """`runc run -d`: the container's process id on the host while it waits."""
    container_id = f"learn-inspect-{os.getpid()}-{name}"
    with open(bundle / "out.txt", "w") as out:
        subprocess.run(
            [runc, "run", "-d", "--bundle", str(bundle), container_id],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out, check=True, timeout=TIMEOUT,
        )  # fmt: skip
    try:
        state = json.loads(subprocess.run([runc, "state", container_id], capture_output=True, text=True).stdout)
        pid = int(state["pid"])
        wait_until(lambda: "uname: Linux" in (bundle / "out.txt").read_text(), 10, "the container's output")
        yield pid
    finally:
        delete_container(runc, container_id)


def learn(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*learn_argv(), *args], capture_output=True, text=True, timeout=TIMEOUT)


def oci_for_runc(path: Path, into: Path) -> dict[str, Any]:
    """The profile as the OCI runtime spec's linux.seccomp (moby's archMap etc. evaluated)."""
    text = write(load_profile(str(path)).profile, OutputFormat.OCI).text
    into.write_text(text)
    seccomp: dict[str, Any] = json.loads(text)
    return seccomp


def check_matches(pid: int, given: Path, added: frozenset[str] = frozenset()) -> list[str]:
    shown = learn("show", "--pid", str(pid))
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    # What runc adds: libseccomp's bad-arch action, kill_thread, for arches its filter does not check.
    assert "# other arches: kill_thread" in lines
    assert "calls from arches the filter does not check get kill_thread, not the default" in shown.stderr
    done = learn("diff", "--pid", str(pid), str(given))
    if not added:
        assert (done.returncode, done.stdout) == (0, "no differences\n"), done.stdout + done.stderr
    else:  # runc's own ENOSYS, process side first
        assert done.returncode == 1, done.stderr
        assert done.stdout == "".join(f"-x86_64 {name}: errno(38)\n" for name in sorted(added))
    return lines


@pytest.mark.skipif(not HAVE_CORPUS, reason=NO_CORPUS)
def test_moby_default_in_runc(runc: str, bundle: Path, tmp_path: Path) -> None:
    given = tmp_path / "moby.oci.json"
    seccomp = oci_for_runc(MOBY, given)
    confined = with_seccomp(bundle, tmp_path / "bundle", seccomp)
    with container(runc, confined, "moby") as pid:
        lines = check_matches(pid, given)
        assert "# x86_64: clone: allow if a0 & 0x7e020000 == 0" in lines
        assert "# x86_64: clone3: errno(38)" in lines
        assert lines[-2:] == ["# default: errno(1)", "# other arches: kill_thread"]
        assert "S" in Path(f"/proc/{pid}/status").read_text().split("State:")[1][:4]


def test_learned_profile_in_runc(runc: str, bundle: Path, tmp_path: Path) -> None:
    once = tmp_path / "once"
    once.mkdir()
    config = read_config(bundle)
    config["process"]["args"] = ["/waiter", "once"]
    config["root"]["path"] = str(bundle / "rootfs")
    write_config(once, config)
    learned = tmp_path / "learned.json"
    done = learn("run", "--oci-bundle", str(once), "-o", str(learned))
    assert done.returncode == 0, done.stderr
    profile = json.loads(learned.read_text())
    profile["syscalls"][0]["names"].append("pause")  # the waiting the learning run skipped
    learned.write_text(json.dumps(profile))
    confined = with_seccomp(bundle, tmp_path / "bundle", profile)
    # What runc adds: ENOSYS for the syscalls numbered above the profile's highest (so that a
    # libc falls back from a syscall newer than the profile), where the profile says EPERM.
    highest = max(n for name in profile["syscalls"][0]["names"] if (n := syscall_number("x86_64", name)) is not None)
    above = frozenset(name for nr, name in names_of("x86_64").items() if nr > highest)
    with container(runc, confined, "learned") as pid:
        lines = check_matches(pid, learned, above)
        assert any(line.startswith("# x86_64: ") and " pause " in line for line in lines)
        assert "# default: errno(38)" in lines  # what the unnamed numbers get (all above the highest)
