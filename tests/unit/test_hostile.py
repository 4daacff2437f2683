"""Input written by someone else: forged records, proof of origin, numbers out of range, long lines."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from learn.model import Item, Problem, ProblemKind, SeccompEvent
from learn.pipeline import events_from, learn_from_logs
from learn.select import Selection
from learn.sources import LogLines
from parsers import DecodeOptions, parse
from parsers.bulk import count_block
from parsers.fastpath import FastDecoder
from parsers.framing import MAX_RECORD_LINE
from tests.conftest import ROOT, SAMPLE_LOGS
from tests.unit.test_forms import ACCEPTED, AUDITD, BODY, KERNEL, SNAPPY, STAMP, WILD

LEARN = [sys.executable, "-m", "learn"]
NULL_ARGV_CR = SAMPLE_LOGS / "hostile" / "null-argv-cr.dmesg.log"
PTRACE = BODY.replace("syscall=257", "syscall=101")


def items(*lines: str, strict: bool = False) -> list[Item]:
    return list(parse([line + "\n" for line in lines], "t.log", options=DecodeOptions(strict_origin=strict)))


def events(*lines: str, strict: bool = False) -> list[SeccompEvent]:
    return [e for e in items(*lines, strict=strict) if isinstance(e, SeccompEvent)]


def kinds(*lines: str, strict: bool = False) -> list[ProblemKind]:
    return [p.kind for p in items(*lines, strict=strict) if isinstance(p, Problem)]


# --- a carriage return in a kernel message -------------------------------------------------


def test_a_record_after_a_carriage_return_in_a_kernel_message_is_refused() -> None:
    """The real capture: nobody exec'd a file whose name holds "\\r" + a record, with a NULL
    argv; the kernel's warning prints the name raw (dmesg, -r, -x, -T, -S, /dev/kmsg)."""
    got = list(events_from([str(NULL_ARGV_CR)]))
    assert not [e for e in got if isinstance(e, SeccompEvent)]
    assert [p.kind for p in got if isinstance(p, Problem)] == [ProblemKind.UNTRUSTED] * 6


def test_lines_end_at_newline_only(tmp_path: Path) -> None:
    log = tmp_path / "cr.log"
    log.write_bytes(b"a\rb\r\nc\n")
    assert [line for _, line in LogLines(str(log))] == ["a\rb\r", "c"]


@pytest.mark.parametrize("prefix", ["[  723.270190] ", "<4>[  723.270190] ", "kern  :warn  : [  723.270190] ", ""])
def test_a_record_inside_another_kernel_message_is_refused(prefix: str) -> None:
    line = f"{prefix}process 'sh' launched '/tmp/x {KERNEL} ' with NULL argv: empty string added"
    assert kinds(line) == [ProblemKind.UNTRUSTED]


@pytest.mark.parametrize("prefix", ["<4>[  723.270190] ", "kern  :warn  : [  723.270190] ", "4,583,723270190,-;"])
def test_a_record_at_another_level_than_notice_is_a_line_of_another_message(prefix: str) -> None:
    """`dmesg -S` prints a newline in a kernel warning as a new line with the warning's prefix."""
    assert kinds(f"{prefix}{KERNEL}") == [ProblemKind.UNTRUSTED]


def test_dmesg_continuation_lines_are_no_records() -> None:
    """dmesg indents the further lines of a multi-line kernel message."""
    assert not events(f"               {KERNEL}")


def test_loss_notices_count_only_where_the_kernel_message_begins() -> None:
    quoted = "[ 1.0] process 'sh' launched '/tmp/x\rkauditd_printk_skb: 99999 callbacks suppressed'"
    assert not [p for p in items(quoted) if isinstance(p, Problem) and p.kind is ProblemKind.LOSS]
    real = items("[ 1.0] kauditd_printk_skb: 7 callbacks suppressed")
    assert [(p.kind, p.lost) for p in real if isinstance(p, Problem)] == [(ProblemKind.LOSS, 7)]


# --- origin: what a form proves, and --strict-origin ---------------------------------------

# What `logger -t 'audit[1234]'` (and `-t kernel`) become in a text syslog file.
LOGGER_FORGED = [
    f"Dec  2 09:40:01 vm audit[1234]: SECCOMP {PTRACE}",  # rsyslog traditional
    f"2026-12-02T09:40:01.123456+00:00 vm audit[1234]: SECCOMP {PTRACE}",  # rsyslog RFC 3339
    f"[ 1234.567890] vm audit[1234]: SECCOMP {PTRACE}",  # journalctl -o short-monotonic
    f"Dec  2 09:40:01 vm kernel: audit: type=1326 audit({STAMP}): {PTRACE}",  # logger -t kernel
]
PROVEN = [
    f"type=SECCOMP msg=audit({STAMP}): {BODY}",  # audit.log
    f"node=worker-1 type=SECCOMP msg=audit({STAMP}): {BODY}",
    f"52:type=SECCOMP msg=audit({STAMP}): {BODY}",  # grep -n audit.log
    f"5,1234,5678901,-;{KERNEL}",  # /dev/kmsg
]


@pytest.mark.parametrize("line", LOGGER_FORGED)
def test_text_syslog_is_accepted_by_default_and_refused_with_strict_origin(line: str) -> None:
    assert [e.syscall for e in events(line)] == ["ptrace"]
    assert not events(line, strict=True)
    assert kinds(line, strict=True) == [ProblemKind.UNTRUSTED]


@pytest.mark.parametrize("line", ACCEPTED)
def test_strict_origin_keeps_only_forms_that_prove_the_kernel_wrote_them(line: str) -> None:
    got = events(line, strict=True)
    if line in PROVEN:
        assert [e.syscall for e in got] == ["openat"]
    else:
        assert not got
        assert kinds(line, strict=True) == [ProblemKind.UNTRUSTED]


# The pasted forms (issue 11) under an ordinary program's tag, or after another message's text.
WILD_FORGED = [
    f"myapp: [    9.837389] {KERNEL}",
    f"kernel[1234]: {KERNEL}",
    f"myhost myapp: {KERNEL}",
    f"14:02:39 myapp: {KERNEL}",
    f"    myhost myapp: {KERNEL}",
    f"> Dec  2 09:40:01 vm app: {KERNEL}",
    f"myhost notaudispd[568]: {AUDITD}",
    f"audispd[568]: type=USER msg=audit({STAMP}): msg='{AUDITD}'",
    f"  {KERNEL}",  # indented bare record: a further line of a multi-line kernel message
    f"\t{KERNEL}",
    f"myapp: audit({STAMP}): {BODY.replace('syscall=257', '257(openat)')}",  # snappy-debug's, another tag
    f"launched {KERNEL}",  # a word before the kernel's message (dmesg -t), or a cut host: refused
]


@pytest.mark.parametrize("line", WILD_FORGED)
def test_pasted_forms_with_another_writer_are_refused(line: str) -> None:
    assert not events(line)
    assert kinds(line) == [ProblemKind.UNTRUSTED]


@pytest.mark.parametrize("line", WILD + SNAPPY)
def test_strict_origin_refuses_every_pasted_form(line: str) -> None:
    assert events(line)
    assert not events(line, strict=True)
    assert kinds(line, strict=True) == [ProblemKind.UNTRUSTED]


def test_strict_origin_keeps_journal_json() -> None:
    kernel = json.dumps({"_TRANSPORT": "kernel", "MESSAGE": KERNEL})
    audit = json.dumps({"_TRANSPORT": "audit", "_AUDIT_TYPE": "1326", "MESSAGE": f"SECCOMP {BODY}"})
    assert [e.syscall for e in events(kernel, audit, strict=True)] == ["openat", "openat"]


def test_dmesg_r_level_proves_nothing_but_a_facility_still_refuses() -> None:
    """util-linux 2.38 `dmesg -r` prints <5> for a user's message written to /dev/kmsg."""
    assert events(f"<5>[  198.963101] {KERNEL}")
    assert not events(f"<5>[  198.963101] {KERNEL}", strict=True)
    assert kinds(f"<13>[  198.963101] {KERNEL}") == [ProblemKind.UNTRUSTED]


def test_journal_json_from_a_process_writing_to_kmsg_is_refused() -> None:
    line = json.dumps({"_TRANSPORT": "kernel", "SYSLOG_FACILITY": "1", "MESSAGE": KERNEL})
    assert kinds(line) == [ProblemKind.UNTRUSTED]


def test_journal_audit_record_of_another_type_is_refused() -> None:
    line = json.dumps({"_TRANSPORT": "audit", "_AUDIT_TYPE": "1107", "MESSAGE": f"SECCOMP {BODY}"})
    assert kinds(line) == [ProblemKind.UNTRUSTED]


def _learn(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LEARN, *map(str, args)], capture_output=True, text=True, cwd=ROOT, check=False)


def test_strict_origin_on_the_command_line(tmp_path: Path) -> None:
    log = tmp_path / "syslog"
    log.write_text("".join(line + "\n" for line in LOGGER_FORGED))
    assert "ptrace" in _learn("suggest", log).stdout
    strict = _learn("suggest", "--strict-origin", log)
    assert strict.returncode == 1 and "ptrace" not in strict.stdout
    assert "untrusted: 4" in strict.stderr
    listed = _learn("events", "--strict-origin", log)
    assert listed.returncode == 0 and listed.stdout == ""
    assert listed.stderr.count("--strict-origin") == 4


# --- numbers the kernel cannot write ---------------------------------------------------------

BEYOND_32_BITS = BODY.replace("syscall=257", "syscall=4294967397")  # 2^32 + 101: ptrace mod 2^32


@pytest.mark.parametrize(
    "line",
    [
        f"type=SECCOMP msg=audit({STAMP}): {BEYOND_32_BITS}",  # fast line path
        f"[ 1.0] audit: type=1326 audit({STAMP}): {BEYOND_32_BITS}",  # framed body, fast shape
        f"type=SECCOMP msg=audit({STAMP}): {BEYOND_32_BITS.replace(' compat=0', '')}",  # general path
    ],
)
def test_a_syscall_number_beyond_32_bits_is_malformed(line: str) -> None:
    assert kinds(line) == [ProblemKind.MALFORMED]


def test_the_bulk_path_leaves_a_syscall_beyond_32_bits_to_the_line_parser(tmp_path: Path) -> None:
    text = f"type=SECCOMP msg=audit({STAMP}): {BEYOND_32_BITS}\n"
    block = count_block(text)
    assert block is None or all(FastDecoder().key(*key) is None for key in block.counts)
    log = tmp_path / "audit.log"
    log.write_text(text)
    findings = learn_from_logs([str(log)], Selection(), bulk_block=64)
    assert findings.selected == 0 and findings.problem_counts[ProblemKind.MALFORMED] == 1


def test_an_interpreted_number_beyond_32_bits_names_nothing() -> None:
    line = (
        "type=SECCOMP msg=audit(11/14/23 22:13:20.123:4567) : auid=root pid=1 comm=x exe=/x sig=SIG0 "
        "arch=x86_64 syscall=unknown-syscall(4294967397) compat=0 ip=0x0 code=log"
    )
    assert all(e.syscall is None for e in events(line))


# --- ausearch -i prints names decoded ------------------------------------------------------


@pytest.mark.parametrize(
    ("comm", "exe"),
    [(" syscall=ptrace", "/tmp/x"), ("x", "/tmp/d/x arch=x86_64 syscall=ptrace"), (" exe=/bin/sh", "/tmp/x")],
)
def test_interpreted_names_that_spell_fields_are_refused(comm: str, exe: str) -> None:
    line = (
        f"type=SECCOMP msg=audit(11/14/23 22:13:20.123:4567) : auid=user uid=user gid=user ses=3 pid=4242 "
        f"comm={comm} exe={exe} sig=SIG0 arch=x86_64 syscall=openat compat=0 ip=0x7f00000001 code=log "
    )
    assert not events(line)
    assert [k for k in kinds(line) if k is not ProblemKind.NOTE] == [ProblemKind.MALFORMED]


def test_a_subj_inside_a_name_is_not_the_label() -> None:
    line = (
        "type=SECCOMP msg=audit(11/14/23 22:13:20.123:4567) : auid=user uid=user gid=user ses=3 pid=4242 "
        "comm=x exe=/tmp/x subj=snap.firefox.firefox sig=SIG0 arch=x86_64 syscall=openat compat=0 ip=0x1 code=log"
    )
    (event,) = events(line)
    assert event.subj is None and event.syscall == "openat"


# --- linear time, bounded lines --------------------------------------------------------------


def _seconds(line: str) -> float:
    start = time.perf_counter()
    list(parse([line], "t.log"))
    return time.perf_counter() - start


LONG = "A" * 60_000  # one word: the tokenizer tried a match at each of its letters (quadratic)


@pytest.mark.parametrize(
    "line",
    [
        f"type=SECCOMP msg=audit({STAMP}): auid=1 {LONG} {BODY}",
        f"[ 1.0] audit: type=1326 audit({STAMP}): auid=1 {LONG} {BODY}",
        json.dumps({"_TRANSPORT": "kernel", "MESSAGE": f"audit: type=1326 audit({STAMP}): auid=1 {LONG} {BODY}"}),
        f"type=SECCOMP msg=audit(11/14/23 22:13:20.123:4567) : {LONG} {BODY}",
    ],
)
def test_a_long_line_parses_in_linear_time(line: str) -> None:
    assert len(line) <= MAX_RECORD_LINE
    assert _seconds(line) < 0.5  # was 6 s at this length, 21 s at 80 kB


def test_a_line_too_long_for_a_record_is_reported_not_decoded() -> None:
    line = json.dumps({"_TRANSPORT": "kernel", "MESSAGE": f"{KERNEL} {'A' * (10 << 20)}"})
    start = time.perf_counter()
    got = items(line)
    assert time.perf_counter() - start < 1
    assert [(type(p), p.kind) for p in got] == [(Problem, ProblemKind.MALFORMED)]
    assert "line longer than 64 KiB" in str(got[0])


@pytest.mark.parametrize("at", ["audit(", "auid=", "pid=", "syscall=", "<", "4,", "suppressed", "errno(", "(4"])
def test_numbers_of_thousands_of_digits_are_no_numbers(at: str) -> None:
    """int() refuses strings of over 4300 digits: a ValueError out of the parser is a traceback."""
    lines = [
        f"type=SECCOMP msg=audit({STAMP}): {BODY}",
        f"<4>[ 1.0] {KERNEL}",
        f"4,5,6,-;{KERNEL}",
        "[ 1.0] kauditd_printk_skb: 7 callbacks suppressed",
        "type=SECCOMP msg=audit(11/14/23 22:13:20.123:4567) : auid=user uid=user gid=user ses=3 pid=4242 "
        "comm=x exe=/x sig=SIG0 arch=x86_64 syscall=unknown-syscall(4) compat=0 ip=0x1 code=errno(3)",
    ]
    digits = "9" * 5000
    for line in lines:
        if at in line:
            hostile = line.replace(at, at + digits, 1)
            assert all(isinstance(i, Problem) for i in items(hostile) if i.__class__ is not SeccompEvent)


def test_deeply_nested_json_is_refused_not_a_recursion_error() -> None:
    line = '{"MESSAGE": "SECCOMP", "a": ' + "[" * 60_000
    assert kinds(line) == [ProblemKind.MALFORMED]


def test_empty_lines_cost_almost_nothing() -> None:
    start = time.perf_counter()
    assert not list(parse(["\n"] * 1_000_000, "t.log"))
    assert time.perf_counter() - start < 3


def test_a_wrapped_record_proves_nothing_and_strict_origin_refuses_it() -> None:
    parts = [AUDITD[:100], AUDITD[100:]]
    assert events(*parts) and not events(*parts, strict=True)
    assert kinds(*parts, strict=True) == [ProblemKind.UNTRUSTED]


def test_a_log_line_of_its_own_never_continues_a_cut_record() -> None:
    """A user's syslog line after a cut record must not finish it."""
    cut = f"Dec  2 09:40:01 vm kernel: {KERNEL}"[:-40]
    for forged in (f"Dec  2 09:40:01 vm app: {BODY[-40:]}", f"app[1]: {BODY[-40:]}", f"<13>{BODY[-40:]}"):
        assert not events(cut, forged)
