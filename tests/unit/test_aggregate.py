"""learn.aggregate: the pandas-free allowed_by_arch (learn run's path) agrees with the table's."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from learn.aggregate import Aggregator, allowed_by_arch
from learn.model import Action
from learn.select import Selection
from learn.tally import Tally

EVENTS = st.lists(
    st.tuples(
        st.sampled_from(["x86_64", "x86", "x32", "aarch64"]),
        st.integers(0, 500),
        st.one_of(st.none(), st.sampled_from(["read", "write", "openat", "execve", "exit_group"])),
        st.sampled_from(list(Action)),
        st.one_of(st.none(), st.sampled_from(["/bin/true", "/usr/bin/ls"])),
    ),
    max_size=40,
)


@given(EVENTS)
def test_counts_and_table_allow_the_same_names(events: list[tuple[str, int, str | None, Action, str | None]]) -> None:
    counts = Aggregator()
    for arch, nr, name, action, exe in events:
        counts.add(arch, nr, name, action, exe)
    assert counts.allowed_by_arch() == allowed_by_arch(counts.frame())


def test_findings_build_the_usage_table_only_when_asked() -> None:
    tally = Tally(["run"], Selection(actions=frozenset({Action.LOG})))
    tally.aggregate.add("x86_64", 0, "read", Action.LOG, "/bin/true")
    findings = tally.finish()
    assert findings.frame is None
    assert findings.allowed_by_arch() == {"x86_64": ("read",)}
    assert findings.frame is None  # still not built
    assert list(findings.usage["syscall"]) == ["read"]
    assert findings.allowed_by_arch() == {"x86_64": ("read",)}
