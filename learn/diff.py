"""What changed between two profiles, per arch: names allowed, rules, the default."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from learn.profile import Profile


@dataclass(frozen=True)
class ProfileDiff:
    """b compared with a. Names are unconditional allows; rules are compared as text, one line
    per rule and syscall (`ioctl: errno(13) if a1 == 21522`), so a changed condition shows as
    one line removed and one added."""

    added: Mapping[str, tuple[str, ...]]  # arch -> names b allows and a does not
    removed: Mapping[str, tuple[str, ...]]  # arch -> names a allows and b does not
    rules_added: Mapping[str, tuple[str, ...]]
    rules_removed: Mapping[str, tuple[str, ...]]
    arches_added: tuple[str, ...]
    arches_removed: tuple[str, ...]
    default: tuple[str, str] | None  # (a's, b's) when they differ

    def __bool__(self) -> bool:
        return bool(
            self.added
            or self.removed
            or self.rules_added
            or self.rules_removed
            or self.arches_added
            or self.arches_removed
            or self.default
        )

    def lines(self) -> list[str]:
        """`+`/`-` lines for people, grouped by arch."""
        out = [f"+arch {a}" for a in self.arches_added] + [f"-arch {a}" for a in self.arches_removed]
        if self.default:
            out += [f"-default {self.default[0]}", f"+default {self.default[1]}"]
        for arch in sorted(set(self.added) | set(self.removed) | set(self.rules_added) | set(self.rules_removed)):
            out += [f"-{arch} {n}" for n in self.removed.get(arch, ())]
            out += [f"+{arch} {n}" for n in self.added.get(arch, ())]
            out += [f"-{arch} {r}" for r in self.rules_removed.get(arch, ())]
            out += [f"+{arch} {r}" for r in self.rules_added.get(arch, ())]
        return out


def rule_lines(profile: Profile, arch: str) -> list[str]:
    lines: dict[str, None] = {}  # ordered and unique in linear time
    for rule in profile.rules:
        if arch in (profile.arches if rule.arches is None else rule.arches):
            lines.update(dict.fromkeys(rule.describe(name) for name in rule.names))
    return list(lines)


def _changes(a: Mapping[str, list[str]], b: Mapping[str, list[str]]) -> dict[str, tuple[str, ...]]:
    out = {}
    for arch in sorted(set(a) | set(b)):
        have = set(a.get(arch, []))
        extra = [x for x in b.get(arch, []) if x not in have]
        if extra:
            out[arch] = tuple(sorted(extra))
    return out


def diff(a: Profile, b: Profile) -> ProfileDiff:
    names_a = {arch: list(names) for arch, names in a.allowed.items()}
    names_b = {arch: list(names) for arch, names in b.allowed.items()}
    rules_a = {arch: rule_lines(a, arch) for arch in a.arches}
    rules_b = {arch: rule_lines(b, arch) for arch in b.arches}
    default_a, default_b = str(a.default_verdict()), str(b.default_verdict())
    return ProfileDiff(
        added=_changes(names_a, names_b),
        removed=_changes(names_b, names_a),
        rules_added=_changes(rules_a, rules_b),
        rules_removed=_changes(rules_b, rules_a),
        arches_added=tuple(sorted(set(b.arches) - set(a.arches))),
        arches_removed=tuple(sorted(set(a.arches) - set(b.arches))),
        default=(default_a, default_b) if default_a != default_b else None,
    )
