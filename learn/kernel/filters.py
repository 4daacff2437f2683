"""Profile -> libseccomp filter (enforce, complain or learn), its BPF and PFC text, and load.

libseccomp applies a rule to every arch of a filter, but a Profile allows names per arch:
`read` seen only from x86 code must not be allowed to x86_64 code. So each arch gets a filter
of its own and they are merged: seccomp_merge moves each arch's rule set over intact when the
arch sets are disjoint (tests/kernel/test_filters.py checks this on the exported BPF and in
the kernel).

Rules with argument conditions and other actions go through learn.lowering first: a profile's
most restrictive matching rule wins, and libseccomp only gets that right for rules that do not
overlap (an unconditional ALLOW silently drops a conditional ERRNO for the same syscall).
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import cast

import pyseccomp

from learn.arch import AUDIT_ARCH_BY_NAME, canonical_arch, host_abis
from learn.errors import KernelError, ProfileError
from learn.kernel.multiplexers import MULTIPLEXED, MULTIPLEXED_ARCHES, Guard, guard_program, through_multiplexers
from learn.kernel.multiplexers import notes as multiplexer_notes
from learn.lowering import Lowered, lower
from learn.model import Action
from learn.profile import EPERM, Arg, Op, Profile, Verdict, arg_mask, rank
from learn.syscalls import exists

# Return values that need no data; ERRNO and TRACE carry the errno / tracer message.
_SIMPLE_RET: dict[Action, int] = {
    Action.KILL_PROCESS: pyseccomp.KILL_PROCESS,
    Action.KILL_THREAD: pyseccomp.KILL_THREAD,
    Action.TRAP: pyseccomp.TRAP,
    Action.LOG: pyseccomp.LOG,
}
_OPS = {
    Op.EQ: pyseccomp.EQ,
    Op.NE: pyseccomp.NE,
    Op.LT: pyseccomp.LT,
    Op.LE: pyseccomp.LE,
    Op.GT: pyseccomp.GT,
    Op.GE: pyseccomp.GE,
    Op.MASKED_EQ: pyseccomp.MASKED_EQ,
}
# libseccomp 2.5.4 refuses ERRNO data above 4094 (EINVAL); the kernel would cap it at 4095.
MAX_ERRNO = 4094
_OPTIMIZE_BINARY_TREE = 2
MAX_PRIORITY = 255  # seccomp_syscall_priority takes a uint8


class Mode(StrEnum):
    ENFORCE = "enforce"  # the profile's default action (ERRNO(EPERM)) for everything else
    COMPLAIN = "complain"  # allow the profile, LOG the rest: what it would deny (snapd devmode)
    LEARN = "learn"  # LOG every call from every host ABI; the profile is ignored


class UnknownSyscallError(ProfileError):
    """Names libseccomp knows on no arch at all: a typo, or a syscall newer than libseccomp."""

    hint = "check the spelling; `scmp_sys_resolver -a ARCH NAME` shows what libseccomp knows"

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)
        super().__init__("libseccomp knows no syscall named " + ", ".join(self.names))


@dataclass(frozen=True)
class BuiltFilter:
    filter: pyseccomp.SyscallFilter
    arches: tuple[str, ...]  # exactly the arches in the filter, in merge order (= check order, but
    # libseccomp checks x32 and x86_64 together: they share AUDIT_ARCH_X86_64)
    default: int  # SECCOMP_RET_* for anything no rule allows, and for arches not in the filter
    # arch -> names the profile allows there that the arch has no syscall for; left out. Normal
    # for profiles written for several arches at once (OCI lists one name set for all).
    skipped: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # What the user should know about how the filter reads the profile (multiplexed calls).
    notes: tuple[str, ...] = ()
    # Checks learn puts in front of libseccomp's program (learn.kernel.multiplexers): `program`
    # and `install` include them; `filter` alone is libseccomp's part.
    guards: tuple[Guard, ...] = ()
    log_denials: bool = False


def program(built: BuiltFilter) -> bytes:
    """The BPF the kernel runs: learn's multiplexer guards, then libseccomp's filter."""
    guards = guard_program(built.guards, {g.verdict: verdict_ret(g.verdict) for g in built.guards})
    return guards + export_bpf(built.filter)


def install(built: BuiltFilter) -> None:
    """Load the whole filter (guards included) on the calling thread, for good."""
    if not built.guards:
        load(built.filter)
        return
    from learn.kernel.bpf import load_bpf

    load_bpf(program(built), log=built.log_denials)


def default_ret(profile: Profile) -> int:
    """The SECCOMP_RET_* value of the profile's default action, as an enforcing filter uses it."""
    action = profile.default_action
    if action in _SIMPLE_RET:
        return _SIMPLE_RET[action]
    errno = profile.default_errno or EPERM  # ERRNO(0) would make every denied call "succeed"
    if action is Action.ERRNO and errno > MAX_ERRNO:
        raise ProfileError(
            f"cannot enforce the default action errno({errno}): libseccomp takes errno 1..{MAX_ERRNO}",
            "use a real errno (EPERM is 1)",
        )
    if action is Action.TRACE and errno > 0xFFFF:
        raise ProfileError(f"cannot enforce the default action trace({errno}): a tracer message is 0..65535")
    if action is Action.ERRNO:
        return cast(int, pyseccomp.ERRNO(errno))
    if action is Action.TRACE:
        return cast(int, pyseccomp.TRACE(errno))
    if action is Action.ALLOW and any(r.action is not Action.ALLOW for r in profile.rules):
        return cast(int, pyseccomp.ALLOW)  # a deny list: systemd's ~, SPO's block lists
    # ALLOW alone would make the rules no-ops (libseccomp refuses them), USER_NOTIF needs a listener.
    raise ProfileError(f"an enforcing filter cannot have default action {action.value}")


def verdict_ret(verdict: Verdict) -> int:
    """The SECCOMP_RET_* value of a rule's verdict."""
    action = verdict.action
    if action in _SIMPLE_RET:
        return _SIMPLE_RET[action]
    if action is Action.ALLOW:
        return cast(int, pyseccomp.ALLOW)
    if action is Action.USER_NOTIF:
        return cast(int, pyseccomp.NOTIFY)
    data = verdict.errno or 0
    return cast(int, pyseccomp.ERRNO(data) if action is Action.ERRNO else pyseccomp.TRACE(data))


def priority(count: int, most: int) -> int:
    """0..255 on a log scale: syscall counts are heavy-tailed, and a linear scale would give
    every call but the top few priority 0 (which libseccomp treats as no priority at all)."""
    if count <= 0 or most <= 0:
        return 0
    return min(MAX_PRIORITY, round(MAX_PRIORITY * math.log1p(count) / math.log1p(most)))


def build_filter(
    profile: Profile,
    *,
    mode: Mode,
    arches: Sequence[str] | None = None,
    counts: Mapping[tuple[str, str], int] | None = None,
    log_denials: bool = False,
    optimize: bool = True,
) -> BuiltFilter:
    """A filter with exactly `arches` (default: the profile's; in LEARN mode the host's ABIs).

    `counts` ((arch, name) -> calls seen) puts frequent calls first in libseccomp's linear chain
    and orders the arches by total calls. `optimize` asks for a binary tree of syscall numbers
    instead: every verdict in O(log n) steps, but libseccomp 2.5.4 then ignores priorities (the
    BPF is byte-identical). The tree is the default because the kernel (>= 5.11) skips the filter
    for calls it allows unconditionally on the native and compat ABI, so what runs the filter
    is mostly denials, which a linear chain checks against every rule.
    `log_denials` sets SECCOMP_FILTER_FLAG_LOG in ENFORCE mode, so denials reach the audit log;
    the caller probes the kernel for it (learn.kernel.features).
    """
    if arches is None:
        arches = host_abis() if mode is Mode.LEARN else profile.arches
    targets = _arch_names(arches)
    if counts:
        totals = {a: sum(n for (arch, _), n in counts.items() if arch == a) for a in targets}
        targets = tuple(sorted(targets, key=lambda a: -totals[a]))  # stable: ties keep order
    default: int = default_ret(profile) if mode is Mode.ENFORCE else pyseccomp.LOG
    default_verdict = profile.default_verdict() if mode is Mode.ENFORCE else Verdict(Action.LOG, None)
    if mode is Mode.LEARN:
        profile = Profile({})
    allowed: Mapping[str, Sequence[str]] = profile.allowed

    wanted = {name for arch in targets for name in allowed.get(arch, ())} | set(profile.rule_names())
    unknown = sorted(n for n in wanted if not _known_anywhere(n))
    if unknown:
        raise UnknownSyscallError(unknown)

    most = max(counts.values(), default=0) if counts else 0
    merged: pyseccomp.SyscallFilter | None = None
    skipped: dict[str, tuple[str, ...]] = {}
    notes: list[str] = []
    guards: list[Guard] = []
    for arch in targets:
        rules = _arch_rules(profile, arch, mode)
        names = sorted(set(allowed.get(arch, ())) | {name for name, _ in rules})
        missing = tuple(n for n in names if not exists(n, arch))
        if missing:
            skipped[arch] = missing
        present = [n for n in names if n not in missing]
        prios = {n: priority(counts.get((arch, n), 0), most) for n in present} if counts else {}
        rules = [(n, low) for n, low in rules if n not in missing]
        if arch in MULTIPLEXED_ARCHES:
            rules, arch_guards = through_multiplexers(arch, rules, default_verdict)
            notes += multiplexer_notes(arch, arch_guards, allowed.get(arch, ()))
            guards += arch_guards
        part = _arch_filter(arch, default, rules, prios)
        if merged is None:
            merged = part
        else:
            _libseccomp(merged.merge, part, what=f"adding {arch} to the filter")
    assert merged is not None  # _arch_names refuses an empty list

    # Attributes belong to the whole filter; merge keeps the destination's, so set them last.
    # A call from an arch outside the filter gets ACT_BADARCH, KILL by default: a 32-bit call
    # under an x86_64 profile would kill the program where the profile means "deny".
    _libseccomp(merged.set_attr, pyseccomp.Attr.ACT_BADARCH, default, what="setting the bad-arch action")
    if optimize:
        # libseccomp < 2.5 has no binary tree; the linear chain is just as correct, only longer.
        with contextlib.suppress(OSError):
            merged.set_attr(pyseccomp.Attr.CTL_OPTIMIZE, _OPTIMIZE_BINARY_TREE)
    if log_denials and mode is Mode.ENFORCE:
        try:
            merged.set_attr(pyseccomp.Attr.CTL_LOG, 1)
        except OSError as e:
            raise KernelError(f"cannot log denials: SECCOMP_FILTER_FLAG_LOG: {e.strerror}") from e
    logged = log_denials and mode is Mode.ENFORCE
    built = BuiltFilter(merged, targets, default, skipped, tuple(notes), tuple(guards), logged)
    if mode is Mode.LEARN or not any(rule.args for rule in profile.rules):
        return built
    wrong = _miscompiled(built, profile, mode)
    if wrong is None:
        return built
    if optimize:  # libseccomp's binary tree went wrong (learn.bpf.verify): its linear chain does not
        rebuilt = build_filter(
            profile, mode=mode, arches=arches, counts=counts, log_denials=log_denials, optimize=False
        )
        wrong = _miscompiled(rebuilt, profile, mode)
        if wrong is None:
            return rebuilt
    arch, name, args, got, want = wrong
    raise ProfileError(
        f"libseccomp builds a filter that gives {name}"
        f"({', '.join(map(hex, args))}) on {arch} {got} where the profile says {want}: refusing to load it",
        "simplify that syscall's argument rules, or report the profile to learn's developers",
    )


def _miscompiled(
    built: BuiltFilter, profile: Profile, mode: Mode
) -> tuple[str, str, tuple[int, ...], Verdict, Verdict] | None:
    """The first call the built program decides otherwise than the profile, among those argument
    rules decide (learn.bpf.verify); None when they all agree."""
    from learn.bpf.verify import first_disagreement  # not at import: the interpreter is only needed here

    def expected(arch: str, name: str, args: tuple[int, ...]) -> Verdict:
        verdict = profile.decide(arch, name, args)
        if mode is Mode.ENFORCE or verdict.action is Action.ALLOW:
            return verdict
        return Verdict(Action.LOG, None)  # COMPLAIN: what the profile would deny is logged

    def skip(arch: str, name: str) -> bool:  # learn's own guards decide these (learn.kernel.multiplexers)
        return arch in MULTIPLEXED_ARCHES and name in MULTIPLEXED

    return first_disagreement(program(built), profile, built.arches, expected, skip)


def require_host_abi(profile: Profile) -> list[str]:
    """The host ABIs the profile lists; none is refused before anything runs: the filter would
    deny every call of the program, its execve first, and the kernel would kill it."""
    arches = [a for a in host_abis() if a in profile.arches]
    if not arches:
        raise ProfileError(
            f"the profile lists none of this host's ABIs ({', '.join(host_abis())}), only "
            f"{', '.join(profile.arches) or 'none'}",
            "run it on a host of its arch, or learn it here with learn run",
        )
    return arches


def _arch_names(arches: Sequence[str]) -> tuple[str, ...]:
    names: list[str] = []
    for given in arches:
        arch = canonical_arch(given)
        if arch is None:
            raise ProfileError(f"libseccomp knows no architecture {given!r}")
        if arch not in names:
            names.append(arch)
    if not names:
        raise ProfileError("the profile names no architecture, so a filter would match no call")
    return tuple(names)


def _arch_rules(profile: Profile, arch: str, mode: Mode) -> list[tuple[str, Lowered]]:
    """(name, rule) for libseccomp on one arch: every name's rules lowered to disjoint ones."""
    default = profile.default_verdict() if mode is Mode.ENFORCE else Verdict(Action.LOG, None)

    def verdict(rule_action: Action, errno: int | None) -> Verdict:
        # COMPLAIN allows what the profile allows and logs what it would deny, explicit denials too.
        if mode is Mode.ENFORCE or rule_action is Action.ALLOW:
            return Verdict(rule_action, errno)
        return default

    allowed = set(profile.allowed.get(arch, ()))
    entries: dict[str, list[tuple[Verdict, tuple[Arg, ...]]]] = {}
    ranked = sorted(enumerate(profile.rules), key=lambda ir: (rank(verdict(ir[1].action, None).action), ir[0]))
    for _, rule in ranked:  # most restrictive first; ties in the profile's order
        if arch in (profile.arches if rule.arches is None else rule.arches):
            for name in rule.names:
                entries.setdefault(name, []).append((verdict(rule.action, rule.errno), rule.args))
    out: list[tuple[str, Lowered]] = []
    for name in sorted(allowed | set(entries)):
        named = entries.get(name, [])
        if name in allowed:
            named.append((Verdict(Action.ALLOW, None), ()))  # least restrictive: goes last
        out.extend((name, low) for low in lower(named, default, arg_mask(arch), what=f"{name} on {arch}"))
    return out


def _arch_filter(
    arch: str, default: int, rules: Sequence[tuple[str, Lowered]], prios: Mapping[str, int]
) -> pyseccomp.SyscallFilter:
    flt = pyseccomp.SyscallFilter(default)
    token = AUDIT_ARCH_BY_NAME[arch]
    if token != pyseccomp.system_arch():
        # Native goes first: a big-endian arch cannot join a filter holding little-endian x86_64.
        _libseccomp(flt.remove_arch, pyseccomp.Arch.NATIVE, what=f"building the {arch} filter")
        _libseccomp(flt.add_arch, token, what=f"building the {arch} filter")
    for name, low in rules:
        # libseccomp reads a rule's syscall as a native number and translates it by name to each
        # arch in the filter, so a name the host lacks (x86 socketcall) still lands right.
        args = [pyseccomp.Arg(a.index, _OPS[a.op], a.value, a.value2) for a in low.args]
        what = f"{low.verdict} for {name}{' if ' + ' && '.join(map(str, low.args)) if low.args else ''} on {arch}"
        if low.verdict.action is Action.ERRNO and (low.verdict.errno or 0) > MAX_ERRNO:
            raise ProfileError(
                f"cannot enforce the rule {what}: libseccomp takes errno 0..{MAX_ERRNO}",
                "use a real errno (EPERM is 1)",
            )
        _libseccomp(flt.add_rule, verdict_ret(low.verdict), name, *args, what=what)
    for name, prio in prios.items():
        if prio:
            _libseccomp(flt.syscall_priority, name, prio, what=f"prioritizing {name}")
    return flt


def _known_anywhere(name: str) -> bool:
    return any(exists(name, arch) for arch in AUDIT_ARCH_BY_NAME)


def _libseccomp(call: Callable[..., object], *args: object, what: str) -> None:
    try:
        call(*args)
    except OSError as e:
        # EDOM: arches of both byte orders; EINVAL: a rule libseccomp cannot express.
        raise ProfileError(f"libseccomp refused {what}: {e.strerror}") from e


def export_bpf(flt: pyseccomp.SyscallFilter) -> bytes:
    """The filter as the kernel runs it: struct sock_filter[], native byte order."""
    return _export(flt.export_bpf, "bpf")


def export_pfc(flt: pyseccomp.SyscallFilter) -> str:
    """libseccomp's pseudo filter code: the BPF's logic as readable if/else, with priorities."""
    return _export(flt.export_pfc, "pfc").decode()


def _export(export: Callable[[object], None], kind: str) -> bytes:
    # libseccomp writes to a file descriptor. A memfd, not a temp file: no writable /tmp needed,
    # and unlike a pipe it cannot fill up and block libseccomp's write.
    with open(os.memfd_create(f"learn-{kind}", os.MFD_CLOEXEC), "w+b") as out:
        try:
            export(out)
        except OSError as e:
            raise ProfileError(f"libseccomp cannot export the filter as {kind}: {e.strerror}") from e
        out.seek(0)
        return out.read()


def load(flt: pyseccomp.SyscallFilter, *, no_new_privs: bool = True) -> None:
    """Install the filter on the calling thread, for good: it survives fork and execve.

    With no_new_privs, libseccomp sets PR_SET_NO_NEW_PRIVS itself before loading; without
    it the kernel wants CAP_SYS_ADMIN, and setuid programs keep their privileges.
    """
    try:
        flt.set_attr(pyseccomp.Attr.CTL_NNP, int(no_new_privs))
        flt.load()
    except OSError as e:
        raise KernelError(f"cannot load the seccomp filter: {e.strerror}") from e
