"""snap-seccomp's source syntax: writer and reader.

One rule a line: a syscall name and up to six argument tokens (`-` any, `N` equal, `!N`, `<N`,
`<=N`, `>N`, `>=N`, `|M` for `arg & M == M`, `M|V` for `arg & M == V`, `u:USER`, `g:GROUP`, and
the symbolic names of snapd_names.py); `~name ...` denies with EACCES; `#` starts a comment;
`@complain` (default LOG) and `@unrestricted` (no filter at all) count wherever they stand.
This follows canonical/snapd cmd/snap-seccomp/main.go (parseLine, readNumber, preprocess).

snap-seccomp builds two filters, one allowing the plain lines (default ERRNO(EPERM), or LOG
under @complain) and one denying the `~` lines (default ALLOW); the kernel applies the more
restrictive verdict. That is the profile model's "most restrictive matching rule wins", with
one difference: a call both filters deny gets EPERM from snapd (the allow filter is loaded last
and wins the tie) but EACCES here (a matching rule beats the default).

Profiles are compiled on the machine that runs them, for its native ABI and the compat ABI, so
the reader takes those from a HostContext, and resolves `u:`/`g:` names on this host.
"""

from __future__ import annotations

import grp
import pwd
import re

from learn import argrules
from learn.errors import ProfileError
from learn.formats.common import (
    HostContext,
    Notes,
    ReadResult,
    WriteResult,
    check_names,
    multiplexer_notes,
    per_arch_notes,
)
from learn.formats.snapd_names import CONSTANTS, NEG_ARGS_MASK_HI32
from learn.model import Action
from learn.profile import EPERM, U32, Arg, Op, Profile, Rule

EACCES = 13  # what a `~` rule returns (snap-seccomp's errnoOnExplicitDenial)
MAX_TOKENS = 6
INCOMPLETE = "# INCOMPLETE: records were lost while learning; the program may need more"
_PREFIXES = ((">=", Op.GE), ("<=", Op.LE), ("!", Op.NE), ("<", Op.LT), (">", Op.GT))
_TOKEN = {Op.GE: ">=", Op.LE: "<=", Op.NE: "!", Op.LT: "<", Op.GT: ">", Op.EQ: ""}
# osutil.IsValidSnapSystemUsername: what snap-seccomp accepts after u: and g:.
_SYSTEM_NAME = re.compile(r"([_][-a-z0-9._]+[_]|[a-z0-9][-a-z0-9._]*)")
_UINT = re.compile(r"[0-9]+")
_INT = re.compile(r"[-+]?[0-9]+")


# --- writing ----------------------------------------------------------------------------------


def _token(arg: Arg, name: str) -> str | None:
    """The token snap-seccomp reads back as arg; None where its syntax has none.

    An equality with a value the argument table names, and snap-seccomp knows by that name,
    is written by name: `socket AF_UNIX`, `prctl PR_SET_NAME`."""
    if arg.op is Op.EQ and (symbol := argrules.snapd_name(name, arg.index, arg.value)) is not None:
        return symbol
    if name in NEG_ARGS_MASK_HI32:  # only plain numbers, which it turns into (arg & 0xffffffff) == N
        ok = arg.op is Op.MASKED_EQ and arg.value == U32 and arg.value2 <= U32
        return str(arg.value2) if ok else None
    if arg.value > U32 or arg.value2 > U32:  # ParseUint(token, 10, 32)
        return None
    if arg.op is Op.MASKED_EQ:
        return f"|{arg.value}" if arg.value == arg.value2 else f"{arg.value}|{arg.value2}"
    return f"{_TOKEN[arg.op]}{arg.value}"


def _rule_lines(rule: Rule, notes: Notes) -> list[str]:
    if rule.action in (Action.ALLOW, Action.LOG):
        prefix = ""
        if rule.action is Action.LOG:
            notes.add(f"snapd has no LOG rules: '{rule.describe()}' is written as an allow")
    elif rule.action in (Action.ERRNO, Action.KILL_PROCESS, Action.KILL_THREAD, Action.TRAP):
        prefix = "~"
        if (rule.action, rule.errno) != (Action.ERRNO, EACCES):
            notes.add(f"snapd denies with EACCES only: '{rule.describe()}' becomes errno({EACCES})")
    else:
        notes.add(f"snapd has no {rule.action.value} rules: '{rule.describe()}' is left out")
        return []
    lines = []
    for name in rule.names:
        tokens = ["-"] * (max((a.index for a in rule.args), default=-1) + 1)
        for arg in rule.args:
            token = _token(arg, name)
            if token is None:
                loses = "a denial is lost" if prefix else "the call is denied instead"
                notes.add(f"snap-seccomp cannot say '{arg}' for {name}: rule left out, {loses}")
                break
            tokens[arg.index] = token
        else:
            lines.append(" ".join([prefix + name, *tokens]))
    return lines


def write_result(profile: Profile) -> WriteResult:
    notes = Notes()
    per_arch_notes(profile, notes, "snapd")
    multiplexer_notes(profile, notes, "snapd")
    lines = [f"# {line}" for line in profile.provenance]
    lines.append(f"# arches: {' '.join(profile.arches) or '(none)'}")
    if profile.incomplete:
        lines.append(INCOMPLETE)
    default = profile.default_verdict()
    if default.action is Action.LOG:
        lines.append("@complain")
    elif default.action is Action.ALLOW:
        lines.append("@unrestricted")
        if profile.names() or profile.rules:
            notes.add("@unrestricted: snap-seccomp ignores every other line")
    elif default != (Action.ERRNO, EPERM):
        notes.add(f"snapd denies with errno({EPERM}) only: the default {default} becomes errno({EPERM})")
    lines += profile.names()
    for rule in profile.rules:
        lines += _rule_lines(rule, notes)
    return WriteResult("\n".join(lines) + "\n", tuple(notes.lines))


def write(profile: Profile) -> str:
    return write_result(profile).text


# --- reading ----------------------------------------------------------------------------------


def _number(token: str, name: str, where: str) -> int:
    """readNumber: a symbolic name, a decimal u32, or for the id calls a negative i32."""
    if token in CONSTANTS:
        return CONSTANTS[token]
    if _UINT.fullmatch(token) and int(token) <= U32:
        return int(token)
    if name not in NEG_ARGS_MASK_HI32:
        raise ProfileError(f"{where}: cannot parse token {token!r}: not a number or a known name")
    if _INT.fullmatch(token) and -(1 << 31) <= int(token) < 1 << 31:
        return int(token) & U32
    raise ProfileError(f"{where}: cannot parse token {token!r}: not a 32-bit number")


def _id(kind: str, who: str, where: str) -> int:
    if not _SYSTEM_NAME.fullmatch(who):
        raise ProfileError(f"{where}: {kind}:{who}: {who!r} must be a valid user or group name")
    try:
        return pwd.getpwnam(who).pw_uid if kind == "u" else grp.getgrnam(who).gr_gid
    except KeyError:
        raise ProfileError(f"{where}: {kind}:{who}: no such {'user' if kind == 'u' else 'group'} here") from None


def _arg(pos: int, token: str, name: str, where: str) -> Arg:
    op, rest = Op.EQ, token
    for prefix, prefix_op in _PREFIXES:
        if token.startswith(prefix):
            op, rest = prefix_op, token[len(prefix) :]
            break
    if op is Op.EQ and "|" in token:  # `|M`: arg & M == M; `M|V`: arg & M == V
        if token.count("|") != 1:
            raise ProfileError(f"{where}: cannot parse masked equal {token!r}")
        if name in NEG_ARGS_MASK_HI32:
            raise ProfileError(f"{where}: cannot parse token {token!r}: unsupported comparison for {name}")
        mask_text, _, value_text = token.partition("|")
        mask = _number(mask_text or value_text, name, where)
        return Arg(pos, Op.MASKED_EQ, mask, _number(value_text, name, where) if mask_text else mask)
    is_id = op is Op.EQ and token[:2] in ("u:", "g:")
    value = _id(token[0], token[2:], where) if is_id else _number(rest, name, where)
    if name in NEG_ARGS_MASK_HI32:
        if op is not Op.EQ:
            raise ProfileError(f"{where}: cannot parse token {token!r}: unsupported comparison for {name}")
        return Arg(pos, Op.MASKED_EQ, U32, value)
    return Arg(pos, op, value)


def read(text: str, source: str, context: HostContext, strict: bool = False) -> ReadResult:
    notes = Notes()
    lines = text.splitlines()
    directives = {line.strip() for line in lines}
    default = Action.LOG if "@complain" in directives else Action.ERRNO
    allowed: set[str] = set()
    rules: list[Rule] = []
    if "@unrestricted" in directives:
        default = Action.ALLOW
        notes.add(f"{source}: @unrestricted: no filter at all; snap-seccomp reads no other line")
        lines = []
    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#") or line in ("@complain", "@unrestricted"):
            continue
        where = f"{source}:{lineno}"
        name, *tokens = line.split()
        if len(tokens) > MAX_TOKENS:
            raise ProfileError(f"{where}: too many arguments for {name.lstrip('~')!r} (at most {MAX_TOKENS})")
        deny = name.startswith("~")
        name = name.removeprefix("~")
        if not check_names([name], Action.ERRNO if deny else Action.ALLOW, where, strict, notes):
            continue
        args = tuple(_arg(pos, tok, name, where) for pos, tok in enumerate(tokens) if tok != "-")
        if deny:
            rules.append(Rule((name,), Action.ERRNO, EACCES, args))
        elif args:
            rules.append(Rule((name,), Action.ALLOW, None, args))
        else:
            allowed.add(name)
    profile = Profile(
        {arch: tuple(sorted(allowed)) for arch in sorted(context.abis)},
        default,
        EPERM if default is Action.ERRNO else None,
        provenance=(f"read from {source} (snapd)",),
        incomplete=INCOMPLETE in lines,
        rules=tuple(rules),
    )
    return ReadResult(profile, "snapd", tuple(notes.lines))
