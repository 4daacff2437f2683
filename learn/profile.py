"""The profile model every format reads and writes: per-arch allowed syscalls, rules, a default.

A profile decides each call (arch, syscall, args) like this (`Profile.decide` is the reference):

1. A call from an arch the profile does not list gets the default action.
2. Otherwise every rule that matches it counts: each `Rule` naming the syscall on that arch whose
   argument conditions all hold, and the unconditional ALLOW of `allowed[arch]`.
3. Of those, the most restrictive action wins, in the kernel's order (KILL_PROCESS, KILL_THREAD,
   TRAP, ERRNO, USER_NOTIF, TRACE, LOG, ALLOW); between two rules of the same action with a
   different errno, the earlier rule wins. No matching rule: the default action.

Rule 3 is how the kernel combines stacked filters, and it is what snapd means by a `~` rule
(its deny filter is loaded beside the allow filter). libseccomp inside one filter does not work
that way (an unconditional ALLOW silently wipes a conditional ERRNO for the same syscall), so
learn.kernel.filters lowers the rules to disjoint ones first (learn.lowering).

Argument conditions follow libseccomp: `Arg(index, op, value, value2)`; for MASKED_EQ, `value` is
the mask and the condition is `(arg & value) == (value2 & value)` (OCI's value/valueTwo). On
32-bit ABIs libseccomp compares only the low 32 bits of the argument and of the values.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import NamedTuple

from learn.errors import ProfileError, UsageError
from learn.model import Action

EPERM = 1
MAX_ARGS = 6
# A filter holds at most 4096 BPF instructions and every conditional rule costs several on
# each arch, so no profile that can be enforced comes near these (snapd's template: 102 rules,
# 40 of them for socket; moby's default: 10). They bound the time the rules cost a hostile
# profile: lowering one syscall's rules grows with the square of their number.
MAX_RULES = 512
MAX_RULES_PER_SYSCALL = 64
U64 = (1 << 64) - 1
U32 = (1 << 32) - 1

# ABIs libseccomp filters with 32-bit argument comparisons (it drops the high word): measured
# from its PFC output by tests/kernel/test_filters.py, which keeps this list honest. x32 is here
# although its registers are 64-bit.
ARCHES_32 = frozenset({"x86", "x32", "arm", "mips", "mipsel", "mips64n32", "mipsel64n32", "parisc", "ppc", "s390"})

# The kernel's precedence: a lower index is more restrictive (Action lists them in that order).
_RANK = {action: i for i, action in enumerate(Action)}


def rank(action: Action) -> int:
    return _RANK[action]


def arg_mask(arch: str) -> int:
    """The bits of an argument (and of a rule's values) the filter compares on arch."""
    return U32 if arch in ARCHES_32 else U64


class Op(StrEnum):
    """libseccomp's comparisons (SCMP_CMP_*)."""

    EQ = "eq"
    NE = "ne"
    LT = "lt"
    LE = "le"
    GT = "gt"
    GE = "ge"
    MASKED_EQ = "masked_eq"


_SYMBOL = {Op.EQ: "==", Op.NE: "!=", Op.LT: "<", Op.LE: "<=", Op.GT: ">", Op.GE: ">="}


def _num(value: int) -> str:
    return str(value) if value < 0x10000 else hex(value)


@dataclass(frozen=True, order=True)
class Arg:
    """One argument condition; a Rule's conditions must all hold (AND)."""

    index: int  # 0..5
    op: Op
    value: int  # the datum; for MASKED_EQ the mask
    value2: int = 0  # MASKED_EQ only: what the masked argument must equal

    def __post_init__(self) -> None:
        if not 0 <= self.index < MAX_ARGS:
            raise ProfileError(f"argument index {self.index} is outside 0..{MAX_ARGS - 1}")
        for v in (self.value, self.value2):
            if not 0 <= v <= U64:
                raise ProfileError(f"argument value {v} does not fit in 64 unsigned bits")
        if self.op is not Op.MASKED_EQ and self.value2:
            raise ProfileError(f"{self.op.value} takes one value, not value2={self.value2}")

    def matches(self, arg: int, mask: int = U64) -> bool:
        a, v = arg & mask, self.value & mask
        if self.op is Op.MASKED_EQ:
            return a & v == self.value2 & v
        return {
            Op.EQ: a == v,
            Op.NE: a != v,
            Op.LT: a < v,
            Op.LE: a <= v,
            Op.GT: a > v,
            Op.GE: a >= v,
        }[self.op]

    def __str__(self) -> str:
        if self.op is Op.MASKED_EQ:
            return f"a{self.index} & {_num(self.value)} == {_num(self.value2)}"
        return f"a{self.index} {_SYMBOL[self.op]} {_num(self.value)}"


@dataclass(frozen=True)
class Rule:
    """An action for some syscalls when all `args` hold; unconditional allows live in `allowed`.

    `errno` is ERRNO's errno (EPERM if not given) or TRACE's message; other actions take none.
    `arches` None means every arch of the profile. Fields are normalized (names and arches sorted
    and unique, args sorted by index), so equal rules compare equal whatever order they came in.
    """

    names: tuple[str, ...]
    action: Action = Action.ALLOW
    errno: int | None = None
    args: tuple[Arg, ...] = ()
    arches: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        names = tuple(sorted(set(self.names)))
        if not names or not all(names):
            raise ProfileError("a rule needs at least one syscall name")
        args = tuple(sorted(self.args))
        indexes = [a.index for a in args]
        if len(set(indexes)) != len(indexes):
            # libseccomp refuses two comparisons of one argument in a rule (EINVAL).
            raise ProfileError(f"rule for {', '.join(names)} compares one argument twice: {indexes}")
        errno = self.errno
        if self.action is Action.ERRNO:
            # Kept as written (moby's own fixture says 12345); a filter refuses what it cannot say.
            errno = EPERM if errno is None else errno
            if not 0 <= errno <= U64:
                raise ProfileError(f"errno {errno} is outside 0..{U64}")
        elif self.action is Action.TRACE:
            errno = 0 if errno is None else errno
            if not 0 <= errno <= 0xFFFF:
                raise ProfileError(f"trace message {errno} is outside 0..65535")
        elif errno is not None:
            raise ProfileError(f"action {self.action.value} takes no errno")
        arches = None if self.arches is None else tuple(sorted(set(self.arches)))
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "args", args)
        object.__setattr__(self, "errno", errno)
        object.__setattr__(self, "arches", arches)

    @property
    def conditional(self) -> bool:
        return bool(self.args)

    def effect(self) -> str:
        return effect_text(self.action, self.errno)

    def condition(self) -> str:
        return " && ".join(str(a) for a in self.args)

    def describe(self, name: str | None = None) -> str:
        """One line a person can read: `ioctl: errno(13) if a1 == 21522`."""
        text = f"{name or ' '.join(self.names)}: {self.effect()}"
        return f"{text} if {self.condition()}" if self.args else text

    def applies(self, arch: str, name: str, profile_arches: Sequence[str]) -> bool:
        return name in self.names and arch in (profile_arches if self.arches is None else self.arches)

    def matches(self, args: Sequence[int], mask: int = U64) -> bool:
        full = tuple(args) + (0,) * (MAX_ARGS - len(args))
        return all(a.matches(full[a.index], mask) for a in self.args)


def effect_text(action: Action, errno: int | None) -> str:
    return f"{action.value}({errno})" if errno is not None else action.value


class Verdict(NamedTuple):
    action: Action
    errno: int | None  # ERRNO's errno or TRACE's message; None for the others

    def __str__(self) -> str:
        return effect_text(self.action, self.errno)


@dataclass(frozen=True)
class Profile:
    """A seccomp profile: by default allow what was seen, ERRNO(EPERM) for the rest."""

    allowed: Mapping[str, tuple[str, ...]]  # arch -> sorted syscall names, allowed unconditionally
    default_action: Action = Action.ERRNO
    default_errno: int | None = EPERM
    # What the profile was learned from, for the formats that can carry comments.
    provenance: tuple[str, ...] = field(default=())
    incomplete: bool = False  # records were lost: the program may need more than this
    # Conditional rules and rules with other actions, in precedence order for ties (see top).
    rules: tuple[Rule, ...] = field(default=())

    def __post_init__(self) -> None:
        rules = tuple(self.rules)
        object.__setattr__(self, "rules", rules)
        if len(rules) > MAX_RULES:
            raise ProfileError(f"{len(rules)} rules: more than {MAX_RULES}, which no seccomp filter can hold")
        per_name = Counter(name for rule in rules for name in rule.names)
        crowded = [name for name, n in per_name.items() if n > MAX_RULES_PER_SYSCALL]
        if crowded:
            raise ProfileError(
                f"{per_name[crowded[0]]} rules for {crowded[0]}: more than {MAX_RULES_PER_SYSCALL} for one "
                "syscall, which no seccomp filter can hold"
            )
        for rule in rules:
            stray = sorted(set(rule.arches or ()) - set(self.allowed))
            if stray:
                raise ProfileError(f"rule {rule.describe()} names arches the profile lacks: {stray}")

    @property
    def arches(self) -> tuple[str, ...]:
        return tuple(sorted(self.allowed))

    def names(self) -> tuple[str, ...]:
        """Every allowed name on any arch: what formats without per-arch rules can say."""
        return tuple(sorted({name for names in self.allowed.values() for name in names}))

    def rule_names(self) -> tuple[str, ...]:
        return tuple(sorted({name for rule in self.rules for name in rule.names}))

    def rules_for(self, arch: str, name: str) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.applies(arch, name, self.arches))

    def rules_by_name(self) -> dict[str, list[Rule]]:
        """name -> its rules in profile order: one pass, where rules_for per name would be quadratic."""
        index: dict[str, list[Rule]] = {}
        for rule in self.rules:
            for name in rule.names:
                index.setdefault(name, []).append(rule)
        return index

    def default_verdict(self) -> Verdict:
        if self.default_action is Action.ERRNO:
            return Verdict(Action.ERRNO, self.default_errno or EPERM)
        if self.default_action is Action.TRACE:
            return Verdict(Action.TRACE, self.default_errno or 0)
        return Verdict(self.default_action, None)

    def decide(self, arch: str, name: str, args: Sequence[int] = ()) -> Verdict:
        """What this profile means for one call: the reference the filter builder is tested against."""
        if arch not in self.allowed:
            return self.default_verdict()
        mask = arg_mask(arch)
        best: Verdict | None = None
        for rule in self.rules_for(arch, name):
            if rule.matches(args, mask) and (best is None or rank(rule.action) < rank(best.action)):
                best = Verdict(rule.action, rule.errno)
        if best is None and name in self.allowed[arch]:
            best = Verdict(Action.ALLOW, None)
        return best or self.default_verdict()

    def with_rules(self, rules: Iterable[Rule]) -> Profile:
        return replace(self, rules=tuple(rules))


def parse_verdict(text: str) -> Verdict:
    """`errno`, `errno:38`, `errno:ENOSYS`, `allow`, `log`, `kill_process`, `trace:7` ... (merge --default)."""
    import errno as errno_names

    action_text, _, data = text.strip().lower().partition(":")
    try:
        action = Action(action_text)
    except ValueError:
        raise UsageError(
            f"{text!r} is no seccomp action", f"one of {', '.join(a.value for a in Action)}, e.g. errno:EPERM"
        ) from None
    if action not in (Action.ERRNO, Action.TRACE):
        if data:
            raise UsageError(f"{text!r}: {action.value} takes no errno")
        return Verdict(action, None)
    number = getattr(errno_names, data.upper(), None) if data and not data.isdigit() else int(data or EPERM)
    if not isinstance(number, int):
        raise UsageError(f"{text!r}: {data!r} is neither a number nor an errno name")
    return Verdict(action, number)


def _rule_key(rule: Rule) -> tuple[int, int, tuple[str, ...], tuple[Arg, ...], tuple[str, ...]]:
    return (rank(rule.action), -1 if rule.errno is None else rule.errno, rule.names, rule.args, rule.arches or ())


def merge(*profiles: Profile, default: Verdict | None = None) -> Profile:
    """Unite profiles: each arch allows every name any profile allows there unconditionally.

    A union of permissions, so the result does not depend on the order of the profiles
    (commutative and associative; tests/unit/test_profile_merge.py checks it on random ones).
    Every rule of every input is kept (duplicates once), so a deny rule of any input survives:
    as the most restrictive matching rule wins, merging never loosens an explicit denial, and
    the result allows at most what some input allows. An ALLOW rule for calls some input allows by
    name alone says nothing more and is dropped (name-only wins). A rule that applied to all arches of its
    profile is pinned to those arches when the merged profile has more. Rules come in one fixed
    order, most restrictive first; between two overlapping denials of one action, the lower
    errno wins. Provenance lines are sorted.

    The inputs must agree on the default action (and errno), unless `default` chooses one:
    which default a union of ALLOW and ERRNO means is the user's decision, not argument order's.
    """
    if not profiles:
        raise ProfileError("no profiles to merge")
    if default is None:
        defaults = sorted({str(p.default_verdict()) for p in profiles})
        if len(defaults) > 1:
            raise ProfileError(
                f"the profiles' default actions differ ({', '.join(defaults)}): a merge cannot pick one",
                "choose it: learn merge --default ACTION[:ERRNO] ...",
            )
        default = profiles[0].default_verdict()
    allowed: dict[str, set[str]] = {}
    for p in profiles:
        for arch, names in p.allowed.items():
            allowed.setdefault(arch, set()).update(names)
    every = tuple(sorted(allowed))
    # One rule on the union of the arches the inputs give it: R on {x86} and R on {x86_64} is R on both.
    rule_arches: dict[Rule, set[str]] = {}
    for p in profiles:
        for rule in p.rules:
            rule_arches.setdefault(replace(rule, arches=None), set()).update(
                p.arches if rule.arches is None else rule.arches
            )
    rules: dict[Rule, None] = {}
    for rule, arches in rule_arches.items():
        if rule.action is Action.ALLOW:
            # A name-only allow on either side wins over argument rules: where every name of an
            # ALLOW rule is allowed unconditionally, the rule adds nothing there.
            arches = {a for a in arches if not all(n in allowed[a] for n in rule.names)}
            if not arches:
                continue
        rules[replace(rule, arches=None if tuple(sorted(arches)) == every else tuple(sorted(arches)))] = None
    return Profile(
        {arch: tuple(sorted(names)) for arch, names in sorted(allowed.items())},
        default.action,
        default.errno if default.action in (Action.ERRNO, Action.TRACE) else None,
        tuple(sorted({line for p in profiles for line in p.provenance})),
        any(p.incomplete for p in profiles),
        tuple(sorted(rules, key=_rule_key)),
    )
