"""`learn enforce --bpf` loads only the build of the reviewed source, from files no one else wrote.

Each test is an attack (or fault) that worked before: a BPF swapped for a LOG-default one, a
sidecar pointing at another source, nobody's files in a world-writable directory, a planted
symlink, a sidecar pointing at /dev/zero. And snapd's @unrestricted: no filter, as snap-confine.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from learn.kernel.filters import Mode, build_filter, export_bpf
from learn.model import Action
from learn.profile import Profile

pytestmark = pytest.mark.kernel
PROGS = Path(__file__).resolve().parent / "progs"
LEARN = [sys.executable, "-m", "learn"]
NOBODY = 65534


def learn(*args: object, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LEARN, *map(str, args)], capture_output=True, text=True, check=False, timeout=timeout)


def refused(result: subprocess.CompletedProcess[str], *words: str) -> bool:
    """Exit 2, nothing run, one error line saying all of words."""
    lines = result.stderr.splitlines()
    return (
        result.returncode == 2
        and result.stdout == ""
        and len(lines) == 1
        and lines[0].startswith("learn: error: ")
        and all(w in lines[0] for w in words)
    )


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The probe program and the text of the OCI profile learned from one run of it."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    tmp = tmp_path_factory.mktemp("probe")
    exe = tmp / "probe"
    subprocess.run(["gcc", "-O2", "-o", exe, PROGS / "probe.c"], check=True)
    profile = tmp / "probe.json"
    learned = learn("run", "-q", "-o", profile, "--", exe)
    assert learned.returncode == 0, learned.stderr
    return exe, profile.read_text()


@pytest.fixture
def compiled(probe: tuple[Path, str], tmp_path: Path) -> tuple[Path, Path, Path]:
    """(probe, p.json, p.bpf) compiled by root in a directory only root can write."""
    exe, text = probe
    profile = tmp_path / "p.json"
    profile.write_text(text)
    bpf = tmp_path / "p.bpf"
    done = learn("compile", profile, "-o", bpf)
    assert done.returncode == 0, done.stderr
    assert learn("enforce", "--bpf", bpf, "--", exe, "probe").stdout == "hello\nsysinfo: -1 errno 1\n"
    return exe, profile, bpf


def sidecar_of(bpf: Path) -> dict[str, object]:
    return dict(json.loads(Path(f"{bpf}.json").read_text()))


def rewrite_sidecar(bpf: Path, **changes: object) -> None:
    Path(f"{bpf}.json").write_text(json.dumps(sidecar_of(bpf) | changes))


def test_a_log_default_bpf_with_its_hash_in_the_sidecar_is_refused(compiled: tuple[Path, Path, Path]) -> None:
    exe, _, bpf = compiled
    program = export_bpf(build_filter(Profile({"x86_64": ()}, Action.LOG, None), mode=Mode.ENFORCE).filter)
    bpf.write_bytes(program)
    rewrite_sidecar(bpf, bpf_sha256=hashlib.sha256(program).hexdigest(), instructions=len(program) // 8)
    swapped = learn("enforce", "--bpf", bpf, "--", exe, "probe")
    assert refused(swapped, "is not what", "compiles to"), swapped


def test_a_sidecar_pointing_at_another_source_is_refused(compiled: tuple[Path, Path, Path]) -> None:
    exe, profile, bpf = compiled
    other = profile.with_name("other.json")
    other.write_text(profile.read_text().replace('"write"', '"sysinfo", "write"'))
    rewrite_sidecar(bpf, source=str(other), source_sha256=hashlib.sha256(other.read_bytes()).hexdigest())
    pointed = learn("enforce", "--bpf", bpf, "--", exe, "probe")
    assert refused(pointed, "is not what", str(other)), pointed


def test_an_empty_bpf_is_not_a_way_around_the_source(compiled: tuple[Path, Path, Path]) -> None:
    exe, _, bpf = compiled
    bpf.write_bytes(b"")
    rewrite_sidecar(bpf, unrestricted=True, bpf_sha256=hashlib.sha256(b"").hexdigest(), instructions=0)
    assert refused(learn("enforce", "--bpf", bpf, "--", exe), "is not what")


def test_another_libseccomp_means_recompile(compiled: tuple[Path, Path, Path]) -> None:
    exe, profile, bpf = compiled
    rewrite_sidecar(bpf, libseccomp="2.4.0")
    other = learn("enforce", "--bpf", bpf, "--", exe)
    assert refused(other, "compiled with libseccomp 2.4.0", f"learn compile {profile}"), other


def test_denials_are_logged_as_the_kernel_allows_whatever_the_sidecar_says(
    compiled: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import learn.enforce

    _, _, bpf = compiled
    rewrite_sidecar(bpf, log_denials=False)
    loads: list[bool] = []
    monkeypatch.setattr(learn.enforce, "load_bpf", lambda program, *, log: loads.append(log))
    learn.enforce.compiled_installer(str(bpf)).install()
    assert loads == [learn.enforce.features.flag_log_probe().ok] == [True]


def test_libseccomp_output_is_deterministic(probe: tuple[Path, str], tmp_path: Path) -> None:
    """What binding a BPF to its source rests on: the same source, the same bytes, every time."""
    profile = tmp_path / "p.json"
    profile.write_text(probe[1])
    builds = []
    for seed in ("1", "2"):
        out = tmp_path / f"p{seed}.bpf"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run([*LEARN, "compile", str(profile), "-o", str(out)], check=True, env=env, capture_output=True)
        builds.append(out.read_bytes())
    assert builds[0] == builds[1] and builds[0]


def test_nobodys_filter_in_a_world_writable_directory_is_refused(compiled: tuple[Path, Path, Path]) -> None:
    """The attack: nobody puts a LOG filter, a sidecar vouching for it and its source in a 0777 directory."""
    exe, _, bpf = compiled
    shared = Path(f"/tmp/learn-test-0777-{os.getpid()}")
    shared.mkdir()
    try:
        shared.chmod(0o777)
        evil = shared / "evil.json"
        evil.write_text('{"defaultAction": "SCMP_ACT_LOG", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": []}')
        program = export_bpf(build_filter(Profile({"x86_64": ()}, Action.LOG, None), mode=Mode.ENFORCE).filter)
        (shared / "x.bpf").write_bytes(program)
        vouch = {"source": str(evil), "source_sha256": hashlib.sha256(evil.read_bytes()).hexdigest()}
        vouch |= {"bpf_sha256": hashlib.sha256(program).hexdigest(), "instructions": len(program) // 8}
        (shared / "x.bpf.json").write_text(json.dumps(sidecar_of(bpf) | vouch))
        for name in ("x.bpf", "x.bpf.json", "evil.json"):
            os.chown(shared / name, NOBODY, NOBODY)
        loaded = learn("enforce", "--bpf", shared / "x.bpf", "--", exe, "probe")
        assert refused(loaded, str(shared), "writable by others without the sticky bit"), loaded
        compiling = learn("compile", evil, "-o", shared / "y.bpf")  # refused at compile time already
        assert compiling.returncode == 2 and not (shared / "y.bpf").exists()
    finally:
        shutil.rmtree(shared)


@pytest.mark.parametrize("name", ["p.bpf", "p.bpf.json", "p.json"])
def test_a_file_someone_else_owns_or_can_write_is_refused(compiled: tuple[Path, Path, Path], name: str) -> None:
    exe, _, bpf = compiled
    target = bpf.with_name(name)
    os.chown(target, NOBODY, NOBODY)
    assert refused(learn("enforce", "--bpf", bpf, "--", exe), f"{target}: file owned by uid 65534")
    os.chown(target, 0, 0)
    target.chmod(0o664)
    assert refused(learn("enforce", "--bpf", bpf, "--", exe), f"{target}: file writable by its group")
    target.chmod(0o644)
    assert learn("enforce", "--bpf", bpf, "--", exe).stdout == "hello\n"


def test_a_symlink_planted_in_a_sticky_directory_is_not_followed(compiled: tuple[Path, Path, Path]) -> None:
    """In a 1777 directory (protected_symlinks off here) nobody plants x.bpf -> root's filter."""
    exe, _, bpf = compiled
    sticky = Path(f"/tmp/learn-test-1777-{os.getpid()}")
    sticky.mkdir()
    try:
        sticky.chmod(0o1777)
        for name in ("x.bpf", "x.bpf.json"):
            (sticky / name).symlink_to(bpf.with_name(name.replace("x.", "p.")))
            os.chown(sticky / name, NOBODY, NOBODY, follow_symlinks=False)
        planted = learn("enforce", "--bpf", sticky / "x.bpf", "--", exe)
        assert refused(planted, "a symlink owned by uid 65534", "not followed"), planted
        for name in ("x.bpf", "x.bpf.json"):
            os.chown(sticky / name, 0, 0, follow_symlinks=False)  # root's own links are followed
        assert learn("enforce", "--bpf", sticky / "x.bpf", "--", exe).stdout == "hello\n"
    finally:
        shutil.rmtree(sticky)


@pytest.mark.parametrize("source", ["/dev/zero", "fifo"])
def test_a_source_that_is_not_a_regular_file_is_refused_at_once(compiled: tuple[Path, Path, Path], source: str) -> None:
    exe, profile, bpf = compiled
    if source == "fifo":
        source = str(profile.with_name("fifo"))
        os.mkfifo(source, 0o600)
    rewrite_sidecar(bpf, source=source)
    start = time.monotonic()
    result = learn("enforce", "--bpf", bpf, "--", exe, timeout=30)
    assert refused(result, f"{source}: not a regular file"), result
    assert time.monotonic() - start < 10


def test_a_sidecar_that_is_dev_zero_is_refused_at_once(compiled: tuple[Path, Path, Path]) -> None:
    exe, _, bpf = compiled
    sidecar = Path(f"{bpf}.json")
    sidecar.unlink()
    sidecar.symlink_to("/dev/zero")
    result = learn("enforce", "--bpf", bpf, "--", exe, timeout=30)
    assert refused(result, f"{sidecar}: not a regular file"), result


def test_under_sudo_the_user_who_ran_it_is_trusted_too(compiled: tuple[Path, Path, Path]) -> None:
    exe, profile, bpf = compiled
    os.chown(profile, NOBODY, NOBODY)
    assert refused(learn("enforce", "--bpf", bpf, "--", exe), "owned by uid 65534")
    as_sudo = subprocess.run(
        [*LEARN, "enforce", "--bpf", str(bpf), "--", str(exe)],
        env={**os.environ, "SUDO_UID": str(NOBODY)},
        capture_output=True,
        text=True,
    )
    assert as_sudo.stdout == "hello\n", as_sudo.stderr


def test_a_bpf_too_big_for_the_kernel_is_not_read_whole(compiled: tuple[Path, Path, Path]) -> None:
    exe, _, bpf = compiled
    bpf.write_bytes(b"\0" * (4096 * 8 + 8))
    assert refused(learn("enforce", "--bpf", bpf, "--", exe), "larger than 32768 bytes")


def test_unrestricted_loads_no_filter_in_every_command(probe: tuple[Path, str], tmp_path: Path) -> None:
    exe, _ = probe
    snap = tmp_path / "u.snap"
    snap.write_text("# a snap in classic-like confinement\n@unrestricted\n")
    bpf = tmp_path / "u.bpf"
    compiled = learn("compile", snap, "-o", bpf)
    assert compiled.returncode == 0 and "no filter" in compiled.stderr, compiled.stderr
    assert bpf.read_bytes() == b"" and sidecar_of(bpf)["unrestricted"] is True
    for argv in (["enforce", "--bpf", bpf], ["enforce", snap]):
        ran = learn(*argv, "--", exe, "probe")
        assert (ran.returncode, ran.stdout) == (0, "hello\nsysinfo: 0 errno 0\n"), ran.stderr
        assert ran.stderr.count("no filter is loaded") == 1, ran.stderr
    checked = learn("check", snap, "--", exe, "probe")
    assert checked.returncode == 0 and "nothing denied" in checked.stderr, checked.stderr
    assert "no filter is loaded" in checked.stderr
    shown = learn("show", snap)
    assert (
        shown.returncode == 0
        and shown.stdout == "# unrestricted: no filter is loaded (the profile allows every call)\n"
    )

    snap.write_text("read\nwrite\n")  # no longer unrestricted: the empty BPF is stale
    assert refused(learn("enforce", "--bpf", bpf, "--", exe), "stale")
