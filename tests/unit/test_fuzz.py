"""Fuzzing the parsers: no input crashes them, and a damaged record never yields a wrong syscall."""

from __future__ import annotations

import json
import tempfile
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from learn.dedupe import Deduplicator
from learn.model import Problem, SeccompEvent
from learn.sources import LogLines
from parsers import DecodeOptions, parse
from parsers.framing import MAX_RECORD_LINE
from tests.unit.test_forms import ACCEPTED, FORGED

RECORD_ALPHABET = st.sampled_from(
    list('type=SECCOMP msg=audit(1.2:3): auid uid=0 arch=c000003e syscall=1 code=0x7ffc0000"[]<>;:,\x1d\n{}')
)
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.lists(st.text(max_size=300), max_size=20))
def test_arbitrary_text_never_crashes(lines: list[str]) -> None:
    for item in Deduplicator()(parse(lines, "fuzz")):
        assert isinstance(item, SeccompEvent | Problem)


@FUZZ
@given(st.lists(st.text(alphabet=RECORD_ALPHABET, max_size=200), max_size=10))
def test_record_like_text_never_crashes(lines: list[str]) -> None:
    for item in parse(lines, "fuzz"):
        assert isinstance(item, SeccompEvent | Problem)


@FUZZ
@given(st.sampled_from(ACCEPTED + FORGED), st.integers(min_value=0, max_value=400))
def test_a_record_cut_anywhere_gives_the_right_syscall_or_a_problem(line: str, cut: int) -> None:
    (whole,) = [e for e in parse([line], "x") if isinstance(e, SeccompEvent)] or [None]
    for item in parse([line[:cut]], "x"):
        if isinstance(item, SeccompEvent):
            assert whole is not None
            assert (item.arch, item.nr, item.action) == (whole.arch, whole.nr, whole.action)


@FUZZ
@given(st.sampled_from(ACCEPTED), st.integers(min_value=0, max_value=400), st.characters())
def test_a_corrupted_byte_never_crashes(line: str, where: int, char: str) -> None:
    where = min(where, len(line))
    for item in parse([line[:where] + char + line[where + 1 :]], "x"):
        assert isinstance(item, SeccompEvent | Problem)


# --- hostile input: long lines, carriage returns, records inside other messages, forged tags ---

HOSTILE = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Prefixes after which the kernel's own message begins (dmesg plain, -T, -r, -x, /dev/kmsg).
KERNEL_PREFIXES = [
    "",
    "[  723.270190] ",
    "[Wed Dec  2 09:38:18 2026] ",
    "<4>[  1.0] ",
    "kern  :warn  : [ 1.0] ",
    "4,5,6,-;",
]
SYSLOG_TAGS = ["kernel", "kernel[1]", "audit", "audit[1234]", "systemd", "kernel:", "a kernel"]
SYSLOG_TIMES = ["Dec  2 09:40:01", "2026-12-02T09:40:01.123456+00:00", "[ 1234.567890]"]
TIME_BOUND = 1.0  # seconds per input; a quadratic parser took 6 s on a 60 kB line


def _timed(lines: list[str], strict: bool = False) -> list[SeccompEvent | Problem]:
    start = time.perf_counter()
    got = list(parse(lines, "fuzz", options=DecodeOptions(strict_origin=strict)))
    assert time.perf_counter() - start < TIME_BOUND
    return got


JOURNAL_JSON = [
    json.dumps({"_TRANSPORT": "kernel", "MESSAGE": ACCEPTED[4]}),
    json.dumps({"_TRANSPORT": "audit", "_AUDIT_TYPE": "1326", "_AUDIT_ID": "7", "MESSAGE": "SECCOMP auid=1"}),
]


@HOSTILE
@given(
    st.sampled_from(ACCEPTED + FORGED + JOURNAL_JSON),
    st.integers(min_value=0, max_value=400),
    st.sampled_from(["A", "a=", " ", '"', "=", "0", "9", "[", '{"a":', "\x1d", "é", "²", "a b "]),
    st.integers(min_value=1000, max_value=MAX_RECORD_LINE + 4000),
)
def test_long_lines_parse_in_bounded_time(line: str, where: int, unit: str, length: int) -> None:
    where = min(where, len(line))
    padded = line[:where] + unit * (length // len(unit)) + line[where:]
    for item in _timed([padded]):
        assert isinstance(item, SeccompEvent | Problem)


@HOSTILE
@given(
    st.sampled_from(KERNEL_PREFIXES),
    # Another message has text: a line of blanks before a record is a paste's indentation
    # (parsers/pasted.py), which dmesg's continuation lines exceed (test_hostile).
    st.text(alphabet="abcdefg '/.,", min_size=1, max_size=60).filter(str.strip),
    st.sampled_from(["\r", "\r\r", " ", "\t", "\x0b", "\x0c", "\x85", "\u2028"]),
    st.sampled_from(ACCEPTED),
)
def test_a_record_inside_another_kernel_message_never_counts(
    prefix: str, message: str, separator: str, record: str
) -> None:
    """Whatever separates them, text after the start of another kernel message is not a record,
    also once the line went through the file reader."""
    line = f"{prefix}{message}{separator}{record}\n"
    assert not [e for e in _timed([line]) if isinstance(e, SeccompEvent)]
    with tempfile.NamedTemporaryFile("wb", suffix=".log") as log:
        log.write(line.encode())
        log.flush()
        read = [text for _, text in LogLines(log.name)]
    assert len(read) == 1
    assert not [e for e in _timed(read) if isinstance(e, SeccompEvent)]


@HOSTILE
@given(
    st.sampled_from(SYSLOG_TIMES), st.sampled_from(["vm ", ""]), st.sampled_from(SYSLOG_TAGS), st.sampled_from(ACCEPTED)
)
def test_strict_origin_accepts_no_text_syslog_line(when: str, host: str, tag: str, record: str) -> None:
    body = record.split(": ", 1)[1] if record.startswith(("audit:", "type=")) else record
    for line in (f"{when} {host}{tag}: {record}", f"{when} {host}{tag}: SECCOMP {body}"):
        assert not [e for e in _timed([line], strict=True) if isinstance(e, SeccompEvent)]
