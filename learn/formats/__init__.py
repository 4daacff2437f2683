"""Profile formats: a writer for each (deterministic text, plus notes on what the format could
not express), a reader for each format that is a source, and detection by content."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from enum import StrEnum

from learn.errors import InputError, ProfileError
from learn.formats import oci, pfc, snapd, spo, systemd
from learn.formats.common import HostContext, ReadResult, WriteResult
from learn.profile import Profile

__all__ = [
    "HostContext",
    "OutputFormat",
    "ReadResult",
    "WriteResult",
    "check_expressible",
    "detect_format",
    "load_profile",
    "read_profile",
    "render",
    "write",
]


class OutputFormat(StrEnum):
    OCI = "oci"  # runc, crun, podman, docker --security-opt seccomp=
    SNAPD = "snapd"  # snap-seccomp source
    SYSTEMD = "systemd"  # a unit drop-in
    SPO = "spo"  # Kubernetes security-profiles-operator SeccompProfile
    PFC = "pfc"  # libseccomp's pseudo filter code of the ENFORCE filter (write only)


WRITE_RESULTS: dict[OutputFormat, Callable[[Profile], WriteResult]] = {
    OutputFormat.OCI: oci.write_result,
    OutputFormat.SNAPD: snapd.write_result,
    OutputFormat.SYSTEMD: systemd.write_result,
    OutputFormat.SPO: spo.write_result,
    OutputFormat.PFC: pfc.write_result,
}
WRITERS: dict[OutputFormat, Callable[[Profile], str]] = {
    OutputFormat.OCI: oci.write,
    OutputFormat.SNAPD: snapd.write,
    OutputFormat.SYSTEMD: systemd.write,
    OutputFormat.SPO: spo.write,
    OutputFormat.PFC: pfc.write,
}
Reader = Callable[[str, str, HostContext, bool], ReadResult]
READERS: dict[OutputFormat, Reader] = {
    OutputFormat.OCI: oci.read,
    OutputFormat.SNAPD: snapd.read,
    OutputFormat.SYSTEMD: systemd.read,
    OutputFormat.SPO: spo.read,
}


def render(profile: Profile, fmt: OutputFormat) -> str:
    return WRITERS[OutputFormat(fmt)](profile)


def write(profile: Profile, fmt: OutputFormat | str) -> WriteResult:
    """The text, and one note for each thing the format could not say about this profile."""
    return WRITE_RESULTS[OutputFormat(fmt)](profile)


def check_expressible(profile: Profile, fmt: OutputFormat | str) -> list[str]:
    """What writing profile as fmt would lose or change; empty when nothing."""
    return list(write(profile, fmt).notes)


_SNAPD_LINE = re.compile(r"(~?[a-z_][a-z0-9_]*(\s+[\w|<>=!:#-]+)*|@complain|@unrestricted)")
_SYSTEMD = re.compile(r"^\s*(\[Service\]|SystemCall(Filter|Architectures|ErrorNumber|Log)=)", re.M)
_SPO = re.compile(r"^\s*kind:\s*[\"']?SeccompProfile\b", re.M)


def detect_format(text: str, source: str = "-") -> OutputFormat:
    """Which format text is in, from its content."""
    if text.lstrip().startswith("{"):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError:
            return OutputFormat.OCI  # the OCI reader says where the JSON breaks
        return OutputFormat.SPO if isinstance(doc, dict) and doc.get("kind") == "SeccompProfile" else OutputFormat.OCI
    if _SPO.search(text):
        return OutputFormat.SPO
    if _SYSTEMD.search(text):
        return OutputFormat.SYSTEMD
    if "pseudo filter code start" in text:
        raise ProfileError(f"{source}: libseccomp pseudo filter code is an export; learn cannot read it back")
    lines = [line.strip() for line in text.splitlines()]
    body = [line for line in lines if line and not line.startswith("#")]
    if all(_SNAPD_LINE.fullmatch(line) for line in body):
        return OutputFormat.SNAPD
    raise ProfileError(
        f"{source}: cannot tell the profile format: not OCI JSON, a SeccompProfile, a systemd unit "
        "or snap-seccomp source; name the format"
    )


def load_profile(
    path: str, fmt: OutputFormat | str | None = None, *, context: HostContext | None = None, strict: bool = False
) -> ReadResult:
    """Read a profile file (`-`: standard input), with notes on what was left out or assumed.

    The format is detected from the content unless given. `context` is the host the profile is
    read for (default: this one; see HostContext). `strict` makes names libseccomp does not know
    an error in allow rules too (in deny rules they always are).
    """
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as f:
                text = f.read()
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror}") from e
    except UnicodeDecodeError as e:
        raise ProfileError(f"{path}: not UTF-8 text at byte {e.start}") from e
    chosen = OutputFormat(fmt) if fmt is not None else detect_format(text, path)
    if chosen not in READERS:
        raise ProfileError(f"{path}: learn cannot read {chosen.value} profiles")
    return READERS[chosen](text, path, context or HostContext.host(), strict)


def read_profile(
    path: str, fmt: OutputFormat | str | None = None, *, context: HostContext | None = None, strict: bool = False
) -> Profile:
    return load_profile(path, fmt, context=context, strict=strict).profile
