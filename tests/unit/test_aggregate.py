"""learn.aggregate: the plain-Python views of the counts (the summary's, the report's and `learn run`'s
allowed names, so that `learn run` never imports pandas) agree with what pandas computed on the table."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from learn.aggregate import Aggregator, allowed_by_arch, exes_by_syscall, unnamed, usage_by_syscall
from learn.model import Action
from learn.select import Selection
from learn.tally import Tally

NAMES = {0: "read", 1: "write", 59: "execve", 231: "exit_group", 257: "openat"}  # an arch's nr names one call

EVENTS = st.lists(
    st.tuples(
        st.sampled_from(["x86_64", "x86", "x32", "aarch64", "unknown"]),
        st.sampled_from([0, 1, 59, 231, 257, 450, 999]),
        st.sampled_from(list(Action)),
        st.one_of(st.none(), st.sampled_from(["/bin/true", "/usr/bin/ls", "/a b"])),
        st.integers(1, 5),
    ),
    max_size=40,
)


def _counted(events: list[tuple[str, int, Action, str | None, int]]) -> Aggregator:
    counts = Aggregator()
    for arch, nr, action, exe, n in events:
        counts.add(arch, nr, NAMES.get(nr), action, exe, n)
    return counts


@settings(deadline=None)  # pandas is slow on a busy machine
@given(EVENTS)
def test_views_equal_the_tables(events: list[tuple[str, int, Action, str | None, int]]) -> None:
    counts = _counted(events)
    df = counts.frame()
    assert counts.allowed_by_arch() == allowed_by_arch(df)
    assert counts.unnamed() == unnamed(df)
    assert counts.exes_by_syscall() == exes_by_syscall(df)
    table = usage_by_syscall(df)
    expected = [
        (str(a), int(nr), s if isinstance(s, str) else None, int(c), tuple(e))
        for a, nr, s, c, e in table[["arch", "nr", "syscall", "count", "exes"]].itertuples(index=False)
    ]
    assert [tuple(row) for row in counts.usage_by_syscall()] == expected


@settings(deadline=None)  # pandas is slow on a busy machine
@given(EVENTS)
def test_by_exe_equals_what_the_summary_computed_with_pandas(
    events: list[tuple[str, int, Action, str | None, int]],
) -> None:
    counts = _counted(events)
    usage = counts.frame()
    expected: list[Any] = []
    if not usage.empty:  # learn.summary._print_by_exe before it left pandas
        for exe, rows in usage.assign(exe=usage["exe"].fillna("?")).groupby("exe", sort=True):
            per_arch = []
            for arch, calls in rows.groupby("arch", sort=True):
                pairs = zip(calls["syscall"], calls["nr"], strict=True)
                per_arch.append((arch, tuple(sorted({n if isinstance(n, str) else f"#{nr}" for n, nr in pairs}))))
            expected.append((exe, int(rows["count"].sum()), tuple(per_arch)))
    assert [tuple(block) for block in counts.by_exe()] == expected


@settings(deadline=None)  # pandas is slow on a busy machine
@given(EVENTS)
def test_by_exe_and_syscall_equals_what_the_report_computed_with_pandas(
    events: list[tuple[str, int, Action, str | None, int]],
) -> None:
    counts = _counted(events)
    df = counts.frame()
    expected = []
    if not df.empty:  # learn.report._usage before it left pandas
        rows = df.assign(exe=df["exe"].fillna("?")).groupby(["arch", "nr", "exe"], sort=True, dropna=False)
        out = rows.agg(syscall=("syscall", "first"), count=("count", "sum")).reset_index()
        expected = [
            (str(a), int(n), str(e), None if s != s or s is None else str(s), int(c))
            for a, n, e, s, c in out[["arch", "nr", "exe", "syscall", "count"]].itertuples(index=False)
        ]
    assert counts.by_exe_and_syscall() == expected


def test_findings_build_the_usage_table_only_when_asked() -> None:
    tally = Tally(["run"], Selection(actions=frozenset({Action.LOG})))
    tally.aggregate.add("x86_64", 0, "read", Action.LOG, "/bin/true")
    findings = tally.finish()
    assert findings.frame is None
    assert findings.allowed_by_arch() == {"x86_64": ("read",)}
    assert findings.counts.exes_by_syscall() == {"read": ["/bin/true"]}
    assert findings.frame is None  # still not built
    assert list(findings.usage["syscall"]) == ["read"]
    assert findings.allowed_by_arch() == {"x86_64": ("read",)}
