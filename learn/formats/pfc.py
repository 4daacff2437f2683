"""libseccomp's pseudo filter code: the ENFORCE filter learn would load, as readable text.

This is the one output that says everything the profile says: per-arch rules, argument
conditions, per-rule actions, all lowered to what libseccomp compiles. It is an export, not a
source: nothing reads it back.
"""

from __future__ import annotations

from learn.formats.common import Notes, WriteResult
from learn.profile import Profile


def write_result(profile: Profile) -> WriteResult:
    from learn.kernel.filters import Mode, build_filter, export_pfc  # libseccomp, loaded on demand

    built = build_filter(profile, mode=Mode.ENFORCE)
    notes = Notes()
    for arch, names in built.skipped.items():
        notes.add(f"{arch} has no syscall {', '.join(names)}: left out there")
    for note in built.notes:
        notes.add(note)
    header = [f"# {line}" for line in profile.provenance]
    if profile.incomplete:
        header.append("# INCOMPLETE: records were lost while learning; the program may need more")
    header += [f"# learn checks before libseccomp's filter: {guard}" for guard in built.guards]
    text = export_pfc(built.filter)
    return WriteResult("".join(f"{line}\n" for line in header) + text, tuple(notes.lines))


def write(profile: Profile) -> str:
    return write_result(profile).text
