"""learn suggest --engine dask: on a LocalCluster of two workers, over several logs, shards and
a log of two hosts (node=), the profile is the local engine's byte for byte."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_LOGS
from tests.unit.test_cli import assert_one_line_error, learn
from tests.unit.test_usage import AUDITD, _multi_node_log

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """A LocalCluster of two worker processes on 127.0.0.1, no dashboard, for --scheduler."""
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


def _inputs(tmp_path: Path) -> list[Path]:
    """Logs of several forms, a multi-node log, and shards of other logs."""
    made = []
    for log in (SAMPLE_LOGS / "auditd/static32.audit.log", SAMPLE_LOGS / "auditd-args/argcalls.audit.log"):
        made.append(tmp_path / f"{log.stem}.parquet")
        result = learn("suggest", log, "-q", "-o", tmp_path / "x.json", "--save-usage", made[-1])
        assert result.returncode == 0, result.stderr
    return [*AUDITD[:3], _multi_node_log(tmp_path), *made, SAMPLE_LOGS / "ausearch/ls-la.interpreted.log"]


def test_dask_on_a_scheduler_writes_the_local_profile(tmp_path: Path, scheduler: str) -> None:
    inputs = _inputs(tmp_path)
    local, dask = tmp_path / "local.json", tmp_path / "dask.json"
    shard = tmp_path / "merged.parquet"
    assert learn("suggest", *inputs, "-q", "-o", local).returncode == 0
    result = learn("suggest", "--engine", "dask", "--scheduler", scheduler, *inputs, "-o", dask, "--save-usage", shard)
    assert result.returncode == 0, result.stderr
    assert dask.read_bytes() == local.read_bytes()
    from learn.usage import read

    nodes = {key[0] for key in read(str(shard)).rows}
    assert {"web1", "web2", None} <= nodes  # the hosts of the multi-node log stay apart


def test_dask_without_scheduler_starts_a_local_cluster(tmp_path: Path) -> None:
    inputs = [*AUDITD[1:3], _multi_node_log(tmp_path)]
    local, dask = tmp_path / "local.json", tmp_path / "dask.json"
    assert learn("suggest", *inputs, "-q", "-o", local).returncode == 0
    result = learn("suggest", "--engine", "dask", *inputs, "-q", "-o", dask)
    assert result.returncode == 0, result.stderr
    assert dask.read_bytes() == local.read_bytes()


def test_an_unreachable_scheduler_is_one_line(tmp_path: Path) -> None:
    result = learn("suggest", "--engine", "dask", "--scheduler", "tcp://127.0.0.1:9", AUDITD[0])
    assert_one_line_error(result, 2)
    assert "Dask scheduler" in result.stderr


def test_scheduler_needs_the_dask_engine() -> None:
    assert_one_line_error(learn("suggest", "--scheduler", "tcp://127.0.0.1:9", AUDITD[0]), 2)


def test_without_the_extra_the_cli_says_how_to_install_it(tmp_path: Path) -> None:
    """distributed missing (a lean install): one line naming learn[dask], exit 2."""
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "distributed.py").write_text("raise ImportError('not installed')\n")
    import os
    import subprocess

    result = subprocess.run(
        [sys.executable, "-m", "learn", "suggest", "--engine", "dask", str(AUDITD[0])],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(hide)},
        check=False,
    )
    assert_one_line_error(result, 2)
    assert "learn[dask]" in result.stderr


@pytest.mark.parametrize("block", [4096, 50_000])
def test_big_logs_are_read_in_blocks_with_the_local_answer(tmp_path: Path, scheduler: str, block: int) -> None:
    """Blocks as tasks: the same usage (counts, nodes, times, samples numbered from the file's
    start) and profile as reading each file whole."""
    from learn.dask_engine import blocks_of, learn_on_dask
    from learn.pipeline import build_profile, learn_from_logs
    from learn.select import Selection
    from learn.usage import Usage
    from parsers import DEFAULT_DECODING, InputFormat

    fleet = _multi_node_log(tmp_path)
    inputs = [str(fleet), str(AUDITD[0]), str(SAMPLE_LOGS / "auditd/static32.audit.log")]
    assert len(blocks_of(str(fleet), Selection(), InputFormat.AUTO, block) or []) > 1
    found, usage = learn_on_dask(inputs, Selection(), InputFormat.AUTO, DEFAULT_DECODING, scheduler, block)
    local_usage = Usage()
    local = learn_from_logs(inputs, Selection(), usage=local_usage)
    assert usage.rows == local_usage.rows
    assert (found.selected, found.events, found.sources) == (local.selected, local.events, local.sources)
    assert build_profile(found) == build_profile(local)


def test_a_selection_by_program_reads_each_log_whole(tmp_path: Path) -> None:
    """--exe keeps the exec that started the program: each pid's records must be read in order."""
    from learn.dask_engine import blocks_of
    from learn.select import Selection
    from parsers import InputFormat

    fleet = str(_multi_node_log(tmp_path))
    assert blocks_of(fleet, Selection(exes=frozenset({"/usr/bin/ls"})), InputFormat.AUTO, 4096) is None
    assert blocks_of(fleet, Selection(), InputFormat.AUTO, 1 << 30) is None


def test_dask_learns_argument_rules_as_the_local_engine(tmp_path: Path, scheduler: str) -> None:
    from tests.unit.test_usage import ARG_LOGS

    shard = tmp_path / "s.parquet"
    assert (
        learn("suggest", "--args", ARG_LOGS[0], "-q", "-o", tmp_path / "x.json", "--save-usage", shard).returncode == 0
    )
    inputs = [shard, *ARG_LOGS[1:], AUDITD[1]]
    local, dask = tmp_path / "local.json", tmp_path / "dask.json"
    assert learn("suggest", "--args", ARG_LOGS[0], *inputs[1:], "-q", "-o", local).returncode == 0
    result = learn("suggest", "--engine", "dask", "--scheduler", scheduler, "--args", *inputs, "-q", "-o", dask)
    assert result.returncode == 0, result.stderr
    assert dask.read_bytes() == local.read_bytes()


def test_standard_input_is_not_sent_to_a_worker() -> None:
    result = learn("suggest", "--engine", "dask", "-", stdin=AUDITD[0].read_bytes())
    assert_one_line_error(result, 2)
    assert "standard input" in result.stderr
