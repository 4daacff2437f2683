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
