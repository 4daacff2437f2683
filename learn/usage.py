"""Usage shards: the selected usage of some logs, kept with its evidence, written as Parquet.

One row per (node, arch, nr, syscall, action, exe) with how often it was seen, when first
and last, and one source:line that shows it (sepolgen keeps its evidence the same way).
Merging two usages is associative and commutative on the table (counts add, first/last take
min/max, the sample is the earliest one); the provenance (sources, in order) concatenates, so
shards merged in the order of their logs name the logs in that order. A host writes its
shard (`learn suggest LOG --save-usage host.parquet`); one machine (or a Dask cluster) merges
them and builds the same profile the logs would give.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from learn.errors import InputError, UsageError
from learn.model import Action, ProblemKind, SeccompEvent

if TYPE_CHECKING:
    from learn.tally import Findings

MAGIC = b"PAR1"
META_KEY = b"learn.usage"
FORMAT = 2
INSTALL_HINT = "pip install pyarrow (or: pip install 'learn[dask]')"

# (node, arch, nr, syscall, action, exe, argument signature: learn.arglearn.signature, with --args)
Key = tuple[str | None, str, int, str | None, str, str | None, str | None]
COLUMNS = ["node", "arch", "nr", "syscall", "action", "exe", "args", "count", "first_seen", "last_seen", "sample"]


@dataclass(frozen=True)
class Evidence:
    count: int
    first_seen: float | None = None
    last_seen: float | None = None
    sample: str | None = None  # "source:line" of the earliest record seen (or the least, untimed)

    def merged(self, other: Evidence) -> Evidence:
        return Evidence(
            self.count + other.count,
            _least(self.first_seen, other.first_seen, min),
            _least(self.last_seen, other.last_seen, max),
            min((self, other), key=_sample_order).sample,
        )


def _least(a: float | None, b: float | None, pick: Any) -> float | None:
    if a is None:
        return b
    return a if b is None else float(pick(a, b))


def _sample_order(e: Evidence) -> tuple[bool, float, bool, str, int]:
    """Timed samples first, earliest first; then by source and line number: a total order (so
    merging commutes) that numbering a block's lines from the file's start does not change."""
    source, _, line = (e.sample or "").rpartition(":")
    number = int(line) if line.isdigit() else -1
    if number < 0:
        source = e.sample or ""
    return (e.first_seen is None, e.first_seen or 0.0, e.sample is None, source, number)


@dataclass
class Usage:
    """The mergeable table, and what the summary and provenance need beside it."""

    rows: dict[Key, Evidence] = field(default_factory=dict)
    sources: tuple[str, ...] = ()
    events: int = 0  # distinct events decoded, selected or not
    duplicates: int = 0
    lost: int = 0
    problem_counts: Counter[str] = field(default_factory=Counter)
    args: bool | None = None  # written with --args (signatures kept); None: nothing yet (merges as either)

    def add(self, key: Key, evidence: Evidence) -> None:
        have = self.rows.get(key)
        self.rows[key] = evidence if have is None else have.merged(evidence)

    def add_event(self, e: SeccompEvent, args: str | None = None) -> None:
        when = e.timestamp
        key = (e.node, e.arch, e.nr, e.syscall, e.action.value, e.exe, args)
        self.add(key, Evidence(1, when, when, f"{e.source}:{e.line}"))

    def add_many(self, e: SeccompEvent, n: int, earliest: float, latest: float, sample: str) -> None:
        """n events like e (no argument signature), seen from earliest to latest; sample: the earliest's place."""
        self.add((e.node, e.arch, e.nr, e.syscall, e.action.value, e.exe, None), Evidence(n, earliest, latest, sample))

    def merged(self, other: Usage) -> Usage:
        out = Usage(dict(self.rows), self.sources + other.sources, self.events + other.events)
        for key, evidence in other.rows.items():
            out.add(key, evidence)
        out.duplicates = self.duplicates + other.duplicates
        out.lost = self.lost + other.lost
        out.problem_counts = self.problem_counts + other.problem_counts
        out.args = other.args if self.args is None else self.args if other.args is None else self.args and other.args
        return out

    @property
    def selected(self) -> int:
        return sum(e.count for e in self.rows.values())


def merge_all(usages: list[Usage]) -> Usage:
    out = Usage()
    for usage in usages:
        out = out.merged(usage)
    return out


def from_findings(findings: Findings, usage: Usage) -> Usage:
    """The table a run counted, with the run's own provenance and problem counts."""
    usage.sources = tuple(findings.sources)
    usage.events = findings.events
    usage.duplicates = findings.duplicates
    usage.lost = findings.lost
    usage.problem_counts = Counter({k.value: n for k, n in findings.problem_counts.items() if n})
    return usage


def is_shard(path: str) -> bool:
    """A Parquet file (by its magic), which learn reads as a usage shard."""
    if path == "-" or not os.path.isfile(path):  # a FIFO is a log: opening it here would wait for a writer
        return False
    try:
        with open(path, "rb") as f:
            return f.read(4) == MAGIC
    except OSError:
        return False


def _pyarrow() -> Any:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise UsageError("usage shards are Parquet files, and pyarrow is not installed", INSTALL_HINT) from None
    return pa, pq


def write(usage: Usage, path: str) -> None:
    """usage as a Parquet file at path, rows sorted (the same usage gives the same table)."""
    pa, pq = _pyarrow()
    items = sorted(usage.rows.items(), key=lambda kv: tuple((v is None, v or "") for v in _text_key(kv[0])))
    columns: dict[str, list[Any]] = {name: [] for name in COLUMNS}
    for key, ev in items:
        for name, value in zip(COLUMNS, (*key, ev.count, ev.first_seen, ev.last_seen, ev.sample), strict=True):
            columns[name].append(value)
    types = [pa.string(), pa.string(), pa.int64(), pa.string(), pa.string(), pa.string(), pa.string()]
    types += [pa.int64(), pa.float64(), pa.float64(), pa.string()]
    schema = pa.schema([pa.field(n, t) for n, t in zip(COLUMNS, types, strict=True)])
    meta = {
        "format": FORMAT, "sources": list(usage.sources), "events": usage.events, "duplicates": usage.duplicates,
        "lost": usage.lost, "problem_counts": dict(sorted(usage.problem_counts.items())), "args": usage.args,
    }  # fmt: skip
    schema = schema.with_metadata({META_KEY: json.dumps(meta).encode()})
    table = pa.Table.from_pydict(columns, schema=schema)
    from learn.atomic import write_atomically

    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    write_atomically(path, sink.getvalue().to_pybytes())


def _text_key(key: Key) -> tuple[str | None, ...]:
    node, arch, nr, syscall, action, exe, args = key
    return (node, arch, f"{nr:012d}", syscall, action, exe, args)


def read(path: str) -> Usage:
    """The usage a shard holds; a Parquet file that is no shard is refused in one line."""
    pa, pq = _pyarrow()
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as e:
        raise InputError(f"{path}: unreadable usage shard ({e})", "write it with learn suggest --save-usage") from None
    raw = (table.schema.metadata or {}).get(META_KEY)
    if raw is None:
        raise InputError(f"{path} is a Parquet file but no learn usage shard", "write shards with --save-usage")
    meta = json.loads(raw)
    if meta.get("format") != FORMAT or table.column_names != COLUMNS:
        raise InputError(
            f"{path}: usage shard format {meta.get('format')}, this learn reads format {FORMAT}",
            "write the shard again with this learn",
        )
    usage = Usage(
        sources=tuple(meta["sources"]), events=int(meta["events"]), duplicates=int(meta["duplicates"]),
        lost=int(meta["lost"]), problem_counts=Counter({str(k): int(v) for k, v in meta["problem_counts"].items()}),
        args=meta["args"],
    )  # fmt: skip
    for row in table.to_pylist():
        action = str(row["action"])
        Action(action)  # an unknown action is refused, as in a log
        key: Key = (row["node"], str(row["arch"]), int(row["nr"]), row["syscall"], action, row["exe"], row["args"])
        usage.add(key, Evidence(int(row["count"]), row["first_seen"], row["last_seen"], row["sample"]))
    return usage


def problem_kinds(usage: Usage) -> Counter[ProblemKind]:
    return Counter({ProblemKind(k): n for k, n in usage.problem_counts.items()})
