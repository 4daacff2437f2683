"""The bulk counting path finds exactly what the per-line reference path finds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from learn.model import Action
from learn.pipeline import learn_from_logs
from learn.select import Selection
from parsers.bulk import BULK_LINE
from parsers.fastpath import FAST_LINE
from tests.conftest import CORPUS_LOGS, SAMPLE_LOGS

LOGS = sorted(p for p in [*CORPUS_LOGS.rglob("*.log"), *SAMPLE_LOGS.rglob("*.log")] if p.is_file())
SELECTIONS = [
    Selection(),
    Selection(actions=frozenset(Action)),
    Selection(actions=frozenset(Action), exes=frozenset({"/usr/bin/ls"})),
]


def _summary(path: Path, selection: Selection, bulk_block: int | None) -> tuple[object, ...]:
    f = learn_from_logs([str(path)], selection, bulk_block=bulk_block)
    rows = sorted(map(tuple, f.usage.astype(str).itertuples(index=False)))
    return (rows, sorted(map(str, f.problems)), f.events, f.selected, f.duplicates, dict(f.not_selected_actions))


@pytest.mark.parametrize("path", LOGS, ids=lambda p: p.name)
@pytest.mark.parametrize("block", [64, 4096])
def test_bulk_path_equals_per_line_path(path: Path, block: int) -> None:
    for selection in SELECTIONS:
        assert _summary(path, selection, block) == _summary(path, selection, None)


def test_bulk_accepts_only_what_the_fast_path_accepts() -> None:
    for path in LOGS:
        for line in path.read_text(errors="replace").split("\n"):
            if BULK_LINE.match("\n" + line + "\n"):
                assert FAST_LINE.match(re.sub(r"^node=\S+ ", "", line)), line


def test_bulk_looks_at_the_lines_the_line_parser_looks_at() -> None:
    from parsers import _WORTH_A_LOOK
    from parsers.bulk import _worth_a_look
    from parsers.framing import LOOK_MARKS

    samples = [f"x {mark} y" for mark in LOOK_MARKS] + ["{}", "nothing here", "type=PATH inode=13"]
    for path in LOGS:
        samples += path.read_text(errors="replace").split("\n")
    for line in samples:
        assert _worth_a_look(line) == bool(_WORTH_A_LOOK.search(line)), line


def test_bulk_leaves_ids_beyond_32_bits_to_the_line_parser() -> None:
    from parsers.bulk import count_block

    good = (
        'type=SECCOMP msg=audit(1.2:3): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=1 comm="a" '
        'exe="/a" sig=0 arch=c000003e syscall=1 compat=0 ip=0x1 code=0x7ffc0000\n'
    )
    assert count_block(good) is not None
    for bad in ("auid=4294967296", "ses=9999999999", "uid=4294967300"):
        key = bad.split("=")[0]
        line = good.replace(f" {key}=", f" {key}=X", 1).replace(f"{key}=X" + good.split(f" {key}=")[1].split()[0], bad)
        assert count_block(line) is None, line
