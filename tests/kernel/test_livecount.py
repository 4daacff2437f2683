"""The fast live path (the netlink spool counted in blocks, learn.blockcounter) against the
per-record path, on the very same records of real runs: the same findings, run counts and
loss report, whatever the run (x86_64, i386, other sessions' records interleaved, records lost)."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import tempfile
from array import array
from pathlib import Path

import pytest

from learn.arch import host_abis
from learn.blockcounter import BlockCounter
from learn.kernel import launch
from learn.kernel.filters import Mode, build_filter, install
from learn.kernel.sources.netlink import BLOCK_RECORDS, DEFAULT_RCVBUF, NetlinkSource
from learn.model import Action
from learn.profile import Profile
from learn.select import Selection
from learn.supervise import SOURCE_NAME, Supervised, _decode
from learn.tally import Findings, Tally
from learn.usage import Usage
from tests.kernel.conftest import learn_argv

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: seccomp filters and audit records"),
]


def _collect(
    argv: list[str], *, others: list[str] | None = None, rcvbuf: int = DEFAULT_RCVBUF
) -> tuple[NetlinkSource, launch.Target]:
    """Run argv in an audit session of its own under learn's filter, `others` (if any) at the
    same time under the same filter but in this process's session; collect every record."""
    built = build_filter(Profile({}), mode=Mode.LEARN, arches=host_abis())
    source = NetlinkSource(rcvbuf=rcvbuf)
    source.start()
    try:
        other = subprocess.Popen(others, preexec_fn=lambda: install(built)) if others else None
        target = launch.start(argv, lambda: install(built))
        assert launch.wait(target.pid) == 0
        if other is not None:
            assert other.wait() == 0
    finally:
        source.finish_collecting()
    return source, target


def _twin(source: NetlinkSource) -> NetlinkSource:
    """A second source holding a copy of the same spool, to be decoded the other way."""
    assert source._spool is not None
    twin = copy.copy(source)
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - the twin closes it
    source._spool.seek(0)
    spool.write(source._spool.read())
    twin._spool = spool
    twin._sizes = array("I", source._sizes)
    twin._reasons, twin._caveats = list(source._reasons), list(source._caveats)
    # Both decodes read the kernel's audit lost counter when they end; it may grow between the
    # two (kauditd's hold queue while a burst drains), so both see one reading of it.
    lost_after = NetlinkSource._kernel_lost()
    source._kernel_lost = twin._kernel_lost = lambda: lost_after  # type: ignore[method-assign]
    return twin


def _by_record(source: NetlinkSource, target: launch.Target) -> tuple[Supervised, Findings]:
    tally = _tally()
    run = Supervised(["target"], 0, source.name, target.session)
    _decode(run, source, target.pid, launch.SignalPolicy(), tally.item, None)
    return run, _finished(tally)


def _in_blocks(source: NetlinkSource, target: launch.Target) -> tuple[Supervised, Findings]:
    tally = _tally()
    run = Supervised(["target"], 0, source.name, target.session)
    with BlockCounter(source, tally, target.session, lambda: None, SOURCE_NAME, 0) as counter:
        assert counter.result()
    run.records, run.events, run.loss = counter.records, counter.events, source.loss
    return run, _finished(tally)


def _tally() -> Tally:
    return Tally([SOURCE_NAME], Selection(actions=frozenset({Action.LOG})), live=True, usage=Usage())


def _finished(tally: Tally) -> Findings:
    findings = tally.finish()
    findings.shard = tally.usage
    return findings


def _assert_same(
    source: NetlinkSource, target: launch.Target, *, blocks: int = 1
) -> tuple[Supervised, Findings, Supervised]:
    twin = _twin(source)
    run, findings = _by_record(source, target)
    fast_run, fast = _in_blocks(twin, target)
    assert (fast_run.records, fast_run.events) == (run.records, run.events)
    assert fast_run.loss == run.loss
    assert fast.counts._counts == findings.counts._counts
    assert (fast.events, fast.selected, fast.lost) == (findings.events, findings.selected, findings.lost)
    assert fast.problems == findings.problems and fast.problem_counts == findings.problem_counts
    assert fast.not_selected_actions == findings.not_selected_actions
    assert fast.not_selected_exes == findings.not_selected_exes
    assert (fast.first_time, fast.last_time) == (findings.first_time, findings.last_time)
    assert fast.coverage.runs == findings.coverage.runs  # the discovery curve, record numbers included
    assert fast.coverage.syscalls == findings.coverage.syscalls
    assert fast.shard is not None and findings.shard is not None
    assert fast.shard.rows == findings.shard.rows  # evidence: first and last seen, sample line
    assert twin.decoded_records == source.decoded_records
    assert run.records >= blocks * BLOCK_RECORDS or blocks == 1
    return run, findings, fast_run


def test_a_burst_over_several_blocks_gives_the_same_findings(programs: dict[str, Path]) -> None:
    source, target = _collect([str(programs["burst"]), str(3 * BLOCK_RECORDS + 123)])
    run, findings, _ = _assert_same(source, target, blocks=3)
    assert run.loss.lossless, run.loss
    getppid = sum(n for (arch, _, name, _, _), n in findings.counts._counts.items() if name == "getppid")
    assert getppid == 3 * BLOCK_RECORDS + 123
    assert ("x86_64", 59, "execve", "log", "(learn starting the target)") in findings.counts._counts


def test_records_of_other_sessions_interleaved_are_left_out_alike(programs: dict[str, Path]) -> None:
    burst = str(programs["burst"])
    source, target = _collect([burst, str(2 * BLOCK_RECORDS)], others=[burst, str(2 * BLOCK_RECORDS)])
    run, _, _ = _assert_same(source, target, blocks=2)
    assert run.records >= 4 * BLOCK_RECORDS  # both programs' records were read ...
    assert run.events < 3 * BLOCK_RECORDS  # ... and only the target's counted


def test_an_i386_target_gives_the_same_findings(programs: dict[str, Path]) -> None:
    if "unamer32" not in programs:
        pytest.skip("gcc cannot build -m32 programs here (gcc-multilib)")
    source, target = _collect([str(programs["unamer32"])])
    _, findings, _ = _assert_same(source, target)
    assert "x86" in {arch for arch, *_ in findings.counts._counts}


def test_records_lost_to_a_tiny_buffer_are_reported_alike(programs: dict[str, Path]) -> None:
    for _ in range(3):
        source, target = _collect([str(programs["burst"]), str(3 * BLOCK_RECORDS)], rcvbuf=4 << 10)
        run, _, _ = _assert_same(source, target)
        if not run.loss.lossless:
            assert run.loss.lost > 0
            return
    pytest.skip("the reader kept up with a 4 KiB buffer three times: no overrun to report")


def test_learn_run_counts_a_big_run_in_blocks(programs: dict[str, Path], tmp_path: Path) -> None:
    """End to end: `learn run` without --save-log takes the block path, with the same profile."""
    argv = [str(programs["burst"]), str(2 * BLOCK_RECORDS)]
    learn = [*learn_argv(), "run", "-q"]
    fast = subprocess.run([*learn, "-o", str(tmp_path / "fast.json"), "--", *argv], capture_output=True, text=True)
    slow = subprocess.run(
        [*learn, "-o", str(tmp_path / "slow.json"), "--", *argv],
        capture_output=True, text=True, env={**os.environ, "LEARN_RECORD_BY_RECORD": "1"},
    )  # fmt: skip
    assert fast.returncode == slow.returncode == 0, fast.stderr + slow.stderr
    assert (tmp_path / "fast.json").read_text() == (tmp_path / "slow.json").read_text()


def test_a_stop_signal_stops_the_count_between_blocks(programs: dict[str, Path]) -> None:
    """learn's second signal after the target's exit (launch.SignalPolicy.stop_signal): what was
    counted so far is kept, and the report says decoding stopped (serial gaps not counted)."""
    source, target = _collect([str(programs["burst"]), str(3 * BLOCK_RECORDS)])
    asked: list[int] = []

    def stop_signal() -> int | None:  # asked before each block: stop before the third
        asked.append(1)
        return signal.SIGTERM if len(asked) > 2 else None

    tally = _tally()
    with BlockCounter(source, tally, target.session, stop_signal, SOURCE_NAME, 0) as counter:
        assert counter.result()
    assert counter.stopped == (signal.SIGTERM, 2 * BLOCK_RECORDS, source.collected)
    assert counter.records < 2 * BLOCK_RECORDS  # the kept ones of them (not the start marker)
    assert "decoding was stopped: serial gaps were not counted" in source.loss.caveats
    assert 0 < tally.finish().selected < 3 * BLOCK_RECORDS
