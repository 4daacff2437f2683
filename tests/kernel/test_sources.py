"""Live record sources against the real kernel: a child runs under a SECCOMP_RET_LOG filter,
and each source must hand back its records or say how many it lost, never miss them silently."""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyseccomp
import pytest

from learn.errors import KernelError
from learn.kernel import features
from learn.kernel.sources import SpoolingSource, choose_source
from learn.kernel.sources import auditd as auditd_module
from learn.kernel.sources.auditd import AuditdSource
from learn.kernel.sources.kmsg import KmsgSource
from learn.kernel.sources.loss import LossKind
from learn.kernel.sources.netlink import NetlinkSource
from learn.model import SeccompEvent
from parsers import parse

BURST = 200_000
ROOT = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: seccomp filters and audit records")
PR_SET_NO_NEW_PRIVS = 38


def _log_filter() -> Any:
    """Every syscall allowed and logged, on every x86 ABI so a 32-bit call is no way out."""
    flt = pyseccomp.SyscallFilter(pyseccomp.LOG)
    if os.uname().machine == "x86_64":
        flt.add_arch(pyseccomp.Arch.X86)
        flt.add_arch(pyseccomp.Arch.X32)
    return flt


def _enter_log_filter(flt: Any) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        os._exit(120)
    flt.load()


def run_getppid(calls: int, *, filtered: bool = True) -> tuple[int, float]:
    """Fork a child that makes `calls` getppid() calls; return its pid and the loop's seconds.

    The filter is built before the fork so the child, forked from a process with reader
    threads, runs nothing but the load and the loop.
    """
    flt = _log_filter()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            if filtered:
                _enter_log_filter(flt)
            getppid = os.getppid
            began = time.perf_counter()
            for _ in range(calls):
                getppid()
            os.write(write_end, struct.pack("d", time.perf_counter() - began))
        finally:
            os._exit(0)
    os.close(write_end)
    _, status = os.waitpid(pid, 0)
    data = os.read(read_end, 8)
    os.close(read_end)
    assert os.waitstatus_to_exitcode(status) == 0 and len(data) == 8
    return pid, struct.unpack("d", data)[0]


def run_exec(argv: list[str]) -> int:
    flt = _log_filter()
    pid = os.fork()
    if pid == 0:
        try:
            _enter_log_filter(flt)
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return pid


def events_of(source: SpoolingSource, pid: int) -> list[SeccompEvent]:
    return [e for e in parse(source.lines(), source.name) if isinstance(e, SeccompEvent) and e.pid == pid]


def count_calls(source: SpoolingSource, pid: int, syscall: str) -> int:
    return sum(1 for e in events_of(source, pid) if e.syscall == syscall)


def assert_not_silent(source: SpoolingSource, missing: int) -> None:
    """The property every source must keep: what it lacks, it reports (lost is a lower bound)."""
    if missing:
        assert source.loss.lost >= 1, source.loss
    gap = [r for r in source.loss.reasons if r.kind is LossKind.SERIAL_GAP]
    if gap:
        assert gap[0].lost >= missing, source.loss


@pytest.fixture
def auditd() -> Iterator[int]:
    """auditd's pid: the running one, or one started here and stopped (with audit's enabled
    flag put back, which auditd sets) afterwards."""
    before = features.audit_status()
    if before.pid:
        yield before.pid
        return
    binary = shutil.which("auditd") or next(
        (p for p in ("/usr/sbin/auditd", "/sbin/auditd") if os.path.exists(p)), None
    )
    if binary is None:
        pytest.skip("auditd is not installed")
    subprocess.run([binary], check=True)
    pid = _wait_for(lambda: features.audit_status().pid, "auditd to register")
    try:
        _wait_for(lambda: AuditdSource.unavailable() is None, "auditd's log")
        yield pid
    finally:
        os.kill(pid, signal.SIGTERM)
        _wait_for(lambda: features.audit_status().pid == 0 and not os.path.exists(f"/proc/{pid}"), "auditd to stop")
        if features.audit_status().enabled != before.enabled and shutil.which("auditctl"):
            subprocess.run(["auditctl", "-e", str(before.enabled)], check=True, capture_output=True)


def _wait_for(probe: Any, what: str, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def no_auditd() -> None:
    if features.audit_status().pid:
        pytest.skip("auditd is running: the kernel log gets no audit records")


# -- netlink -----------------------------------------------------------------------------


@ROOT
@pytest.mark.kernel
def test_netlink_collects_an_exec_d_childs_records() -> None:
    with NetlinkSource() as source:
        source.start()
        pid = run_exec(["/bin/true"])
        source.stop()
        names = {e.syscall for e in events_of(source, pid)}
        lines = list(source.lines())
    assert {"execve", "exit_group"} <= names
    assert source.loss.lossless, source.loss
    # SYSCALL records too while audit is enabled (auditd, or a --args run): the kernel then
    # writes one for each syscall that logged a SECCOMP record (--args joins them)
    kept = ("type=SECCOMP msg=audit(", "type=ANOM_ABEND msg=audit(", "type=SYSCALL msg=audit(")
    assert lines and all(line.startswith(kept) for line in lines)


@ROOT
@pytest.mark.kernel
def test_netlink_burst_with_a_64_mib_buffer_loses_nothing() -> None:
    with NetlinkSource() as source:
        source.start()
        pid, _ = run_getppid(BURST)
        source.stop()
        got = count_calls(source, pid, "getppid")
    assert source.rcvbuf >= 64 << 20
    assert got == BURST, source.loss
    assert source.loss.lossless, source.loss


@ROOT
@pytest.mark.kernel
def test_netlink_tiny_buffer_reports_its_overruns() -> None:
    """A 4 KiB buffer overflows when the reader falls behind; whether it does depends on how
    busy the machine is (on a quiet one the reader keeps up). Every run must be exact either
    way: all records and no loss, or fewer records and an overrun reported, never silence."""
    overran = False
    for _ in range(3):
        with NetlinkSource(rcvbuf=4 << 10) as source:
            source.start()
            pid, _ = run_getppid(BURST)
            source.stop()
            got = count_calls(source, pid, "getppid")
        if got == BURST:
            assert source.loss.lossless, source.loss
            continue
        overran = True
        assert LossKind.SOCKET_OVERRUN in source.loss.kinds(), source.loss
        assert source.loss.lost > 0
        assert_not_silent(source, BURST - got)
        break
    if not overran:
        pytest.skip("the reader kept up with a 4 KiB buffer three times: no overrun to report")


@ROOT
@pytest.mark.kernel
def test_netlink_gets_every_record_while_auditd_also_does(auditd: int) -> None:
    """The kernel multicasts each record before it unicasts it to auditd."""
    with NetlinkSource() as source:
        source.start()
        pid, _ = run_getppid(10_000)
        source.stop()
        assert count_calls(source, pid, "getppid") == 10_000
    assert source.loss.lossless, source.loss


# -- auditd --------------------------------------------------------------------------------


@ROOT
@pytest.mark.kernel
def test_auditd_source_follows_the_log(auditd: int) -> None:
    # 10,000 records stay within one stock 8 MB log file, so a developer's older audit
    # logs are not rotated away by the test.
    with AuditdSource() as source:
        source.start()
        exec_pid = run_exec(["/bin/true"])
        pid, _ = run_getppid(10_000)
        source.stop()
        assert {"execve", "exit_group"} <= {e.syscall for e in events_of(source, exec_pid)}
        assert count_calls(source, pid, "getppid") == 10_000
    assert source.loss.lossless, source.loss


# -- kmsg ------------------------------------------------------------------------------------


def _fresh_printk_window() -> None:
    """Wait out the printk rate-limit window another test (or process) may have used up."""
    with open("/proc/sys/kernel/printk_ratelimit") as handle:
        time.sleep(float(handle.read()) + 0.5)


@ROOT
@pytest.mark.kernel
@pytest.mark.usefixtures("no_auditd")
def test_kmsg_collects_a_few_records() -> None:
    _fresh_printk_window()
    with KmsgSource() as source:
        source.start()
        pid, _ = run_getppid(3)  # with two markers and exit_group, within the burst of 10
        source.stop()
        got = count_calls(source, pid, "getppid")
    assert got == 3 or source.loss.lost >= 3 - got, source.loss


@ROOT
@pytest.mark.kernel
@pytest.mark.usefixtures("no_auditd")
def test_kmsg_burst_is_reported_lossy() -> None:
    with KmsgSource() as source:
        source.start()
        pid, _ = run_getppid(BURST)
        source.stop()
        got = count_calls(source, pid, "getppid")
    assert got < BURST
    assert LossKind.PRINTK_SUPPRESSED in source.loss.kinds(), source.loss
    assert source.loss.lost > 0
    assert_not_silent(source, BURST - got)


@ROOT
@pytest.mark.kernel
@pytest.mark.usefixtures("no_auditd")
def test_kmsg_without_an_end_marker_counts_what_printk_suppressed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Serial gaps need the end marker; without it, printk's own count of the records it
    suppressed is the evidence, and the loss is at least that, not "1"."""
    _fresh_printk_window()
    send = features.send_audit_message
    with KmsgSource() as source:
        source.start()
        run_getppid(BURST)
        # Every marker from now on is sent as another message: the end marker never shows up,
        # but what the kernel prints after the window still flushes the suppressed count.
        monkeypatch.setattr(features, "send_audit_message", lambda _text: send("learn-test-not-a-marker"))
        source.stop()
    suppressed = [r for r in source.loss.reasons if r.kind is LossKind.PRINTK_SUPPRESSED]
    assert suppressed and suppressed[0].lost > BURST // 2, source.loss
    assert source.loss.lost == suppressed[0].lost, source.loss
    assert f"about {suppressed[0].lost} audit records dropped" in suppressed[0].message
    assert any("end marker never arrived" in c for c in source.loss.caveats), source.loss


# -- choosing ---------------------------------------------------------------------------------


@ROOT
@pytest.mark.kernel
def test_choose_source_prefers_netlink() -> None:
    assert choose_source(None).name == "netlink"
    assert choose_source("auto").name == "netlink"
    assert isinstance(choose_source("netlink"), NetlinkSource)


def test_choose_source_refuses_unknown_names() -> None:
    with pytest.raises(KernelError, match="unknown record source"):
        choose_source("journald")


@ROOT
@pytest.mark.kernel
def test_choose_source_refuses_kmsg_while_auditd_runs(auditd: int) -> None:
    with pytest.raises(KernelError, match="auditd is running"):
        choose_source("kmsg")


# -- auditd log rotation, with the test playing auditd (no kernel needed) ---------------------


class FakeAuditd:
    """Writes audit.log lines and rotates like auditd (rename .N-1 -> .N, keep num_logs files).

    Markers the source asks for are appended to the log as USER_AVC lines, in serial order
    with everything else, which is what the kernel and auditd would do.
    """

    def __init__(self, log: Path, num_logs: int = 3) -> None:
        self.log, self.num_logs = log, num_logs
        self.serial = 1000
        self.lock = threading.Lock()
        self.deleted_records = 0
        self.counts: dict[Path, int] = {}
        log.write_text("")

    def line(self, text: str) -> None:
        with self.lock:
            self.serial += 1
            with self.log.open("a") as out:
                out.write(f"type={text.format(serial=self.serial)}\n")
            self.counts[self.log] = self.counts.get(self.log, 0) + 1

    def seccomp(self, pid: int) -> None:
        self.line(
            "SECCOMP msg=audit(1700000000.000:{serial}): auid=0 uid=0 gid=0 ses=1 "
            f'pid={pid} comm="x" exe="/x" sig=0 arch=c000003e syscall=110 compat=0 '
            "ip=0x1 code=0x7ffc0000"
        )

    def marker(self, text: str) -> None:
        self.line("USER_AVC msg=audit(1700000000.000:{serial}): pid=1 uid=0 msg='" + text + "'")

    def rotate(self) -> None:
        with self.lock:
            oldest = Path(f"{self.log}.{self.num_logs - 1}")
            if oldest.exists():
                self.deleted_records += self.counts.pop(oldest, 0)
                oldest.unlink()
            for n in range(self.num_logs - 2, 0, -1):
                src = Path(f"{self.log}.{n}")
                if src.exists():
                    src.rename(f"{self.log}.{n + 1}")
                    self.counts[Path(f"{self.log}.{n + 1}")] = self.counts.pop(src, 0)
            self.log.rename(f"{self.log}.1")
            self.counts[Path(f"{self.log}.1")] = self.counts.pop(self.log, 0)
            self.log.write_text("")


@pytest.fixture
def fake_auditd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeAuditd:
    fake = FakeAuditd(tmp_path / "audit.log")
    monkeypatch.setattr(auditd_module, "auditd_pid", lambda: 4242)
    monkeypatch.setattr(features, "send_audit_message", fake.marker)
    return fake


def _fake_run(fake: FakeAuditd, poll: float, pause: float, records: int = 400) -> tuple[AuditdSource, int]:
    """records SECCOMP lines, the log rotated after every 50 and then a pause."""
    source = AuditdSource(log_file=str(fake.log), poll=poll, settle=0.05)
    source.start()
    for n in range(records):
        fake.seccomp(77)
        if (n + 1) % 50 == 0:
            fake.rotate()
            time.sleep(pause)
    source.stop()
    got = count_calls(source, 77, "getppid")
    source.close()
    return source, got


def test_auditd_follower_reads_every_rotated_file(fake_auditd: FakeAuditd) -> None:
    # a rotation every 50 ms, a poll every 5 ms: the follower sees each rename
    source, got = _fake_run(fake_auditd, poll=0.005, pause=0.05)
    assert got == 400
    assert source.rotations >= 1
    assert LossKind.SERIAL_GAP not in source.loss.kinds(), source.loss


def test_auditd_follower_reports_files_rotated_away_unread(fake_auditd: FakeAuditd) -> None:
    # A follower that polls once a second while the log rotates 8 times with 2 old files
    # kept: files are deleted before it looks, and the serial gap says exactly how many
    # records went with them.
    source, got = _fake_run(fake_auditd, poll=1.0, pause=0.001)
    assert got < 400 and fake_auditd.deleted_records > 0
    gaps = [r for r in source.loss.reasons if r.kind is LossKind.SERIAL_GAP]
    assert gaps and gaps[0].lost == 400 - got, source.loss
