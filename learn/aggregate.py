"""Events -> per-arch syscall usage. The only module that uses pandas.

Events are counted as they stream past into a dict keyed by (arch, nr, syscall, action,
exe): its size is bounded by the distinct calls and programs, not by the log's length.
The summary, the report and the profile read that dict in plain Python (pandas takes 0.4 s
to import: `learn run -- true` would pay it twice over); frame() and the functions on it
give the same views as a pandas table, for callers that want one (and the tests' cross-check).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, NamedTuple

from learn.coverage import Coverage
from learn.model import Action

if TYPE_CHECKING:  # pandas takes 0.4 s to import: only the commands that aggregate pay for it
    import pandas as pd

KEY = ["arch", "nr", "syscall", "action", "exe"]


class SyscallUsage(NamedTuple):
    """One row of usage_by_syscall: an arch's syscall, its count and the executables that made it."""

    arch: str
    nr: int
    syscall: str | None
    calls: int
    exes: tuple[str, ...]


class ExeUsage(NamedTuple):
    """One block of the --by-exe summary: an executable, its calls, and per arch the names it made."""

    exe: str
    calls: int
    names: tuple[tuple[str, tuple[str, ...]], ...]  # (arch, sorted names; #NR for unnamed numbers)


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

    # The summary's and the report's views, in plain Python: the table is a row per distinct
    # (arch, nr, syscall, action, exe), small, and pandas costs 0.4 s to import (`learn run`'s
    # fixed cost). Each equals the function of the same name below on frame() (tests/unit/test_aggregate.py).

    def usage_by_syscall(self) -> list[SyscallUsage]:
        acc: dict[tuple[str, int], tuple[list[str | None], Counter[str]]] = {}
        for (arch, nr, name, _action, exe), n in self._counts.items():
            entry = acc.setdefault((arch, nr), ([None], Counter()))
            if entry[0][0] is None:
                entry[0][0] = name
            entry[1][exe if exe is not None else "?"] += n
        rows = [
            SyscallUsage(arch, nr, name[0], sum(exes.values()), tuple(sorted(exes)))
            for (arch, nr), (name, exes) in acc.items()
        ]
        return sorted(rows, key=lambda r: (r.arch, -r.calls, r.nr))

    def unnamed(self) -> list[tuple[str, int, int]]:
        out: Counter[tuple[str, int]] = Counter()
        for (arch, nr, name, _action, _exe), n in self._counts.items():
            if name is None:
                out[(arch, nr)] += n
        return [(arch, nr, n) for (arch, nr), n in sorted(out.items())]

    def exes_by_syscall(self) -> dict[str, list[str]]:
        out: dict[str, set[str]] = {}
        for _arch, _nr, name, _action, exe in self._counts:
            if name is not None:
                out.setdefault(name, set()).add(exe if exe is not None else "?")
        return {name: sorted(exes) for name, exes in out.items()}

    def by_exe(self) -> list[ExeUsage]:
        counts: Counter[str] = Counter()
        names: dict[str, dict[str, set[str]]] = {}
        for (arch, nr, name, _action, exe), n in self._counts.items():
            shown = exe if exe is not None else "?"
            counts[shown] += n
            names.setdefault(shown, {}).setdefault(arch, set()).add(name if name is not None else f"#{nr}")
        return [
            ExeUsage(exe, counts[exe], tuple((arch, tuple(sorted(names[exe][arch]))) for arch in sorted(names[exe])))
            for exe in sorted(counts)
        ]

    def by_exe_and_syscall(self) -> list[tuple[str, int, str, str | None, int]]:
        """(arch, nr, exe, syscall, count) per arch, syscall number and executable, sorted."""
        calls: Counter[tuple[str, int, str]] = Counter()
        names: dict[tuple[str, int, str], str] = {}
        for (arch, nr, name, _action, exe), n in self._counts.items():
            key = (arch, nr, exe if exe is not None else "?")
            calls[key] += n
            if name is not None:
                names.setdefault(key, name)
        return [(arch, nr, exe, names.get((arch, nr, exe)), n) for (arch, nr, exe), n in sorted(calls.items())]

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
