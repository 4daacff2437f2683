"""`learn run` end to end on the real kernel: compiled programs with known syscalls, run under
learn's SECCOMP_RET_LOG filter, must give exactly the syscall set `strace -f` sees; the profile,
enforced, must let the program run unchanged; other processes' records and lost records must
never go unnoticed into a profile.

The only record learn itself adds is the launcher's execve (made by learn's Python child, so its
exe= is the Python interpreter): strace shows an execve for its own child too, so the learned
names equal strace's. Programs are built from tests/kernel/programs/ by the `programs` fixture.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyseccomp
import pytest

from learn.baseline import BASELINE
from learn.kernel import features
from learn.kernel.filters import Mode, build_filter, load
from learn.profile import Profile
from tests.kernel.conftest import LearnResult, learn_argv, learn_run, strace_names

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: seccomp filters and audit records"),
]

PYTHON = "/usr/bin/python3"  # not `python3`: that may be a pyenv shim, a bash script
BURST = 50_000
PR_SET_NO_NEW_PRIVS = 38
SYS_GETCPU = 309  # x86_64; a real syscall when made with syscall(2) (glibc's getcpu uses the vDSO)

# case -> (argv from the compiled programs, the exit status learn must give)
Argv = Callable[[dict[str, Path]], list[str]]
CASES: dict[str, tuple[Argv, int]] = {
    "fork-and-thread": (lambda p: [str(p["forkthread"])], 0),
    "exec": (lambda p: [str(p["execer"]), str(p["unamer"])], 0),
    "static-i386": (lambda p: [str(p["unamer32"])], 0),
    "sigterm": (lambda p: [str(p["killed"]), "TERM"], 128 + signal.SIGTERM),
    "sigkill": (lambda p: [str(p["killed"]), "KILL"], 128 + signal.SIGKILL),
    "ls": (lambda p: ["/usr/bin/ls", "-la", "/"], 0),
    "python3": (lambda p: [PYTHON, "-c", "print(1)"], 0),
}
ENFORCED = ["fork-and-thread", "exec", "static-i386", "sigkill", "ls", "python3"]


def case_argv(case: str, programs: dict[str, Path]) -> list[str]:
    if case == "static-i386" and "unamer32" not in programs:
        pytest.skip("gcc -m32 -static failed (gcc-multilib missing?)")
    return CASES[case][0](programs)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("run")


@pytest.fixture(scope="module")
def learned(programs: dict[str, Path], workdir: Path) -> Callable[[str], LearnResult]:
    """One `learn run` per case for the whole module (with --save-log), made on first use."""
    cache: dict[str, LearnResult] = {}

    def get(case: str) -> LearnResult:
        if case not in cache:
            cache[case] = learn_run(case_argv(case, programs), workdir / f"learn-{case}")
        return cache[case]

    return get


@pytest.fixture(scope="module")
def traced(programs: dict[str, Path], workdir: Path) -> Callable[[str], set[str]]:
    cache: dict[str, set[str]] = {}

    def get(case: str) -> set[str]:
        if case not in cache:
            cache[case] = strace_names(case_argv(case, programs), workdir / f"strace-{case}")
        return cache[case]

    return get


def events(log: Path | None) -> list[dict[str, Any]]:
    assert log is not None, "--save-log wrote nothing"
    done = subprocess.run([*learn_argv(), "events", str(log)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def assert_same_as_strace(learned_names: set[str], strace: set[str]) -> None:
    """strace's set, plus at most the launcher's execve (which strace shows anyway) and the baseline."""
    assert strace <= learned_names <= strace | {"execve", *BASELINE}, (
        f"learned but not in strace: {sorted(learned_names - strace)}; "
        f"in strace but not learned: {sorted(strace - learned_names)}"
    )


# -- the learned set is what strace sees ----------------------------------------------------


@pytest.mark.parametrize("case", list(CASES))
def test_learned_syscalls_equal_strace(
    case: str, learned: Callable[[str], LearnResult], traced: Callable[[str], set[str]]
) -> None:
    run = learned(case)
    assert run.status == CASES[case][1], run.stderr
    assert_same_as_strace(run.names(), traced(case))
    assert run.oci()["defaultAction"] == "SCMP_ACT_ERRNO"
    source, collected, from_target, lost = run.summary()
    assert source == "netlink" and lost == 0 and 0 < from_target <= collected, run.stderr


@pytest.mark.parametrize("case", list(CASES))
def test_the_launchers_only_record_is_its_execve(case: str, learned: Callable[[str], LearnResult]) -> None:
    records = events(learned(case).log)
    first, rest = records[0], records[1:]
    assert first["syscall"] == "execve" and first["arch"] == "x86_64"
    assert os.path.basename(first["exe"]).startswith("python3"), first
    assert not [r for r in rest if r["exe"] == first["exe"] and r["comm"] == first["comm"]]
    assert {r["pid"] for r in records[:2]} == {first["pid"]}  # the execve became the target


def test_fork_and_thread_records_come_from_the_whole_tree(learned: Callable[[str], LearnResult]) -> None:
    run = learned("fork-and-thread")
    assert {"sched_yield", "clock_nanosleep", "getppid", "getpgrp", "wait4"} <= run.names()
    assert {"clone3", "clone"} & run.names()  # pthread_create and fork
    records = events(run.log)
    main = records[0]["pid"]
    by_call = {r["syscall"]: r["pid"] for r in records}
    assert by_call["getppid"] != main  # the forked child
    assert by_call["sched_yield"] == main  # audit's pid= is the thread group id
    assert by_call["getpgrp"] == main


def test_exec_d_program_records_are_its_own(learned: Callable[[str], LearnResult]) -> None:
    run = learned("exec")
    records = events(run.log)
    exes = {r["syscall"]: os.path.basename(r["exe"]) for r in records if r["syscall"] in {"getuid", "uname"}}
    assert exes == {"getuid": "execer", "uname": "unamer"}
    assert sum(r["syscall"] == "execve" for r in records) == 2  # the launcher's, then execer's
    assert len({r["pid"] for r in records}) == 1


def test_static_i386_program_is_learned_as_x86(learned: Callable[[str], LearnResult]) -> None:
    run = learned("static-i386")
    assert run.status == 0, run.stderr
    arches = run.oci()["architectures"]
    assert isinstance(arches, list)
    assert "SCMP_ARCH_X86" in arches
    assert set(arches) == {"SCMP_ARCH_X86", "SCMP_ARCH_X86_64"}  # x86_64: the launcher's execve
    assert {"set_thread_area", "uname", "ugetrlimit", "statx"} <= run.names()
    records = events(run.log)
    assert [r["syscall"] for r in records if r["arch"] == "x86_64"] == ["execve"]
    i386 = [r for r in records if r["arch"] != "x86_64"]
    assert i386 and {r["arch"] for r in i386} == {"x86"}
    assert {r["nr"] for r in i386 if r["syscall"] == "set_thread_area"} == {243}  # i386's number
    assert {r["nr"] for r in i386 if r["syscall"] == "uname"} == {122}


@pytest.mark.parametrize("case", ["sigterm", "sigkill"])
def test_killed_target_gives_128_plus_signal_and_a_profile(case: str, learned: Callable[[str], LearnResult]) -> None:
    run = learned(case)
    assert run.status == CASES[case][1], run.stderr
    assert f"target exit status: {CASES[case][1]}" in run.stderr
    assert {"write", "getpid"} <= run.names()
    assert ("tgkill" if case == "sigkill" else "kill") in run.names()
    assert (run.output.parent / "stdout").read_text() == "dying\n"


@pytest.mark.parametrize("case", list(CASES))
def test_saved_log_gives_the_same_profile(case: str, learned: Callable[[str], LearnResult], workdir: Path) -> None:
    run = learned(case)
    assert run.log is not None
    again = workdir / f"suggest-{case}.json"
    done = subprocess.run([*learn_argv(), "suggest", str(run.log), "-o", str(again)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert again.read_bytes() == run.output.read_bytes()


# -- other processes' records stay out -------------------------------------------------------


def _log_filter() -> Any:
    flt = pyseccomp.SyscallFilter(pyseccomp.LOG)
    flt.add_arch(pyseccomp.Arch.X86)
    flt.add_arch(pyseccomp.Arch.X32)
    return flt


@pytest.fixture
def unrelated_logger() -> Iterator[int]:
    """A process logging getcpu (and its sleeps) under a LOG filter of its own, all along."""
    flt = _log_filter()
    libc = ctypes.CDLL(None, use_errno=True)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_end)
            if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
                os._exit(120)
            flt.load()
            os.write(write_end, b"!")
            while True:
                for _ in range(10):
                    libc.syscall(SYS_GETCPU, 0, 0, 0)
                time.sleep(0.002)
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        assert os.read(read_end, 1) == b"!"
        time.sleep(0.05)
        yield pid
    finally:
        os.close(read_end)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def test_unrelated_logging_process_does_not_leak_in(
    programs: dict[str, Path], workdir: Path, traced: Callable[[str], set[str]], unrelated_logger: int
) -> None:
    run = learn_run(case_argv("fork-and-thread", programs), workdir / "concurrent")
    assert run.status == 0, run.stderr
    assert "getcpu" not in run.names()
    assert_same_as_strace(run.names(), traced("fork-and-thread"))
    _, collected, from_target, lost = run.summary()
    assert collected - from_target > 100, run.stderr  # the other process's records did arrive
    assert lost == 0, run.stderr
    assert unrelated_logger not in {r["pid"] for r in events(run.log)}


def test_two_learn_runs_at_once_keep_their_records_apart(
    programs: dict[str, Path], workdir: Path, traced: Callable[[str], set[str]]
) -> None:
    cases = ["fork-and-thread", "exec"]
    procs, outputs = [], []
    for case in cases:
        out = workdir / f"parallel-{case}"
        out.mkdir()
        outputs.append(out / "profile.json")
        with (out / "stdout").open("wb") as stdout:  # a file, as for strace: glibc's stdio
            procs.append(subprocess.Popen(  # checks a tty (ioctl TCGETS) only for a device
                [*learn_argv(), "run", "-q", "-o", str(outputs[-1]), "--", *case_argv(case, programs)],
                stdout=stdout, stderr=subprocess.PIPE, text=True, cwd=out,
            ))  # fmt: skip
    for proc in procs:
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr
    for case, output in zip(cases, outputs, strict=True):
        names = {n for rule in json.loads(output.read_text())["syscalls"] for n in rule["names"]}
        assert_same_as_strace(names, traced(case))


# -- loss ------------------------------------------------------------------------------------


@pytest.fixture
def kmsg_quiet() -> None:
    """No auditd (else the kernel log gets no records), and room in printk's rate limit (10
    messages per 5 s, kernel-wide): while no auditd runs, kauditd prints earlier tests' records
    too, and if they used up the window, not one record of the target would be printed."""
    skip_if_auditd()
    wait_for_printk_room(4)


def skip_if_auditd() -> None:
    if features.audit_status().pid:
        pytest.skip("auditd is running: the kernel log gets no audit records")


def wait_for_printk_room(most: int) -> None:
    """Until the kernel printed at most `most` messages in the last rate-limit interval. Every
    window starts with a printed message, so those include all of the current window's."""
    interval = printk_interval()
    deadline = time.monotonic() + 3 * interval
    while time.monotonic() < deadline:
        recent = kernel_messages_since(time.monotonic() - interval)
        if len(recent) <= most:
            return
        time.sleep(max(0.0, min(recent) + interval - time.monotonic()) + 0.1)


def printk_interval() -> float:
    try:
        return float(Path("/proc/sys/kernel/printk_ratelimit").read_text())
    except (OSError, ValueError):
        return 5.0


def kernel_messages_since(since: float) -> list[float]:
    """CLOCK_MONOTONIC times of the kernel's own (facility 0) /dev/kmsg messages after `since`."""
    times: list[float] = []
    fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
    try:
        while True:
            try:
                record = os.read(fd, 8192)
            except BlockingIOError:
                return times
            except BrokenPipeError:  # overwritten under us: go on from the oldest left
                continue
            prio, _, usec = record.split(b";", 1)[0].split(b",")[:3]
            if int(prio) >> 3 == 0 and int(usec) / 1e6 > since:
                times.append(int(usec) / 1e6)
    finally:
        os.close(fd)


def use_up_printk_budget() -> None:
    """A LOG-filtered child makes 200 calls: their records use up printk's window."""
    flt = _log_filter()
    libc = ctypes.CDLL(None, use_errno=True)
    pid = os.fork()
    if pid == 0:
        try:
            if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0:
                flt.load()
                for _ in range(200):
                    os.getppid()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


@pytest.mark.usefixtures("kmsg_quiet")
def test_kmsg_burst_reports_loss_and_exits_4(programs: dict[str, Path], workdir: Path) -> None:
    argv = [str(programs["burst"]), str(BURST)]
    run = learn_run(argv, workdir / "kmsg-loss", "--source", "kmsg", "--format", "snapd")
    assert run.status == 4, run.stderr
    source, _, from_target, lost = run.summary()
    assert source == "kmsg" and lost > 0 and from_target > 0, run.stderr
    assert "INCOMPLETE" in run.stderr
    assert "# INCOMPLETE" in run.text()


@pytest.mark.usefixtures("kmsg_quiet")
def test_kmsg_burst_with_allow_loss_exits_0_marked_incomplete(programs: dict[str, Path], workdir: Path) -> None:
    run = learn_run(
        [str(programs["burst"]), str(BURST)],
        workdir / "kmsg-allow-loss",
        "--source", "kmsg", "--format", "snapd", "--allow-loss",
    )  # fmt: skip
    assert run.status == 0, run.stderr
    assert run.summary()[3] > 0, run.stderr
    assert "# INCOMPLETE" in run.text()


def test_kmsg_run_whose_every_record_was_lost_exits_4(programs: dict[str, Path], workdir: Path) -> None:
    skip_if_auditd()
    wait_for_printk_room(0)  # a window over: the next one starts with the calls below
    use_up_printk_budget()  # so not one of the target's records gets printed
    run = learn_run([str(programs["burst"]), str(BURST)], workdir / "kmsg-all-lost", "--source", "kmsg")
    assert run.status == 4, run.stderr
    assert run.summary()[3] > 0, run.stderr


def test_netlink_burst_loses_nothing(programs: dict[str, Path], workdir: Path) -> None:
    run = learn_run([str(programs["burst"]), str(BURST)], workdir / "netlink-burst")
    assert run.status == 0, run.stderr
    source, _, from_target, lost = run.summary()
    assert (source, lost) == ("netlink", 0), run.stderr
    assert "lost: 0" in run.stderr
    assert from_target > BURST
    assert run.log is not None
    assert run.log.read_text().count(" syscall=110 ") == BURST  # getppid, every one


# -- the learned profile, enforced, lets the program run unchanged --------------------------


def run_plain(argv: list[str], cwd: Path) -> tuple[int, bytes]:
    done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=cwd, timeout=60)
    return done.returncode if done.returncode >= 0 else 128 - done.returncode, done.stdout


def run_enforced(profile: Profile, argv: list[str], cwd: Path, timeout: float = 60) -> tuple[int, bytes]:
    """Fork; in the child load the profile's ENFORCE filter (built before the fork) and exec."""
    built = build_filter(profile, mode=Mode.ENFORCE)
    out = cwd / "enforced.stdout"
    pid = os.fork()
    if pid == 0:
        try:
            os.chdir(cwd)
            fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd, 1)
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 2)
            for sig in (signal.SIGPIPE, signal.SIGINT):
                signal.signal(sig, signal.SIG_DFL)  # as learn's launcher leaves them
            load(built.filter)
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError(f"{argv} hung under its enforced profile")
        time.sleep(0.01)
    code = os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
    return code, out.read_bytes()


@pytest.mark.parametrize("case", ENFORCED)
def test_enforced_profile_lets_the_program_run_unchanged(
    case: str, programs: dict[str, Path], learned: Callable[[str], LearnResult], workdir: Path
) -> None:
    argv = case_argv(case, programs)
    run = learned(case)
    assert run.status == CASES[case][1], run.stderr
    cwd = workdir / f"enforce-{case}"
    cwd.mkdir()
    before = run_plain(argv, cwd)
    enforced = run_enforced(run.profile(), argv, cwd)
    # `ls -la /` shows /tmp's mtime, which other tests move: accept either neighbouring plain run
    assert enforced == before or enforced == run_plain(argv, cwd)
    assert enforced[0] == CASES[case][1]


def test_enforced_profile_without_a_learned_syscall_denies_it(
    programs: dict[str, Path], learned: Callable[[str], LearnResult], workdir: Path
) -> None:
    """The control for the test above: the filter does deny what the profile leaves out."""
    argv = case_argv("static-i386", programs)
    profile = learned("static-i386").profile()
    without = Profile({arch: tuple(n for n in names if n != "uname") for arch, names in profile.allowed.items()})
    cwd = workdir / "enforce-without-uname"
    cwd.mkdir()
    assert run_enforced(without, argv, cwd) == (2, b"")  # unamer: uname() failed
