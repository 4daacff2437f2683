"""`learn report` as a person sees it: the page of real captures opened in headless Chromium.

`pytest tests/browser --regen-golden` also rewrites docs/report-screenshot.png (the README's)
from this same path.
"""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import pytest

from tests.browser.chromium import CHROMIUM, visit
from tests.conftest import ROOT, SAMPLE_LOGS
from tests.unit.test_cli import learn

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="needs Debian's chromium (scripts/system-deps installs it; CI has it)"
)
# relative to the checkout (learn runs there), so the page and its screenshot name no clone's path
CAPTURES = [str((SAMPLE_LOGS / "auditd" / name).relative_to(ROOT))
            for name in ("ls-la.audit.log", "python3-print.audit.log", "static32.audit.log")]  # fmt: skip
SECTIONS = ("overview", "kinds", "heatmap", "discovery", "runs", "risks", "problems", "denials")
SCREENSHOT = ROOT / "docs" / "report-screenshot.png"


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def test_the_report_of_real_captures_loads_clean_in_chromium(tmp_path: Path, regen: bool) -> None:
    report = tmp_path / "report.html"
    result = learn("report", *CAPTURES, "-o", str(report))
    assert result.returncode == 0, result.stderr
    seen = visit(report, tmp_path, tmp_path / "report.png")
    assert seen.console == []  # no errors, no warnings, no refused loads
    assert seen.requests == []
    for section in SECTIONS:
        assert f'<section id="{section}">' in seen.dom
    for name in ("newfstatat", "getdents64", "rt_sigaction", "set_thread_area", "/usr/bin/ls"):
        assert name in seen.dom
    assert seen.dom.count("<svg") >= 5
    assert _png_size(tmp_path / "report.png") == (1280, 2400)
    if regen:
        shutil.copyfile(tmp_path / "report.png", SCREENSHOT)


def test_the_browser_check_sees_console_errors_and_requests(tmp_path: Path) -> None:
    """The checks above can fail: a page that logs an error and loads an image is caught."""
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><body><img src="http://example.invalid/x.png">'
                    '<script>console.error("boom")</script></body></html>')  # fmt: skip
    seen = visit(page, tmp_path)
    assert any("boom" in line for line in seen.console)
    assert seen.requests == ["http://example.invalid/x.png"]
