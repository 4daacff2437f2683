"""Kubernetes security-profiles-operator `SeccompProfile` manifests (YAML): writer and reader.

The spec is the OCI profile without `defaultErrnoRet` (the runtime then uses EPERM), with
int64 argument values (nothing at or above 2**63), and it reaches runc or crun on the node
as it is: what OCI cannot express, SPO cannot either. YAML is written by hand and read with
learn.formats.miniyaml, so there is no YAML dependency.
"""

from __future__ import annotations

from learn.arch import oci_arch
from learn.errors import ProfileError
from learn.formats import oci
from learn.formats.common import (
    ACTION_NAMES,
    HostContext,
    Notes,
    ReadResult,
    WriteResult,
    multiplexer_notes,
    overlap_notes,
    per_arch_notes,
)
from learn.formats.miniyaml import dump_scalar, load_all
from learn.model import Action
from learn.profile import EPERM, Profile

API_GROUP = "security-profiles-operator.x-k8s.io"
API_VERSION = f"{API_GROUP}/v1beta1"
INT64_MAX = (1 << 63) - 1


def write_result(profile: Profile, name: str = "learned") -> WriteResult:
    notes = Notes()
    per_arch_notes(profile, notes, "SeccompProfile")
    multiplexer_notes(profile, notes, "SeccompProfile")
    overlap_notes(profile, notes)
    default = profile.default_verdict()
    if default.action in (Action.ERRNO, Action.TRACE) and default.errno != EPERM:
        notes.add(f"SeccompProfile has no defaultErrnoRet: the default {default} gets {EPERM}, as runc does")
    lines = [f"# {line}" for line in profile.provenance]
    if profile.incomplete:
        lines.append("# INCOMPLETE: records were lost while learning; the program may need more")
    lines += [
        f"apiVersion: {API_VERSION}",
        "kind: SeccompProfile",
        "metadata:",
        f"  name: {dump_scalar(name)}",
        "spec:",
        f"  defaultAction: {ACTION_NAMES[profile.default_action]}",
    ]
    if profile.arches:
        lines += ["  architectures:", *(f"  - {oci_arch(a)}" for a in profile.arches)]
    entries = oci.to_dict(profile)["syscalls"]
    assert isinstance(entries, list)
    if entries:
        lines.append("  syscalls:")
    for entry in entries:
        lines.append(f"  - action: {entry['action']}")
        if "errnoRet" in entry:
            lines.append(f"    errnoRet: {entry['errnoRet']}")
        lines += ["    names:", *(f"    - {dump_scalar(n)}" for n in entry["names"])]
        if entry.get("args"):
            lines.append("    args:")
        for arg in entry.get("args", []):
            if max(arg["value"], arg["valueTwo"]) > INT64_MAX:
                notes.add(f"SeccompProfile values are int64: {arg} does not fit; the operator refuses it")
            lines += [f"    - index: {arg['index']}", f"      value: {arg['value']}"]
            lines += [f"      valueTwo: {arg['valueTwo']}", f"      op: {arg['op']}"]
    return WriteResult("\n".join(lines) + "\n", tuple(notes.lines))


def write(profile: Profile) -> str:
    return write_result(profile).text


def read(text: str, source: str, context: HostContext, strict: bool = False) -> ReadResult:
    """The first SeccompProfile of a YAML stream, or a JSON manifest."""
    parsed = [oci.load_json(text, source)] if text.lstrip().startswith("{") else load_all(text, source)
    docs = [d for d in parsed if isinstance(d, dict) and d.get("kind") == "SeccompProfile"]
    if not docs:
        raise ProfileError(f"{source}: no SeccompProfile in the file")
    doc = docs[0]
    if not str(doc.get("apiVersion", "")).startswith(API_GROUP + "/"):
        raise ProfileError(f"{source}: apiVersion {doc.get('apiVersion')!r} is not {API_GROUP}")
    spec = doc.get("spec")
    if not isinstance(spec, dict) or not spec.get("defaultAction"):
        raise ProfileError(f"{source}: a SeccompProfile needs spec.defaultAction")
    name = (doc.get("metadata") or {}).get("name", "?")
    result = oci.read_doc({k: v for k, v in spec.items() if k != "baseProfileName"}, source, context, strict, "spo")
    notes = list(result.notes)
    if len(docs) > 1:
        notes.append(f"{source}: {len(docs)} SeccompProfiles; read the first, {name!r}")
    if spec.get("baseProfileName"):
        notes.append(f"{source}: baseProfileName {spec['baseProfileName']!r} is not resolved: read it too and merge")
    return ReadResult(result.profile, "spo", tuple(notes))
