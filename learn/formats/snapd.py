"""snap-seccomp's source syntax: `#` comments, one syscall a line."""

from __future__ import annotations

from learn.profile import Profile


def write(profile: Profile) -> str:
    lines = [f"# {line}" for line in profile.provenance]
    lines.append(f"# arches: {' '.join(profile.arches) or '(none)'}")
    if profile.incomplete:
        lines.append("# INCOMPLETE: records were lost while learning; the program may need more")
    lines += profile.names()
    return "\n".join(lines) + "\n"
