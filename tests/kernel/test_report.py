"""--report-json of `learn run` and `learn check` on the real kernel, against the schema."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.kernel.conftest import learn_argv, learn_run
from tests.schema_check import errors
from tests.unit.test_coverage import SCHEMA

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: seccomp filters and audit records"),
]


def test_run_report_says_what_changed_code_paths(programs: dict[str, Path], tmp_path: Path) -> None:
    report_path = tmp_path / "report.json"
    run = learn_run([str(programs["killed"]), "TERM"], tmp_path, "--report-json", str(report_path))
    assert run.status == 128 + signal.SIGTERM, run.stderr
    report = json.loads(report_path.read_text())
    assert errors(report, SCHEMA) == []
    assert report["command"] == "run" and report["target"]["status"] == 128 + signal.SIGTERM
    kinds = {p["kind"]: p["message"] for p in report["code_paths"]}
    assert "stdout" in kinds["stdio-not-a-terminal"]  # the target's stdout was a file
    assert (
        kinds["killed-by-signal"]
        == "the target ended by SIGTERM (status 143): the paths of a normal exit were not walked in this run"
    )
    assert "code paths: the target ended by SIGTERM" in run.stderr
    [only] = report["runs"]
    assert only["name"] == str(programs["killed"]) and f"run {programs['killed']}: " in run.stderr
    assert only["records"] == report["records"]["selected"] == sum(s["count"] for s in report["syscalls"])
    assert {"kill", "getpid"} <= {s["syscall"] for s in report["syscalls"]}
    assert report["profile"]["output"] == str(run.output)


def test_check_report_lists_the_denied_calls(programs: dict[str, Path], tmp_path: Path) -> None:
    run = learn_run([str(programs["unamer"])], tmp_path)
    assert run.status == 0, run.stderr
    spec = run.oci()
    spec["syscalls"][0]["names"].remove("uname")  # type: ignore[index]
    narrowed = tmp_path / "narrowed.json"
    narrowed.write_text(json.dumps(spec))
    report_path = tmp_path / "check.json"
    done = subprocess.run(
        [*learn_argv(), "check", "--report-json", str(report_path), str(narrowed), str(programs["unamer"])],
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    report = json.loads(report_path.read_text())
    assert errors(report, SCHEMA) == []
    assert report["command"] == "check" and [s["syscall"] for s in report["syscalls"]] == ["uname"]
    assert report["profile"]["output"] == str(narrowed)
    assert "\nrun " not in done.stderr  # check's records are denials: no discovery curve is said
