"""`learn report`: the HTML page drawn from the --report-json model (learn.htmlreport)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from learn.errors import InputError
from learn.htmlreport.inputs import is_report_json, load_report_json, model_from_logs, models
from learn.htmlreport.kinds import KINDS, ORDER, kind_of
from learn.htmlreport.render import page
from learn.pipeline import build_profile, learn_from_logs
from learn.report import Context, build
from learn.select import Selection
from tests.conftest import ROOT, SAMPLE_LOGS
from tests.schema_check import errors
from tests.unit.test_cli import assert_one_line_error, learn

SCHEMA = json.loads((ROOT / "docs" / "report-schema.json").read_text())
LS = SAMPLE_LOGS / "auditd" / "ls-la.audit.log"
PY = SAMPLE_LOGS / "auditd" / "python3-print.audit.log"
STATIC32 = SAMPLE_LOGS / "auditd" / "static32.audit.log"
SECTIONS = ("overview", "kinds", "heatmap", "discovery", "runs", "risks", "problems", "denials")


def test_the_model_carries_usage_per_executable_and_problems_with_their_line(tmp_path: Path) -> None:
    log = tmp_path / "mixed.log"
    log.write_text(LS.read_text() + "type=SECCOMP msg=audit(1700000000.000:1): arch=c000003e syscall=oops\n")
    model = model_from_logs([str(log)])
    assert errors(model, SCHEMA) == []
    ls_read = [u for u in model["usage"] if u["syscall"] == "read" and u["executable"] == "/usr/bin/ls"]
    assert ls_read and ls_read[0]["count"] == next(s["count"] for s in model["syscalls"] if s["syscall"] == "read")
    assert model["problems"]["counts"] and model["problems"]["kept"][0]["source"] == str(log)
    line = len(LS.read_text().splitlines()) + 1
    assert model["problems"]["kept"][0]["line"] == line
    problems = page([model]).split('<section id="problems">')[1]
    assert f"<td>{log}:{line}</td>" in problems


def test_every_kind_row_names_a_syscall_once() -> None:
    names = [name for _, names in KINDS for name in names]
    assert len(names) == len(set(names))
    assert kind_of("openat") == "file" and kind_of("connect") == "network" and kind_of("mmap") == "memory"
    assert kind_of("rt_sigaction") == "signals" and kind_of("futex") == "ipc" and kind_of("no_such") == "other"
    assert ORDER[-1] == "other"


def test_a_report_of_real_captures_has_every_section_and_their_syscalls() -> None:
    html = page(models([str(LS), str(PY), str(STATIC32)]))
    for section in SECTIONS:
        assert f'<section id="{section}">' in html
    for name in ("newfstatat", "getdents64", "rt_sigaction", "set_thread_area", "/usr/bin/ls"):
        assert name in html
    assert html.count("<svg") >= 5  # two arches, the heat map, the curves, the runs compared
    assert "socket AF_PACKET" in html  # ls -la's socket call: risky with that value, the profile allows any


def test_the_page_asks_for_nothing_over_the_network() -> None:
    html = page(models([str(LS)]))
    assert not re.search(r"""(src|href|xlink:href|url)\s*[=(]\s*["']?\s*(https?:)?//""", html, re.I)
    assert "<script" not in html  # readable without JavaScript; nothing to run
    assert "default-src 'none'" in html  # and the browser refuses anything that slipped in


def test_the_same_inputs_give_the_same_bytes() -> None:
    assert page(models([str(LS), str(PY)])) == page(models([str(LS), str(PY)]))


def test_text_from_the_logs_is_escaped(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text(LS.read_text().replace("/usr/bin/ls", "/tmp/<script>alert(1)</script>"))
    html = page(models([str(log)]))
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_report_json_files_are_inputs_and_check_runs_show_their_denials(tmp_path: Path) -> None:
    findings = learn_from_logs([str(PY)], Selection())
    check = build(findings, Context("check", build_profile(findings), "app.json", "oci"))
    path = tmp_path / "check.json"
    path.write_text(json.dumps(check))
    assert is_report_json(str(path)) and not is_report_json(str(LS))
    found = models([str(LS), str(path)])
    assert [m["command"] for m in found] == ["suggest", "check"]
    html = page(found)
    denials = html[html.index('<section id="denials">') :]
    assert "app.json" in denials and "rt_sigaction" in denials


@pytest.mark.parametrize(
    ("content", "message"),
    [('{"schema": "other/2"}', "is not learn-report/1"), ('{"schema": "learn-report/1"', "not valid JSON"),
     ('{"schema": "learn-report/1"}', "without 'command'")],
)  # fmt: skip
def test_a_json_file_that_is_no_report_is_one_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "r.json"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        load_report_json(str(path))


def test_learn_report_writes_the_page_and_says_where(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = learn("report", LS, "-o", out)
    assert result.returncode == 0, result.stderr
    assert result.stderr == f"learn: report written to {out} (1 run, 30 syscalls)\n"
    assert out.read_text().startswith("<!DOCTYPE html>")


def test_learn_report_without_records_or_with_a_foreign_json_is_one_line(tmp_path: Path) -> None:
    empty = tmp_path / "empty.log"
    empty.write_text("nothing here\n")
    assert_one_line_error(learn("report", empty, "-o", tmp_path / "r.html"), 1)
    foreign = tmp_path / "f.json"
    foreign.write_text('{"schema": "other/1"}')
    assert_one_line_error(learn("report", foreign, "-o", tmp_path / "r.html"), 2)
    assert not (tmp_path / "r.html").exists()


def test_the_page_of_a_log_and_of_its_report_json_are_drawn_alike(tmp_path: Path) -> None:
    """One model: what `suggest --report-json` wrote draws the same sections as the log itself."""
    saved = tmp_path / "ls.report.json"
    result = learn("suggest", LS, "-o", tmp_path / "ls.json", "--report-json", saved, "-q")
    assert result.returncode == 0, result.stderr
    from_log, from_json = page(models([str(LS)])), page(models([str(saved)]))
    for section in ("kinds", "heatmap", "discovery", "risks"):
        start = f'<section id="{section}">'
        assert start in from_log
        assert from_log.split(start)[1].split("</section>")[0] == from_json.split(start)[1].split("</section>")[0]
