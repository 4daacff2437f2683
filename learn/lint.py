"""`learn lint`: a static check of a profile, any format, as findings `file: severity: message`.

A validator that accepts a deny-everything profile, or one whose default allows, checks the
syntax and misses the point; these checks ask whether the profile sandboxes a program and lets
it run on this host:

  error    the default action lets calls through (ALLOW, LOG) or the profile has no filter;
           nothing is allowed; none of this host's ABIs is listed; the file is no valid profile
  warning  the baseline is missing; a rule can never decide (shadowed); an argument rule
           compares all 64 bits of ioctl's request; a name libseccomp cannot resolve was
           left out; a risky syscall is allowed (learn.risk)
  note     a risky argument value is allowed; what the reader assumed
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum

from learn.arch import host_abis
from learn.baseline import missing
from learn.errors import ProfileError
from learn.formats import ProfileFormat, load_profile
from learn.model import Action
from learn.profile import ARCHES_32, U32, Op, Profile, Rule, rank
from learn.risk import assess

IOCTL_REQUEST = 1  # ioctl(fd, request, ...): the kernel takes request as an unsigned int


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True)
class Finding:
    source: str
    severity: Severity
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.severity.value}: {self.message}"


def lint_file(path: str, fmt: ProfileFormat | None = None) -> list[Finding]:
    """Every finding for the profile in path; a file that is no valid profile is one error.
    A file that cannot be read at all raises InputError (the caller's exit 2)."""
    try:
        loaded = load_profile(path, fmt)
    except ProfileError as error:
        message = str(error).removeprefix(f"{path}: ")
        return [Finding(path, Severity.ERROR, f"not a valid profile: {message}")]
    findings = [Finding(path, severity, message) for severity, message in check(loaded.profile)]
    for note in loaded.notes:
        text = note.removeprefix(f"{path}: ")
        if text.startswith(f"{path}:"):  # `file:line: ...`
            line, _, rest = text.removeprefix(f"{path}:").partition(":")
            text = f"line {line}:{rest}" if line.isdigit() else text
        unknown = "unknown syscall" in text
        findings.append(Finding(path, Severity.WARNING if unknown else Severity.NOTE, text))
    order = list(Severity)
    return sorted(findings, key=lambda f: order.index(f.severity))


def check(profile: Profile, abis: Sequence[str] | None = None) -> Iterator[tuple[Severity, str]]:
    """The checks, on the model; abis: this host's (default: what it runs)."""
    default = profile.default_verdict()
    if default.action in (Action.ALLOW, Action.LOG):
        what = "no filter at all" if default.action is Action.ALLOW and not profile.rules else f"default {default}"
        yield (
            Severity.ERROR,
            (
                f"{what}: every call the profile does not name is let through, so it enforces nothing new "
                "(an enforce profile denies by default: errno, kill_process ...)"
            ),
        )
        return  # every other check assumes a profile that denies what it does not allow
    if not any(profile.allowed.values()) and not any(r.action in (Action.ALLOW, Action.LOG) for r in profile.rules):
        yield Severity.ERROR, "allows no syscall: no program can even start under it (execve, exit_group ...)"
        return
    host = list(abis if abis is not None else host_abis())
    if not set(profile.arches) & set(host):
        yield (
            Severity.ERROR,
            (
                f"lists none of this host's ABIs ({' '.join(host)}) but {' '.join(profile.arches)}: "
                f"every call here gets the default {default}"
            ),
        )
    for arch, names in missing(profile).items():
        yield (
            Severity.WARNING,
            (
                f"{arch}: the baseline is not allowed: {' '.join(names)} (signal handlers cannot return, "
                "stopped sleeps cannot restart, or the program cannot exit; README: The baseline)"
            ),
        )
    yield from _shadowed(profile)
    yield from _ioctl_full_width(profile)
    for flag in assess(profile):
        # A value allowed because the records show no arguments, or a call a rule allows for some
        # arguments only (someone chose them), is a note; a risky call allowed outright, a warning.
        severity = Severity.WARNING if flag.label is None and not flag.conditional else Severity.NOTE
        how = " for some arguments (by a rule)" if flag.conditional else ""
        yield severity, (f"risky: {flag.what} allowed{how} ({' '.join(flag.arches)}): {flag.reason} [{flag.reference}]")


def _covers(general: Rule, specific: Rule) -> bool:
    """Whenever `specific` matches, `general` does: its conditions are a subset."""
    return set(general.args) <= set(specific.args)


def _shadowed(profile: Profile) -> Iterator[tuple[Severity, str]]:
    """Rules that never decide a call, and unconditional allows an unconditional denial kills."""
    said: dict[str, list[str]] = {}  # message -> arches
    index = profile.rules_by_name()
    for name, rules in sorted(index.items()):
        for arch in profile.arches:
            applying = [r for r in rules if r.applies(arch, name, profile.arches)]
            allowed = name in profile.allowed.get(arch, ())
            for position, rule in enumerate(applying):
                if rule.action is Action.ALLOW and allowed:
                    message = f"rule '{rule.describe(name)}' is shadowed: {name} is allowed unconditionally"
                    said.setdefault(message, []).append(arch)
                    continue
                for other_position, other in enumerate(applying):
                    if other is rule or not _covers(other, rule):
                        continue
                    stricter = rank(other.action) < rank(rule.action)
                    tie_first = rank(other.action) == rank(rule.action) and other_position < position
                    if stricter or tie_first:
                        first = other.describe(name)
                        message = (
                            f"rule '{first}' is repeated"
                            if first == rule.describe(name)
                            else f"rule '{rule.describe(name)}' is shadowed by '{first}'"
                        )
                        said.setdefault(message, []).append(arch)
                        break
                if allowed and not rule.args and rule.action is not Action.ALLOW:
                    message = f"{name} is allowed unconditionally, but '{rule.describe(name)}' decides every call"
                    said.setdefault(message, []).append(arch)
    for message, arches in said.items():
        yield Severity.WARNING, f"{message} ({' '.join(dict.fromkeys(arches))})"


def _ioctl_full_width(profile: Profile) -> Iterator[tuple[Severity, str]]:
    """ioctl's request is an unsigned int to the kernel; a caller may pass it sign-extended
    (bit 31 set: most _IOR/_IOW requests), so a 64-bit comparison on a 64-bit ABI misses it."""
    for rule in profile.rules:
        if "ioctl" not in rule.names:
            continue
        arches = [a for a in (rule.arches or profile.arches) if a not in ARCHES_32]
        for arg in rule.args:
            if arg.index != IOCTL_REQUEST or not arches:
                continue
            if arg.op is Op.MASKED_EQ and not arg.value & ~U32:
                continue
            yield (
                Severity.WARNING,
                (
                    f"rule '{rule.describe('ioctl')}' compares all 64 bits of ioctl's request on {' '.join(arches)}: "
                    "the kernel reads an unsigned int, and a request passed sign-extended (bit 31 set) compares "
                    "differently; compare a1 with masked_eq 0xffffffff instead"
                ),
            )
