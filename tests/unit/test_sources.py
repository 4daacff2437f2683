"""Reading inputs: lines end at "\\n" only, blank lines are cheap, memory is bounded, gzip is
bounded, files that change while read are reported, rotated sets are read oldest first, and
what is not a log is refused with one line."""

from __future__ import annotations

import gzip
import json
import os
import resource
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from learn.errors import InputError
from learn.lines import LineSplitter
from learn.model import ProblemKind
from learn.pipeline import learn_from_logs
from learn.select import Selection
from learn.sources import LogLines, expand
from tests.conftest import ROOT, SAMPLE_LOGS

LEARN = [sys.executable, "-m", "learn"]
AUDIT_LOG = SAMPLE_LOGS / "auditd" / "ls-la.audit.log"
RECORD = AUDIT_LOG.read_bytes().split(b"\n")[0] + b"\n"
KERNEL_RECORD = (SAMPLE_LOGS / "kernel" / "true.dmesg.log").read_bytes().split(b"\n")[0] + b"\n"


def learn(*args: str | Path, limit_as: int | None = None) -> subprocess.CompletedProcess[bytes]:
    def limit() -> None:
        if limit_as is not None:
            resource.setrlimit(resource.RLIMIT_AS, (limit_as, limit_as))

    env = {**os.environ, "COLUMNS": "200", "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run(
        [*LEARN, *map(str, args)], capture_output=True, cwd=ROOT, env=env, check=False, preexec_fn=limit
    )


def one_line_error(result: subprocess.CompletedProcess[bytes], code: int = 2) -> str:
    stderr = result.stderr.decode()
    assert result.returncode == code, stderr
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("learn: error:")]
    assert len(errors) == 1, stderr
    return errors[0]


def numbered(data: bytes, block: int = 1 << 20) -> list[tuple[int, str]]:
    splitter = LineSplitter("f")
    out = []
    for at in range(0, len(data), block):
        out += list(splitter.feed(data[at : at + block]))
    return out + list(splitter.finish())


# Lines


def test_lines_end_at_newline_only_not_at_carriage_return(tmp_path: Path) -> None:
    # A kernel message may hold a raw \r (a file name an unprivileged user chose): it is not a line end.
    log = tmp_path / "dmesg.log"
    log.write_bytes(b"[    1.000000] a message\r[    2.000000] its second half\n" + KERNEL_RECORD)
    assert [n for n, _ in LogLines(str(log))] == [1, 2]
    result = learn("events", log)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["line"] == 2


def test_carriage_return_and_separators_stay_inside_the_line() -> None:
    data = b"a\rb\x1dc\x1cd\x0be\r\nnext\n"
    assert numbered(data) == [(1, "a\rb\x1dc\x1cd\x0be\r"), (2, "next")]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from([b"\n", b"\n" * 40, b"ab", b"\r", b"\xc3\xa9", b"x" * 30, b"\xff"]), max_size=60),
    st.integers(1, 50),
    st.sampled_from([20, 1 << 16]),
)
def test_split_equals_a_plain_split_whatever_the_blocks(parts: list[bytes], block: int, max_line: int) -> None:
    data = b"".join(parts)
    splitter = LineSplitter("f", max_line=max_line)
    got = []
    for at in range(0, len(data), block):
        got += list(splitter.feed(data[at : at + block]))
    got += list(splitter.finish())
    raw = data.split(b"\n")
    expected = [(i, line.decode("utf-8", errors="replace")) for i, line in enumerate(raw, 1) if line]
    assert got == [(i, line) for i, line in expected if len(raw[i - 1]) <= max_line]
    assert sorted(p.line for p in splitter.problems) == [i for i, line in enumerate(raw, 1) if len(line) > max_line]


def test_blank_lines_cost_almost_nothing_and_keep_line_numbers(tmp_path: Path) -> None:
    # 600 MiB of newlines in a multi-member .gz (as `cat a.gz b.gz` makes), then one record.
    member = gzip.compress(b"\n" * (1 << 20))
    log = tmp_path / "blank.log.gz"
    log.write_bytes(member * 600 + gzip.compress(RECORD))
    started = time.monotonic()
    result = learn("events", log)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["line"] == 600 * (1 << 20) + 1
    assert time.monotonic() - started < 30  # was about 40 s on the old reader


def test_a_line_longer_than_the_cap_is_skipped_and_reported(tmp_path: Path) -> None:
    log = tmp_path / "long.log"
    log.write_bytes(RECORD + b"x" * (200 << 10) + b"\n" + RECORD.replace(b"syscall=59", b"syscall=1") + RECORD)
    items = learn("events", log)
    assert items.returncode == 0
    assert [json.loads(line)["line"] for line in items.stdout.splitlines()] == [1, 3]
    assert b"long.log:2: malformed: line longer than 64 KiB, skipped" in items.stderr


def test_memory_does_not_follow_the_size_of_a_line(tmp_path: Path) -> None:
    sparse = tmp_path / "sparse.log"  # one line of 2 GiB of NULs, as `truncate -s 2G` makes
    with sparse.open("wb") as f:
        f.truncate(2 << 30)
    result = learn("suggest", sparse, limit_as=1536 << 20)
    stderr = result.stderr.decode()
    assert result.returncode == 1, stderr  # no records; the line is reported, never held
    assert "Traceback" not in stderr and "sparse.log:1: malformed: line longer than 64 KiB" in stderr


# gzip


def test_a_gzip_bomb_is_refused_with_one_line(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.log.gz"
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 31)
    with bomb.open("wb") as f:
        for _ in range(1100):
            f.write(squeeze.compress(b"\n" * (1 << 20)))
        f.write(squeeze.flush())
    assert bomb.stat().st_size < 2 << 20
    started = time.monotonic()
    error = one_line_error(learn("suggest", bomb))
    assert "bomb.log.gz: refused, decompresses to over 1 GiB" in error and "zcat" in error
    assert time.monotonic() - started < 30


def test_gzip_of_a_real_log_is_read_and_a_cut_one_refused(tmp_path: Path) -> None:
    packed = gzip.compress(AUDIT_LOG.read_bytes())
    (tmp_path / "a.log.gz").write_bytes(packed)
    assert learn("suggest", tmp_path / "a.log.gz").returncode == 0
    (tmp_path / "cut.log.gz").write_bytes(packed[: len(packed) // 2])
    assert "ends before the end of the gzip stream" in one_line_error(learn("suggest", tmp_path / "cut.log.gz"))


# Not a log, unreadable


def test_an_elf_or_binary_data_is_not_a_log(tmp_path: Path) -> None:
    assert "/bin/true: not a log (an ELF binary)" in one_line_error(learn("suggest", "/bin/true"))
    noise = tmp_path / "noise"
    noise.write_bytes(os.urandom(100_000))
    assert "noise: not a log (binary data)" in one_line_error(learn("suggest", noise))
    (tmp_path / "noise.gz").write_bytes(gzip.compress(os.urandom(100_000)))
    assert "noise.gz: not a log (binary data)" in one_line_error(learn("events", tmp_path / "noise.gz"))


def test_text_with_nul_runs_or_colours_is_still_a_log(tmp_path: Path) -> None:
    # A syslog after a crash holds runs of NULs; dmesg --color=always writes ESC sequences.
    log = tmp_path / "syslog"
    log.write_bytes(b"\0" * 50_000 + b"\n" + b"\x1b[32mhello\x1b[0m\n" + RECORD)
    result = learn("suggest", log)
    assert result.returncode == 0, result.stderr


def test_unreadable_inputs_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "/proc/self/mem: Input/output error" in one_line_error(learn("suggest", "/proc/self/mem"))
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "audit.log").write_bytes(RECORD)

    def refuse(path: object) -> list[str]:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "listdir", refuse)
    with pytest.raises(InputError, match="Permission denied"):
        expand([str(tmp_path / "d")])


def test_memory_error_while_reading_is_an_input_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(RECORD)

    def no_memory(self: LineSplitter, block: bytes) -> None:
        raise MemoryError

    monkeypatch.setattr(LineSplitter, "feed", no_memory)
    with pytest.raises(InputError, match="out of memory"):
        list(LogLines(str(log)))


# Files that change while read


def _big_log(path: Path, records: int) -> list[bytes]:
    lines = [RECORD.replace(b":2729)", b":%d)" % (10_000 + n)) for n in range(records)]
    path.write_bytes(b"".join(lines))
    return lines


def _on_first_block(action: Callable[[], None]) -> Callable[[str, int | None], Callable[[int], None]]:
    done = []

    def start(_path: str, _size: int | None) -> Callable[[int], None]:
        def advance(_n: int) -> None:
            if not done:
                done.append(True)
                action()

        return advance

    return start


@pytest.mark.parametrize("bulk_block", [None, 1 << 20])
def test_a_file_truncated_while_read_is_loss(tmp_path: Path, bulk_block: int | None) -> None:
    log = tmp_path / "audit.log"
    _big_log(log, 20_000)  # about 4 MB: several blocks either way
    findings = learn_from_logs(
        [str(log)], Selection(), progress=_on_first_block(lambda: os.truncate(log, 0)), bulk_block=bulk_block
    )
    assert findings.loss_reported
    assert any("shrank from" in p.message for p in findings.problems if p.kind is ProblemKind.LOSS)


@pytest.mark.parametrize("bulk_block", [None, 1 << 20])
@pytest.mark.parametrize("how", ["replaced", "removed"])
def test_a_file_replaced_or_removed_while_read_is_read_whole_and_loss(
    tmp_path: Path, bulk_block: int | None, how: str
) -> None:
    log = tmp_path / "audit.log"
    _big_log(log, 20_000)
    other = tmp_path / "other.log"
    other.write_bytes(RECORD.replace(b"syscall=59", b"syscall=101") * 20_000)

    def change() -> None:
        if how == "replaced":
            os.replace(other, log)  # as mv does
        else:
            os.unlink(log)

    findings = learn_from_logs([str(log)], Selection(), progress=_on_first_block(change), bulk_block=bulk_block)
    assert findings.events == 20_000 and findings.selected == 20_000
    assert set(findings.usage["syscall"]) == {"execve"}  # nothing of the other file
    assert findings.loss_reported  # exit 4: records written meanwhile to the new file were not read
    assert any(
        "replaced or removed while it was read" in p.message for p in findings.problems if p.kind is ProblemKind.LOSS
    )


def test_a_file_that_grows_while_read_says_nothing(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    _big_log(log, 20_000)

    def grow() -> None:
        with log.open("ab") as f:
            f.write(RECORD.replace(b":2729)", b":99)"))

    findings = learn_from_logs([str(log)], Selection(), progress=_on_first_block(grow))
    assert not findings.problems and findings.events == 20_001


# Rotated sets, stdin


def test_rotated_logs_with_date_suffixes_are_read_oldest_first(tmp_path: Path) -> None:
    names = [
        "audit.log", "audit.log-20251201", "audit.log-20251115", "syslog-20251201.gz", "syslog",
        "syslog-20251110.gz", "messages-20251201", "messages.1", "messages", "kern.log.2.gz", "kern.log.10.gz",
    ]  # fmt: skip
    for name in names:
        (tmp_path / name).write_bytes(b"")
    got = [os.path.basename(p) for p in expand([str(tmp_path)])]
    for older, newer in [
        ("audit.log-20251115", "audit.log-20251201"),
        ("audit.log-20251201", "audit.log"),
        ("syslog-20251110.gz", "syslog-20251201.gz"),
        ("syslog-20251201.gz", "syslog"),
        ("messages.1", "messages-20251201"),
        ("messages-20251201", "messages"),
        ("kern.log.10.gz", "kern.log.2.gz"),
    ]:
        assert got.index(older) < got.index(newer), got
    named = [str(tmp_path / n) for n in ("audit.log", "audit.log-20251201", "audit.log-20251115")]
    assert [os.path.basename(p) for p in expand(named)] == ["audit.log-20251115", "audit.log-20251201", "audit.log"]


def test_stdin_is_read_in_blocks_and_reports_progress_without_a_size(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    data = AUDIT_LOG.read_bytes() * 40  # about 2.4 MB
    reads: list[int] = []

    class Pipe(io.BytesIO):
        def read1(self, n: int = -1) -> bytes:
            reads.append(n)
            return super().read1(n)

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(Pipe(data)))
    sizes: list[int | None] = []
    advanced: list[int] = []

    def start(path: str, size: int | None) -> Callable[[int], None]:
        sizes.append(size)
        return advanced.append

    lines = list(LogLines("-", start))
    assert len(lines) == data.count(b"\n")
    assert sizes == [None] and sum(advanced) == len(data)
    assert min(reads) >= 1 << 20 and len(reads) <= 4


def test_other_compressors_and_journal_files_say_how_to_read_them(tmp_path: Path) -> None:
    xz = tmp_path / "audit.log.1.xz"
    xz.write_bytes(subprocess.run(["xz", "-c", str(AUDIT_LOG)], capture_output=True, check=True).stdout)
    assert "audit.log.1.xz: not a log (xz-compressed)" in one_line_error(learn("suggest", xz))
    journal = tmp_path / "system.journal"
    journal.write_bytes(b"LPKSHHRH" + bytes(4096))
    error = one_line_error(learn("suggest", journal))
    assert "not a log (a journald journal file)" in error and "journalctl --file" in error
