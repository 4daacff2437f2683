"""memcached with argument rules (issue 9): `learn run --args` under the client workload, then
`learn check --args` under the same workload denies nothing and the replies are the same; the
socket rules allow exactly the families memcached used, and AF_PACKET is not among them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from learn.formats import load_profile
from learn.model import Action
from tests.e2e.test_memcached import SIGTERM_STATUSES, free_port, serve, workdir, workload

pytestmark = pytest.mark.kernel
__all__ = ["workdir"]  # the module fixture, shared

AF_UNIX, AF_INET, AF_INET6, AF_NETLINK, AF_PACKET = 1, 2, 10, 16, 17


def test_args_profile_denies_nothing_under_the_same_workload(workdir: Path) -> None:
    profile = workdir / "memcached-args.json"
    port = free_port()
    with serve(["run", "--args", "-o", str(profile)], workdir, "run-args", port) as run:
        replies = workload(port)
        status = run.terminate()
        assert status in SIGTERM_STATUSES, run.err()
    learned = run.err()
    assert "x86_64 socket: " in learned and "lost: 0" in learned, learned
    used = {AF_UNIX if "AF_UNIX" in part else AF_INET if "AF_INET," in part else -1
            for part in learned.split("x86_64 socket: ", 1)[1].splitlines()[0].split("; ")}  # fmt: skip
    spec = json.loads(profile.read_text())
    socket_rules = [r for r in spec["syscalls"] if r["names"] == ["socket"]]
    assert socket_rules and all(r.get("args") for r in socket_rules)
    assert {a["value"] for r in socket_rules for a in r["args"] if a["index"] == 0} == used
    model = load_profile(str(profile)).profile
    for family in (AF_PACKET, AF_NETLINK, AF_INET6):
        assert model.decide("x86_64", "socket", (family, 1, 0)).action is Action.ERRNO
    port = free_port()
    with serve(["check", "--args", str(profile)], workdir, "check-args", port) as run:
        again = workload(port)
        status = run.terminate()
    assert status == 0, run.err()  # check's own status: nothing denied
    assert "nothing denied" in run.err(), run.err()
    assert again[:8] == replies[:8]
