"""learn suggest --engine dask: each input is read and counted as a Dask task, and the usage
shards they return are merged pairwise in a tree, in input order, into the usage the profile
is built from (so the profile is the one the local engine writes).

Workers read the paths themselves: on a remote cluster the inputs must be where the workers
can open them (shared storage), as with any Dask file reader. Without --scheduler a
LocalCluster of two worker processes starts on 127.0.0.1, with no dashboard.
"""

from __future__ import annotations

from typing import Any

from learn.errors import UsageError
from learn.select import Selection
from learn.sources import expand
from learn.tally import Findings
from learn.usage import Usage, from_findings, is_shard
from parsers import DecodeOptions, InputFormat

INSTALL_HINT = "pip install 'learn[dask]' (dask and distributed)"
LOCAL_WORKERS = 2


def usage_of(path: str, selection: Selection, fmt: InputFormat, options: DecodeOptions) -> Usage:
    """One input's usage: a shard as it is, a log read and counted (a task, run on a worker)."""
    from learn import usage as shards
    from learn.pipeline import learn_from_logs

    if is_shard(path):
        return shards.read(path) if selection == Selection() else _refuse_selection(path)
    usage = Usage()
    return from_findings(learn_from_logs([path], selection, fmt, None, options=options, usage=usage), usage)


def _refuse_selection(path: str) -> Usage:
    from learn.pipeline import SHARD_SELECTION_HINT

    raise UsageError(f"{path} is a usage shard: it cannot be selected from again", SHARD_SELECTION_HINT)


def merge_pair(first: Usage, second: Usage) -> Usage:
    return first.merged(second)


def learn_on_dask(
    paths: list[str], selection: Selection, fmt: InputFormat, options: DecodeOptions, scheduler: str | None
) -> tuple[Findings, Usage]:
    """The findings of paths, counted on a Dask cluster (scheduler's address, or a local one),
    and the merged usage they are built from."""
    from learn.pipeline import findings_from_usage

    client_type = _distributed()
    inputs = expand(paths)
    with _client(client_type, scheduler) as client:
        tasks = [client.submit(usage_of, path, selection, fmt, options, pure=False) for path in inputs]
        while len(tasks) > 1:  # neighbours only: the sources stay in input order
            pairs = zip(tasks[::2], tasks[1::2], strict=False)
            merged = [client.submit(merge_pair, a, b, pure=False) for a, b in pairs]
            tasks = merged + tasks[len(merged) * 2 :]
        usage: Usage = tasks[0].result() if tasks else Usage()
    return findings_from_usage(usage), usage


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise UsageError("--engine dask needs dask and distributed, which are not installed", INSTALL_HINT) from None
    return distributed


class _client:
    """A Client on the scheduler given, or on a LocalCluster started (and stopped) here."""

    def __init__(self, distributed: Any, scheduler: str | None) -> None:
        self._distributed = distributed
        self._scheduler = scheduler
        self._cluster: Any = None
        self._client: Any = None

    def __enter__(self) -> Any:
        d = self._distributed
        if self._scheduler is None:
            self._cluster = d.LocalCluster(
                n_workers=LOCAL_WORKERS, threads_per_worker=1, processes=True, host="127.0.0.1",
                dashboard_address=None, silence_logs=50,
            )  # fmt: skip
            self._client = d.Client(self._cluster)
        else:
            try:
                self._client = d.Client(self._scheduler, timeout="10s")
            except (OSError, TimeoutError, ValueError) as e:
                raise UsageError(
                    f"--scheduler {self._scheduler}: cannot reach a Dask scheduler ({e})",
                    "give its address, e.g. tcp://10.0.0.5:8786 (dask scheduler prints it)",
                ) from None
        return self._client

    def __exit__(self, *exc: object) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()
