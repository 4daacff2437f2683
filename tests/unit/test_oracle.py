"""auparse (python3-audit) as an independent oracle for the fast parser on every auditd log."""

from __future__ import annotations

from pathlib import Path

import pytest

from learn.formats import OutputFormat, render
from learn.model import Action, ProblemKind, SeccompEvent
from learn.pipeline import build_profile, learn_from_logs
from learn.select import Selection
from parsers import InputFormat, parse, split_lines
from parsers.auparse_reader import available, seccomp_events
from tests.conftest import CORPUS_LOGS, SAMPLE_LOGS

AUDITD_LOGS = [
    *sorted(SAMPLE_LOGS.glob("auditd/*.log")),
    SAMPLE_LOGS / "ausearch/ls-la.raw.log",
    CORPUS_LOGS / "go-libaudit_auparse_testdata_test3.log",
    CORPUS_LOGS / "spo_auditsource_test_0b0c42b_assembled_accept.log",
]
# Not here: pasted lines auparse itself cannot read (a `grep -n` prefix, ENRICHED tails glued
# to code= once the 0x1d separator was lost); the corpus table covers those.


def _key(e: SeccompEvent) -> tuple[object, ...]:
    return (e.serial, e.arch, e.nr, e.syscall, e.pid, e.action, e.comm, e.exe)


@pytest.mark.skipif(not available(), reason="python3-audit (auparse) is not installed")
@pytest.mark.parametrize("log", AUDITD_LOGS, ids=lambda p: p.name)
def test_fast_parser_agrees_with_auparse(log: Path) -> None:
    text = log.read_text()
    ours = [_key(e) for e in parse(split_lines(text), str(log), InputFormat.AUDITD) if isinstance(e, SeccompEvent)]
    theirs = [_key(e) for e in seccomp_events(text, str(log))]
    assert ours and ours == theirs


def test_every_form_of_one_capture_gives_one_profile() -> None:
    """The same ls run read raw, ENRICHED, through ausearch --raw and ausearch -i."""
    forms = [
        SAMPLE_LOGS / "auditd/ls-la.audit.log",
        SAMPLE_LOGS / "ausearch/ls-la.raw.log",
        SAMPLE_LOGS / "ausearch/ls-la.interpreted.log",
    ]
    profiles = set()
    for log in forms:
        findings = learn_from_logs([str(log)], Selection(actions=frozenset(Action)))
        assert findings.selected == 302 and set(findings.problem_counts) <= {ProblemKind.NOTE}  # ausearch -i: zone
        profiles.add(render(build_profile(findings), OutputFormat.OCI))
    assert len(profiles) == 1


def test_fast_path_decodes_like_the_general_path() -> None:
    """Every line the fast path takes, the general framing and decoding read the same way."""
    from parsers.auditd import frame_auditd
    from parsers.fastpath import FastDecoder
    from parsers.framing import Framed
    from parsers.record import decode_record

    fast = FastDecoder()
    taken = 0
    for log in AUDITD_LOGS:
        for number, line in enumerate(log.read_text().split("\n"), 1):
            event = fast(line, "x", number)
            if event is None:
                continue
            framed = frame_auditd(line)
            assert isinstance(framed, Framed)
            assert list(decode_record(framed.body, framed.stamp, "x", number)) == [event]
            taken += 1
    assert taken > 900
