"""The readable report `learn suggest` prints on stderr."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from learn.arglearn import call_lines, describe_values
from learn.pipeline import Findings
from parsers.record import UNKNOWN_ARCH

if TYPE_CHECKING:
    from learn.supervise import Supervised

SHOWN_PROBLEMS = 20
SHOWN_EXES = 3


def print_summary(
    findings: Findings,
    console: Console,
    destination: str | None,
    title: str | None = None,
    by_exe: bool = False,
    calls_verb: str | None = None,
) -> None:
    """calls_verb (check --args): the calls with their arguments, as `name(values) VERB n(times) exe`."""
    sources = ", ".join(findings.sources)
    console.print(
        f"learn: {title or f'{findings.selected} of {findings.events} records selected'} from {sources}"
        f" ({findings.duplicates} duplicates removed)"
    )
    if by_exe:
        _print_by_exe(findings, console)
    else:
        _print_by_syscall(findings, console)
    unknown_arch = 0
    for arch, nr, count in findings.counts.unnamed():
        if arch == UNKNOWN_ARCH:
            unknown_arch += count
            continue
        console.print(
            f"[yellow]warning:[/] {arch} syscall {nr} ({count} records) has no name in libseccomp; not in the profile"
        )
    if unknown_arch:
        console.print(
            f"[yellow]warning:[/] {unknown_arch} records have no arch= (kernels before 3.14), so their syscalls "
            "cannot be named and are not in the profile; --arch ARCH names the arch of the machine that wrote them"
        )
    _print_problems(findings, console)
    _print_arguments(findings, console, calls_verb)
    if findings.not_selected_actions:
        left = ", ".join(f"{n} {a.value}" for a, n in sorted(findings.not_selected_actions.items()))
        console.print(f"not selected by --action: {left} records (--action all includes them)")
    if destination is not None:
        console.print(f"profile written to {destination}")


def _print_arguments(findings: Findings, console: Console, calls_verb: str | None) -> None:
    """--args: per syscall with argument rows, the values seen with their names and counts."""
    usage = findings.arg_usage
    if usage is None:
        return
    if calls_verb is not None:
        for line in call_lines(usage, calls_verb):
            console.print(line, markup=False, highlight=False)
        return
    for arch, name in sorted(usage.seen):
        values = "; ".join(f"{text} ×{n}" for text, n in describe_values(usage, arch, name))
        console.print(f"{arch} {name}: {values}", markup=False, highlight=False)
    for note in findings.arg_notes:
        console.print(f"note: {note}", markup=False, highlight=False)


def _print_by_exe(findings: Findings, console: Console) -> None:
    """--by-exe: one block per executable, its syscalls per arch."""
    for exe, calls, per_arch in findings.counts.by_exe():
        console.print(f"{exe}: {calls} calls", markup=False, highlight=False)
        for arch, names in per_arch:
            console.print(f"  {arch} ({len(names)}): {' '.join(names)}", markup=False, highlight=False)


def _print_by_syscall(findings: Findings, console: Console) -> None:
    per_syscall = findings.counts.usage_by_syscall()
    for arch in sorted({row.arch for row in per_syscall}):
        rows = [row for row in per_syscall if row.arch == arch]
        table = Table(title=f"{arch}: {len(rows)} syscalls", title_justify="left", box=None, pad_edge=False)
        table.add_column("syscall")
        table.add_column("nr", justify="right")
        table.add_column("count", justify="right")
        table.add_column("executables", overflow="fold")
        for row in rows:
            exes = list(row.exes)
            more = f" (+{len(exes) - SHOWN_EXES}; --by-exe lists them)" if len(exes) > SHOWN_EXES else ""
            shown = ", ".join(exes[:SHOWN_EXES]) + more
            name = row.syscall if row.syscall is not None else "(no name)"
            table.add_row(name, str(row.nr), str(row.calls), shown)
        console.print(table)


def _print_problems(findings: Findings, console: Console) -> None:
    if not findings.problem_counts:
        return
    kinds = ", ".join(f"{k.value}: {n}" for k, n in sorted(findings.problem_counts.items()))
    console.print(f"[yellow]problems:[/] {kinds}", highlight=False)
    for problem in findings.problems[:SHOWN_PROBLEMS]:
        console.print(f"  {problem}", highlight=False, markup=False)
    hidden = sum(findings.problem_counts.values()) - min(len(findings.problems), SHOWN_PROBLEMS)
    if hidden > 0:
        console.print(f"  ... and {hidden} more (learn events shows them all)")
    if findings.loss_reported:
        amount = f"at least {findings.lost}" if findings.lost else "an unknown number of"
        console.print(
            f"[red]records lost:[/] the logs say {amount} records were dropped; the profile is "
            "INCOMPLETE and may break the program (run auditd, or use learn run, to lose none)"
        )


def print_run_summary(result: Supervised, events: int, console: Console) -> None:
    loss = result.loss
    console.print(
        f"source: {result.source}; {result.records} records collected, "
        f"{events} from the target (audit session {result.session}); lost: {loss.lost}"
    )
    for reason in loss.reasons:
        console.print(f"[red]lost:[/] {reason.message}", highlight=False)
    for caveat in loss.caveats:
        console.print(f"[yellow]note:[/] {caveat}", highlight=False)
    if result.interrupted is not None:
        console.print(f"[red]stopped:[/] {result.interrupted}", highlight=False)
        console.print("[red]the result is INCOMPLETE:[/] decoding was stopped before the end")
    elif loss.lost:
        console.print("[red]the profile is INCOMPLETE:[/] records were lost (--allow-loss to accept it)")
    console.print(f"target exit status: {result.status}")
