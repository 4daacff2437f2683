"""Events -> per-arch syscall usage. The only module that uses pandas.

Events are counted as they stream past into a dict keyed by (arch, nr, syscall, action,
exe): its size is bounded by the distinct calls and programs, not by the log's length.
pandas then does the grouping the summary and the profile need.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from learn.coverage import Coverage
from learn.model import Action

if TYPE_CHECKING:  # pandas takes 0.4 s to import: only the commands that aggregate pay for it
    import pandas as pd

KEY = ["arch", "nr", "syscall", "action", "exe"]


class Aggregator:
    """Counts the events that pass through; hands everything else on untouched."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, int, str | None, str, str | None]] = Counter()
        self.events = 0
        self.coverage = Coverage()  # per run and syscall: what the report's coverage is built from

    def add(
        self,
        arch: str,
        nr: int,
        name: str | None,
        action: Action,
        exe: str | None,
        n: int = 1,
        when: float | None = None,
    ) -> None:
        self._counts[(arch, nr, name, action.value, exe)] += n
        self.events += n
        self.coverage.add(arch, nr, name, exe, n, when)

    def allowed_by_arch(self) -> dict[str, tuple[str, ...]]:
        """allowed_by_arch(self.frame()) without pandas: arch -> sorted names seen there."""
        names: dict[str, set[str]] = {}
        for arch, _nr, name, _action, _exe in self._counts:
            if name is not None:
                names.setdefault(arch, set()).add(name)
        return {arch: tuple(sorted(names[arch])) for arch in sorted(names)}

    def frame(self) -> pd.DataFrame:
        """One row per (arch, nr, syscall, action, exe) with its count, sorted."""
        import pandas as pd

        rows = [(*key, n) for key, n in self._counts.items()]
        df = pd.DataFrame(rows, columns=[*KEY, "count"])
        return df.sort_values(["arch", "nr", "action", "exe"], na_position="first", ignore_index=True)


def usage_by_syscall(df: pd.DataFrame) -> pd.DataFrame:
    """Per arch and syscall: total count and the executables that made it (sorted, unique)."""
    import pandas as pd

    if df.empty:
        return pd.DataFrame(columns=["arch", "nr", "syscall", "count", "exes"])
    grouped = df.assign(exe=df["exe"].fillna("?")).groupby(["arch", "nr"], sort=True, dropna=False)
    out = grouped.agg(
        syscall=("syscall", "first"),
        count=("count", "sum"),
        exes=("exe", lambda s: tuple(sorted(set(s)))),
    ).reset_index()
    return out.sort_values(["arch", "count", "nr"], ascending=[True, False, True], ignore_index=True)


def allowed_by_arch(df: pd.DataFrame) -> dict[str, tuple[str, ...]]:
    """arch -> sorted syscall names seen there (numbers libseccomp cannot name are left out)."""
    named = df.dropna(subset=["syscall"])
    return {str(arch): tuple(sorted(set(group["syscall"]))) for arch, group in named.groupby("arch", sort=True)}


def unnamed(df: pd.DataFrame) -> list[tuple[str, int, int]]:
    """(arch, nr, count) of syscall numbers libseccomp has no name for."""
    rows = df[df["syscall"].isna()].groupby(["arch", "nr"], sort=True)["count"].sum().reset_index()
    return [(str(a), int(n), int(c)) for a, n, c in rows.itertuples(index=False)]


def exes_by_syscall(df: pd.DataFrame) -> dict[str, list[str]]:
    """syscall name -> the executables that made it, on any arch (sorted)."""
    named = df.dropna(subset=["syscall"])
    out: dict[str, set[str]] = {}
    for name, exe in zip(named["syscall"], named["exe"].fillna("?"), strict=True):
        out.setdefault(str(name), set()).add(str(exe))
    return {name: sorted(exes) for name, exes in out.items()}
