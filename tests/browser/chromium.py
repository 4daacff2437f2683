"""Open a page in headless Chromium (Debian's `chromium`) as a user would, and say what it did:
the DOM after load, the console messages, every request the page made, a screenshot.

Chromium's command line does all of it, no driver library: --dump-dom, --screenshot,
--enable-logging=stderr --v=1 (console messages are `CONSOLE` lines), --log-net-log (every
request, each with the origin that caused it). Names resolve nowhere and the proxy is a closed
port, so a request that slipped through still reaches no one.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ISOLATED = (
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=127.0.0.1:9", "--enable-logging=stderr", "--v=1",
)  # fmt: skip
CONSOLE = re.compile(r":CONSOLE[:(]\d+\)?\] (.*)")


@dataclass
class Visit:
    dom: str
    console: list[str]  # every console message (errors, warnings, CSP violations)
    requests: list[str]  # URLs the page itself asked for over the network
    screenshot: Path | None


def visit(page: Path, work: Path, screenshot: Path | None = None, width: int = 1280, height: int = 2400) -> Visit:
    assert CHROMIUM is not None, "chromium is not installed"
    url = page.resolve().as_uri()
    net = work / "net.json"
    common = [CHROMIUM, *ISOLATED, f"--user-data-dir={work / 'profile'}", f"--log-net-log={net}"]
    dump = subprocess.run([*common, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=True)
    console = CONSOLE.findall(dump.stderr)
    requests = _page_requests(net)
    if screenshot is not None:
        shot = [*common, f"--window-size={width},{height}", "--hide-scrollbars", f"--screenshot={screenshot}", url]
        subprocess.run(shot, capture_output=True, text=True, timeout=120, check=True, cwd=work)
    return Visit(dump.stdout, console, requests, screenshot)


def _page_requests(net: Path) -> list[str]:
    """URLs requested on behalf of a file:// page (Chromium's own update checks are not the page's)."""
    text = net.read_text().rstrip().rstrip(",")
    log: dict[str, Any] = json.loads(text if text.endswith("}") and text.count("[") == text.count("]")
                                     else text + "]}")  # fmt: skip  # a net log cut at exit lacks its end
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return sorted({
        e["params"]["url"]
        for e in log["events"]
        if e["type"] == start and "file://" in e["params"].get("network_isolation_key", "")
    })  # fmt: skip
