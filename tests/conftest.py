"""Shared test setup: fixed time zone, paths, the --regen-golden flag, and skipping what needs
the shared corpus (../shared) in a clone that has none."""

from __future__ import annotations

import inspect
import os
import time
from pathlib import Path, PurePath
from types import CodeType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CORPUS_LOGS = SHARED / "corpus" / "logs"
SAMPLE_LOGS = ROOT / "sample-logs"
HAVE_CORPUS = SHARED.is_dir()
NO_CORPUS = f"needs the shared corpus {SHARED}, absent here (a clone of learn alone); CI has it"
_CORPUS_NAMES = {"SHARED", "CORPUS_LOGS"}

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


def _in_corpus(value: object, depth: int = 0) -> bool:
    """A path (or a collection holding one) under ../shared."""
    if isinstance(value, PurePath):
        return value.is_relative_to(SHARED)
    if isinstance(value, str):
        return value.startswith(str(SHARED) + os.sep)
    if isinstance(value, (list, tuple, set, frozenset)) and depth < 2:
        return any(_in_corpus(v, depth + 1) for v in value)
    return False


def _reads_corpus(code: CodeType, names: dict[str, Any], seen: set[CodeType]) -> bool:
    """Does this code (or a function of its module it calls) name a corpus path?"""
    if code in seen:
        return False
    seen.add(code)
    for name in code.co_names:
        if name in _CORPUS_NAMES:
            return True
        value = names.get(name)
        if _in_corpus(value):
            return True
        if inspect.isfunction(value) and value.__globals__ is names and _reads_corpus(value.__code__, names, seen):
            return True
    return any(isinstance(c, CodeType) and _reads_corpus(c, names, seen) for c in code.co_consts)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Without ../shared, tests that read it are skipped with a reason instead of failing."""
    if HAVE_CORPUS:
        return
    skip = pytest.mark.skip(reason=NO_CORPUS)
    for item in items:
        function = getattr(item, "function", None)
        params = getattr(getattr(item, "callspec", None), "params", {})
        if any(_in_corpus(v) for v in params.values()) or (
            function is not None and _reads_corpus(function.__code__, function.__globals__, set())
        ):
            item.add_marker(skip)
