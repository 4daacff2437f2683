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
from learn.formats.common import MAX_UNKNOWN_NAMES, HostContext, ReadResult, WriteResult, known_anywhere
from learn.profile import Profile

__all__ = [
    "MAX_PROFILE_BYTES",
    "HostContext",
    "OutputFormat",
    "ProfileFormat",
    "ReadResult",
    "WriteResult",
    "check_expressible",
    "detect_format",
    "load_profile",
    "parse_text",
    "read_profile",
    "render",
    "write",
]


# A profile is a few KiB (moby's default is 20 KiB, snapd's template 10 KiB); a cap keeps a
# hostile file from costing time and memory in the readers, which are linear in what they read.
MAX_PROFILE_BYTES = 1 << 20


class ProfileFormat(StrEnum):
    """The formats learn reads (`--profile-format`): detection is skipped when one is named."""

    OCI = "oci"
    SNAPD = "snapd"
    SYSTEMD = "systemd"
    SPO = "spo"


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


# snap-seccomp's line: a name and up to six argument tokens (see learn.formats.snapd). A token
# holds a digit, an upper-case constant or an operator (`-`, `!`, `<`, `|`, `u:` ...): lower-case
# words are prose. Detection stays loose beyond that, so the reader can say what is wrong.
_SNAPD_RULE = re.compile(r"~?([a-z_][a-z0-9_]*)(?:[ \t]+(?=\S*[0-9A-Z|<>!:=#-])\S+)*")
_SNAPD_DIRECTIVES = ("@complain", "@unrestricted")
_SYSTEMD = re.compile(r"^[ \t]*SystemCall(Filter|Architectures|ErrorNumber|Log)=", re.M)
_SPO = re.compile(r"^\s*kind:\s*[\"']?SeccompProfile\b", re.M)
_BINARY = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
EXPECTED = (
    "expected OCI/Docker JSON, a SeccompProfile manifest, a systemd unit with SystemCallFilter= "
    "or snap-seccomp source (one syscall a line, @complain or @unrestricted)"
)
NAME_IT = "name the format with --profile-format oci|snapd|systemd|spo if it is one"


def detect_format(text: str, source: str = "-") -> OutputFormat:
    """Which format text is in, recognised by what it holds, never by elimination: an empty
    file, prose or binary data is not a profile that allows nothing."""
    if (binary := _BINARY.search(text)) is not None:
        raise ProfileError(f"{source}: binary data (byte {binary.start()}), not a seccomp profile; {EXPECTED}", NAME_IT)
    if text.lstrip().startswith("{"):
        try:
            doc = json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            return OutputFormat.OCI  # the OCI reader says where the JSON breaks
        return OutputFormat.SPO if isinstance(doc, dict) and doc.get("kind") == "SeccompProfile" else OutputFormat.OCI
    if _SPO.search(text):
        return OutputFormat.SPO
    if _SYSTEMD.search(text):
        return OutputFormat.SYSTEMD
    if "pseudo filter code start" in text:
        raise ProfileError(f"{source}: libseccomp pseudo filter code is an export; learn cannot read it back")
    body = [s for line in text.splitlines() if (s := line.strip()) and not s.startswith("#")]
    if not body:
        what = "empty" if not text.strip() else "only comments"
        raise ProfileError(f"{source}: {what}, not a profile; {EXPECTED}", NAME_IT)
    rules = [_SNAPD_RULE.fullmatch(line) for line in body if line not in _SNAPD_DIRECTIVES]
    # A syscall libseccomp knows among the first lines (a reader refuses more unknown names anyway).
    if all(rules) and (len(rules) < len(body) or any(m and known_anywhere(m[1]) for m in rules[:MAX_UNKNOWN_NAMES])):
        return OutputFormat.SNAPD
    raise ProfileError(f"{source}: cannot tell the profile format: {EXPECTED}", NAME_IT)


def _read_text(path: str) -> str:
    """The file's text, at most MAX_PROFILE_BYTES of UTF-8."""
    try:
        if path == "-":
            data = sys.stdin.buffer.read(MAX_PROFILE_BYTES + 1)
        else:
            with open(path, "rb") as f:
                data = f.read(MAX_PROFILE_BYTES + 1)
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror}") from e
    if len(data) > MAX_PROFILE_BYTES:
        raise ProfileError(f"{path}: over {MAX_PROFILE_BYTES >> 20} MiB: too big for a seccomp profile")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ProfileError(f"{path}: not UTF-8 text at byte {e.start}, not a seccomp profile") from e


def load_profile(
    path: str, fmt: OutputFormat | str | None = None, *, context: HostContext | None = None, strict: bool = False
) -> ReadResult:
    """Read a profile file (`-`: standard input), with notes on what was left out or assumed.

    The format is detected from the content unless given. `context` is the host the profile is
    read for (default: this one; see HostContext). `strict` makes names libseccomp does not know
    an error in allow rules too (in deny rules they always are).
    """
    text = _read_text(path)
    return parse_text(text, path, fmt, context=context, strict=strict)[0]


def parse_text(
    text: str,
    source: str,
    fmt: OutputFormat | str | None = None,
    *,
    context: HostContext | None = None,
    strict: bool = False,
) -> tuple[ReadResult, OutputFormat]:
    """A profile's text read as fmt (recognised from the content if None), and that format."""
    if fmt is not None and (binary := _BINARY.search(text)) is not None:
        raise ProfileError(f"{source}: binary data (byte {binary.start()}), not a {fmt} profile")
    chosen = OutputFormat(fmt) if fmt is not None else detect_format(text, source)
    if chosen not in READERS:
        raise ProfileError(f"{source}: learn cannot read {chosen.value} profiles")
    try:
        return READERS[chosen](text, source, context or HostContext.host(), strict), chosen
    except ProfileError as e:
        if str(e).startswith(source):
            raise
        raise ProfileError(f"{source}: {e}", e.hint) from None  # the model's checks do not know the file


def read_profile(
    path: str, fmt: OutputFormat | str | None = None, *, context: HostContext | None = None, strict: bool = False
) -> Profile:
    return load_profile(path, fmt, context=context, strict=strict).profile
