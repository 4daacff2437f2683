"""Golden tests in the style of libapparmor's test_multi: one real log per case.

Each case directory holds the expected decoded events (events.jsonl), problems
(problems.txt) and profiles (profile.oci.json, profile.snapd) of one log. Regenerate with
`pytest tests/golden --regen-golden` and review the diff like any code change.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from learn.dedupe import Deduplicator
from learn.formats import OutputFormat, render
from learn.model import Action, Problem, SeccompEvent
from learn.pipeline import build_profile, events_from, learn_from_logs
from learn.select import Selection
from tests.conftest import CORPUS_LOGS, HAVE_CORPUS, NO_CORPUS, SAMPLE_LOGS

CASES = Path(__file__).resolve().parent / "cases"
ALL_ACTIONS = Selection(actions=frozenset(Action))


def _logs(root: Path, prefix: str) -> list[tuple[str, Path, Path]]:
    """(case id, directory the log is read from, log path relative to it)."""
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix not in (".golden", ".md", ".c") and "src" not in path.parts:
            rel = path.relative_to(root)
            found.append((f"{prefix}/{rel}", root, rel))
    return found


CASE_LOGS = _logs(CORPUS_LOGS, "corpus") + _logs(SAMPLE_LOGS, "sample")


def _render_case(base: Path, rel: Path) -> dict[str, str]:
    """Everything a case pins down, read with paths relative to the log's root."""
    cwd = os.getcwd()
    os.chdir(base)
    try:
        items = list(Deduplicator()(events_from([str(rel)], args=True)))
        events = "".join(json.dumps(e.to_json_dict()) + "\n" for e in items if isinstance(e, SeccompEvent))
        problems = "".join(f"{p}\n" for p in items if isinstance(p, Problem))
        findings = learn_from_logs([str(rel)], ALL_ACTIONS)
        with_args = learn_from_logs([str(rel)], ALL_ACTIONS, args=True)
    finally:
        os.chdir(cwd)
    out = {"events.jsonl": events, "problems.txt": problems}
    if findings.selected:
        profile = build_profile(findings)
        out["profile.oci.json"] = render(profile, OutputFormat.OCI)
        out["profile.snapd"] = render(profile, OutputFormat.SNAPD)
    usage = with_args.arg_usage
    if usage is not None and any(k is not None for keys in usage.seen.values() for k in keys):
        # suggest --args: a log with SYSCALL records beside its SECCOMP records (sample-logs/auditd-args)
        profile = build_profile(with_args)
        out["profile.args.oci.json"] = render(profile, OutputFormat.OCI)
        out["profile.args.snapd"] = render(profile, OutputFormat.SNAPD)
        out["args-summary.txt"] = "".join(f"{note}\n" for note in with_args.arg_notes)
    return out


@pytest.mark.parametrize(("case", "base", "rel"), CASE_LOGS, ids=[c[0] for c in CASE_LOGS])
def test_golden(case: str, base: Path, rel: Path, regen: bool) -> None:
    directory = CASES / case.replace("/", "__")
    actual = _render_case(base, rel)
    if regen:
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.iterdir():
            stale.unlink()
        for name, text in actual.items():
            (directory / name).write_text(text)
    assert directory.is_dir(), f"no expected output for {case}: run pytest --regen-golden and review it"
    expected = {p.name: p.read_text() for p in sorted(directory.iterdir())}
    assert sorted(actual) == sorted(expected)
    for name, text in expected.items():
        assert actual[name] == text, f"{case}: {name} differs"


@pytest.mark.skipif(not HAVE_CORPUS, reason=NO_CORPUS)  # without the corpus every corpus case looks orphaned
def test_every_case_has_a_log() -> None:
    """A case whose log vanished from the corpus would otherwise pass by not running."""
    known = {c[0].replace("/", "__") for c in CASE_LOGS}
    orphans = [d.name for d in CASES.iterdir() if d.name not in known] if CASES.is_dir() else []
    assert not orphans
