"""Profiles compiled to BPF ahead of time, as snapd does, and loaded only as the source's build.

`learn compile` writes the BPF program libseccomp generates, plus a sidecar (OUT.bpf.json)
naming the source profile, its format and the libseccomp version. The sidecar is a pointer,
not a trust anchor: loading re-reads the source, compiles it again the same way and loads the
BPF only if its bytes are exactly that build (libseccomp's output is deterministic), so a BPF
swapped for another filter, a sidecar pointing elsewhere or a source edited since are refused.
The BPF, the sidecar and the source are read only if no one but root and the invoking user can
have written them (learn.trusted). Denials are logged when the running kernel supports it,
whatever the sidecar says.

A profile that allows every call (snapd's `@unrestricted`) compiles to an empty BPF file and
loads no filter at all, as snap-confine does.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
from dataclasses import dataclass

import pyseccomp

from learn import __version__
from learn.arch import host_abis
from learn.atomic import write_atomically
from learn.errors import ProfileError
from learn.formats import READERS, OutputFormat, ReadResult, parse_text
from learn.kernel.bpf import INSTRUCTION_BYTES, MAX_INSTRUCTIONS, validate
from learn.kernel.filters import Mode, build_filter, program
from learn.model import Action
from learn.profile import Profile
from learn.trusted import MissingFileError, read_trusted

SIDECAR_SUFFIX = ".json"
FORMAT = 2  # 1 trusted the sidecar's hashes; such files must be compiled again
MAX_BPF_BYTES = MAX_INSTRUCTIONS * INSTRUCTION_BYTES  # the kernel's BPF_MAXINSNS
MAX_SIDECAR_BYTES = 64 << 10
MAX_SOURCE_BYTES = 4 << 20  # moby's default profile is 20 kB
UNRESTRICTED_NOTE = (
    "the profile allows every call (like snapd's @unrestricted): no filter is loaded, as snap-confine does; "
    "nothing can be denied"
)


def recompile_hint(bpf: str, source: str = "PROFILE") -> str:
    return f"learn compile {source} -o {bpf}"


def unrestricted(profile: Profile) -> bool:
    """The profile allows every call, so there is nothing to filter (snapd's @unrestricted,
    or an OCI profile with an ALLOW default and no other action)."""
    return profile.default_action is Action.ALLOW and all(r.action is Action.ALLOW for r in profile.rules)


def libseccomp_version() -> str:
    class _Version(ctypes.Structure):
        _fields_ = (("major", ctypes.c_uint), ("minor", ctypes.c_uint), ("micro", ctypes.c_uint))

    lib = pyseccomp._libseccomp
    lib.seccomp_version.restype = ctypes.POINTER(_Version)
    v = lib.seccomp_version().contents
    return f"{v.major}.{v.minor}.{v.micro}"


@dataclass(frozen=True)
class Build:
    program: bytes  # empty: no filter (unrestricted)
    arches: tuple[str, ...]
    unrestricted: bool


def build(profile: Profile, source: str, *, log_denials: bool) -> Build:
    """The BPF for the host's ABIs the profile lists: what compile writes and load compares.

    (SECCOMP_FILTER_FLAG_LOG is an argument of seccomp(2), not part of the program: the bytes
    are the same either way.)"""
    arches = [a for a in host_abis() if a in profile.arches]
    if not arches:
        raise ProfileError(
            f"{source} lists none of this host's ABIs ({', '.join(host_abis())})",
            "compile it on its own arch",
        )
    if unrestricted(profile):
        return Build(b"", tuple(arches), True)
    built = build_filter(profile, mode=Mode.ENFORCE, arches=arches, log_denials=log_denials)
    return Build(program(built), built.arches, False)  # with learn's multiplexer guards


def parse_source(data: bytes, source: str, fmt: OutputFormat | None) -> tuple[ReadResult, OutputFormat]:
    """The profile in data, read as fmt (detected from the content if None), and that format."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ProfileError(f"{source}: not UTF-8 text at byte {e.start}") from None
    return parse_text(text, source, fmt)  # recognised positively, binary refused, as load_profile


@dataclass(frozen=True)
class Compiled:
    program: bytes  # empty when unrestricted
    unrestricted: bool
    arches: tuple[str, ...]
    source: str
    sidecar: dict[str, object]
    notes: tuple[str, ...] = ()  # what the source's reader left out or assumed


def compile_profile(source: str, out: str, *, log_denials: bool, fmt: OutputFormat | None = None) -> Compiled:
    """Compile the profile file source; write OUT (raw BPF) and OUT.json (the sidecar)."""
    if source == "-":
        raise ProfileError("compile reads the profile from a file, not standard input", "enforce --bpf re-reads it")
    path = os.path.abspath(source)
    data = read_trusted(path, MAX_SOURCE_BYTES)
    read, chosen = parse_source(data, source, fmt)
    made = build(read.profile, source, log_denials=log_denials)
    sidecar: dict[str, object] = {
        "format": FORMAT,
        "source": path,
        "source_format": chosen.value,
        "source_sha256": hashlib.sha256(data).hexdigest(),
        "bpf_sha256": hashlib.sha256(made.program).hexdigest(),
        "instructions": len(made.program) // INSTRUCTION_BYTES,
        "arches": list(made.arches),
        "unrestricted": made.unrestricted,
        "libseccomp": libseccomp_version(),
        "learn": __version__,
    }
    if not made.unrestricted:
        validate(made.program)
    write_atomically(out, made.program)
    write_atomically(out + SIDECAR_SUFFIX, json.dumps(sidecar, indent=2) + "\n")
    return Compiled(made.program, made.unrestricted, made.arches, path, sidecar, read.notes)


def load_compiled(path: str, *, log_denials: bool) -> Compiled:
    """The BPF program at path, once it is exactly what its source compiles to now."""
    sidecar_path = path + SIDECAR_SUFFIX
    try:
        program = read_trusted(path, MAX_BPF_BYTES)
        sidecar = _read_sidecar(sidecar_path, path)
    except MissingFileError as err:
        raise ProfileError(str(err), recompile_hint(path)) from None
    source = sidecar["source"]
    assert isinstance(source, str)
    recorded, running = sidecar["libseccomp"], libseccomp_version()
    if recorded != running:
        raise ProfileError(
            f"{path} was compiled with libseccomp {recorded}; this host has {running}", recompile_hint(path, source)
        )
    try:
        data = read_trusted(source, MAX_SOURCE_BYTES)
    except MissingFileError as err:
        raise ProfileError(f"{path} cannot be checked: {err}", recompile_hint(path)) from None
    if hashlib.sha256(data).hexdigest() != sidecar["source_sha256"]:
        raise ProfileError(f"{path} is stale: {source} changed since it was compiled", recompile_hint(path, source))
    fmt = OutputFormat(str(sidecar["source_format"]))
    made = build(parse_source(data, source, fmt)[0].profile, source, log_denials=log_denials)
    if made.program != program:
        raise ProfileError(
            f"{path} is not what {source} compiles to (replaced, or the host changed since)",
            recompile_hint(path, source),
        )
    if not made.unrestricted:
        validate(program)
    return Compiled(program, made.unrestricted, made.arches, source, sidecar)


def _read_sidecar(sidecar_path: str, bpf: str) -> dict[str, object]:
    data = read_trusted(sidecar_path, MAX_SIDECAR_BYTES)
    try:
        sidecar = json.loads(data)
    except (UnicodeDecodeError, ValueError) as err:
        raise ProfileError(f"{sidecar_path}: unreadable sidecar ({err})", recompile_hint(bpf)) from None
    if not isinstance(sidecar, dict) or sidecar.get("format") != FORMAT:
        raise ProfileError(f"{sidecar_path}: not a learn sidecar of format {FORMAT}", recompile_hint(bpf))
    source, fmt = sidecar.get("source"), sidecar.get("source_format")
    if not (isinstance(source, str) and source.startswith("/")):
        raise ProfileError(f"{sidecar_path}: the source is not an absolute path", recompile_hint(bpf))
    if fmt not in {f.value for f in READERS}:
        raise ProfileError(f"{sidecar_path}: unknown source format {fmt!r}", recompile_hint(bpf, source))
    if not isinstance(sidecar.get("libseccomp"), str) or not isinstance(sidecar.get("source_sha256"), str):
        raise ProfileError(f"{sidecar_path}: not a learn sidecar of format {FORMAT}", recompile_hint(bpf, source))
    return sidecar
