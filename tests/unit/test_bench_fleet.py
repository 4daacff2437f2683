"""bench/fleet's inputs: each host's log is bench/parse's generator output with the host's own
serial counter, and the aggregated log holds every host's lines, node= prefixed, in time order.
(The timings themselves are the script's output, not something a test can hold.)"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import ROOT

STAMP = re.compile(r"audit\((\d+\.\d+):(\d+)\)")


def load_fleet() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("bench_fleet", str(ROOT / "bench" / "fleet"))
    spec = importlib.util.spec_from_loader("bench_fleet", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_fleet"] = module
    loader.exec_module(module)
    return module


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    pytest.importorskip("pyseccomp")
    module = load_fleet()
    monkeypatch.setattr(module, "OUT_DIR", tmp_path)
    return module


def stamps(lines: list[str]) -> list[tuple[str, int]]:
    found = [STAMP.search(line) for line in lines]
    return [(m[1], int(m[2])) for m in found if m is not None]


def test_a_host_log_is_the_generators_with_the_hosts_own_serials(fleet: Any) -> None:
    log = fleet.host_log(1, 400, seed=5, force=False)
    written = log.path.read_text().splitlines(keepends=True)
    generated = list(fleet.bp.generate_lines(6, 400))
    assert log.lines == len(written) == 400
    assert [STAMP.sub("", line) for line in written] == [STAMP.sub("", line) for line in generated]
    assert [(t, n - fleet.SERIAL_STRIDE) for t, n in stamps(written)] == stamps(generated)


def test_the_aggregated_log_interleaves_the_hosts_by_time_with_their_node(fleet: Any) -> None:
    hosts = [fleet.host_log(i, 300, seed=5, force=False) for i in range(2)]
    aggregated = fleet.aggregated_log(hosts, ["web1", "web2"], seed=5, force=False)
    lines = aggregated.path.read_text().splitlines(keepends=True)
    assert aggregated.lines == len(lines) == 600
    times = [float(t) for t, _ in stamps(lines)]
    assert times == sorted(times)
    for host, node in zip(hosts, ["web1", "web2"], strict=True):
        mine = [line.removeprefix(f"node={node} ") for line in lines if line.startswith(f"node={node} ")]
        assert mine == host.path.read_text().splitlines(keepends=True)


def test_inputs_are_reused_while_their_parameters_hold(fleet: Any) -> None:
    first = fleet.host_log(0, 200, seed=5, force=False)
    again = fleet.host_log(0, 200, seed=5, force=False)
    assert first.seconds > 0 and again.seconds == 0 and again.path == first.path
    assert fleet.host_log(0, 200, seed=5, force=True).seconds > 0
