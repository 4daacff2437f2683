"""The report of `run`, `check` and `suggest` as data (`--report-json`, schema in
docs/report-schema.json), and the readable coverage lines of the summary, built from it.

Everything the user needs to trust a profile: per arch and syscall, how often, in how many
runs, by which executables, when; per run, its discovery curve; what changes code paths
between learning and production; the risky calls the profile allows.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from learn import __version__
from learn.baseline import BASELINE
from learn.coverage import LATE_SHARE, Coverage
from learn.profile import Profile
from learn.risk import RISK_BY_NAME, assess

if TYPE_CHECKING:
    from learn.supervise import Supervised
    from learn.tally import Findings

SCHEMA = "learn-report/1"
SHOWN_RARE = 20
STDIO = ((0, "stdin"), (1, "stdout"), (2, "stderr"))


@dataclass
class Context:
    """What the command knows beside the findings."""

    command: str  # run, check, suggest
    profile: Profile | None = None  # the profile written (run, suggest) or checked (check)
    output: str | None = None
    fmt: str | None = None
    baseline_added: Mapping[str, Sequence[str]] = field(default_factory=dict)
    denied_by_option: Sequence[str] = ()
    run: Supervised | None = None
    not_terminals: Sequence[str] = ()  # the target's stdio that was not a terminal (run, check)


def stdio_not_terminals() -> list[str]:
    """Which of learn's stdin, stdout, stderr (the target's, which inherits them) are no terminal."""
    return [name for fd, name in STDIO if not _isatty(fd)]


def _isatty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


def build(findings: Findings, context: Context) -> dict[str, Any]:
    coverage = findings.coverage
    exes = findings.counts.exes_by_syscall()
    profile = context.profile
    return {
        "schema": SCHEMA,
        "learn": __version__,
        "command": context.command,
        "sources": list(findings.sources),
        "profile": _profile(context) if profile is not None else None,
        "records": {
            "decoded": findings.events,
            "selected": findings.selected,
            "duplicates": findings.duplicates,
            "lost": findings.lost + (context.run.lost if context.run else 0),
            "loss_reported": findings.loss_reported or bool(context.run and context.run.lost),
        },
        "runs": [_run(run, context) for run in coverage.runs],
        "syscalls": _syscalls(coverage, findings),
        "seen_in_one_run": [{"arch": a, "syscall": s, "run": r} for a, s, r in coverage.rare()],
        "code_paths": code_paths(findings, context),
        "risks": [
            {
                "syscall": flag.name,
                "value": flag.label,
                "arches": list(flag.arches),
                "reason": flag.reason,
                "reference": flag.reference,
                "conditional": flag.conditional,
                "executables": exes.get(flag.name, []),
            }
            for flag in (assess(profile) if profile is not None else [])
        ],
        "target": _target(context.run) if context.run is not None else None,
        "usage": _usage(findings),
        "problems": {
            "counts": {kind.value: n for kind, n in sorted(findings.problem_counts.items())},
            "kept": [
                {"kind": p.kind.value, "message": p.message, "source": p.source, "line": p.line, "lost": p.lost}
                for p in findings.problems
            ],
        },
    }


def _usage(findings: Findings) -> list[dict[str, Any]]:
    """Per arch, syscall and executable, how many records (the heat map of `learn report`)."""
    return [
        {"arch": arch, "syscall": syscall, "nr": nr, "executable": exe, "count": n}
        for arch, nr, exe, syscall, n in findings.counts.by_exe_and_syscall()
    ]


def _profile(context: Context) -> dict[str, Any]:
    profile = context.profile
    assert profile is not None
    return {
        "output": context.output,
        "format": context.fmt,
        "arches": list(profile.arches),
        "allowed": {arch: list(names) for arch, names in sorted(profile.allowed.items())},
        "baseline": list(BASELINE),
        "baseline_added": {arch: list(names) for arch, names in sorted(context.baseline_added.items())},
        "denied_by_option": list(context.denied_by_option),
        "incomplete": profile.incomplete,
    }


def _run(run: Any, context: Context) -> dict[str, Any]:
    late = run.late()
    return {
        # a live run is named by its program (its records carry the source name `run`)
        "name": context.run.argv[0] if context.run is not None and context.run.argv else run.name,
        "records": run.records,
        "distinct": len(run.seen),
        "first_time": run.first_time,
        "last_time": run.last_time,
        "curve": [
            {"record": record, "distinct": distinct, "time": when, "arch": arch, "syscall": name}
            for record, distinct, when, arch, name in run.points
        ],
        "last_new_record": run.last_new(),
        "block_resolution": run.block_resolution,
        "times_only": run.times_only,
        "late": late,
        "may_be_too_short": bool(late),
    }


def _arguments(findings: Findings, arch: str, name: str | None) -> list[dict[str, Any]] | None:
    """The argument values seen (--args, for the syscalls of its table); None: not known."""
    from learn.arglearn import describe_values

    usage = getattr(findings, "arg_usage", None)
    if usage is None or name is None or (arch, name) not in usage.seen:
        return None
    return [{"values": values, "count": n} for values, n in describe_values(usage, arch, name)]


def _syscalls(coverage: Coverage, findings: Findings) -> list[dict[str, Any]]:
    names = [run.name for run in coverage.runs]
    out = []
    for (arch, nr, name), seen in sorted(coverage.syscalls.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        risk = RISK_BY_NAME.get(name or "")
        out.append(
            {
                "arch": arch,
                "syscall": name,
                "nr": nr,
                "count": seen.count,
                "runs_seen": len(seen.runs),
                "runs_total": len(names),
                "runs": [names[i] for i in sorted(seen.runs)],
                "executables": sorted(seen.exes),
                "first_seen": seen.first_time,
                "last_seen": seen.last_time,
                "arguments": _arguments(findings, arch, name),
                "risk": {"reason": risk.reason, "reference": risk.reference} if risk else None,
            }
        )
    return out


def _target(run: Supervised) -> dict[str, Any]:
    return {
        "argv": list(run.argv),
        "status": run.status,
        "session": run.session,
        "source": run.source,
        "records_collected": run.records,
        "interrupted": str(run.interrupted) if run.interrupted is not None else None,
        "still_running": [dict(p) for p in getattr(run, "still_running", ())],
    }


def code_paths(findings: Findings, context: Context) -> list[dict[str, str]]:
    """What made this learning differ from production, when it happened."""
    out: list[dict[str, str]] = []
    if context.not_terminals:
        which = ", ".join(context.not_terminals)
        out.append({
            "kind": "stdio-not-a-terminal",
            "message": f"{which} of the target {'was' if len(context.not_terminals) == 1 else 'were'} not a "
            "terminal: on a terminal a program may take other paths (a REPL or git's pager needs calls such as "
            "pselect6, pipe2, ioctl that it never made here)",
        })  # fmt: skip
    run = context.run
    if run is not None and run.status > 128 and (name := _signal_name(run.status - 128)) is not None:
        out.append({
            "kind": "killed-by-signal",
            "message": f"the target ended by {name} (status {run.status}): the paths of a normal exit were not "
            "walked in this run",
        })  # fmt: skip
    if run is not None and run.interrupted is not None:
        out.append({"kind": "interrupted", "message": f"learning was interrupted: {run.interrupted}"})
    for process in getattr(run, "still_running", ()) if run is not None else ():
        out.append({
            "kind": "still-running",
            "message": f"pid {process['pid']} ({process['comm']}) was still running when learning stopped: "
            "what it did afterwards is not in the profile",
        })  # fmt: skip
    lost = findings.lost + (run.lost if run is not None else 0)
    if findings.loss_reported or (run is not None and run.lost):
        amount = f"{lost}" if lost else "an unknown number of"
        out.append(
            {"kind": "records-lost", "message": f"{amount} records were lost: syscalls only they show are missing"}
        )
    return out


def _signal_name(number: int) -> str | None:
    try:
        return signal.Signals(number).name
    except ValueError:
        return None


def readable(report: Mapping[str, Any]) -> list[str]:
    """The summary's coverage lines, from the report."""
    lines: list[str] = []
    runs = report["runs"]
    share = f"{LATE_SHARE:.0%}"
    for run in runs if report["command"] != "check" else ():  # check's records are its denials
        if not run["records"]:
            lines.append(f"run {run['name']}: no records selected (none, or only duplicates of other runs)")
            continue
        last = run["last_new_record"]
        where = f"{last} of {run['records']} ({last / run['records']:.0%})"
        block = " (to the nearest block of a bulk-counted file)" if run["block_resolution"] else ""
        if run["times_only"]:  # a shard knows each call's first time, not its records' order
            block = " (from usage shards: calls in the order of their first time)"
        lines.append(
            f"run {run['name']}: {run['records']} records, {run['distinct']} distinct syscalls; "
            f"the last new one (exits aside) at record {where}{block}"
        )
        if run["may_be_too_short"]:
            lines.append(
                f"warning: new syscalls still appeared in the last {share} of {run['name']}: {' '.join(run['late'])}; "
                "the run may have been too short (run the program longer, or several times, and merge)"
            )
    rare = report["seen_in_one_run"]
    if len(runs) > 1:
        lines.append(f"coverage: {len(runs)} runs; {len(rare)} syscalls seen in only 1 of {len(runs)}")
        for entry in rare[:SHOWN_RARE]:
            lines.append(f"  {entry['arch']} {entry['syscall']}: seen in 1 of {len(runs)} runs ({entry['run']})")
        if len(rare) > SHOWN_RARE:
            lines.append(f"  ... and {len(rare) - SHOWN_RARE} more (--report-json lists them all)")
    for path in report["code_paths"]:
        lines.append(f"code paths: {path['message']}")
    return lines


def write_json(report: Mapping[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=False) + "\n"
