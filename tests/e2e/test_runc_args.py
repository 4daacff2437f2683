"""runc with argument rules (issue 9): `learn run --args --oci-bundle` learns the container's
calls and runc's tail with their argument values (audit rules for the session runc runs in),
and runc enforcing that profile runs the container unchanged, start after start."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import learn_background
from tests.e2e.test_runc import (
    TIMEOUT,
    bundle,
    container_ids,
    delete_container,
    new_id,
    plain_output,
    runc,
    runc_run,
    with_seccomp,
)

pytestmark = pytest.mark.kernel
__all__ = ["bundle", "container_ids", "plain_output", "runc"]  # the fixtures, shared
STARTS = 20


def test_runc_enforcing_an_args_profile_runs_the_container_unchanged(
    runc: str, bundle: Path, plain_output: str, container_ids: list[str], tmp_path: Path
) -> None:
    profile = tmp_path / "profile.json"
    with learn_background(["run", "--args", "--oci-bundle", str(bundle), "-o", str(profile)], tmp_path, "learn") as run:
        try:
            status = run.proc.wait(timeout=TIMEOUT)
        finally:
            delete_container(runc, f"learn-{run.proc.pid}")
    assert status == 0, run.err()
    assert run.out() == plain_output
    spec: dict[str, Any] = json.loads(profile.read_text())
    assert any(rule.get("args") for rule in spec["syscalls"]), spec  # some calls are argument-checked
    assert "lost: 0" in run.err()
    enforced = with_seccomp(bundle, tmp_path / "enforced", spec)
    for n in range(STARTS):
        got = runc_run(runc, enforced, new_id(container_ids, f"args{n}"))
        assert (got[0], got[1]) == (0, plain_output), (n, got)
