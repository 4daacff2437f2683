"""memcached end to end: learn its profile from a real client session, check the profile against
the same session (nothing denied, same replies), then take out one syscall its request path
needs and check again (exactly that syscall denied, and the client sees it fail).

memcached runs in the foreground on a free loopback port, threaded (a listener, four workers
and its maintenance threads): every thread's calls must be in the profile, or the check run
would report denials. It is stopped the way a service manager stops it, with SIGTERM to
`learn`, which passes it on.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Learn, learn_background, needs_root, table, wait_until

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: seccomp filters and audit records"),
]

MEMCACHED = "/usr/bin/memcached"
THREADS = 4  # memcached's default -t: connections are handed to the workers round-robin
TIMEOUT = 5.0  # seconds for any one client step
START_TIMEOUT = 20.0
SIGTERM_STATUSES = {0, 128 + 15}  # memcached exits 0 on SIGTERM; killed by it would be 143
# Counters that depend only on the commands sent (not on time, pids or connection probes).
STATS = (
    "cmd_get", "cmd_set", "get_hits", "get_misses", "delete_hits", "delete_misses", "incr_hits",
    "incr_misses", "curr_items", "total_items", "threads",
)  # fmt: skip
# The syscall taken out: memcached's workers send every reply with sendmsg (transmit()); the
# learned log shows them making it. Without it a worker gets EPERM on its first reply and
# closes the connection ("Failed to write, and not due to blocking").
REMOVED = "sendmsg"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def memcached_argv(port: int) -> list[str]:
    try:
        user = pwd.getpwnam("memcache").pw_name  # Debian's memcached package makes it
    except KeyError:
        user = "root"
    return [MEMCACHED, "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-u", user, "-t", str(THREADS)]


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for_port(port: int, run: Learn) -> None:
    def up() -> bool:
        if run.proc.poll() is not None:
            raise AssertionError(f"learn exited ({run.proc.returncode}) before memcached listened:\n{run.err()}")
        return accepts(port)

    wait_until(up, START_TIMEOUT, f"memcached to accept on 127.0.0.1:{port}")


class Client:
    """The memcached text protocol over one TCP connection."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)

    def close(self) -> None:
        self.sock.close()

    def request(self, command: str, multiline: bool = False) -> str:
        """Send one command, return its whole reply (up to END for get and stats)."""
        self.sock.sendall(command.encode())
        reply = b""
        while not reply.endswith(b"\r\n") or (
            multiline and not reply.endswith(b"END\r\n") and not reply.endswith(b"ERROR\r\n")
        ):
            chunk = self.sock.recv(65536)  # socket.timeout (an OSError) if the server hangs
            if not chunk:
                raise ConnectionResetError(f"memcached closed the connection; got {reply!r}")
            reply += chunk
        return reply.decode()


def workload(port: int) -> list[str]:
    """set, get, incr, delete on one connection per worker thread, then stats: the replies."""
    clients = [Client(port) for _ in range(THREADS)]
    try:
        replies: list[str] = []
        for i, c in enumerate(clients):
            value = f"value-{i}-" + "x" * (100 * i)
            replies += [
                c.request(f"set key{i} 0 0 {len(value)}\r\n{value}\r\n"),
                c.request(f"get key{i}\r\n", multiline=True),
                c.request(f"set counter{i} 0 0 2\r\n{10 + i}\r\n"),
                c.request(f"incr counter{i} {i + 1}\r\n"),
                c.request(f"incr nosuchkey{i} 1\r\n"),
                c.request(f"delete key{i}\r\n"),
                c.request(f"delete key{i}\r\n"),
                c.request(f"get key{i} counter{i}\r\n", multiline=True),
            ]
        stats = clients[0].request("stats\r\n", multiline=True)
        values = dict(line.split(" ", 2)[1:] for line in stats.splitlines() if line.startswith("STAT "))
        replies += [f"STAT {name} {values[name]}" for name in STATS]
        replies.append("stat names: " + " ".join(sorted(values)))
        return replies
    finally:
        for c in clients:
            c.close()


EXPECTED_HEAD = [
    "STORED\r\n",
    "VALUE key0 0 8\r\nvalue-0-\r\nEND\r\n",
    "STORED\r\n",
    "11\r\n",
    "NOT_FOUND\r\n",
    "DELETED\r\n",
    "NOT_FOUND\r\n",
    "VALUE counter0 0 2\r\n11\r\nEND\r\n",
]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    needs_root()
    if not os.access(MEMCACHED, os.X_OK):
        pytest.skip(f"{MEMCACHED} is not installed (Debian package memcached)")
    return tmp_path_factory.mktemp("memcached")


@contextlib.contextmanager
def serve(args: list[str], workdir: Path, name: str, port: int, argv: list[str] | None = None) -> Iterator[Learn]:
    """`learn ARGS -- memcached ...` (or argv) in the background, once memcached accepts connections."""
    with learn_background([*args, "--", *(argv or memcached_argv(port))], workdir, name) as run:
        wait_for_port(port, run)
        yield run


@pytest.fixture(scope="module")
def learned(workdir: Path) -> tuple[Path, Path, list[str], Learn]:
    """`learn run` of memcached serving the workload: (profile, saved log, replies, run)."""
    profile, log = workdir / "memcached.json", workdir / "memcached.audit.log"
    port = free_port()
    with serve(["run", "-o", str(profile), "--save-log", str(log)], workdir, "run", port) as run:
        replies = workload(port)
        status = run.terminate()
        assert status in SIGTERM_STATUSES, run.err()
        assert f"target exit status: {status}" in run.err()
    assert profile.exists(), run.err()
    return profile, log, replies, run


def names_of(profile: Path) -> set[str]:
    return {n for rule in json.loads(profile.read_text())["syscalls"] for n in rule["names"]}


def test_learned_replies_are_memcacheds(learned: tuple[Path, Path, list[str], Learn]) -> None:
    _, _, replies, _ = learned
    assert replies[: len(EXPECTED_HEAD)] == EXPECTED_HEAD
    assert "STAT threads 4" in replies and "STAT cmd_set 8" in replies and "STAT get_hits 8" in replies


def test_learned_profile_has_every_threads_calls(learned: tuple[Path, Path, list[str], Learn]) -> None:
    profile, log, _, run = learned
    names = names_of(profile)
    spec = json.loads(profile.read_text())
    assert spec["defaultAction"] == "SCMP_ACT_ERRNO" and spec["architectures"] == ["SCMP_ARCH_X86_64"]
    # the listener accepts, the workers read requests, wait in epoll and reply
    assert {"accept4", "epoll_wait", "read", REMOVED, "bind", "listen", "clone3", "futex"} <= names
    records = log.read_text().splitlines()
    comms = {line.split('comm="', 1)[1].split('"', 1)[0] for line in records if 'comm="' in line}
    assert {"memcached", "mc-worker"} <= comms, comms  # the main thread's and the workers' records
    assert len(comms - {"learn"}) >= 3, comms  # and the maintenance threads' (mc-lrumaint, ...)
    worker_calls = {line.split(" syscall=", 1)[1].split()[0] for line in records if 'comm="mc-worker"' in line}
    assert "46" in worker_calls, worker_calls  # sendmsg: made by the workers only
    assert "lost: 0" in run.err()


def test_check_with_the_learned_profile_denies_nothing(
    learned: tuple[Path, Path, list[str], Learn], workdir: Path
) -> None:
    profile, _, replies, _ = learned
    port = free_port()
    with serve(["check", str(profile)], workdir, "check", port) as run:
        again = workload(port)
        status = run.terminate()
    assert status == 0, run.err()
    assert "learn: nothing denied" in run.err()
    assert table(run.err()) == {}
    assert again == replies


def test_check_without_sendmsg_denies_exactly_sendmsg(
    learned: tuple[Path, Path, list[str], Learn], workdir: Path
) -> None:
    profile, _, _, _ = learned
    spec = json.loads(profile.read_text())
    for rule in spec["syscalls"]:
        rule["names"] = [n for n in rule["names"] if n != REMOVED]
    without = workdir / f"memcached-without-{REMOVED}.json"
    without.write_text(json.dumps(spec, indent=2) + "\n")
    assert names_of(without) == names_of(profile) - {REMOVED}

    port = free_port()
    with serve(["check", str(without)], workdir, "check-without", port) as run:
        client = Client(port)
        try:
            with pytest.raises(OSError):  # closed by the server (or a timeout, were it to hang)
                client.request("set k 0 0 1\r\nv\r\n")
        finally:
            client.close()
        status = run.terminate()
    err = run.err()
    assert status == 3, err
    assert REMOVED in err
    tables = table(err)
    assert set(tables) == {"x86_64"}, err
    assert set(tables["x86_64"]) == {REMOVED}, err
    assert "calls denied" in err
