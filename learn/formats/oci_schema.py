"""The shape of an OCI / Docker seccomp profile, checked on the whole document first.

moby decodes a profile into typed Go structs (profiles/seccomp: Seccomp, Syscall, Filter,
KernelVersion, on top of runtime-spec's LinuxSeccomp) before it evaluates any rule for the host,
so a field of the wrong type, or a bad `minKernel`, is refused even in a rule for another arch;
runc then refuses an unknown action or comparison. This module mirrors both, for every rule
whatever the host: a profile moby would refuse is refused here, with the path of the field.

As in Go, `null` leaves a field unset and unknown keys are ignored. Stricter than moby: a `null`
inside a list is refused (moby dereferences a null rule and panics), and actions and comparisons
are checked in rules this host leaves out too (runc would refuse them on a host that keeps them).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from learn.errors import ProfileError
from learn.formats.common import ACTION_BY_NAME, OP_BY_NAME, errno_number
from learn.profile import MAX_ARGS, U64

Check = Callable[[Any, str], None]
_DIGITS = re.compile(r"[0-9]+")
MAX_ARGS_PER_RULE = 64  # conditions in one entry: six arguments, a few alternatives each (runc ORs them)


def _string(value: Any, where: str) -> None:
    if value is not None and not isinstance(value, str):
        raise ProfileError(f"{where}: {_short(value)} is not a string")


def _strings(value: Any, where: str) -> None:
    if value is None:
        return
    if not isinstance(value, list):
        raise ProfileError(f"{where}: {_short(value)} is not a list of strings")
    for k, item in enumerate(value):
        if not isinstance(item, str):
            raise ProfileError(f"{where}[{k}]: {_short(item)} is not a string")


def uint(value: Any, where: str, limit: int = U64) -> int:
    """A Go uint: a JSON integer, no fraction or exponent, 0..limit. Booleans are not numbers."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
        bound = "" if limit == U64 else f" up to {limit}"
        raise ProfileError(f"{where}: {_short(value)} is not an unsigned integer{bound}")
    return value


def _uint(value: Any, where: str) -> None:
    if value is not None:
        uint(value, where)


def _errno(value: Any, where: str) -> None:
    if value is not None:
        errno_number(value, where)  # containers-common's `errno`: a number or a name


def _action(value: Any, where: str) -> None:
    if value is not None and value not in ACTION_BY_NAME:
        raise ProfileError(f"{where}: unknown action {_short(value)}")


def kernel_version(value: str, where: str) -> tuple[int, int] | None:
    """moby's KernelVersion: "<kernel>.<major>", each 0..255 in decimal, not "0.0"; "" is none."""
    if value == "":
        return None
    parts = value.split(".", 2)
    if len(parts) != 2 or not all(_DIGITS.fullmatch(p) and int(p) <= 255 for p in parts):
        raise ProfileError(f'{where}: invalid minKernel {value!r}, expected "<kernel>.<major>" (each 0..255)')
    kernel, major = int(parts[0]), int(parts[1])
    if (kernel, major) == (0, 0):
        raise ProfileError(f"{where}: invalid minKernel {value!r}: version cannot be 0.0")
    return kernel, major


def _min_kernel(value: Any, where: str) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise ProfileError(f'{where}: invalid minKernel {_short(value)}, expected a string "<kernel>.<major>"')
    kernel_version(value, where)


def _object(fields: Mapping[str, Check]) -> Check:
    def check(value: Any, where: str) -> None:
        if value is None:
            return
        if not isinstance(value, dict):
            raise ProfileError(f"{where}: {_short(value)} is not an object")
        for key, field_check in fields.items():
            if key in value:
                field_check(value[key], f"{where} {key}" if where.endswith(":") else f"{where}.{key}")

    return check


def _list(item: Check, limit: int | None = None) -> Check:
    def check(value: Any, where: str) -> None:
        if value is None:
            return
        if not isinstance(value, list):
            raise ProfileError(f"{where}: {_short(value)} is not a list")
        if limit is not None and len(value) > limit:
            raise ProfileError(f"{where}: {len(value)} entries, more than {limit}")
        for k, element in enumerate(value):
            if element is None:
                raise ProfileError(f"{where}[{k}]: null")
            item(element, f"{where}[{k}]")

    return check


def _arg(value: Any, where: str) -> None:
    _object({"index": _uint, "value": _uint, "valueTwo": _uint, "op": _string})(value, where)
    assert isinstance(value, dict)
    index = value.get("index") or 0
    if index >= MAX_ARGS:
        raise ProfileError(f"{where}: argument index {index} is outside 0..{MAX_ARGS - 1}")
    if value.get("op") not in OP_BY_NAME:
        raise ProfileError(f"{where}: needs an op, one of {', '.join(OP_BY_NAME)}")


_FILTER = _object({"caps": _strings, "arches": _strings, "minKernel": _min_kernel})
_SYSCALL = _object(
    {
        "names": _strings,
        "name": _string,
        "action": _action,
        "errnoRet": _uint,
        "errno": _errno,
        "args": _list(_arg, MAX_ARGS_PER_RULE),
        "comment": _string,
        "includes": _FILTER,
        "excludes": _FILTER,
    }
)
_PROFILE = _object(
    {
        "defaultAction": _action,
        "defaultErrnoRet": _uint,
        "defaultErrno": _errno,
        "architectures": _strings,
        "archMap": _list(_object({"architecture": _string, "subArchitectures": _strings})),
        "syscalls": _list(_SYSCALL),
        "flags": _strings,
        "listenerPath": _string,
        "listenerMetadata": _string,
    }
)


def check_document(doc: Any, source: str) -> None:
    """Refuse, with the path of the first bad field, what moby's decoder or runc would refuse."""
    if not isinstance(doc, dict):
        raise ProfileError(f"{source}: a seccomp profile is an object with defaultAction and syscalls")
    _PROFILE(doc, f"{source}:")
    for k, entry in enumerate(doc.get("syscalls") or []):
        if entry.get("name") and entry.get("names"):
            raise ProfileError(f"{source}: syscalls[{k}]: both 'name' and 'names' are given; moby takes one")


def _short(value: Any) -> str:
    """value as JSON spells it (true, null, "x"), cut to a readable length."""
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."
