"""`learn show --pid`, `learn dump`, `learn diff --pid` on real processes: the filters read back
from the kernel (PTRACE_SECCOMP_GET_FILTER) are the bytes learn loaded, they decompile to the
source profile's meaning, stacked and per-thread filters are told apart, the process keeps
running, and every failure is one line."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from learn.bpf.assemble import decompile
from learn.errors import ProfileError
from learn.formats import load_profile
from learn.kernel.filters import Mode, build_filter, install, program
from learn.kernel.ptrace_filters import read_filters
from learn.model import Action
from learn.profile import Profile, Verdict
from tests.conftest import HAVE_CORPUS, SHARED
from tests.e2e.conftest import wait_until
from tests.kernel import test_filters as tables
from tests.kernel.conftest import learn_argv
from tests.unit.test_decompile import LEARNED, TABLES, _through_multiplexer, bpf_verdict, probes

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: ptrace and seccomp filters"),
]

# What `sleep` needs under learn enforce; restart_syscall because reading filters stops the
# process, and the kernel resumes its clock_nanosleep through restart_syscall(2).
SLEEP = [
    "access", "arch_prctl", "brk", "clock_gettime", "clock_nanosleep", "close", "execve", "exit_group",
    "fstat", "futex", "getrandom", "mmap", "mprotect", "munmap", "nanosleep", "newfstatat", "openat",
    "pread64", "prlimit64", "read", "restart_syscall", "rseq", "rt_sigaction", "rt_sigprocmask",
    "set_robust_list", "set_tid_address", "write",
]  # fmt: skip
TIOCSTI = 0x5412


def oci(names: list[str], **extra: object) -> dict[str, object]:
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            {"names": names, "action": "SCMP_ACT_ALLOW"},
            {
                "names": ["ioctl"],
                "action": "SCMP_ACT_ERRNO",
                "errnoRet": 13,
                "args": [{"index": 1, "value": TIOCSTI, "op": "SCMP_CMP_EQ"}],
            },
        ],
        **extra,
    }


def learn(*args: str, check: int | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*learn_argv(), *args], capture_output=True, text=True, timeout=60)
    if check is not None:
        assert done.returncode == check, done.stderr
    return done


def state(pid: int) -> str:
    with open(f"/proc/{pid}/status") as f:
        return next(line.split()[1] for line in f if line.startswith("State:"))


def children(pid: int) -> list[int]:
    with contextlib.suppress(FileNotFoundError):
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return []


@contextlib.contextmanager
def background(argv: list[str], comm: str) -> Iterator[int]:
    """Start argv; yield the pid of the first descendant named comm once it runs under a filter."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    found: list[int] = []

    def ready() -> bool:
        todo = [proc.pid]
        while todo:
            pid = todo.pop()
            with contextlib.suppress(OSError, StopIteration):
                name = Path(f"/proc/{pid}/comm").read_text().strip()
                if name == comm and state(pid) == "S":
                    found.append(pid)
                    return True
            todo += children(pid)
        return False

    try:
        wait_until(ready, 20, f"{comm} under {argv[:3]}")
        yield found[0]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture
def sleep_profile(tmp_path: Path) -> Path:
    path = tmp_path / "sleep.json"
    path.write_text(json.dumps(oci(SLEEP)))
    return path


def test_show_dump_and_diff_of_an_enforced_process(sleep_profile: Path, tmp_path: Path) -> None:
    with background([*learn_argv(), "enforce", str(sleep_profile), "--", "sleep", "60"], "sleep") as pid:
        shown = learn("show", "--pid", str(pid), check=0)
        lines = shown.stdout.splitlines()
        assert lines[0] == f"# pid {pid} (sleep): seccomp mode filter, 1 filter (Seccomp_filters: 1)"
        allowed = sorted(set(SLEEP) - {"newfstatat"})  # x86 has none
        assert f"# x86: {len(allowed)} allowed: {' '.join(allowed)}" in lines
        assert f"# x86_64: {len(SLEEP)} allowed: {' '.join(SLEEP)}" in lines
        assert "# x86_64: ioctl: errno(13) if a1 == 21522" in lines
        assert lines[-1] == "# default: errno(1)"
        assert shown.stderr == ""
        assert state(pid) == "S"  # still sleeping: attached, read and detached

        out = tmp_path / "running.json"
        learn("dump", str(pid), "-o", str(out), check=0)
        assert learn("diff", str(out), str(sleep_profile)).stdout == "no differences\n"
        for order in (["--pid", str(pid), str(sleep_profile)], [str(sleep_profile), "--pid", str(pid)]):
            assert learn("diff", *order, check=0).stdout == "no differences\n"

        smaller = tmp_path / "smaller.json"
        smaller.write_text(json.dumps(oci([n for n in SLEEP if n != "getrandom"])))
        # The sides follow the command line: the process is A where --pid comes first.
        got = learn("diff", "--pid", str(pid), str(smaller), check=1).stdout.splitlines()
        assert got == ["-x32 getrandom", "-x86 getrandom", "-x86_64 getrandom"]
        got = learn("diff", str(smaller), "--pid", str(pid), check=1).stdout.splitlines()
        assert got == ["+x32 getrandom", "+x86 getrandom", "+x86_64 getrandom"]
        assert state(pid) == "S"


def test_a_stop_in_a_sleep_the_filter_cannot_restart_is_said(tmp_path: Path) -> None:
    profile = tmp_path / "p.json"
    profile.write_text(json.dumps(oci([n for n in SLEEP if n != "restart_syscall"])))
    with background([*learn_argv(), "enforce", str(profile), "--", "sleep", "60"], "sleep") as pid:
        shown = learn("show", "--pid", str(pid), check=0)
    assert f"learn: note: thread {pid} was stopped in clock_nanosleep" in shown.stderr
    assert "a profile should allow restart_syscall" in shown.stderr


def test_nested_enforce_is_the_combined_effect(sleep_profile: Path, tmp_path: Path) -> None:
    """learn enforce OUTER -- learn enforce INNER -- sleep: two filters; a call passes only if
    both allow it, and a denial takes the errno of the most recent filter that denies."""
    if not HAVE_CORPUS:
        pytest.skip("needs moby's default profile from the shared corpus")
    outer = SHARED / "corpus" / "profiles" / "moby-profiles_seccomp_default.json"
    inner = tmp_path / "inner.json"
    inner.write_text(json.dumps(oci([*SLEEP, "kexec_load", "uname"], defaultErrnoRet=38)))
    argv = [*learn_argv(), "enforce", str(outer), "--", *learn_argv(), "enforce", str(inner), "--", "sleep", "60"]
    with background(argv, "sleep") as pid:
        shown = learn("show", "--pid", str(pid), check=0).stdout.splitlines()
        assert shown[0] == f"# pid {pid} (sleep): seccomp mode filter, 2 filters (Seccomp_filters: 2)"
        assert shown[-1] == "# default: errno(38)"  # the inner (newer) filter's
        x86_64 = next(line for line in shown if line.startswith("# x86_64: ") and "allowed:" in line)
        assert "uname" in x86_64 and "kexec_load" not in x86_64  # moby denies kexec_load (EPERM)
        assert "# x86_64: kexec_load: errno(1)" in shown  # the outer filter's errno, not the inner's
        filters = read_filters(pid).threads[0].programs
    assert len(filters) == 2
    combined = decompile(filters).profile
    assert combined.decide("x86_64", "uname") == Verdict(Action.ALLOW, None)
    assert combined.decide("x86_64", "getpid") == Verdict(Action.ERRNO, 38)
    assert combined.decide("x86_64", "ioctl", (0, TIOCSTI)) == Verdict(Action.ERRNO, 13)


@pytest.fixture(scope="module")
def threadfilter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed")
    out = tmp_path_factory.mktemp("threadfilter") / "threadfilter"
    source = Path(__file__).resolve().parent / "programs" / "threadfilter.c"
    subprocess.run([gcc, "-O2", "-Wall", "-pthread", "-o", str(out), str(source)], check=True)
    return out


def test_threads_with_different_filters_and_a_hand_written_one(threadfilter: Path) -> None:
    proc = subprocess.Popen([str(threadfilter)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        tid = int(proc.stdout.readline().split()[1])
        shown = learn("show", "--pid", str(proc.pid), check=0).stdout.splitlines()
        assert shown == [
            f"# pid {proc.pid} (threadfilter): seccomp mode disabled, 0 filters (Seccomp_filters: 0)",
            f"# threads {proc.pid}: 0 filters",
            "# no filter: every call is allowed",
            f"# threads {tid}: 1 filter",
            "# x86_64: 0 allowed: ",
            "# x86_64: ioctl: errno(25) if a1 & 65280 == 21504",  # the low word only: the high one is free
            "# x86_64: getpid: errno(13)",
            "# default: allow",
            "# other arches: kill_process",
        ]
        assert state(proc.pid) == "S"
    finally:
        proc.kill()
        proc.wait()


def test_errors_are_one_line(tmp_path: Path) -> None:
    def one_line(done: subprocess.CompletedProcess[str], text: str) -> None:
        assert done.returncode == 2
        assert done.stdout == ""
        assert done.stderr.count("\n") == 1 and done.stderr.startswith("learn: error: "), done.stderr
        assert text in done.stderr

    gone = subprocess.Popen(["true"])
    gone.wait()
    one_line(learn("show", "--pid", str(gone.pid)), f"no process {gone.pid}")
    one_line(learn("dump", str(os.getpid())), f"process {os.getpid()} (")
    one_line(learn("dump", str(os.getpid())), "has no seccomp filter (Seccomp: 0")
    one_line(learn("diff", "--pid", "1"), "diff --pid takes one profile")
    one_line(learn("show"), "show needs a profile or --pid PID")

    strict = subprocess.Popen(
        ["python3", "-c", "import ctypes, sys; sys.stdout.write('x'); sys.stdout.flush(); "
         "ctypes.CDLL(None).prctl(22, 1, 0, 0, 0)\nwhile True: pass"],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert strict.stdout is not None and strict.stdout.read(1) == b"x"
        wait_until(lambda: "Seccomp:\t1" in Path(f"/proc/{strict.pid}/status").read_text(), 10, "strict mode")
        one_line(learn("show", "--pid", str(strict.pid)), "is in seccomp strict mode")
    finally:
        strict.kill()
        strict.wait()


def test_not_permitted_and_confined_learn_are_one_line(sleep_profile: Path) -> None:
    setpriv = shutil.which("setpriv")
    with background([*learn_argv(), "enforce", str(sleep_profile), "--", "sleep", "60"], "sleep") as pid:
        if setpriv:
            done = subprocess.run(
                [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *learn_argv(), "show", "--pid", str(pid)],
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
            assert "not permitted" in done.stderr and "run learn as root" in done.stderr
        if HAVE_CORPUS:
            moby = SHARED / "corpus" / "profiles" / "moby-profiles_seccomp_default.json"
            done = learn("enforce", str(moby), "--", *learn_argv(), "show", "--pid", str(pid))
            assert done.returncode == 2, done.stderr
            assert "learn itself runs under seccomp (Seccomp: 2 in /proc/self/status)" in done.stderr
        assert state(pid) == "S"


def test_kernel_error_names_the_missing_config() -> None:
    from learn.kernel.ptrace_filters import _get_filter_error

    for code in (5, 22):  # EIO: no such request; EINVAL
        assert "CONFIG_CHECKPOINT_RESTORE" in (_get_filter_error(OSError(code, "x"), "process 1").hint or "")
    assert "EMEDIUMTYPE" in str(_get_filter_error(OSError(124, "x"), "process 1"))


# --- every profile, through the kernel ------------------------------------------------------------


def stopped_child(setup: Callable[[], None]) -> int:
    """A child that runs setup (loading filters) and then spins in user space, without syscalls
    its filter may deny, until the parent stops it with SIGSTOP."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(r)
            os.write(w, b"x")
            setup()
            while True:
                pass
        finally:
            os._exit(70)
    os.close(w)
    os.read(r, 1)
    os.close(r)
    wait_until(lambda: "Seccomp:\t2" in Path(f"/proc/{pid}/status").read_text(), 10, "the child's filter")
    os.kill(pid, signal.SIGSTOP)
    wait_until(lambda: state(pid) == "T", 10, "the child's stop")
    return pid


def kernel_round_trip(source: Profile, rows: list[tuple[str, str, tuple[int, ...]]]) -> None:
    built = build_filter(source, mode=Mode.ENFORCE)
    pid = stopped_child(lambda: install(built))
    try:
        read = read_filters(pid)
        # left as it was: in the group stop of its SIGSTOP, which the detach puts it back into
        wait_until(lambda: state(pid) == "T", 5, "the child back in its stop")
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    (programs,) = {t.programs for t in read.threads}
    assert programs == (program(built),)  # the kernel hands back the very bytes loaded
    result = decompile(programs).profile
    for arch, name, args in [*rows, *probes(source, ("x86_64", "x86", "x32"))]:
        filtered = bpf_verdict(programs[0], arch, name, args)
        assert result.decide(arch, name, args) == filtered, (arch, name, args)
        if not _through_multiplexer(arch, name):
            assert filtered == source.decide(arch, name, args), (arch, name, args)


CORPUS = sorted(p.name for p in (SHARED / "corpus" / "profiles").glob("*")) if HAVE_CORPUS else []


@pytest.mark.parametrize("name", CORPUS)
def test_corpus_profiles_in_the_kernel(name: str) -> None:
    try:
        source = tables._corpus_profile(name)
        build_filter(source, mode=Mode.ENFORCE)
    except ProfileError as error:
        pytest.skip(f"no filter for it: {error}")
    kernel_round_trip(source, [(a, n, args) for a, n, args, _ in TABLES.get(name, [])])


@pytest.mark.parametrize("path", LEARNED, ids=[p.parent.name for p in LEARNED])
def test_learned_profiles_in_the_kernel(path: Path) -> None:
    source = load_profile(str(path)).profile
    host = {a: n for a, n in source.allowed.items() if a in ("x86_64", "x86", "x32")}
    if not host:
        pytest.skip(f"learned for {', '.join(source.arches)}: no filter for this host")
    kernel_round_trip(Profile(host), [])


def test_table_profiles_in_the_kernel() -> None:
    kernel_round_trip(tables.PROFILE, [(a, n, args) for a, n, args, _ in tables.ENFORCE_TABLE])
    kernel_round_trip(tables.X32_PROFILE, [(a, n, args) for a, n, args, _ in tables.X32_TABLE])


def test_ctrl_c_waits_until_the_thread_is_detached() -> None:
    """SIGINT, SIGTERM, SIGHUP and SIGQUIT are held while a thread is attached (delivered after)."""
    from learn.kernel.ptrace_filters import _signals_held

    held = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT}
    before = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    with _signals_held():
        assert held <= signal.pthread_sigmask(signal.SIG_BLOCK, [])
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == before
