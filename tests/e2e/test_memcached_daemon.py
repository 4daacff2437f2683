"""memcached in daemon mode (`-d`: it forks, the started process exits at once, the server runs
on as an orphan in a new session): `learn run` follows it to its end, so its request path
(accept4, sendmsg ...) is learned, and `learn check` of the same session under that profile
denies nothing. learn stops it as it stops a foreground target: SIGTERM to learn, passed on to
every process of the target's audit session."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Learn, needs_root, table
from tests.e2e.test_memcached import MEMCACHED, REMOVED, free_port, memcached_argv, names_of, serve, workload

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: seccomp filters and audit records"),
]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    needs_root()
    if not os.access(MEMCACHED, os.X_OK):
        pytest.skip(f"{MEMCACHED} is not installed (Debian package memcached)")
    return tmp_path_factory.mktemp("memcached-daemon")


@contextlib.contextmanager
def daemon(args: list[str], workdir: Path, name: str, port: int) -> Iterator[Learn]:
    """`learn ARGS -- memcached -d -P PIDFILE ...`; the daemon is killed on the way out, whatever happened."""
    pidfile = workdir / f"{name}.pid"
    argv = [*memcached_argv(port), "-d", "-P", str(pidfile)]
    try:
        with serve(args, workdir, name, port, argv) as run:
            yield run
    finally:
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pidfile.read_text()), signal.SIGKILL)


def test_a_daemon_is_learned_and_checked_to_its_end(workdir: Path) -> None:
    profile = workdir / "daemon.json"
    port = free_port()
    with daemon(["run", "-o", str(profile)], workdir, "daemon-run", port) as run:
        replies = workload(port)
        status = run.terminate()
    assert status == 0, run.err()  # memcached -d, the process learn started, exited 0 after forking
    assert {"accept4", "epoll_wait", REMOVED, "futex"} <= names_of(profile), run.err()
    port = free_port()
    with daemon(["check", str(profile)], workdir, "daemon-check", port) as run:
        again = workload(port)
        status = run.terminate()
    assert status == 0, run.err()
    assert "learn: nothing denied" in run.err() and table(run.err()) == {}
    assert again == replies
