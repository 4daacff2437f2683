"""Golden tests for the real profiles of the corpus: what each reads as, and how each is
written in every format, with the notes of both. One directory per profile under
tests/golden/profiles/; regenerate with `pytest tests/unit/test_formats_golden.py --regen-golden`
and review the diff like any code change.

The profiles are read for a fixed host (x86_64 with the x86 compat ABI, Docker's default
capabilities, Linux 6.18), so the expected files do not depend on the machine.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from learn.errors import ProfileError
from learn.formats import OutputFormat, load_profile, write
from learn.formats.common import HostContext
from tests.conftest import HAVE_CORPUS, NO_CORPUS, SHARED

PROFILES = SHARED / "corpus" / "profiles"
GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "profiles"
CONTEXT = HostContext("x86_64", "x86", kernel=(6, 18))
SOURCES = sorted(p.name for p in PROFILES.glob("*") if p.suffix in (".json", ".seccomp", ".yaml"))
OUTPUTS = {
    OutputFormat.OCI: "profile.oci.json",
    OutputFormat.SNAPD: "profile.snapd",
    OutputFormat.SYSTEMD: "profile.systemd.conf",
    OutputFormat.SPO: "profile.spo.yaml",
}


def _render(name: str) -> dict[str, str]:
    cwd = os.getcwd()
    os.chdir(PROFILES)  # paths in notes and provenance relative to the corpus
    try:
        result = load_profile(name, context=CONTEXT)
    except ProfileError as e:
        return {"error.txt": f"{e}\n"}
    finally:
        os.chdir(cwd)
    out = {"read.txt": f"format: {result.fmt}\n" + "".join(f"note: {n}\n" for n in result.notes)}
    notes = []
    for fmt, filename in OUTPUTS.items():
        written = write(result.profile, fmt)
        out[filename] = written.text
        notes += [f"{fmt.value}: {n}\n" for n in written.notes]
    out["write-notes.txt"] = "".join(notes)
    return out


@pytest.mark.parametrize("name", SOURCES)
def test_corpus_profile(name: str, regen: bool) -> None:
    directory = GOLDEN / name
    actual = _render(name)
    if regen:
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.iterdir():
            stale.unlink()
        for filename, text in actual.items():
            (directory / filename).write_text(text)
    assert directory.is_dir(), f"no expected output for {name}: run pytest --regen-golden and review it"
    expected = {p.name: p.read_text() for p in sorted(directory.iterdir())}
    assert sorted(actual) == sorted(expected)
    for filename, text in expected.items():
        assert actual[filename] == text, f"{name}: {filename} differs"


@pytest.mark.skipif(not HAVE_CORPUS, reason=NO_CORPUS)  # without the corpus every golden looks orphaned
def test_every_golden_profile_has_a_source() -> None:
    orphans = [d.name for d in GOLDEN.iterdir() if d.name not in SOURCES] if GOLDEN.is_dir() else []
    assert not orphans
