"""Output formats: each reads the Profile model and renders deterministic text."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from learn.formats import oci, snapd
from learn.profile import Profile


class OutputFormat(StrEnum):
    OCI = "oci"
    SNAPD = "snapd"


WRITERS: dict[OutputFormat, Callable[[Profile], str]] = {
    OutputFormat.OCI: oci.write,
    OutputFormat.SNAPD: snapd.write,
}


def render(profile: Profile, fmt: OutputFormat) -> str:
    return WRITERS[fmt](profile)


def read_profile(path: str) -> Profile:
    """An OCI/Docker JSON or snapd profile: the syscalls it allows without conditions."""
    import json

    from learn.arch import from_oci_arch, host_abis
    from learn.errors import ProfileError

    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as err:
        raise ProfileError(f"{path}: {err.strerror}") from None
    if text.lstrip().startswith("{"):
        try:
            spec = json.loads(text)
        except ValueError as err:
            raise ProfileError(f"{path}: not JSON ({err})") from None
        names = sorted(
            {n for rule in spec.get("syscalls") or [] if rule.get("action") == "SCMP_ACT_ALLOW" and not rule.get("args")
             for n in rule.get("names") or [rule.get("name")] if n}
        )  # fmt: skip
        arches = [a for a in (from_oci_arch(x) for x in spec.get("architectures") or []) if a] or host_abis()[:1]
        return Profile({a: tuple(names) for a in arches}, default_errno=int(spec.get("defaultErrnoRet", 1)))
    names = sorted({line.split()[0] for line in text.splitlines() if line.strip() and line.strip()[0] not in "#@~"})
    return Profile({a: tuple(names) for a in host_abis()})
