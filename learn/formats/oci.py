"""OCI runtime-spec `linux.seccomp` / Docker `--security-opt seccomp=` JSON."""

from __future__ import annotations

import json

from learn.arch import oci_arch
from learn.model import Action
from learn.profile import Profile

ACTION_NAMES = {
    Action.KILL_PROCESS: "SCMP_ACT_KILL_PROCESS",
    Action.KILL_THREAD: "SCMP_ACT_KILL_THREAD",
    Action.TRAP: "SCMP_ACT_TRAP",
    Action.ERRNO: "SCMP_ACT_ERRNO",
    Action.USER_NOTIF: "SCMP_ACT_NOTIFY",
    Action.TRACE: "SCMP_ACT_TRACE",
    Action.LOG: "SCMP_ACT_LOG",
    Action.ALLOW: "SCMP_ACT_ALLOW",
}


def to_dict(profile: Profile) -> dict[str, object]:
    """OCI has no per-arch rules: names allowed on any observed arch are allowed on all."""
    spec: dict[str, object] = {"defaultAction": ACTION_NAMES[profile.default_action]}
    if profile.default_action is Action.ERRNO and profile.default_errno is not None:
        spec["defaultErrnoRet"] = profile.default_errno
    spec["architectures"] = [oci_arch(a) for a in profile.arches]
    names = profile.names()
    spec["syscalls"] = [{"names": list(names), "action": "SCMP_ACT_ALLOW"}] if names else []
    return spec


def write(profile: Profile) -> str:
    return json.dumps(to_dict(profile), indent=2) + "\n"
