"""Usage shards (learn.usage): merging is associative and commutative, a shard reads back as
written, and `learn suggest` over shards writes the profile the logs they came from give."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from learn import usage as shards
from learn.pipeline import learn_from_logs
from learn.select import Selection
from learn.usage import Evidence, Usage
from tests.conftest import SAMPLE_LOGS
from tests.unit.test_cli import assert_one_line_error, learn

AUDITD = sorted((SAMPLE_LOGS / "auditd").glob("*.log"))
EVERY_SAMPLE = sorted(
    p for d in ("auditd", "auditd-args", "ausearch", "kernel") for p in (SAMPLE_LOGS / d).glob("*.log")
)

TIMES = st.none() | st.floats(min_value=0, max_value=2e9, allow_nan=False)
EVIDENCE = st.builds(
    lambda n, a, b, s: Evidence(n, None if a is None or b is None else min(a, b), None if a is None or b is None else max(a, b), s),
    st.integers(1, 10**6), TIMES, TIMES, st.none() | st.sampled_from(["a.log:1", "a.log:2", "b.log:7"]),
)  # fmt: skip
KEYS = st.tuples(
    st.sampled_from([None, "web1", "web2"]), st.sampled_from(["x86_64", "x86"]), st.integers(0, 3),
    st.sampled_from([None, "read", "write"]), st.sampled_from(["log", "errno"]), st.sampled_from([None, "/bin/ls", "/bin/sh"]),
    st.sampled_from([None, "?", "[2, 1]", "[10, null]"]),
)  # fmt: skip
USAGES = st.builds(
    lambda rows, sources, events, dups, lost, loss, args: Usage(
        dict(rows), tuple(sources), events, dups, lost, shards.Counter({"loss": loss} if loss else {}), args
    ),
    st.lists(st.tuples(KEYS, EVIDENCE), max_size=6), st.lists(st.sampled_from(["a.log", "b.log", "c.log"]), max_size=2),
    st.integers(0, 100), st.integers(0, 5), st.integers(0, 5), st.integers(0, 2), st.sampled_from([None, True, False]),
)  # fmt: skip


def _table(u: Usage) -> tuple[object, ...]:
    return (u.rows, u.events, u.duplicates, u.lost, u.problem_counts, u.args)


@settings(max_examples=300, deadline=None)
@given(USAGES, USAGES, USAGES)
def test_merging_is_associative_and_commutative(a: Usage, b: Usage, c: Usage) -> None:
    assert a.merged(b).merged(c) == a.merged(b.merged(c))  # sources included: they concatenate in order
    assert _table(a.merged(b)) == _table(b.merged(a))
    assert sorted(a.merged(b).sources) == sorted(b.merged(a).sources)
    assert a.merged(Usage()) == a == Usage().merged(a)


@settings(max_examples=50, deadline=None)
@given(USAGES)
def test_a_shard_reads_back_as_written(tmp_path_factory: pytest.TempPathFactory, usage: Usage) -> None:
    path = tmp_path_factory.mktemp("shard") / "u.parquet"
    shards.write(usage, str(path))
    assert shards.is_shard(str(path))
    assert shards.read(str(path)) == usage


def _multi_node_log(tmp_path: Path) -> Path:
    """One log aggregated from two hosts (auditd name_format): each record prefixed with node=."""
    lines = [f"node=web1 {line}" for line in (SAMPLE_LOGS / "auditd/ls-la.audit.log").read_text().splitlines()]
    lines += [f"node=web2 {line}" for line in (SAMPLE_LOGS / "auditd/python3-print.audit.log").read_text().splitlines()]
    log = tmp_path / "fleet.audit.log"
    log.write_text("\n".join(lines) + "\n")
    return log


def test_the_shard_keeps_node_times_and_a_sample_line(tmp_path: Path) -> None:
    usage = Usage()
    log = _multi_node_log(tmp_path)
    learn_from_logs([str(log)], Selection(), usage=usage)
    nodes = {key[0] for key in usage.rows}
    assert nodes == {"web1", "web2"}
    ev = usage.rows[("web2", "x86_64", 0, "read", "log", "/usr/bin/python3.11", None)]
    assert ev.count > 0 and ev.first_seen is not None and ev.last_seen is not None and ev.first_seen <= ev.last_seen
    assert ev.sample is not None and ev.sample.startswith(f"{log}:")
    line = int(ev.sample.rsplit(":", 1)[1])
    assert "node=web2" in log.read_text().splitlines()[line - 1]


@pytest.mark.parametrize("log", EVERY_SAMPLE, ids=lambda p: p.name)
def test_suggest_over_a_shard_writes_the_logs_profile(tmp_path: Path, log: Path) -> None:
    direct, via = tmp_path / "direct.json", tmp_path / "via.json"
    shard = tmp_path / "s.parquet"
    first = learn("suggest", log, "-q", "--allow-loss", "-o", direct, "--save-usage", shard)
    assert first.returncode == 0, first.stderr
    second = learn("suggest", shard, "-q", "--allow-loss", "-o", via)
    assert second.returncode == 0, second.stderr
    assert via.read_bytes() == direct.read_bytes()


def test_shards_and_logs_together_give_the_profile_of_all_the_logs(tmp_path: Path) -> None:
    fleet = _multi_node_log(tmp_path)
    logs = [*AUDITD, fleet]
    whole = tmp_path / "whole.json"
    assert learn("suggest", *logs, "-q", "-o", whole).returncode == 0
    made = []
    for i, log in enumerate(logs[:-1]):
        made.append(tmp_path / f"{i}.parquet")
        assert learn("suggest", log, "-q", "-o", tmp_path / "x.json", "--save-usage", made[-1]).returncode == 0
    mixed = tmp_path / "mixed.json"
    result = learn("suggest", *made, fleet, "-q", "-o", mixed, "--save-usage", tmp_path / "all.parquet")
    assert result.returncode == 0, result.stderr
    assert mixed.read_bytes() == whole.read_bytes()
    again = tmp_path / "again.json"  # a shard of shards (a central merge) is still the same usage
    assert learn("suggest", tmp_path / "all.parquet", "-q", "-o", again).returncode == 0
    assert again.read_bytes() == whole.read_bytes()


def test_a_shard_cannot_be_selected_from_again(tmp_path: Path) -> None:
    shard = tmp_path / "s.parquet"
    assert learn("suggest", AUDITD[0], "-q", "-o", tmp_path / "p.json", "--save-usage", shard).returncode == 0
    result = learn("suggest", shard, "--exe", "/usr/bin/ls")
    assert_one_line_error(result, 2)
    assert "usage shard" in result.stderr


def test_a_parquet_file_that_is_no_shard_is_refused(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    other = tmp_path / "other.parquet"
    pq.write_table(pa.table({"a": [1, 2]}), other)
    result = learn("suggest", other)
    assert_one_line_error(result, 2)
    assert "no learn usage shard" in result.stderr


def test_filling_a_shard_reads_big_files_line_by_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The block counter knows no node (and cannot start processes in a Dask worker, a daemon):
    a run that fills a shard never takes it, whatever the file's size."""
    from learn import bulkcount

    def no_bulk(*args: object, **kwargs: object) -> bool:
        raise AssertionError("daemonic processes are not allowed to have children")

    monkeypatch.setattr(bulkcount, "count_file", no_bulk)
    monkeypatch.setattr(bulkcount, "MIN_BULK_BYTES", 0)
    log = _multi_node_log(tmp_path)
    usage = Usage()
    found = learn_from_logs([str(log)], Selection(), bulk_block=64, usage=usage)
    assert {key[0] for key in usage.rows} == {"web1", "web2"}
    assert found.selected == usage.selected


ARG_LOGS = sorted((SAMPLE_LOGS / "auditd-args").glob("*.log"))


def test_shards_written_with_args_give_the_argument_rules(tmp_path: Path) -> None:
    """--args --save-usage keeps each call's argument signature; --args over the shards learns
    the same rules as over the logs."""
    direct = tmp_path / "direct.json"
    assert learn("suggest", "--args", *ARG_LOGS, "-q", "-o", direct).returncode == 0
    made = []
    for i, log in enumerate(ARG_LOGS):
        made.append(tmp_path / f"{i}.parquet")
        result = learn("suggest", "--args", log, "-q", "-o", tmp_path / "x.json", "--save-usage", made[-1])
        assert result.returncode == 0, result.stderr
    assert any(key[6] not in (None, "?") for key in shards.read(str(made[0])).rows)
    via = tmp_path / "via.json"
    result = learn("suggest", "--args", *made, "-q", "-o", via)
    assert result.returncode == 0, result.stderr
    assert via.read_bytes() == direct.read_bytes()
    assert "args" in via.read_text()


def test_args_over_a_shard_written_without_them_is_refused(tmp_path: Path) -> None:
    shard = tmp_path / "s.parquet"
    assert learn("suggest", ARG_LOGS[0], "-q", "-o", tmp_path / "x.json", "--save-usage", shard).returncode == 0
    result = learn("suggest", "--args", shard)
    assert_one_line_error(result, 2)
    assert "without --args" in result.stderr


def test_a_shard_of_another_format_says_so(tmp_path: Path) -> None:
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    old = tmp_path / "old.parquet"
    meta = {shards.META_KEY: json.dumps({"format": 1}).encode()}
    pq.write_table(pa.table({"node": ["a"]}).replace_schema_metadata(meta), old)
    result = learn("suggest", old)
    assert_one_line_error(result, 2)
    assert "usage shard format 1" in result.stderr


def test_a_shard_does_not_warn_of_a_short_run_its_log_does_not(tmp_path: Path) -> None:
    """A shard keeps no record order: its calls go on the curve by their first time (found by
    bench/fleet: a log's shard warned that ~35 calls came in the last 10% of the run)."""
    body = 'auid=0 uid=0 gid=0 ses=1 pid=7 comm="a" exe="/a" sig=0 arch=c000003e syscall={} compat=0 ip=0x1 code=0x7ffc0000'
    lines = [f"type=SECCOMP msg=audit(1764590{i:03d}.000:{i}): " + body.format(nr) for i, nr in enumerate(range(40), 1)]
    lines += [
        f"type=SECCOMP msg=audit(1764591{i // 1000:03d}.{i % 1000:03d}:{i + 100}): " + body.format(i % 40)
        for i in range(3000)
    ]
    log = tmp_path / "audit.log"
    log.write_text("\n".join(lines) + "\n")
    shard = tmp_path / "a.parquet"
    direct = learn("suggest", log, "-o", tmp_path / "p.json", "--save-usage", shard)
    assert direct.returncode == 0 and "warning: new syscalls" not in direct.stderr, direct.stderr
    merged = learn("suggest", shard, "-o", tmp_path / "q.json")
    assert merged.returncode == 0, merged.stderr
    assert "warning: new syscalls" not in merged.stderr, merged.stderr
    assert "from usage shards: calls in the order of their first time" in merged.stderr
