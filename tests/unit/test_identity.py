"""A record's identity and decoding do not depend on the path that reads it or on the reader.

The general tokenizer, the fast line path and the bulk counter give one answer on every
input; node= is part of a record's identity; a record without arch= is not the reader's arch;
`ausearch -i` local times are read in a named zone.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from learn.dedupe import Deduplicator
from learn.model import Action, Item, Problem, ProblemKind, SeccompEvent
from learn.pipeline import learn_from_logs
from learn.select import Selection
from parsers import DecodeOptions, parse
from parsers.auditd import frame_auditd
from parsers.framing import Framed
from parsers.record import BadRecord, decode_general, parse_stamp
from parsers.stamps import named_zone

GOOD = {
    "auid": "4294967295", "uid": "0", "gid": "0", "ses": "4294967295", "pid": "7094", "comm": '"ls"',
    "exe": '"/usr/bin/ls"', "sig": "0", "arch": "c000003e", "syscall": "257", "compat": "0",
    "ip": "0x7f48c5b2ac47", "code": "0x7ffc0000",
}  # fmt: skip
ODD_NUMBERS = [
    "4294967295", "4294967296", "18446744073709551615", "18446744073709551616", "-1", "-0", "-5", "0", "00",
    "007", "0x10", "0xffffffff", "", "+5", "1_0", "\u0663", "99999999999999999999", "2147483648",
]  # fmt: skip
NUMBER = st.one_of(st.sampled_from(ODD_NUMBERS), st.integers(0, 2**33).map(str))
VALUES = {
    **{key: NUMBER for key in ("auid", "uid", "gid", "ses", "pid", "sig")},
    "syscall": st.one_of(NUMBER, st.sampled_from([str(0x40000000 | 257), "59", "11", "4294967295"])),
    "arch": st.sampled_from(["c000003e", "40000003", "0c000003e", "C000003E", "c000003f", "1c000003e", "", "0x1"]),
    "compat": st.sampled_from(["0", "1", "10", ""]),
    "ip": st.one_of(
        st.integers(0, 2**66).map(lambda v: f"0x{v:x}"),
        st.sampled_from(["0x", "12", "0x00000000000000000001", "0xFFFF", "-0x1"]),
    ),
    "code": st.sampled_from(
        ["0x7ffc0000", "0x50026", "0x007ffc0000", "0x17ffc0000", "0x100000000", "0x7ffc", "log", "0x0", "0x80000000"]
    ),
    "comm": st.sampled_from(['"ls"', "6C73", "(null)", '"a b"']),
    "exe": st.sampled_from(['"/usr/bin/ls"', "2F62696E2F6C73", "?"]),
}
STAMPS = st.sampled_from(["1.002:3", "1.002:4", "01.002:3", "1.002:\u0663", "1.2"])
NODES = st.sampled_from(["", "", "node=a ", "node=b ", "node= ", "node=\u00a0x "])


@st.composite
def records(draw: st.DrawFn) -> str:
    fields = {key: draw(VALUES[key]) if key in VALUES and draw(st.booleans()) else value for key, value in GOOD.items()}
    dropped = draw(st.sets(st.sampled_from(sorted(GOOD)), max_size=2)) if draw(st.integers(0, 9)) == 0 else set()
    body = " ".join(f"{k}={v}" for k, v in fields.items() if k not in dropped)
    return f"{draw(NODES)}type=SECCOMP msg=audit({draw(STAMPS)}): {body}"


def general_path(line: str) -> list[Item]:
    """The reference: framing, then the tokenizer alone (no fast path)."""
    framed = frame_auditd(line)
    if not isinstance(framed, Framed):
        return list(parse([line], "x"))  # not a record the decoders see
    try:
        serial, ts = parse_stamp(framed.stamp) if framed.stamp is not None else (None, None)
    except BadRecord as bad:
        return [Problem(bad.kind, str(bad), "x", 1)]
    return list(decode_general(framed.body, serial, ts, "x", 1, interpreted=framed.interpreted, node=framed.node))


PATHS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PATHS
@given(records())
def test_fast_line_path_answers_as_the_general_path(line: str) -> None:
    assert list(parse([line], "x")) == general_path(line)


def _findings(path: str, bulk_block: int | None) -> tuple[object, ...]:
    f = learn_from_logs([path], Selection(actions=frozenset(Action)), bulk_block=bulk_block)
    rows = sorted(tuple(map(str, row)) for row in f.usage.itertuples(index=False))
    return rows, sorted(map(str, f.problems)), f.events, f.selected, f.duplicates


@PATHS
@given(st.lists(records(), min_size=1, max_size=6), st.sampled_from([1, 64, 4096]))
def test_bulk_counter_answers_as_the_line_path(lines: list[str], block: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp, "audit.log")
        log.write_text("".join(line + "\n" for line in [*lines, *lines[::2]]), encoding="utf-8")
        assert _findings(str(log), block) == _findings(str(log), None)


def test_ids_and_numbers_beyond_their_width_are_refused_by_every_path() -> None:
    base = "type=SECCOMP msg=audit(1.002:3): " + " ".join(f"{k}={v}" for k, v in GOOD.items())
    for bad in ("pid=4294967296", "gid=18446744073709551616", "syscall=4294967296", "syscall=-5",
                "ip=0x1ffffffffffffffff", "code=0x17ffc0000"):  # fmt: skip
        key = bad.split("=")[0]
        line = base.replace(f" {key}={GOOD[key]}", f" {bad}")
        assert [type(i) for i in parse([line], "x")] == [Problem], line
        with tempfile.TemporaryDirectory() as tmp:
            log = Path(tmp, "audit.log")
            log.write_text(line + "\n")
            assert learn_from_logs([str(log)], Selection(), bulk_block=64).events == 0


# -- node= is part of a record's identity ----------------------------------------------------

RECORD = "type=SECCOMP msg=audit(1700000000.123:4567): " + " ".join(f"{k}={v}" for k, v in GOOD.items())


@pytest.mark.parametrize("bulk_block", [None, 64, 1 << 20])
def test_two_hosts_with_one_stamp_are_two_records(tmp_path: Path, bulk_block: int | None) -> None:
    log = tmp_path / "aggregated.log"
    log.write_text(f"node=a {RECORD}\nnode=b {RECORD}\nnode=a {RECORD}\n")
    f = learn_from_logs([str(log)], Selection(), bulk_block=bulk_block)
    assert (f.events, f.duplicates) == (2, 1)


@pytest.mark.parametrize("bulk_block", [None, 64, 1 << 20])
def test_a_copy_without_node_is_one_of_the_named_copies(tmp_path: Path, bulk_block: int | None) -> None:
    """dmesg (no node=) beside an audit.log written with name_format: one record, not two."""
    log = tmp_path / "mixed.log"
    log.write_text(f"{RECORD}\nnode=a {RECORD}\nnode=b {RECORD}\n{RECORD}\n")
    f = learn_from_logs([str(log)], Selection(), bulk_block=bulk_block)
    assert (f.events, f.duplicates) == (2, 2)


def test_events_carry_their_node() -> None:
    events = [e for e in Deduplicator()(parse([f"node=a {RECORD}", f"node=b {RECORD}"], "x"))]
    assert [e.node for e in events if isinstance(e, SeccompEvent)] == ["a", "b"]
    assert events[0].to_json_dict()["node"] == "a"  # type: ignore[union-attr]


# -- a record without arch= --------------------------------------------------------------------

LEGACY = (
    'audit: type=1701 audit(1357000000.100:20): auid=1000 uid=1000 gid=1000 ses=1 pid=99 comm="a" '
    'exe="/a" reason="seccomp" sig=31 syscall=39 compat={compat} ip=0x7f0 code=0x0'
)
OLD_SECCOMP = (
    'type=SECCOMP msg=audit(1400000000.100:21): auid=1000 uid=1000 gid=1000 ses=1 pid=99 comm="a" '
    'exe="/a" sig=0 syscall=2 compat=0 ip=0x7f0 code=0x7ffc0000'
)


def test_a_record_without_arch_is_of_unknown_arch_not_the_readers() -> None:
    for line in (LEGACY.format(compat=0), OLD_SECCOMP):
        problem, event = parse([line], "x")
        assert isinstance(event, SeccompEvent) and isinstance(problem, Problem)
        assert (event.arch, event.syscall) == ("unknown", None) and event.nr in (39, 2)
        assert problem.kind is ProblemKind.UNKNOWN_ARCH and "--arch" in problem.message


@pytest.mark.parametrize(("arch", "compat", "expected"), [("x86_64", 0, "getpid"), ("x86_64", 1, "mkdir")])
def test_arch_given_by_the_user_names_such_records(arch: str, compat: int, expected: str) -> None:
    (event,) = parse([LEGACY.format(compat=compat)], "x", options=DecodeOptions(missing_arch=arch))
    assert isinstance(event, SeccompEvent)
    assert (event.arch, event.syscall) == (("x86" if compat else "x86_64"), expected)


def test_unknown_arch_stays_out_of_the_profile(tmp_path: Path) -> None:
    from learn.aggregate import allowed_by_arch

    log = tmp_path / "old.log"
    log.write_text(LEGACY.format(compat=0) + "\n")
    f = learn_from_logs([str(log)], Selection(actions=frozenset(Action)))
    assert f.selected == 1 and allowed_by_arch(f.usage) == {}
    assert f.problem_counts[ProblemKind.UNKNOWN_ARCH] == 1


# -- ausearch -i stamps are local time of a named zone ------------------------------------------

# The same record as chromiumos' debugd test log writes it raw and through ausearch -i, on a
# machine in Australia/Sydney (AEST, UTC+10, in June).
RAW = (
    "type=SECCOMP msg=audit(1750922692.830:4911): auid=4294967295 uid=1000 gid=1001 ses=4294967295 pid=83658 "
    'comm="AsyncLocalStore" exe="/opt/drivefs" sig=31 arch=c00000b7 syscall=227 compat=0 ip=0x7d0767988c '
    "code=0x0"
)
INTERPRETED = (
    "type=SECCOMP msg=audit(06/26/25 17:24:52.830:4911) : auid=unset uid=chronos gid=chronos ses=unset "
    "pid=83658 comm=AsyncLocalStore exe=/opt/drivefs sig=SIGSYS arch=aarch64 syscall=msync compat=0 "
    "ip=0x7d0767988c code=kill"
)


def test_interpreted_stamps_are_read_in_the_zone_given() -> None:
    options = DecodeOptions(zone=named_zone("Australia/Sydney").zone)
    items = list(Deduplicator()(parse([RAW, INTERPRETED], "x", options=options)))
    assert len(items) == 1  # the same record twice: no note, the zone was named


def test_interpreted_stamps_default_to_the_readers_zone_and_say_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Australia/Sydney")
    note, event = parse([INTERPRETED], "x")
    assert isinstance(note, Problem) and note.kind is ProblemKind.NOTE and "Australia/Sydney" in note.message
    assert isinstance(event, SeccompEvent) and event.serial == "1750922692.830:4911"
    monkeypatch.setenv("TZ", "UTC")
    _, event = parse([INTERPRETED], "x")
    assert isinstance(event, SeccompEvent) and event.serial == "1750958692.830:4911"


def test_a_zone_name_that_is_none_is_refused() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        named_zone("Mars/Olympus_Mons")


# -- the command line ------------------------------------------------------------------------


def _learn(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "learn", *map(str, args)], capture_output=True, text=True, check=False)


def test_suggest_names_records_without_arch_only_when_told(tmp_path: Path) -> None:
    log = tmp_path / "old.log"
    log.write_text(LEGACY.format(compat=0) + "\n")
    unnamed = _learn("suggest", "--action", "all", log, "-o", tmp_path / "p.json")
    assert unnamed.returncode == 1 and not (tmp_path / "p.json").exists()
    assert "learn: error: the selected records name no arch" in unnamed.stderr and "--arch" in unnamed.stderr
    named = _learn("suggest", "--action", "all", "--arch", "x86_64", log)
    assert named.returncode == 0, named.stderr
    assert "getpid" in json.loads(named.stdout)["syscalls"][0]["names"]
    bad = _learn("suggest", "--arch", "sparc", log)
    assert bad.returncode == 2 and bad.stderr.count("learn: error:") == 1 and "Traceback" not in bad.stderr


def test_events_reads_interpreted_stamps_in_the_zone_given(tmp_path: Path) -> None:
    log = tmp_path / "two-forms.log"
    log.write_text(f"{RAW}\n{INTERPRETED}\n")
    default = _learn("events", log)
    assert len(default.stdout.splitlines()) == 2 and "read as UTC" in default.stderr  # tests run with TZ=UTC
    sydney = _learn("events", "--timezone", "Australia/Sydney", log)
    assert len(sydney.stdout.splitlines()) == 1 and sydney.stderr == ""
    bad = _learn("events", "--timezone", "Mars/Olympus_Mons", log)
    assert bad.returncode == 2 and bad.stderr.count("learn: error:") == 1 and "Traceback" not in bad.stderr
