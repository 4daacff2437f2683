"""Coverage: in how many runs each syscall was seen, each run's discovery curve, and the JSON
report (`--report-json`) that carries them, checked against docs/report-schema.json."""

from __future__ import annotations

import json
from pathlib import Path

from learn.coverage import Coverage, profiles_coverage
from learn.pipeline import learn_from_logs
from learn.profile import Profile
from learn.select import Selection
from tests.conftest import ROOT
from tests.schema_check import errors
from tests.unit.test_cli import learn

SCHEMA = json.loads((ROOT / "docs" / "report-schema.json").read_text())
RECORD = (
    'type=SECCOMP msg=audit({time}:{serial}): auid=0 uid=0 gid=0 ses=7 pid=42 comm="srv" exe="/usr/bin/srv" '
    "sig=0 arch=c000003e syscall={nr} compat=0 ip=0x7fc2cb3c6ad7 code=0x7ffc0000\n"
)
READ, WRITE, OPENAT, SENDFILE, EXIT_GROUP = 0, 1, 257, 40, 231


def write_run(path: Path, nrs: list[int], start: int) -> Path:
    """A saved run: one record per syscall number, stamps (and serials) from start on."""
    path.write_text("".join(RECORD.format(time=f"{1700000000 + start + i}.000", serial=start + i, nr=nr)
                            for i, nr in enumerate(nrs)))  # fmt: skip
    return path


def test_a_syscall_seen_in_one_run_of_three_is_flagged(tmp_path: Path) -> None:
    common = [OPENAT, READ, WRITE, EXIT_GROUP]
    runs = [
        write_run(tmp_path / "run1.log", common, 0),
        write_run(tmp_path / "run2.log", [OPENAT, READ, SENDFILE, WRITE, EXIT_GROUP], 100),  # the rare path
        write_run(tmp_path / "run3.log", common, 200),
    ]
    report_path = tmp_path / "report.json"
    done = learn("suggest", *runs, "-o", tmp_path / "p.json", "--report-json", report_path)
    assert done.returncode == 0, done.stderr
    assert "coverage: 3 runs; 1 syscalls seen in only 1 of 3" in done.stderr
    assert f"  x86_64 sendfile: seen in 1 of 3 runs ({tmp_path / 'run2.log'})" in done.stderr
    report = json.loads(report_path.read_text())
    assert errors(report, SCHEMA) == []
    assert report["seen_in_one_run"] == [{"arch": "x86_64", "syscall": "sendfile", "run": str(tmp_path / "run2.log")}]
    by_name = {s["syscall"]: s for s in report["syscalls"]}
    assert by_name["sendfile"]["runs_seen"] == 1 and by_name["read"]["runs_seen"] == 3
    assert by_name["read"]["runs_total"] == 3 and by_name["read"]["count"] == 3
    assert by_name["read"]["executables"] == ["/usr/bin/srv"] and by_name["read"]["arguments"] is None
    assert by_name["read"]["first_seen"] == 1700000001.0 and by_name["read"]["last_seen"] == 1700000201.0
    assert [run["distinct"] for run in report["runs"]] == [4, 5, 4]
    assert report["runs"][1]["curve"][2] == {
        "record": 3, "distinct": 3, "time": 1700000102.0, "arch": "x86_64", "syscall": "sendfile"
    }  # fmt: skip
    assert report["profile"]["baseline_added"] == {"x86_64": ["exit", "restart_syscall", "rt_sigreturn"]}
    assert report["command"] == "suggest" and report["target"] is None and report["code_paths"] == []


def test_a_run_still_finding_new_syscalls_at_its_end_may_be_too_short(tmp_path: Path) -> None:
    steady = [READ, WRITE] * 1000
    log = write_run(tmp_path / "server.log", [OPENAT, *steady, SENDFILE, EXIT_GROUP], 0)
    done = learn("suggest", log, "-o", tmp_path / "p.json", "--report-json", tmp_path / "r.json")
    assert "warning: new syscalls still appeared in the last 10% of" in done.stderr
    [run] = json.loads((tmp_path / "r.json").read_text())["runs"]
    assert run["late"] == ["sendfile"] and run["may_be_too_short"] and run["last_new_record"] == 2002
    quiet = write_run(tmp_path / "quiet.log", [OPENAT, SENDFILE, *steady, EXIT_GROUP], 0)  # exit_group aside
    done = learn("suggest", quiet, "-o", tmp_path / "q.json")
    assert "too short" not in done.stderr and "the last new one (exits aside) at record 4 of 2003 (0%)" in done.stderr


def test_short_runs_are_not_judged_by_their_tail() -> None:
    coverage = Coverage()
    for i, nr in enumerate([READ] * 10 + [SENDFILE]):
        coverage.add("x86_64", nr, "read" if nr == READ else "sendfile", "/x", 1, float(i))
    assert coverage.runs[0].late() == []


def test_the_bulk_path_gives_the_same_coverage(tmp_path: Path) -> None:
    logs = [str(write_run(tmp_path / f"r{i}.log", [OPENAT, READ, WRITE][: i + 1] * 50, i * 1000)) for i in range(3)]
    line = learn_from_logs(logs, Selection()).coverage
    bulk = learn_from_logs(logs, Selection(), bulk_block=4096).coverage
    assert {k: (v.count, v.runs) for k, v in line.syscalls.items()} == {
        k: (v.count, v.runs) for k, v in bulk.syscalls.items()
    }
    assert [r.records for r in line.runs] == [r.records for r in bulk.runs] == [50, 100, 150]
    assert line.rare() == bulk.rare() == [("x86_64", "write", str(tmp_path / "r2.log"))]


def test_merge_says_which_names_only_one_profile_allows(tmp_path: Path) -> None:
    a = Profile({"x86_64": ("exit_group", "read")})
    b = Profile({"x86_64": ("exit_group", "read", "sendfile")})
    assert profiles_coverage([("a", a), ("b", b)]) == [("x86_64", "sendfile", "b")]
    files = []
    for name, names in (("a", '"read"'), ("b", '"read", "sendfile"')):
        path = tmp_path / f"{name}.json"
        path.write_text('{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], '
                        f'"syscalls": [{{"names": [{names}], "action": "SCMP_ACT_ALLOW"}}]}}')  # fmt: skip
        files.append(path)
    done = learn("merge", *files)
    assert done.returncode == 0, done.stderr
    assert (
        f"coverage: 2 profiles; 1 syscalls allowed by only 1 of 2\n  x86_64 sendfile: in 1 of 2 profiles ({files[1]})"
        in done.stderr
    )


def test_report_json_to_stdout_needs_the_profile_elsewhere(tmp_path: Path) -> None:
    from tests.unit.test_cli import assert_one_line_error

    log = write_run(tmp_path / "r.log", [READ], 0)
    assert_one_line_error(learn("suggest", log, "--report-json", "-"), 2)
    done = learn("suggest", log, "-q", "-o", tmp_path / "p.json", "--report-json", "-")
    assert done.returncode == 0 and errors(json.loads(done.stdout), SCHEMA) == []


def test_with_args_the_report_carries_the_argument_values_and_risk_follows_the_rules(tmp_path: Path) -> None:
    log = ROOT / "sample-logs" / "auditd-args" / "argcalls.audit.log"
    done = learn("suggest", "--args", log, "-o", tmp_path / "p.json", "--report-json", tmp_path / "r.json")
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert errors(report, SCHEMA) == []
    socket = next(s for s in report["syscalls"] if s["syscall"] == "socket")
    assert {"values": "AF_UNIX, SOCK_STREAM", "count": 1} in socket["arguments"]
    assert not [r for r in report["risks"] if r["syscall"] == "socket"]  # AF_PACKET & co. are not allowed now
    assert all(s["arguments"] is None for s in report["syscalls"] if s["syscall"] == "read")
