"""Argument values seen -> argument rules (the table is learn.argrules).

Per (arch, syscall) of the table, the calls' values are kept projected on the table's rows
(masked, `when` applied), counted. A syscall becomes argument-checked on an arch when every one
of its calls there had known arguments; one call without them (a log without its SYSCALL
record) keeps it name-only, with a note: a rule from part of the calls would deny the rest.

Rules: one per distinct combination of its enum values (socket AF_INET+SOCK_DGRAM, not every
family with every type), each with its flag words allowed up to the union of the bits seen
with that combination. clone3 keeps its flags in memory: where clone is argument-checked (or
clone3 was seen) clone3 gets ENOSYS, so libc falls back to clone, whose flags are checked.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from learn.argrules import CLONE3, ENOSYS, ROWS_BY_SYSCALL, U64, ArgRow, Key, Kind, project, rows_for, value_name
from learn.model import Action, SeccompEvent
from learn.profile import Arg, Op, Rule, arg_mask

# Beyond this many distinct value combinations on one arch a syscall stays name-only: the
# filter would grow past what one syscall's rules may hold (learn.profile.MAX_RULES_PER_SYSCALL).
MAX_COMBINATIONS = 24
MAX_EXES = 8  # executables remembered per value, for check's report
UNKNOWN_ARGS = "?"  # a usage shard's signature of a call whose arguments the log did not give


@dataclass
class ArgUsage:
    """(arch, syscall) -> how often each projected key was seen; None: arguments unknown."""

    seen: dict[tuple[str, str], Counter[Key | None]] = field(default_factory=dict)
    exes: dict[tuple[str, str, Key | None], set[str]] = field(default_factory=dict)  # who made each

    def add(self, e: SeccompEvent, n: int = 1) -> None:
        if e.syscall is None or e.syscall not in ROWS_BY_SYSCALL:
            return
        rows = rows_for(e.arch, e.syscall)
        if not rows:
            return
        key = None if e.args is None else project(rows, e.args, arg_mask(e.arch))
        self._count(e.arch, e.syscall, key, e.exe, n)

    def add_signature(self, arch: str, syscall: str, signature: str, exe: str | None, n: int) -> None:
        """n calls a usage shard holds under this argument signature (see signature())."""
        key = None if signature == UNKNOWN_ARGS else tuple(json.loads(signature))
        self._count(arch, syscall, key, exe, n)

    def _count(self, arch: str, syscall: str, key: Key | None, exe: str | None, n: int) -> None:
        self.seen.setdefault((arch, syscall), Counter())[key] += n
        exes = self.exes.setdefault((arch, syscall, key), set())
        if len(exes) < MAX_EXES:
            exes.add(exe or "?")


def signature(e: SeccompEvent) -> str | None:
    """The call's argument values as the table projects them (JSON), UNKNOWN_ARGS when the log
    gave none; None for a syscall the table has no rows for (its arguments are never checked)."""
    if e.syscall is None or e.syscall not in ROWS_BY_SYSCALL:
        return None
    rows = rows_for(e.arch, e.syscall)
    if not rows:
        return None
    return UNKNOWN_ARGS if e.args is None else json.dumps(list(project(rows, e.args, arg_mask(e.arch))))


@dataclass(frozen=True)
class ArgProfile:
    allowed: dict[str, tuple[str, ...]]  # what stays allowed by name
    rules: tuple[Rule, ...]
    notes: tuple[str, ...]


def _combinations(rows: tuple[ArgRow, ...], keys: Counter[Key | None]) -> dict[Key, list[int]]:
    """Enum part of each key (flags rows None) -> per row, the union of flag bits seen with it."""
    groups: dict[Key, list[int]] = {}
    for key in sorted((k for k in keys if k is not None), key=lambda k: tuple(-1 if v is None else v for v in k)):
        enum_part = tuple(v if r.kind is Kind.ENUM else None for r, v in zip(rows, key, strict=True))
        flags = groups.setdefault(enum_part, [0] * len(rows))
        for i, (row, value) in enumerate(zip(rows, key, strict=True)):
            if row.kind is Kind.FLAGS and value is not None:
                flags[i] |= value
    return groups


def _rule(arch: str, name: str, rows: tuple[ArgRow, ...], enum_part: Key, flags: list[int]) -> Rule:
    """The row's own mask, whatever the arch's width: on a 32-bit ABI libseccomp compares the low
    word anyway, and a format without per-arch rules (OCI) applies an x86 rule on x86_64 too,
    where ioctl's request must still be compared on its low 32 bits only."""
    args = []
    for row, value, union in zip(rows, enum_part, flags, strict=True):
        if row.kind is Kind.FLAGS:
            args.append(Arg(row.index, Op.MASKED_EQ, row.mask & ~union, 0))
        elif value is not None:
            masked = row.mask != U64
            args.append(Arg(row.index, Op.MASKED_EQ, row.mask, value) if masked else Arg(row.index, Op.EQ, value))
    return Rule((name,), Action.ALLOW, None, tuple(args), (arch,))


def learned_rules(allowed: Mapping[str, tuple[str, ...]], usage: ArgUsage) -> ArgProfile:
    names = {arch: set(n) for arch, n in allowed.items()}
    rules: list[Rule] = []
    unknown: dict[str, set[str]] = {}
    crowded: list[str] = []
    checked: dict[str, set[str]] = {}
    for (arch, name), keys in sorted(usage.seen.items()):
        if name not in names.get(arch, ()):
            continue
        if None in keys:
            unknown.setdefault(name, set()).add(arch)
            continue
        rows = rows_for(arch, name)
        groups = _combinations(rows, keys)
        if len(groups) > MAX_COMBINATIONS:
            crowded.append(f"{name} ({arch}, {len(groups)})")
            continue
        rules.extend(_rule(arch, name, rows, enum_part, flags) for enum_part, flags in groups.items())
        names[arch].discard(name)
        checked.setdefault(arch, set()).add(name)
    notes = [
        f"{name} was seen without its arguments on {', '.join(sorted(arches))} (no SYSCALL record): allowed by name"
        for name, arches in sorted(unknown.items())
    ]
    if crowded:
        notes.append(f"too many argument values to check (> {MAX_COMBINATIONS}), allowed by name: {', '.join(crowded)}")
    rules.extend(_clone3(names, checked, notes))
    return ArgProfile({arch: tuple(sorted(n)) for arch, n in names.items()}, tuple(rules), tuple(notes))


def _clone3(names: dict[str, set[str]], checked: dict[str, set[str]], notes: list[str]) -> list[Rule]:
    arches = sorted(a for a, n in names.items() if CLONE3 in n or "clone" in checked.get(a, ()))
    if not arches:
        return []
    for arch in arches:
        names[arch].discard(CLONE3)
        if "clone" not in checked.get(arch, ()) and "clone" not in names[arch]:
            # clone3 was used but clone never: its fallback's flags are unknown.
            names[arch].add("clone")
            notes.append(f"{arch}: clone3 was used, clone not: clone is allowed by name (learn run --args learns it)")
    notes.append(
        f"clone3 gets ENOSYS on {', '.join(arches)} (its flags are in memory, which seccomp cannot read): "
        "libc falls back to clone, whose flags are checked"
    )
    return [Rule((CLONE3,), Action.ERRNO, ENOSYS, (), tuple(arches))]


def describe_values(usage: ArgUsage, arch: str, name: str) -> list[tuple[str, int]]:
    """(value names, times seen) of one syscall, most seen first: `AF_INET, SOCK_DGRAM` 3."""
    rows = rows_for(arch, name)
    out = []
    for key, n in usage.seen.get((arch, name), Counter()).most_common():
        if key is None:
            out.append(("arguments unknown", n))
        else:
            out.append((", ".join(value_name(r, v) for r, v in zip(rows, key, strict=True) if v is not None), n))
    return out


def call_lines(usage: ArgUsage, verb: str) -> list[str]:
    """check --args: `socket(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT) denied 3(times) /usr/sbin/foo`, most first."""
    lines = []
    for (arch, name), keys in sorted(usage.seen.items()):
        rows = rows_for(arch, name)
        for key, n in keys.most_common():
            if key is None:
                call = f"{name}(arguments unknown)"
            else:
                call = f"{name}({', '.join(value_name(r, v) for r, v in zip(rows, key, strict=True) if v is not None)})"
            exes = " ".join(sorted(usage.exes.get((arch, name, key), ())))
            lines.append(f"{call} {verb} {n}× {exes} ({arch})")
    return lines
