"""Profiles compiled to BPF ahead of time, as snapd does, and never run stale.

`learn compile` writes the BPF program libseccomp generates, plus a sidecar (OUT.bpf.json)
naming the source profile and its SHA-256. Loading checks the sidecar against the BPF and
the source as they are now: a source edited since, a BPF replaced or a sidecar missing is
refused, because a sandbox that is not the reviewed text is not the one anyone reviewed.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os

import pyseccomp

from learn import __version__
from learn.arch import host_abis
from learn.atomic import write_atomically
from learn.errors import ProfileError
from learn.kernel.bpf import validate
from learn.kernel.filters import Mode, build_filter, export_bpf
from learn.profile import Profile

SIDECAR_SUFFIX = ".json"
RECOMPILE = "compile the profile again (learn compile PROFILE -o OUT.bpf)"
FORMAT = 1


def sha256_file(path: str) -> str:
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError as err:
        raise ProfileError(f"{path}: {err.strerror}") from None


def libseccomp_version() -> str:
    class _Version(ctypes.Structure):
        _fields_ = (("major", ctypes.c_uint), ("minor", ctypes.c_uint), ("micro", ctypes.c_uint))

    lib = pyseccomp._libseccomp
    lib.seccomp_version.restype = ctypes.POINTER(_Version)
    v = lib.seccomp_version().contents
    return f"{v.major}.{v.minor}.{v.micro}"


def compile_profile(profile: Profile, source: str, out: str, *, log_denials: bool) -> dict[str, object]:
    """Write OUT (raw BPF for the host's ABIs the profile lists) and OUT.json; return the sidecar."""
    arches = [a for a in host_abis() if a in profile.arches]
    if not arches:
        raise ProfileError(
            f"{source} lists none of this host's ABIs ({', '.join(host_abis())})",
            "compile it on its own arch",
        )
    built = build_filter(profile, mode=Mode.ENFORCE, arches=arches, log_denials=log_denials)
    program = export_bpf(built.filter)
    sidecar: dict[str, object] = {
        "format": FORMAT,
        "source": os.path.abspath(source),
        "source_sha256": sha256_file(source),
        "bpf_sha256": hashlib.sha256(program).hexdigest(),
        "instructions": validate(program),
        "arches": list(built.arches),
        "log_denials": log_denials,
        "libseccomp": libseccomp_version(),
        "learn": __version__,
    }
    write_atomically(out, program)
    write_atomically(out + SIDECAR_SUFFIX, json.dumps(sidecar, indent=2) + "\n")
    return sidecar


def load_compiled(path: str) -> tuple[bytes, dict[str, object]]:
    """The BPF program at path, once its sidecar vouches that it is the source's current build."""
    sidecar_path = path + SIDECAR_SUFFIX
    try:
        with open(path, "rb") as f:
            program = f.read()
        with open(sidecar_path) as f:
            sidecar = json.load(f)
    except FileNotFoundError as err:
        raise ProfileError(f"{err.filename}: missing", f"run learn compile PROFILE -o {path}") from None
    except (OSError, ValueError) as err:
        raise ProfileError(f"{sidecar_path}: unreadable sidecar ({err})", RECOMPILE) from None
    if not isinstance(sidecar, dict) or sidecar.get("format") != FORMAT:
        raise ProfileError(f"{sidecar_path}: not a learn sidecar", RECOMPILE)
    if hashlib.sha256(program).hexdigest() != sidecar.get("bpf_sha256"):
        raise ProfileError(f"{path} does not match its sidecar (replaced?)", RECOMPILE)
    source = str(sidecar.get("source"))
    if sha256_file(source) != sidecar.get("source_sha256"):
        raise ProfileError(
            f"{path} is stale: {source} changed since it was compiled", f"learn compile {source} -o {path}"
        )
    validate(program)
    return program, sidecar
