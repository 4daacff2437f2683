"""learn.kernel.filters: table tests on the exported BPF, then the same verdicts in the kernel.

The tables run the BPF libseccomp exports through learn.bpf.interpret, so they need no root.
The kernel-marked tests load filters into forked children, and check the simulator against
what the kernel really does once, from Python and from a real dynamically linked C program.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import shutil
import subprocess
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pyseccomp
import pytest

from learn.arch import AUDIT_ARCH_BY_NAME, X32_SYSCALL_BIT, host_abis, native_arch
from learn.errors import KernelError, ProfileError
from learn.kernel.filters import (
    BuiltFilter,
    Mode,
    UnknownSyscallError,
    build_filter,
    export_bpf,
    export_pfc,
    install,
    load,
    priority,
    program,
)
from learn.model import Action
from learn.profile import Arg, Op, Profile, Rule
from learn.syscalls import syscall_name
from tests.bpf_sim import run

ALLOW = 0x7FFF0000
LOG = 0x7FFC0000
DENY = 0x00050001  # ERRNO(EPERM)
SYS_SOCKET, SYS_CONNECT = 1, 3  # socketcall(2) multiplexer numbers
SEMOP, SEMGET = 1, 2  # ipc(2) multiplexer numbers

Row = tuple[str, str, tuple[int, ...], int]  # arch, syscall, args, expected SECCOMP_RET_*

x86_64_only = pytest.mark.skipif(native_arch() != "x86_64", reason="syscall numbers are x86_64's")

PROFILE = Profile(
    {
        "x86_64": ("exit_group", "getppid", "read", "write"),
        "x86": ("exit_group", "getpid", "read", "semop", "socket", "write"),
    }
)

# (arch, syscall, args, expected) for PROFILE in ENFORCE mode.
ENFORCE_TABLE: list[Row] = [
    ("x86_64", "read", (), ALLOW),
    ("x86_64", "getppid", (), ALLOW),
    ("x86_64", "getpid", (), DENY),  # allowed on x86 only
    ("x86_64", "close", (), DENY),  # nr 3, which is x86's read
    ("x86_64", "uname", (), DENY),
    ("x86_64", "socket", (2, 1, 0), DENY),
    ("x86", "read", (), ALLOW),
    ("x86", "getpid", (), ALLOW),
    ("x86", "getppid", (), DENY),  # allowed on x86_64 only
    ("x86", "socket", (2, 1, 0), ALLOW),  # the direct call, nr 359
    ("x86", "socketcall", (SYS_SOCKET, 0), ALLOW),  # the same call through the multiplexer
    ("x86", "socketcall", (SYS_CONNECT, 0), DENY),
    ("x86", "connect", (3, 0, 0), DENY),
    ("x86", "ipc", (SEMOP, 0, 0, 0), ALLOW),  # x86 has no direct semop(2): only through ipc(2)
    ("x86", "ipc", (SEMGET, 0, 0, 0), DENY),
    ("x32", "read", (), DENY),  # an ABI outside the profile is denied, not killed
    ("x32", "getppid", (), DENY),
    ("aarch64", "read", (), DENY),
]

COMPLAIN_TABLE: list[Row] = [
    ("x86_64", "read", (), ALLOW),
    ("x86_64", "getpid", (), LOG),
    ("x86", "getpid", (), ALLOW),
    ("x86", "getppid", (), LOG),
    ("x86", "socketcall", (SYS_CONNECT, 0), LOG),
    ("x32", "read", (), LOG),
    ("aarch64", "read", (), LOG),
]

LEARN_TABLE: list[Row] = [
    (arch, name, (), LOG)
    for arch in ("x86_64", "x86", "x32", "aarch64")
    for name in ("read", "write", "getpid", "getppid", "uname", "exit_group")
]

X32_PROFILE = Profile({"x86_64": ("read",), "x32": ("getpid", "read")})
X32_TABLE: list[Row] = [
    ("x32", "getpid", (), ALLOW),
    ("x32", "read", (), ALLOW),
    ("x32", "write", (), DENY),
    ("x86_64", "getpid", (), DENY),  # allowed on x32 only, though both share AUDIT_ARCH_X86_64
    ("x86_64", "read", (), ALLOW),
    ("x86", "read", (), DENY),
]

# (arch, name) -> calls seen: read dominates, so with priorities it is checked first.
COUNTS = {("x86_64", "read"): 1_000_000, ("x86_64", "getppid"): 1, ("x86", "getpid"): 50}


def _nr(arch: str, name: str) -> int:
    nr = pyseccomp.resolve_syscall(AUDIT_ARCH_BY_NAME[arch], name)
    assert isinstance(nr, int)
    if nr < 0:  # x86 socket(2), connect(2): libseccomp resolves them to multiplexed pseudo numbers
        nr = next(n for n in range(1024) if syscall_name(arch, n) == name)
    return nr


def _data_arch(arch: str) -> int:
    """seccomp_data.arch as the kernel fills it: x32 calls say AUDIT_ARCH_X86_64 (the nr says x32)."""
    return AUDIT_ARCH_BY_NAME["x86_64" if arch == "x32" else arch]


def verdict(prog: bytes, arch: str, name: str, args: tuple[int, ...] = ()) -> int:
    return run(prog, _nr(arch, name), _data_arch(arch), args).ret


def _check(built: BuiltFilter, table: Sequence[Row]) -> None:
    prog = program(built)  # with learn's multiplexer guards
    got = [(arch, name, args, verdict(prog, arch, name, args)) for arch, name, args, _ in table]
    assert got == list(table)


@pytest.mark.parametrize("optimize", [False, True])
@pytest.mark.parametrize("counts", [None, COUNTS])
def test_enforce_table(optimize: bool, counts: Mapping[tuple[str, str], int] | None) -> None:
    built = build_filter(PROFILE, mode=Mode.ENFORCE, counts=counts, optimize=optimize)
    assert sorted(built.arches) == ["x86", "x86_64"]
    assert built.skipped == {}
    _check(built, ENFORCE_TABLE)


@pytest.mark.parametrize("optimize", [False, True])
def test_complain_table(optimize: bool) -> None:
    _check(build_filter(PROFILE, mode=Mode.COMPLAIN, optimize=optimize), COMPLAIN_TABLE)


def test_learn_table_covers_the_host_abis() -> None:
    built = build_filter(PROFILE, mode=Mode.LEARN)
    assert built.arches == tuple(host_abis())
    assert "ALLOW" not in export_pfc(built.filter)  # the profile's rules are ignored
    _check(built, LEARN_TABLE)


@pytest.mark.parametrize("optimize", [False, True])
def test_x32_rules_are_its_own(optimize: bool) -> None:
    assert _nr("x32", "getpid") == X32_SYSCALL_BIT | _nr("x86_64", "getpid")
    _check(build_filter(X32_PROFILE, mode=Mode.ENFORCE, optimize=optimize), X32_TABLE)


def test_native_arch_is_left_out_when_the_profile_lacks_it() -> None:
    built = build_filter(Profile({"x86": ("read",)}), mode=Mode.ENFORCE)
    assert built.arches == ("x86",)
    assert not built.filter.exist_arch(pyseccomp.Arch.X86_64)
    assert built.filter.exist_arch(pyseccomp.Arch.X86)
    _check(built, [("x86", "read", (), ALLOW), ("x86_64", "read", (), DENY), ("x86_64", "close", (), DENY)])


def test_arches_override_and_aliases() -> None:
    built = build_filter(PROFILE, mode=Mode.ENFORCE, arches=["amd64", "x86_64"])
    assert built.arches == ("x86_64",)
    _check(built, [("x86_64", "read", (), ALLOW), ("x86", "getpid", (), DENY)])


@pytest.mark.parametrize(
    ("action", "errno_", "expected"),
    [
        (Action.ERRNO, 38, 0x00050026),
        (Action.ERRNO, None, DENY),
        (Action.KILL_PROCESS, None, 0x80000000),
        (Action.TRAP, None, 0x00030000),
    ],
)
def test_default_action_applies_to_denials_and_foreign_arches(
    action: Action, errno_: int | None, expected: int
) -> None:
    profile = Profile({"x86_64": ("read",)}, default_action=action, default_errno=errno_)
    built = build_filter(profile, mode=Mode.ENFORCE)
    assert built.default == expected
    _check(
        built,
        [("x86_64", "read", (), ALLOW), ("x86_64", "getpid", (), expected), ("x86", "read", (), expected)],
    )


def test_names_an_arch_lacks_are_skipped_and_reported() -> None:
    profile = Profile({"x86_64": ("read", "socketcall"), "x86": ("read", "socketcall", "newfstatat")})
    built = build_filter(profile, mode=Mode.ENFORCE)
    assert built.skipped == {"x86_64": ("socketcall",), "x86": ("newfstatat",)}
    _check(built, [("x86", "socketcall", (SYS_CONNECT, 0), ALLOW), ("x86_64", "newfstatat", (), DENY)])


def test_names_no_arch_has_are_an_error() -> None:
    with pytest.raises(UnknownSyscallError) as caught:
        build_filter(Profile({"x86_64": ("read", "raed", "bogus")}), mode=Mode.ENFORCE)
    assert caught.value.names == ("bogus", "raed")
    assert isinstance(caught.value, ProfileError)


@pytest.mark.parametrize(
    ("profile", "arches", "message"),
    [
        (Profile({}), None, "no architecture"),
        (PROFILE, ["vax"], "no architecture 'vax'"),
        (Profile({"x86_64": ("read",), "s390x": ("read",)}), None, "refused adding x86_64"),  # byte orders
        (Profile({"x86_64": ("read",)}, default_action=Action.ALLOW), None, "default action allow"),
        (Profile({"x86_64": ("read",)}, default_errno=4095), None, "errno(4095): libseccomp takes errno 1..4094"),
        (Profile({"x86_64": ("read",)}, default_errno=12345), None, "errno(12345): libseccomp takes errno 1..4094"),
        (
            Profile({"x86_64": ("read",)}, rules=(Rule(("write",), Action.ERRNO, 4095),)),
            None,
            "cannot enforce the rule errno(4095) for write on x86_64",
        ),
    ],
)
def test_profiles_no_filter_can_express(profile: Profile, arches: list[str] | None, message: str) -> None:
    with pytest.raises(ProfileError, match=re.escape(message)):
        build_filter(profile, mode=Mode.ENFORCE, arches=arches)


def test_priority_scale() -> None:
    assert priority(0, 100) == 0
    assert priority(100, 100) == 255
    assert priority(1, 1_000_000) > 0  # seen once still outranks never seen
    assert [priority(c, 10**6) for c in (1, 10, 10**3, 10**6)] == sorted(
        {priority(c, 10**6) for c in (1, 10, 10**3, 10**6)}
    )


def test_counts_put_frequent_calls_first_in_the_linear_chain() -> None:
    names = ("close", "getppid", "mmap", "openat", "read", "uname", "write")
    profile = Profile({"x86_64": names})
    steps: dict[str, dict[str, int]] = {}
    for hot in ("read", "uname"):
        counts = {("x86_64", n): 1_000_000 if n == hot else 10 for n in names}
        prog = export_bpf(build_filter(profile, mode=Mode.ENFORCE, counts=counts, optimize=False).filter)
        steps[hot] = {n: run(prog, _nr("x86_64", n), _data_arch("x86_64")).steps for n in names}
        assert steps[hot][hot] == min(steps[hot].values())
    assert steps["read"]["read"] < steps["uname"]["read"]


# fmt: off
FORTY = [
    "access", "arch_prctl", "brk", "clock_gettime", "clone3", "close", "dup2", "execve",
    "exit_group", "fcntl", "fstat", "futex", "getcwd", "getdents64", "getpid", "getppid",
    "getrandom", "ioctl", "lseek", "mmap", "mprotect", "munmap", "newfstatat", "openat", "pipe2",
    "poll", "pread64", "prlimit64", "read", "readlink", "rseq", "rt_sigaction", "rt_sigprocmask",
    "set_robust_list", "set_tid_address", "statx", "sysinfo", "uname", "wait4", "write",
]
# fmt: on


def test_binary_tree_bounds_the_cost_of_a_denial() -> None:
    profile = Profile({"x86_64": tuple(FORTY)})
    denied = [nr for nr in range(450) if nr not in {_nr("x86_64", n) for n in FORTY}]
    cost = {}
    for optimize in (False, True):
        prog = export_bpf(build_filter(profile, mode=Mode.ENFORCE, optimize=optimize).filter)
        cost[optimize] = max(run(prog, nr, _data_arch("x86_64")).steps for nr in denied)
        assert {run(prog, nr, _data_arch("x86_64")).ret for nr in denied} == {DENY}
    assert cost[True] < cost[False] // 2


def test_exports() -> None:
    built = build_filter(PROFILE, mode=Mode.ENFORCE, optimize=False)
    prog = export_bpf(built.filter)
    assert prog and len(prog) % 8 == 0
    pfc = export_pfc(built.filter)
    assert "filter for arch x86 " in pfc and "filter for arch x86_64 " in pfc
    assert "# invalid architecture action\naction ERRNO(1);" in pfc


@pytest.mark.kernel
def test_log_denials_sets_the_flag_only_when_enforcing() -> None:
    for mode, flag in ((Mode.ENFORCE, 1), (Mode.COMPLAIN, 0), (Mode.LEARN, 0)):
        built = build_filter(PROFILE, mode=mode, log_denials=True)
        assert built.filter.get_attr(pyseccomp.Attr.CTL_LOG) == flag, mode


# --- in the kernel ----------------------------------------------------------------------------


def in_child(body: Callable[[int], None]) -> tuple[int, bytes]:
    """Run body(write_fd) in a forked child; (exit code, what it wrote). Filters die with it."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe and its exit code
        code = 0
        try:
            os.close(r)
            body(w)
        except BaseException:
            code = 70
            os.write(2, traceback.format_exc().encode())
        finally:
            os._exit(code)
    os.close(w)
    with os.fdopen(r, "rb") as pipe:
        out = pipe.read()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out


# What CPython needs between loading the filter and _exit: memory, signals, the pipe.
# fmt: off
PYTHON_CHILD = [
    "brk", "close", "exit", "exit_group", "futex", "getppid", "madvise", "mmap", "mprotect",
    "mremap", "munmap", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "write",
]
# fmt: on


@pytest.mark.kernel
@x86_64_only
@pytest.mark.parametrize("allow_x32", [False, True])
def test_kernel_agrees_with_the_simulator(allow_x32: bool) -> None:
    allowed = {"x86_64": tuple(PYTHON_CHILD)} | ({"x32": ("getpid",)} if allow_x32 else {})
    built = build_filter(Profile(allowed), mode=Mode.ENFORCE)
    prog = export_bpf(built.filter)
    probes = [("x86_64", "getppid"), ("x86_64", "getpid"), ("x86_64", "uname"), ("x32", "getpid")]
    libc = ctypes.CDLL(None, use_errno=True)

    def body(w: int) -> None:
        results = []
        load(built.filter)
        for arch, name in probes:
            ctypes.set_errno(0)
            ret = libc.syscall(_nr(arch, name), 0)
            results.append(f"{ret} {ctypes.get_errno() if ret == -1 else 0}")
        os.write(w, "\n".join(results).encode())

    code, out = in_child(body)
    assert code == 0
    got = [tuple(map(int, line.split())) for line in out.decode().splitlines()]
    assert len(got) == len(probes)
    for (arch, name), (ret, err) in zip(probes, got, strict=True):
        expected = verdict(prog, arch, name)
        if expected == DENY:
            assert (ret, err) == (-1, errno.EPERM), (arch, name)
        else:  # allowed: the kernel runs it; x32 answers ENOSYS on kernels built without it
            assert expected == ALLOW
            assert err != errno.EPERM and (ret > 0 or (arch == "x32" and err == errno.ENOSYS)), (arch, name)
    assert got[0][0] == os.getpid()  # the child's getppid really ran
    assert (verdict(prog, "x32", "getpid") == ALLOW) is allow_x32


C_PROGRAM = r"""
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

/* A syscall through the 32-bit entry: seccomp sees AUDIT_ARCH_I386 and x86's numbers. */
static long int80(long nr, long a0, long a1) {
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a0), "c"(a1) : "memory", "r8", "r9", "r10", "r11");
    return ret;
}

static void report(const char *what, long ret) {
    if (ret >= 0)
        printf("%s ok\n", what);
    else
        printf("%s errno %ld\n", what, -ret);
}

int main(int argc, char **argv) {
    struct utsname u;
    printf("pid ok\n");
    printf("getppid %s\n", getppid() > 0 ? "ok" : "failed");
    int r = uname(&u);
    printf("uname %d errno %d\n", r, r == 0 ? 0 : errno);
    if (argc > 1 && strcmp(argv[1], "int80") == 0) {
        report("x86 getpid", int80(20, 0, 0));
        /* socketcall(call, NULL): EFAULT once past the filter, so EPERM can only be the filter */
        report("x86 socketcall(SYS_SOCKET)", int80(102, 1, 0));
        report("x86 socketcall(SYS_CONNECT)", int80(102, 3, 0));
    }
    return 0;
}
"""

STRACE_LINE = re.compile(r"(?:\d+ +)?([a-z_][a-z0-9_]*)\(")


@pytest.fixture(scope="module")
def c_program(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, frozenset[str]]:
    """The compiled program and the syscalls strace saw it make (with stdout a pipe, as below)."""
    if not (shutil.which("gcc") and shutil.which("strace")):
        pytest.skip("needs gcc and strace")
    tmp = tmp_path_factory.mktemp("cprog")
    (tmp / "prog.c").write_text(C_PROGRAM)
    subprocess.run(["gcc", "-O2", "-o", str(tmp / "prog"), str(tmp / "prog.c")], check=True)
    trace = tmp / "trace"
    subprocess.run(
        ["strace", "-f", "-qq", "-e", "trace=all", "-o", str(trace), str(tmp / "prog")],
        check=True,
        capture_output=True,
    )
    names = {m.group(1) for line in trace.read_text().splitlines() if (m := STRACE_LINE.match(line))}
    assert {"execve", "uname", "getppid", "write", "exit_group"} <= names
    return tmp / "prog", frozenset(names)


def run_confined(prog: Path, built: BuiltFilter | None, *args: str) -> tuple[int, str]:
    def body(w: int) -> None:
        os.dup2(w, 1)
        if built is not None:
            install(built)
        os.execv(prog, [str(prog), *args])

    code, out = in_child(body)
    return code, out.decode()


@pytest.mark.kernel
@x86_64_only
def test_real_program_under_its_strace_profile(c_program: tuple[Path, frozenset[str]]) -> None:
    prog, names = c_program
    free = run_confined(prog, None)
    assert free == (0, "pid ok\ngetppid ok\nuname 0 errno 0\n")

    exact = Profile({"x86_64": tuple(sorted(names))})
    assert run_confined(prog, build_filter(exact, mode=Mode.ENFORCE)) == free

    no_uname = Profile({"x86_64": tuple(sorted(names - {"uname"}))})
    built = build_filter(no_uname, mode=Mode.ENFORCE, log_denials=True)
    assert run_confined(prog, built) == (0, "pid ok\ngetppid ok\nuname -1 errno 1\n")

    # Complain mode lets the missing call through (and logs it).
    assert run_confined(prog, build_filter(no_uname, mode=Mode.COMPLAIN)) == free


@pytest.mark.kernel
@x86_64_only
def test_real_program_32bit_call_is_denied_not_killed(c_program: tuple[Path, frozenset[str]]) -> None:
    prog, names = c_program
    head = "pid ok\ngetppid ok\nuname 0 errno 0\n"
    x86_64_only_profile = Profile({"x86_64": tuple(sorted(names | {"getpid", "socket"}))})
    built = build_filter(x86_64_only_profile, mode=Mode.ENFORCE)
    assert verdict(export_bpf(built.filter), "x86", "getpid") == DENY
    denied = "x86 getpid errno 1\nx86 socketcall(SYS_SOCKET) errno 1\nx86 socketcall(SYS_CONNECT) errno 1\n"
    assert run_confined(prog, built, "int80") == (0, head + denied)

    # x86 in the filter: its own rules, socket(2) allowed through the multiplexer's a0 check, and
    # connect(2) denied there though x86_64 allows it: rules are per arch in the kernel too.
    with_x86 = Profile({"x86_64": tuple(sorted(names | {"connect"})), "x86": ("getpid", "socket")})
    built = build_filter(with_x86, mode=Mode.ENFORCE)
    prog_bpf = export_bpf(built.filter)
    assert verdict(prog_bpf, "x86", "socketcall", (1, 0)) == ALLOW
    assert verdict(prog_bpf, "x86", "socketcall", (3, 0)) == DENY
    allowed = "x86 getpid ok\nx86 socketcall(SYS_SOCKET) errno 14\nx86 socketcall(SYS_CONNECT) errno 1\n"
    assert run_confined(prog, built, "int80") == (0, head + allowed)


@pytest.mark.kernel
def test_load_failure_is_a_kernel_error() -> None:
    built = build_filter(PROFILE, mode=Mode.ENFORCE)

    def body(w: int) -> None:
        if os.geteuid() == 0:
            os.setuid(65534)  # without CAP_SYS_ADMIN, only a no_new_privs process may load
        try:
            load(built.filter, no_new_privs=False)
        except KernelError as e:
            os.write(w, b"kernel error: " + str(e).encode())

    code, out = in_child(body)
    assert code == 0 and out.startswith(b"kernel error: ")


# --- argument conditions and per-rule actions -------------------------------------------------
# Rows from real profiles, read by learn.formats for an x86_64 host with Docker's default
# capabilities, run through the exported BPF. Argument values are what the program passes.

EACCES_RET = 0x0005000D  # ERRNO(EACCES): a snapd `~` rule
ENOSYS_RET = 0x00050026  # ERRNO(ENOSYS): moby's clone3 rule
TIOCSTI, TIOCLINUX, TCGETS = 0x5412, 0x541C, 0x5401
CLONE_NEWUSER, SIGCHLD = 0x10000000, 17
AF_UNIX, AF_INET, AF_NETLINK, AF_ALG, AF_VSOCK = 1, 2, 16, 38, 40
NETLINK_ROUTE, NETLINK_AUDIT = 0, 9
O_CREAT, S_ISUID = 0o100, 0o4000
HIGH = 1 << 32  # set in the upper word, which 64-bit ABIs see and 32-bit ones do not

SNAPD_TABLE: list[Row] = [
    ("x86_64", "read", (), ALLOW),
    ("x86_64", "ioctl", (0, TCGETS), ALLOW),
    ("x86_64", "ioctl", (0, TIOCSTI), EACCES_RET),  # `~ioctl - TIOCSTI` beats the plain `ioctl`
    ("x86_64", "ioctl", (0, TIOCLINUX), EACCES_RET),
    ("x86_64", "ioctl", (0, HIGH | TIOCSTI), EACCES_RET),  # `~ioctl - 4294967295|TIOCSTI`
    ("x86_64", "ioctl", (0, HIGH | TCGETS), ALLOW),
    ("x86_64", "chmod", (0, 0o755), ALLOW),
    ("x86_64", "chmod", (0, 0o4755), EACCES_RET),  # `~chmod - |S_ISUID`
    ("x86_64", "open", (0, O_CREAT, 0o644), ALLOW),
    ("x86_64", "open", (0, O_CREAT, S_ISUID | 0o644), EACCES_RET),
    ("x86_64", "open", (0, 0, S_ISUID), ALLOW),  # no O_CREAT: the mode means nothing
    ("x86_64", "socket", (AF_UNIX, 1, 0), ALLOW),
    ("x86_64", "socket", (AF_INET, 2, 0), ALLOW),
    ("x86_64", "socket", (AF_NETLINK, 3, NETLINK_ROUTE), DENY),  # commented out in the template
    ("x86_64", "setpriority", (0, 0, 19), ALLOW),  # `setpriority PRIO_PROCESS 0 <=19`
    ("x86_64", "setpriority", (0, 0, (1 << 64) - 5), DENY),  # -5: no raising the priority
    ("x86_64", "copy_file_range", (0, 0, 0, 0, 0, 0), ALLOW),
    ("x86_64", "copy_file_range", (0, 0, 0, 0, 0, 1), DENY),
    ("x86_64", "setuid", (0,), DENY),  # only with the privilege-dropping snippets
    ("x86_64", "openat2", (), EACCES_RET),  # snapd itself answers EPERM here (see formats.snapd)
    ("x86_64", "uname", (), ALLOW),
    ("x86_64", "kexec_load", (), DENY),
    ("x86", "ioctl", (0, TIOCSTI), EACCES_RET),
    ("x86", "ioctl", (0, TCGETS), ALLOW),
    ("x86", "chmod", (0, 0o4755), EACCES_RET),
]

NETLINK_SNIPPET = "socket AF_NETLINK - NETLINK_ROUTE\n~socket AF_NETLINK - NETLINK_AUDIT\nsocket AF_UNIX\n"
NETLINK_TABLE: list[Row] = [
    ("x86_64", "socket", (AF_NETLINK, 3, NETLINK_ROUTE), ALLOW),
    ("x86_64", "socket", (AF_NETLINK, 3, NETLINK_AUDIT), EACCES_RET),
    ("x86_64", "socket", (AF_NETLINK, 3, 4), DENY),
    ("x86_64", "socket", (AF_UNIX, 1, 0), ALLOW),
    ("x86_64", "socket", (AF_INET, 1, 0), DENY),
]

MOBY_TABLE: list[Row] = [
    ("x86_64", "read", (), ALLOW),
    ("x86_64", "personality", (0xFFFFFFFF,), ALLOW),  # query the persona
    ("x86_64", "personality", (8,), ALLOW),
    ("x86_64", "personality", (5,), DENY),
    ("x86_64", "personality", (HIGH | 8,), DENY),
    ("x86_64", "clone", (SIGCHLD,), ALLOW),
    ("x86_64", "clone", (CLONE_NEWUSER | SIGCHLD,), DENY),  # no CAP_SYS_ADMIN: no namespaces
    ("x86_64", "clone3", (), ENOSYS_RET),  # so that libc falls back to clone
    ("x86_64", "socket", (AF_INET, 1, 0), ALLOW),
    ("x86_64", "socket", (AF_ALG, 5, 0), DENY),
    ("x86_64", "socket", (39, 1, 0), ALLOW),
    ("x86_64", "socket", (AF_VSOCK, 1, 0), DENY),
    ("x86_64", "socket", (41, 1, 0), ALLOW),
    ("x86_64", "ptrace", (), ALLOW),  # includes minKernel 4.8
    ("x86_64", "arch_prctl", (), ALLOW),  # includes arches amd64
    ("x86_64", "syslog", (), DENY),  # includes caps CAP_SYSLOG
    ("x86_64", "reboot", (), DENY),
    ("x86_64", "kexec_load", (), DENY),
    ("x86", "personality", (5,), DENY),
    ("x86", "personality", (0xFFFFFFFF,), ALLOW),
    ("x86", "clone", (CLONE_NEWUSER | SIGCHLD,), DENY),
    ("x32", "personality", (5,), DENY),
    ("aarch64", "read", (), DENY),
]

CONTAINERS_COMMON_TABLE: list[Row] = [
    ("x86_64", "read", (), ALLOW),
    ("x86_64", "kexec_load", (), DENY),  # an ERRNO(EPERM) rule in a profile whose default is ENOSYS
    ("x86", "bdflush", (), DENY),
    ("x86_64", "io_uring_setup", (), ENOSYS_RET),  # the default
    ("x86_64", "socket", (AF_NETLINK, 3, NETLINK_AUDIT), ALLOW),  # CAP_AUDIT_WRITE is a default cap
    ("x86_64", "personality", (5,), ENOSYS_RET),
    ("x86_64", "personality", (8,), ALLOW),
]


def _corpus_profile(name: str) -> Profile:
    from learn.formats import read_profile
    from learn.formats.common import HostContext
    from tests.conftest import SHARED

    return read_profile(
        str(SHARED / "corpus" / "profiles" / name), context=HostContext("x86_64", "x86", kernel=(6, 18))
    )


@x86_64_only
@pytest.mark.parametrize("optimize", [False, True])
@pytest.mark.parametrize(
    ("name", "table"),
    [
        ("snapd_defaultTemplate.seccomp", SNAPD_TABLE),
        ("moby-profiles_seccomp_default.json", MOBY_TABLE),
        ("containers-common_pkg_seccomp_seccomp.json", CONTAINERS_COMMON_TABLE),
    ],
)
def test_real_profiles_with_conditions(name: str, table: list[Row], optimize: bool) -> None:
    profile = _corpus_profile(name)
    built = build_filter(profile, mode=Mode.ENFORCE, optimize=optimize)
    _check(built, table)
    assert [verdict(export_bpf(built.filter), a, n, args) for a, n, args, _ in table] == [e for *_, e in table]


def test_snapd_netlink_families() -> None:
    from learn.formats import snapd
    from learn.formats.common import HostContext

    profile = snapd.read(NETLINK_SNIPPET, "netlink", HostContext("x86_64", "x86")).profile
    _check(build_filter(profile, mode=Mode.ENFORCE), NETLINK_TABLE)


def test_complain_mode_logs_explicit_denials_too() -> None:
    profile = _corpus_profile("snapd_defaultTemplate.seccomp")
    built = build_filter(profile, mode=Mode.COMPLAIN)
    _check(
        built,
        [
            ("x86_64", "ioctl", (0, TCGETS), ALLOW),
            ("x86_64", "ioctl", (0, TIOCSTI), LOG),
            ("x86_64", "kexec_load", (), LOG),
            ("x86_64", "socket", (AF_UNIX, 1, 0), ALLOW),
        ],
    )


def test_conditions_on_multiplexed_calls_hold_for_direct_calls() -> None:
    from learn.formats import snapd
    from learn.formats.common import HostContext

    snapd_profile = snapd.read(NETLINK_SNIPPET, "netlink", HostContext("x86", None)).profile
    for profile in (snapd_profile, Profile({"x86": ("read",)}, rules=(Rule(("socket",), args=(Arg(0, Op.EQ, 1),)),))):
        built = build_filter(profile, mode=Mode.ENFORCE)
        assert built.notes and "socketcall" in built.notes[0]
    # Direct calls get the rules exactly. Through socketcall(2) the family is out of reach (behind
    # a pointer): the call gets the most restrictive verdict of socket's rules and the default.
    _check(
        build_filter(snapd_profile, mode=Mode.ENFORCE),
        [
            ("x86", "socket", (AF_NETLINK, 3, NETLINK_ROUTE), ALLOW),
            ("x86", "socket", (AF_NETLINK, 3, NETLINK_AUDIT), EACCES_RET),
            ("x86", "socket", (AF_UNIX, 1, 0), ALLOW),
            ("x86", "socket", (AF_INET, 1, 0), DENY),
            ("x86", "socketcall", (SYS_SOCKET, 0x1000, NETLINK_AUDIT), EACCES_RET),
            ("x86", "socketcall", (SYS_SOCKET, AF_UNIX), EACCES_RET),
            ("x86", "socketcall", (SYS_CONNECT, 0x1000), DENY),
        ],
    )


SEMCTL = 3  # ipc(2) multiplexer number
# An x86 profile that allows socket(2) for AF_UNIX only and does not list socketcall(2): the
# multiplexer must not let AF_INET through (issue 8). (profile rules, arch, call, args, expected)
MULTIPLEXER_TABLE: list[tuple[tuple[Rule, ...], str, str, tuple[int, ...], int]] = [
    ((Rule(("socket",), args=(Arg(0, Op.EQ, AF_UNIX),)),), "x86", "socket", (AF_UNIX, 1, 0), ALLOW),
    ((Rule(("socket",), args=(Arg(0, Op.EQ, AF_UNIX),)),), "x86", "socket", (AF_INET, 1, 0), DENY),
    ((Rule(("socket",), args=(Arg(0, Op.EQ, AF_UNIX),)),), "x86", "socketcall", (SYS_SOCKET, 0), DENY),
    ((Rule(("socket",), args=(Arg(0, Op.EQ, AF_UNIX),)),), "x86", "socketcall", (SYS_CONNECT, 0), DENY),
    # a conditional denial of an allowed call: through the multiplexer the denial wins
    ((Rule(("connect",), Action.ERRNO, 13, (Arg(2, Op.GT, 16),)),), "x86", "connect", (3, 0, 8), ALLOW),
    ((Rule(("connect",), Action.ERRNO, 13, (Arg(2, Op.GT, 16),)),), "x86", "connect", (3, 0, 99), EACCES_RET),
    ((Rule(("connect",), Action.ERRNO, 13, (Arg(2, Op.GT, 16),)),), "x86", "socketcall", (SYS_CONNECT, 0), EACCES_RET),
    ((Rule(("connect",), Action.ERRNO, 13, (Arg(2, Op.GT, 16),)),), "x86", "socketcall", (SYS_SOCKET, 0), DENY),
    # ipc(2): semctl with a condition, where x86 has only the multiplexer in libseccomp 2.5.4
    ((Rule(("semctl",), args=(Arg(2, Op.EQ, 0),)),), "x86", "ipc", (SEMCTL, 0, 0, 0), DENY),
    # a condition that always holds is no condition: the multiplexer allows the call as before
    ((Rule(("bind",), args=(Arg(0, Op.MASKED_EQ, 0, 0),)), Rule(("socket",), args=(Arg(0, Op.EQ, AF_UNIX),))),
     "x86", "socketcall", (2, 0), ALLOW),
]  # fmt: skip


@pytest.mark.parametrize(("rules", "arch", "name", "args", "expected"), MULTIPLEXER_TABLE)
def test_argument_rules_cannot_be_bypassed_through_a_multiplexer(
    rules: tuple[Rule, ...], arch: str, name: str, args: tuple[int, ...], expected: int
) -> None:
    allowed = ("connect", "read") if rules[0].action is Action.ERRNO else ("read",)
    built = build_filter(Profile({"x86": allowed}, rules=rules), mode=Mode.ENFORCE)
    assert verdict(program(built), arch, name, args) == expected
    assert any("socketcall(2)/ipc(2)" in note for note in built.notes)


def test_complain_mode_logs_what_a_multiplexer_would_bypass() -> None:
    profile = Profile({"x86": ("read",)}, rules=(Rule(("socket",), args=(Arg(0, Op.EQ, AF_UNIX),)),))
    prog = program(build_filter(profile, mode=Mode.COMPLAIN))
    assert verdict(prog, "x86", "socketcall", (SYS_SOCKET, 0)) == LOG
    assert verdict(prog, "x86", "socket", (AF_UNIX, 1, 0)) == ALLOW


def test_a_profile_that_allows_the_multiplexer_itself_is_told_so() -> None:
    rules = (Rule(("socket",), args=(Arg(0, Op.EQ, AF_UNIX),)),)
    built = build_filter(Profile({"x86": ("read", "socketcall")}, rules=rules), mode=Mode.ENFORCE)
    assert any("allows socketcall itself" in note for note in built.notes)


def test_a_deny_list_profile_enforces() -> None:
    profile = Profile({"x86_64": ()}, Action.ALLOW, None, rules=(Rule(("ptrace",), Action.ERRNO, 1),))
    _check(
        build_filter(profile, mode=Mode.ENFORCE),
        [("x86_64", "ptrace", (), DENY), ("x86_64", "read", (), ALLOW)],
    )


@pytest.mark.kernel
@x86_64_only
def test_kernel_applies_a_conditional_denial_over_an_allow() -> None:
    """snapd's `~ioctl - TIOCSTI` beside a plain `ioctl`, in the kernel: TIOCSTI (also with high
    bits set) gets EACCES, other requests reach the kernel's ioctl (ENOTTY on a pipe)."""
    rules = (
        Rule(("ioctl",), Action.ERRNO, 13, (Arg(1, Op.EQ, TIOCSTI),)),
        Rule(("ioctl",), Action.ERRNO, 13, (Arg(1, Op.MASKED_EQ, 0xFFFFFFFF, TIOCSTI),)),
    )
    built = build_filter(Profile({"x86_64": (*PYTHON_CHILD, "ioctl")}, rules=rules), mode=Mode.ENFORCE)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_ulong, ctypes.c_long]
    requests = [TIOCSTI, HIGH | TIOCSTI, TCGETS]
    r, w = os.pipe()

    def body(out: int) -> None:
        load(built.filter)
        errs = []
        for request in requests:
            ctypes.set_errno(0)
            libc.syscall(_nr("x86_64", "ioctl"), r, request, 0)
            errs.append(str(ctypes.get_errno()))
        os.write(out, " ".join(errs).encode())

    code, out = in_child(body)
    os.close(r)
    os.close(w)
    assert code == 0
    assert [int(e) for e in out.split()] == [errno.EACCES, errno.EACCES, errno.ENOTTY]
    prog = export_bpf(built.filter)
    assert [verdict(prog, "x86_64", "ioctl", (r, q)) for q in requests] == [EACCES_RET, EACCES_RET, ALLOW]
