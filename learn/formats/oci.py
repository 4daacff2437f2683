"""OCI runtime-spec `linux.seccomp` / Docker `--security-opt seccomp=` JSON: writer and reader.

The reader takes the runtime-spec form and moby's profile form on top of it (`archMap`, `name`,
`includes`/`excludes`, `comment`), and evaluates moby's conditions the way moby's setupSeccomp
does, for a HostContext:
  arches     the context's native ABI in moby's spelling (amd64, arm64, x86 ...); `archMap` keeps
             the one entry whose architecture is the native ABI, with its subArchitectures
  caps       the container's bounding set; by default Docker's 14 default capabilities
  minKernel  "major.minor" against the context's kernel version
A rule whose includes are not all met, or any of whose excludes is, is left out. What runc then
does is mirrored too: no `architectures` means the native ABI only; a rule with two conditions
on one argument becomes one rule per condition (runc's workaround for libseccomp, OR not AND).
"""

from __future__ import annotations

import json
from typing import Any

from learn.arch import from_oci_arch, oci_arch
from learn.errors import ProfileError
from learn.formats.common import (
    ACTION_BY_NAME,
    ACTION_NAMES,
    OP_BY_NAME,
    OP_NAMES,
    HostContext,
    Notes,
    ReadResult,
    WriteResult,
    check_names,
    errno_number,
    multiplexer_notes,
    overlap_notes,
    per_arch_notes,
)
from learn.formats.oci_schema import check_document, kernel_version, uint
from learn.model import Action
from learn.profile import EPERM, Arg, Profile, Rule

# JSON has no comments: a profile learned with records lost says so in a top-level key of its own.
# runc (json.Decoder) and moby/podman (json.Unmarshal into their structs) ignore unknown keys.
INCOMPLETE_KEY = "x-learn-incomplete"
INCOMPLETE_TEXT = "records were lost while learning; the program may need more"

__all__ = ["ACTION_NAMES", "read", "read_doc", "to_dict", "write", "write_result"]

# moby's GOARCH -> libseccomp spelling (goToNative), as libseccomp names: its `arches` filters
# use these. mips3l64n32 is moby's own spelling.
_MOBY_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "mipsel64n32": "mips3l64n32"}


def _rule_dict(rule: Rule) -> dict[str, object]:
    entry: dict[str, object] = {"names": list(rule.names), "action": ACTION_NAMES[rule.action]}
    if rule.errno is not None:
        entry["errnoRet"] = rule.errno
    if rule.args:
        entry["args"] = [
            {"index": a.index, "value": a.value, "valueTwo": a.value2, "op": OP_NAMES[a.op]} for a in rule.args
        ]
    return entry


def to_dict(profile: Profile) -> dict[str, object]:
    """OCI has no per-arch rules: names allowed on any observed arch are allowed on all."""
    spec: dict[str, object] = {"defaultAction": ACTION_NAMES[profile.default_action]}
    if profile.default_action in (Action.ERRNO, Action.TRACE) and profile.default_errno is not None:
        spec["defaultErrnoRet"] = profile.default_errno
    spec["architectures"] = [oci_arch(a) for a in profile.arches]
    names = profile.names()
    syscalls = [{"names": list(names), "action": "SCMP_ACT_ALLOW"}] if names else []
    spec["syscalls"] = syscalls + [_rule_dict(r) for r in profile.rules]
    return spec


def write_result(profile: Profile) -> WriteResult:
    notes = Notes()
    per_arch_notes(profile, notes, "OCI")
    multiplexer_notes(profile, notes, "OCI")
    overlap_notes(profile, notes)
    spec = to_dict(profile)
    if profile.incomplete:
        spec = {INCOMPLETE_KEY: INCOMPLETE_TEXT, **spec}
    return WriteResult(json.dumps(spec, indent=2) + "\n", tuple(notes.lines))


def write(profile: Profile) -> str:
    return write_result(profile).text


# --- reading ----------------------------------------------------------------------------------


def load_json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ProfileError(f"{source}:{e.lineno}: not JSON: {e.msg}") from e
    except RecursionError:
        raise ProfileError(f"{source}: JSON nested too deeply for a seccomp profile") from None


def _action(value: object, where: str) -> Action:
    if value is None or value == "":
        raise ProfileError(f"{where}: no action given (runc needs one: {', '.join(ACTION_NAMES.values())})")
    if not isinstance(value, str) or value not in ACTION_BY_NAME:
        raise ProfileError(f"{where}: unknown action {value!r}")
    return ACTION_BY_NAME[value]


def _int(value: object, where: str, what: str) -> int:
    return uint(value, f"{where}: {what}")


def _arches(doc: dict[str, Any], context: HostContext, source: str, notes: Notes) -> list[str]:
    listed, arch_map = doc.get("architectures") or [], doc.get("archMap") or []
    if listed and arch_map:
        raise ProfileError(f"{source}: both 'architectures' and 'archMap' are given; moby takes one")
    spelled: list[str] = list(listed)
    for entry in arch_map:
        if isinstance(entry, dict) and entry.get("architecture") == oci_arch(context.arch):
            spelled = [entry["architecture"], *(entry.get("subArchitectures") or [])]
            break
    if not spelled:
        notes.add(f"{source}: no architectures for {context.arch}: the runtime filters its native ABI only")
        return [context.arch]
    arches = []
    for value in spelled:
        arch = from_oci_arch(value) if isinstance(value, str) else None
        if arch is None:
            raise ProfileError(f"{source}: libseccomp knows no architecture {value!r}")
        if arch not in arches:
            arches.append(arch)
    return arches


def _applies(entry: dict[str, Any], context: HostContext, where: str) -> bool:
    """moby's includes/excludes: every include must hold, no exclude may. The document's types
    were checked by oci_schema: arches and caps are lists of strings, minKernel a version."""
    arch = _MOBY_ARCH.get(context.arch, context.arch)
    inc, exc = entry.get("includes") or {}, entry.get("excludes") or {}
    if arch in (exc.get("arches") or []) or set(exc.get("caps") or []) & context.caps:
        return False
    excluded_from = kernel_version(exc.get("minKernel") or "", where)
    if excluded_from is not None and context.kernel >= excluded_from:
        return False
    if inc.get("arches") and arch not in inc["arches"]:
        return False
    if not set(inc.get("caps") or []) <= context.caps:
        return False
    included_from = kernel_version(inc.get("minKernel") or "", where)
    return not (included_from is not None and context.kernel < included_from)


def _args(values: object, where: str) -> list[Arg]:
    if values is None:
        return []
    if not isinstance(values, list):
        raise ProfileError(f"{where}: args must be a list")
    args = []
    for k, a in enumerate(values):
        at = f"{where}.args[{k}]"
        if not isinstance(a, dict) or a.get("op") not in OP_BY_NAME:
            raise ProfileError(f"{at}: needs an op, one of {', '.join(OP_BY_NAME)}")
        op = OP_BY_NAME[a["op"]]
        value2 = _int(a.get("valueTwo") or 0, at, "valueTwo")
        # libseccomp ignores valueTwo except for MASKED_EQ; some writers fill it in anyway.
        args.append(Arg(_int(a.get("index") or 0, at, "index"), op, _int(a.get("value") or 0, at, "value"),
                        value2 if op.name == "MASKED_EQ" else 0))  # fmt: skip
    return args


def _rules(entry: dict[str, Any], where: str, strict: bool, notes: Notes) -> list[Rule]:
    names = entry.get("names")
    if entry.get("name"):
        if names:
            raise ProfileError(f"{where}: both 'name' and 'names' are given; moby takes one")
        names = [entry["name"]]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ProfileError(f"{where}: needs 'names', a list of syscall names")
    action = _action(entry.get("action"), where)
    errno = entry.get("errnoRet")
    if errno is None and entry.get("errno"):
        errno = errno_number(entry["errno"], where)
    if errno is not None and action not in (Action.ERRNO, Action.TRACE):
        raise ProfileError(f"{where}: errnoRet is for SCMP_ACT_ERRNO and SCMP_ACT_TRACE only")
    if errno is None and action in (Action.ERRNO, Action.TRACE):
        errno = EPERM  # runc's choice when errnoRet is absent
    if errno is not None:
        _int(errno, where, "errnoRet")  # kept exactly; a filter refuses what libseccomp cannot say
    names = check_names(names, action, where, strict, notes)
    if not names:
        return []
    args = _args(entry.get("args"), where)
    indexes = [a.index for a in args]
    try:
        if len(set(indexes)) == len(indexes):
            return [Rule(tuple(names), action, errno, tuple(args))]
        notes.add(f"{where}: several conditions on one argument: one rule each (OR), as runc does")
        return [Rule(tuple(names), action, errno, (a,)) for a in args]
    except ProfileError as e:
        raise ProfileError(f"{where}: {e}") from None


def read(text: str, source: str, context: HostContext, strict: bool = False) -> ReadResult:
    doc = load_json(text, source)
    if isinstance(doc, dict) and isinstance(doc.get("linux"), dict) and "seccomp" in doc["linux"]:
        doc = doc["linux"]["seccomp"]  # a whole runtime config.json
    return read_doc(doc, source, context, strict, "oci")


def read_doc(doc: object, source: str, context: HostContext, strict: bool, fmt: str) -> ReadResult:
    """A profile from the parsed JSON object (also the `spec` of an SPO SeccompProfile)."""
    check_document(doc, source)
    assert isinstance(doc, dict)  # check_document refuses anything else
    if not doc.get("defaultAction") and not doc.get("syscalls"):
        raise ProfileError(f"{source}: no defaultAction and no syscalls: moby reads this as seccomp off")
    notes = Notes()
    default = _action(doc.get("defaultAction"), f"{source}: defaultAction")
    errno = doc.get("defaultErrnoRet")
    if errno is None and doc.get("defaultErrno"):
        errno = errno_number(doc["defaultErrno"], f"{source}: defaultErrno")
    errno = EPERM if errno is None else _int(errno, source, "defaultErrnoRet")
    arches = _arches(doc, context, source, notes)
    allowed: set[str] = set()
    rules: list[Rule] = []
    syscalls = doc.get("syscalls") or []
    if not isinstance(syscalls, list):
        raise ProfileError(f"{source}: syscalls must be a list")
    for k, entry in enumerate(syscalls):
        where = f"{source}: syscalls[{k}]"
        if not isinstance(entry, dict):
            raise ProfileError(f"{where}: must be an object")
        if not _applies(entry, context, where):
            continue
        for rule in _rules(entry, where, strict, notes):
            if rule.action is Action.ALLOW and not rule.args:
                allowed.update(rule.names)
            else:
                rules.append(rule)
    if doc.get("flags") or doc.get("listenerPath"):
        notes.add(f"{source}: flags and listenerPath are the runtime's business and are left out")
    profile = Profile(
        {arch: tuple(sorted(allowed)) for arch in sorted(arches)},
        default,
        errno if default in (Action.ERRNO, Action.TRACE) else None,
        provenance=(f"read from {source} ({fmt})",),
        rules=tuple(rules),
        incomplete=bool(doc.get(INCOMPLETE_KEY)),
    )
    overlap_notes(profile, notes, f"{source}: ")
    return ReadResult(profile, fmt, tuple(notes.lines))
