"""Syscalls and argument values that widen a sandbox a lot: one curated table, read by the
summary of `run`/`suggest`, by `learn lint` and by `--report-json`.

Each row says in one line why, and where to read more (a man page, a CVE, the profile of a
runtime that denies it). A row is data: to add one, add a line here and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from learn.model import Action
from learn.profile import Profile
from learn.syscalls import exists


@dataclass(frozen=True)
class Risk:
    names: tuple[str, ...]  # the syscalls of one concern
    reason: str
    reference: str


@dataclass(frozen=True)
class ArgRisk:
    """One argument value: the call is risky when the profile allows it with that value."""

    name: str
    index: int  # argument index
    value: int
    label: str  # how people spell the value: AF_PACKET, CLONE_NEWUSER, TIOCSTI
    reason: str
    reference: str


RISKY_SYSCALLS: tuple[Risk, ...] = (
    Risk(("ptrace",), "reads and writes other processes' memory and registers; before 4.8 it also bypassed seccomp",
         "ptrace(2); moby's default allows it only from kernel 4.8"),
    Risk(("process_vm_readv", "process_vm_writev"), "reads or writes another process's memory, as ptrace does",
         "process_vm_readv(2); moby's default needs CAP_SYS_PTRACE"),
    Risk(("bpf",), "loads programs into the kernel: a rich source of kernel exploits",
         "bpf(2); CVE-2021-3490, CVE-2022-23222"),
    Risk(("perf_event_open",), "kernel performance events: information leaks and kernel exploits",
         "perf_event_open(2); CVE-2013-2094; denied by moby's default"),
    Risk(("userfaultfd",), "stalls kernel page faults at will: a standard tool of kernel race exploits",
         "userfaultfd(2); sysctl vm.unprivileged_userfaultfd; denied by moby's default"),
    Risk(("keyctl", "add_key", "request_key"), "the kernel keyring is not namespaced: it reaches the host's keys",
         "keyrings(7); CVE-2016-0728; denied by moby's default"),
    Risk(("unshare", "setns"), "new or other namespaces; a user namespace opens much of the kernel to attack",
         "unshare(2), user_namespaces(7); CVE-2022-0185"),
    Risk(("mount", "umount2", "pivot_root", "move_mount", "fsopen", "fsmount", "fsconfig", "open_tree"),
         "changes what the file system shows: the way out of a chroot or a container",
         "mount(2), pivot_root(2), fsopen(2); denied by moby's default"),
    Risk(("init_module", "finit_module", "delete_module"), "loads or removes kernel code",
         "init_module(2), delete_module(2)"),
    Risk(("kexec_load", "kexec_file_load"), "replaces the running kernel", "kexec_load(2)"),
    Risk(("open_by_handle_at",), "opens any file by its handle, past every directory permission",
         "open_by_handle_at(2); the 2014 'shocker' container escape"),
    Risk(("iopl", "ioperm"), "direct access to the machine's I/O ports", "ioperm(2), iopl(2)"),
    Risk(("swapon", "swapoff"), "changes the host's swap", "swapon(2)"),
    Risk(("reboot",), "reboots or halts the machine", "reboot(2)"),
    Risk(("acct",), "switches process accounting for the whole host", "acct(2)"),
    Risk(("settimeofday", "clock_settime", "adjtimex", "clock_adjtime", "stime"),
         "sets the host's clock, which no namespace isolates", "clock_settime(2), adjtimex(2)"),
    Risk(("personality",), "can turn off address space randomization (ADDR_NO_RANDOMIZE) and change the ABI",
         "personality(2); moby's default allows only a few values"),
    Risk(("io_uring_setup", "io_uring_enter", "io_uring_register"),
         "does syscalls' work without syscalls, out of seccomp's sight, and has had many kernel CVEs",
         "io_uring(7); Google's 2023 kCTF report (60% of its kernel exploits used io_uring)"),
)  # fmt: skip

AF_NETLINK, AF_PACKET, AF_ALG = 16, 17, 38
CLONE_NEWUSER = 0x10000000
TIOCSTI = 0x5412

RISKY_ARGUMENTS: tuple[ArgRisk, ...] = (
    ArgRisk("socket", 0, AF_PACKET, "AF_PACKET", "raw link-layer frames: sniff and forge the host's traffic",
            "packet(7); CVE-2020-14386"),
    ArgRisk("socket", 0, AF_ALG, "AF_ALG", "the kernel's crypto API from user space: a steady source of kernel CVEs",
            "kernel Documentation/crypto/userspace-if.rst; CVE-2015-8970"),
    ArgRisk("socket", 0, AF_NETLINK, "AF_NETLINK", "talks to kernel subsystems (routing, netfilter, audit)",
            "netlink(7)"),
    ArgRisk("clone", 0, CLONE_NEWUSER, "CLONE_NEWUSER", "a new user namespace, as unshare(CLONE_NEWUSER) makes",
            "user_namespaces(7); moby's default needs CAP_SYS_ADMIN for namespace flags"),
    ArgRisk("ioctl", 1, TIOCSTI, "TIOCSTI", "types into the terminal's input: commands for the shell that started it",
            "ioctl_tty(2); CVE-2017-5226 (bubblewrap)"),
)  # fmt: skip

RISK_BY_NAME: dict[str, Risk] = {name: risk for risk in RISKY_SYSCALLS for name in risk.names}
_ALLOWING = frozenset({Action.ALLOW, Action.LOG})  # LOG lets the call through too


@dataclass(frozen=True)
class Flag:
    """A risky syscall (label None) or argument value the profile allows, on these arches."""

    name: str
    label: str | None
    reason: str
    reference: str
    arches: tuple[str, ...]
    conditional: bool = False  # allowed only by rules with argument conditions, on every arch

    @property
    def what(self) -> str:
        return f"{self.name} {self.label}" if self.label else self.name


def _allowing_arches(profile: Profile, name: str, args: Sequence[int] = ()) -> tuple[str, ...]:
    return tuple(
        arch for arch in profile.arches if exists(name, arch) and profile.decide(arch, name, args).action in _ALLOWING
    )


def assess(profile: Profile) -> list[Flag]:
    """Every row of the table the profile allows: syscalls first, then argument values."""
    flags: list[Flag] = []
    for name in sorted(RISK_BY_NAME):
        arches = _allowing_arches(profile, name)
        if arches:
            risk = RISK_BY_NAME[name]
            conditional = not any(name in profile.allowed.get(arch, ()) for arch in arches)
            flags.append(Flag(name, None, risk.reason, risk.reference, arches, conditional))
    for row in RISKY_ARGUMENTS:
        args = [0] * row.index + [row.value]
        arches = _allowing_arches(profile, row.name, args)
        if arches:
            flags.append(Flag(row.name, row.label, row.reason, row.reference, arches))
    return flags


def _made_by(name: str, exes: Mapping[str, Sequence[str]] | None, shown: int = 3) -> str:
    made = list((exes or {}).get(name, ()))
    if not made:
        return ""
    more = f" and {len(made) - shown} more" if len(made) > shown else ""
    return f"; made by {', '.join(made[:shown])}{more}"


def describe(flag: Flag, exes: Mapping[str, Sequence[str]] | None = None) -> str:
    """One line: `ptrace (x86_64): reason [reference]; made by /usr/bin/gdb`."""
    text = f"{flag.what} ({' '.join(flag.arches)}): {flag.reason} [{flag.reference}]"
    return text + (_made_by(flag.name, exes) if flag.label is None else "")


def summary_lines(flags: Sequence[Flag], exes: Mapping[str, Sequence[str]] | None = None) -> list[str]:
    """The summary's risk block: a heading, a line per risky syscall, and per syscall allowed
    with risky argument values, a line saying so and one per value; nothing when there is none."""
    if not flags:
        return []
    lines = [
        "risk: the profile allows calls that widen a sandbox a lot (README: Risk; --deny SYSCALL leaves a syscall out):"
    ]
    lines += [f"  {describe(flag, exes)}" for flag in flags if flag.label is None]
    by_call: dict[str, list[Flag]] = {}
    for flag in flags:
        if flag.label is not None:
            by_call.setdefault(flag.name, []).append(flag)
    for name, values in by_call.items():
        arches = " ".join(values[0].arches)
        lines.append(
            f"  {name} ({arches}){_made_by(name, exes).replace(';', ',')}, is allowed with these values "
            "(SECCOMP records show no arguments; a rule on the argument restricts them):"
        )
        lines += [f"    {flag.label}: {flag.reason} [{flag.reference}]" for flag in values]
    return lines
