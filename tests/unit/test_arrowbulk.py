"""The Arrow block counter finds exactly what parsers.bulk finds, or leaves the block to it."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from learn.dedupe import Deduplicator, stamp_key
from parsers import arrowbulk
from parsers.bulk import BULK_LINE, count_block
from tests.conftest import CORPUS_LOGS, SAMPLE_LOGS

LOGS = sorted(p for p in [*CORPUS_LOGS.rglob("*.log"), *SAMPLE_LOGS.rglob("*.log")] if p.is_file())
LINE = (
    "type=SECCOMP msg=audit({stamp}): auid=1000 uid=1000 gid=1000 ses=3{subj} pid={pid} comm={comm} exe={exe} "
    "sig=0 arch={arch} syscall={nr} compat=0 ip=0x{ip} code=0x{code}{tail}"
)


def line(
    stamp: str = "1764590000.123:45",
    nr: int = 1,
    exe: str = '"/usr/bin/a"',
    code: str = "7ffc0000",
    tail: str = "",
    subj: str = "",
    comm: str = '"a"',
    arch: str = "c000003e",
    pid: int = 7,
    ip: str = "7f0011223344",
) -> str:
    return LINE.format(
        stamp=stamp, nr=nr, exe=exe, code=code, tail=tail, subj=subj, comm=comm, arch=arch, pid=pid, ip=ip
    )


def assert_same(block: str) -> arrowbulk.ArrowBlockCount | None:
    """The Arrow count of block, checked against parsers.bulk's, or where that leaves the block
    (a subj= with spaces), against the line parser's events (None if it left the block)."""
    fast = arrowbulk.count_block(block.encode("utf-8", "surrogateescape"))
    if fast is None:
        return None
    # parsers.bulk leaves a last line without "\n" to the line parser; with one it is a line like the others
    reference = count_block(block if not block or block.endswith("\n") else block + "\n")
    if reference is None:
        assert_same_as_line_parser(block, fast)
        return fast
    assert list(fast.counts.items()) == list(reference.counts.items())  # same counts, same first-seen order
    assert fast.others == reference.others
    assert fast.lines == reference.lines
    assert keys_of(fast) == (reference.hostless, reference.named, reference.named_hostless)
    return fast


def keys_of(fast: arrowbulk.ArrowBlockCount) -> tuple[list[int], list[int], list[int]]:
    if fast.hosts is not None:
        return fast.hosts.keys(stamp_key)
    return (fast.stamps.keys(stamp_key) if fast.stamps else []), [], []


def assert_same_as_line_parser(block: str, fast: arrowbulk.ArrowBlockCount) -> None:
    from learn.model import SeccompEvent
    from parsers import InputFormat, parse
    from parsers.fastpath import FastDecoder

    lines = block.split("\n")
    if block.endswith("\n"):
        lines.pop()
    record = re.compile(r"(?:node=\S+ )?type=SECCOMP msg=audit\(")
    events = [e for x in lines if record.match(x) for e in parse([x], "t", InputFormat.AUDITD)]
    assert all(isinstance(e, SeccompEvent) for e in events)
    expected: Counter[object] = Counter()
    for e in events:
        assert isinstance(e, SeccompEvent)
        expected[(e.arch, e.nr, e.syscall, e.action, e.exe)] += 1
    decode = FastDecoder()
    found: Counter[object] = Counter()
    for key, n in fast.counts.items():
        found[decode.key(*key)] += n
    assert found == expected
    stamped = [e for e in events if isinstance(e, SeccompEvent) and e.serial]
    hostless = [stamp_key(None, e.serial, str(e.nr)) for e in stamped if e.node is None]
    named = [stamp_key(e.node, e.serial, str(e.nr)) for e in stamped if e.node is not None]
    named_hostless = [stamp_key(None, e.serial, str(e.nr)) for e in stamped if e.node is not None]
    assert keys_of(fast) == (hostless, named, named_hostless)
    assert fast.lines == len(lines)


@pytest.mark.parametrize("path", LOGS, ids=lambda p: p.name)
def test_every_log_counts_the_same(path: Path) -> None:
    text = path.read_bytes().decode("utf-8", "replace")
    assert_same(text)
    lines = text.split("\n")
    for start in range(0, len(lines), 7):  # blocks of a few lines too, as small --bulk-block reads
        assert_same("\n".join(lines[start : start + 7]) + "\n")


def test_an_empty_block_counts_nothing() -> None:
    """A file truncated while it is read gives a block of nothing (the caller reports the loss)."""
    assert arrowbulk.count_block(b"") == arrowbulk.ArrowBlockCount(Counter(), None, [], 0)
    assert_same("\n")


def test_the_usual_forms_are_taken() -> None:
    block = "".join(
        line(stamp=f"1764590000.{ms:03d}:{serial}", nr=nr, code=code, tail=tail) + "\n"
        for ms, serial, nr, code, tail in [
            (1, 9, 0, "7ffc0000", ""),
            (2, 10, 59, "7ffc0000", '\x1dARCH=x86_64 SYSCALL=execve AUID="u" UID="u" GID="u"'),
            (3, 11, 1, "50001", ""),
            (4, 1234567890, 1, "80000000", ""),
        ]
    )
    block += "type=SYSCALL msg=audit(1764590000.005:12): arch=c000003e syscall=1 success=yes\n"
    block += line(stamp="1764590000.006:13", subj=" subj=snap.a.b (complain)", exe="2F612062", comm="(null)")
    fast = assert_same(block)  # and no newline at the end
    assert fast is not None and fast.stamps is not None
    assert sum(fast.counts.values()) == 5 and fast.lines == 6
    assert fast.stamps.first == (1764590000, 1, 9) and fast.stamps.last == (1764590000, 6, 13)


@pytest.mark.parametrize(
    "odd",
    [
        "node=web\t1 " + line(),  # not node=(\S+)
        "node=web\u00a01 " + line(),  # no-break space: Unicode whitespace, as \S reads the text
        line(exe='"/a b"'),  # a space in a quoted value (the kernel hex-encodes those)
        line(comm='"a\x1db"'),  # a \x1d before auditd's tail
        line(tail=" extra=1"),  # more after code=
        line(tail="ARCH=x86_64"),  # auditd's tail without its \x1d
        line(stamp="176459000.123:45"),  # 9-digit seconds
        line(stamp="1764590000.12:45"),  # 2-digit millis
        line(stamp="0764590000.123:45"),
        line(stamp="1764590000.123:045"),
        line(stamp="1764590000.123:12345678901"),
        line(code="07ffc0000"),
        line(code="17ffc0000"),  # beyond 32 bits
        line(nr=4294967296),
        line().replace("auid=1000", "auid=4294967296"),
        line().replace(" pid=", "  pid="),
    ],
)
def test_what_it_cannot_vouch_for_goes_the_slower_way(odd: str) -> None:
    assert arrowbulk.count_block((line() + "\n" + odd + "\n").encode()) is None


def test_odd_node_prefixes_are_read_as_parsers_bulk_reads_them() -> None:
    for node in ("node=web 1 ", "node= ", "node=a type=SECCOMP ", "node=x\x1dy "):
        assert_same(line() + "\n" + node + line(stamp="1764590000.124:46") + "\n")


def test_a_stamp_twice_goes_the_slower_way() -> None:
    assert arrowbulk.count_block((line() + "\n" + line(nr=2) + "\n").encode()) is None
    # the same number written two ways is the same stamp too
    assert arrowbulk.count_block((line() + "\n" + line(stamp="1764590000.123:46") + "\n").encode()) is not None


def test_it_takes_a_line_exactly_when_strict_line_does() -> None:
    lines = [x for path in LOGS for x in path.read_bytes().decode("utf-8", "replace").split("\n")]
    lines = [x for x in lines if x.startswith("type=SECCOMP msg=audit(")]
    lines += [line(exe=exe, code=code) for exe in ('"/a b"', '"/a"', "2F", "?") for code in ("0", "00", "1a", "1A")]
    rows = pa.array([(x + "\n").encode() for x in lines], pa.binary())
    strict = pc.match_substring_regex(rows, arrowbulk.STRICT_LINE).to_pylist()
    assert any(strict) and not all(strict)
    for text, ok in zip(lines, strict, strict=True):
        assert (arrowbulk.count_block((text + "\n").encode()) is not None) == ok, text
        if ok:
            assert BULK_LINE.match("\n" + text + "\n"), text


def test_it_looks_at_the_lines_parsers_bulk_looks_at() -> None:
    from parsers.bulk import _worth_a_look
    from parsers.framing import LOOK_MARKS

    samples = [f"x {mark} y" for mark in LOOK_MARKS] + ["{}", "x{", "nothing here", "type=PATH inode=13"]
    for path in LOGS:
        samples += path.read_bytes().decode("utf-8", "replace").split("\n")
    rows = pa.array([(s + "\n").encode() for s in samples], pa.binary())
    looks = pc.match_substring_regex(rows, arrowbulk.LOOK).to_pylist()
    assert looks == [_worth_a_look(s) for s in samples]


_STAMPS = st.tuples(st.integers(1_000_000_000, 9_999_999_999), st.integers(0, 999), st.integers(0, 4294967295))
_EXES = st.sampled_from(['"/usr/bin/a"', '"/b"', "2F612062", "(null)", "?", '"/\u00e9"'])
_TAILS = st.sampled_from(["", '\x1dARCH=x86_64 SYSCALL=read AUID="a" UID="b" GID="c"', "\x1d"])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            _STAMPS, st.integers(-1, 500), _EXES, st.sampled_from(["7ffc0000", "50001", "0", "80000000"]), _TAILS
        ),
        min_size=1,
        max_size=30,
    ),
    st.lists(st.sampled_from(["type=PATH item=0", "", "x seccomp y", "{}", "type=EOE msg=audit(1.2:3): "]), max_size=5),
)
def test_random_blocks_count_the_same(records: list[tuple[object, ...]], others: list[str]) -> None:
    texts = [
        line(stamp=f"{s}.{m:03d}:{n}", nr=nr, exe=exe, code=code, tail=tail)  # type: ignore[str-format]
        for (s, m, n), nr, exe, code, tail in records  # type: ignore[misc]
    ]
    block = "\n".join(texts[:1] + others + texts[1:]) + "\n"
    fast = assert_same(block)
    # the same records from two hosts of an aggregating server: the same stamps, told apart by node=
    hosts = "\n".join(f"node=h{i % 2} " + x for i, x in enumerate(texts[:1] + others + texts[1:])) + "\n"
    assert_same(hosts)
    assert_same(hosts + hosts.replace("node=h0 ", "node=h2 ").replace("node=h1 ", "node=h3 "))
    stamps = [r[0] for r in records]
    if len(set(stamps)) == len(stamps):
        assert fast is not None
        assert sum(fast.counts.values()) == len(records)


def test_blocks_taken_in_order_need_no_lookup_until_one_is_needed() -> None:
    first = arrowbulk.count_block((line(stamp="1764590000.001:1") + "\n").encode())
    second = arrowbulk.count_block((line(stamp="1764590000.002:2") + "\n").encode())
    assert first is not None and second is not None and first.stamps and second.stamps
    dedupe = Deduplicator()
    assert dedupe.accept_ordered(first.stamps) and dedupe.accept_ordered(second.stamps)
    assert not dedupe.accept_ordered(first.stamps)  # not after the last: looked up instead
    assert not dedupe.accept_stamps(first.stamps.keys(stamp_key), [], [])  # and found


def test_a_later_copy_of_a_block_taken_in_order_is_a_duplicate() -> None:
    from parsers import InputFormat, parse

    block = arrowbulk.count_block((line(stamp="1764590000.001:1", nr=3) + "\n").encode())
    assert block is not None and block.stamps is not None
    dedupe = Deduplicator()
    assert dedupe.accept_ordered(block.stamps)
    (event,) = parse([line(stamp="1764590000.001:1", nr=3)], "dmesg", InputFormat.AUTO)
    assert dedupe.is_duplicate(event)  # type: ignore[arg-type]
    (other,) = parse([line(stamp="1764590000.001:2", nr=3)], "dmesg", InputFormat.AUTO)
    assert not dedupe.is_duplicate(other)  # type: ignore[arg-type]


def test_the_window_forgets_as_the_line_path_does() -> None:
    dedupe = Deduplicator(stamp_window=2)
    for serial in range(1, 5):
        block = arrowbulk.count_block((line(stamp=f"1764590000.001:{serial}") + "\n").encode())
        assert block is not None and block.stamps is not None
        assert dedupe.accept_ordered(block.stamps)
    again = [stamp_key(None, f"1764590000.001:{serial}", "1") for serial in (1, 4)]
    assert dedupe.accept_stamps(again[:1], [], [])  # forgotten, as after 2 newer ones
    assert not dedupe.accept_stamps(again[1:], [], [])


def test_counts_have_the_first_seen_order() -> None:
    block = "".join(line(stamp=f"1764590000.001:{i}", nr=nr) + "\n" for i, nr in enumerate([5, 3, 5, 1], 1))
    fast = arrowbulk.count_block(block.encode())
    assert fast is not None
    assert [key[2] for key in fast.counts] == ["5", "3", "1"]
    assert fast.counts == Counter(
        {('"/usr/bin/a"', "c000003e", "5", "7ffc0000"): 2}
        | {('"/usr/bin/a"', "c000003e", "3", "7ffc0000"): 1, ('"/usr/bin/a"', "c000003e", "1", "7ffc0000"): 1}
    )


def test_a_kernel_log_beside_an_audit_log_counts_each_record_once(tmp_path: Path) -> None:
    from learn.pipeline import learn_from_logs
    from learn.select import Selection

    audit = SAMPLE_LOGS / "auditd" / "ls-la.audit.log"
    records = [x for x in audit.read_text().splitlines() if x.startswith("type=SECCOMP msg=")]
    kernel = tmp_path / "kern.log"
    kernel.write_text("".join("audit: type=1326 " + x.removeprefix("type=SECCOMP msg=") + "\n" for x in records[::3]))

    def summary(bulk_block: int | None) -> tuple[object, ...]:
        f = learn_from_logs([str(audit), str(kernel)], Selection(), bulk_block=bulk_block)
        return sorted(map(tuple, f.usage.astype(str).itertuples(index=False))), f.events, f.selected, f.duplicates

    reference = summary(None)
    assert reference[3] == len(records[::3]) > 0
    for block in (512, 4096, 1 << 20):
        assert summary(block) == reference


_NUMBERS = st.sampled_from(["0", "7", "4294967295", "4294967296", "9999999999", "01", "12345678901", "", "1a"])
_HEXES = st.sampled_from(["0", "7f00", "00007f0011223344", "7f00112233445566", "7f001122334455667", "7F", "", "0x1"])


@settings(max_examples=400, deadline=None)
@given(
    pid=_NUMBERS,
    auid=_NUMBERS,
    ip=_HEXES,
    code=st.sampled_from(["7ffc0000", "0", "00050001", "50001", "1ffffffff", "", "7FFC0000"]),
    subj=st.sampled_from(
        [
            "",
            " subj=unconfined",
            " subj=snap.a.b (complain)",
            " subj=a (Complain)",
            " subj=",
            " subj==/o/H L 2/h (enforce)",
            " subj=a pid=1 b",
            ' subj=x comm="a" exe="/fake" sig=0',
            " subj=a\x1db",
        ]
    ),
    comm=st.sampled_from(['"a"', '"a b"', "6120", "(null)", "?", '"x"y"']),
    exe=_EXES,
    stamp=st.sampled_from(["1764590000.123:45", "1764590000.123:0", "1764590000.123:4294967295", "1764590000.1:4"]),
    tail=_TAILS,
    node=st.sampled_from(["", "node=web1 ", "node=a.b.c ", "node=\u00e9 "]),
)
def test_random_lines_are_taken_exactly_when_strict_line_takes_them(
    pid: str, auid: str, ip: str, code: str, subj: str, comm: str, exe: str, stamp: str, tail: str, node: str
) -> None:
    text = line(stamp=stamp, exe=exe, code=code, tail=tail, subj=subj, comm=comm, ip=ip).replace(
        " pid=7 ", f" pid={pid} "
    )
    text = text.replace("auid=1000", f"auid={auid}")
    strict = pc.match_substring_regex(pa.array([(text + "\n").encode()], pa.binary()), arrowbulk.STRICT_LINE)[0]
    taken = assert_same(node + text + "\n")
    # RE2 cannot say "no ' pid=' in subj=": there the line parser's lazy subj= would end
    assert (taken is not None) == (strict.as_py() and " pid=" not in subj), text


_PIECES = st.sampled_from(
    [
        line(),
        "node=h ",
        "\n",
        " ",
        "\x1d",
        ")",
        "type=SECCOMP msg=audit(",
        " pid=",
        " comm=",
        " ip=0x",
        " code=0x",
        "0",
        "é",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_PIECES, st.text(max_size=12)), max_size=40), st.binary(max_size=64))
def test_any_bytes_give_the_answer_or_none_never_an_error(pieces: list[str], noise: bytes) -> None:
    """Hostile input: whatever the block holds, the counter answers as parsers.bulk does or leaves it."""
    data = "".join(pieces).encode("utf-8", "surrogateescape") + noise
    counted = arrowbulk.count_block(data)
    if counted is not None:
        assert_same(data.decode("utf-8", "replace"))
