"""Shared test setup: fixed time zone, paths, and the --regen-golden flag."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CORPUS_LOGS = SHARED / "corpus" / "logs"
SAMPLE_LOGS = ROOT / "sample-logs"

# `ausearch -i` stamps are local time: pin the zone so decoded stamps do not depend on the host.
os.environ["TZ"] = "UTC"
time.tzset()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--regen-golden",
        action="store_true",
        help="rewrite the expected files of golden tests from the current output (review the diff!)",
    )


@pytest.fixture
def regen(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--regen-golden"))
