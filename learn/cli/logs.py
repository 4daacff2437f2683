"""Commands over existing logs: events, suggest (its selection, its hints when nothing matched,
--follow and --snap)."""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from typing import Annotated, Any

import typer

from learn.cli.app import (
    EXIT_CODES_HELP,
    EXIT_LOST,
    EXIT_NO_RECORDS,
    EXIT_OK,
    FLAG,
    KEEP_HINT,
    NO_RECORDS_HINT,
    _Command,
    _Exit,
    _fail,
    app,
    err,
)
from learn.cli.options import (
    Arch,
    ByExe,
    Deny,
    Engine,
    InputFmt,
    LearnArgs,
    Logs,
    NoBaseline,
    Output,
    Quiet,
    ReportJson,
    StrictOrigin,
    SuggestFormat,
    SuggestFormatOpt,
    Timezone,
)
from learn.cli.output import (
    _check_outputs,
    _check_report_path,
    _emit,
    _emit_text,
    _print_notes,
    _print_risks,
    _print_stdout,
    _progress,
    _report,
)
from learn.formats import OutputFormat
from learn.model import Action, Problem, ProblemKind
from learn.pipeline import Findings, build_profile, decode_options, learn_from_logs, stream_events
from learn.select import DEFAULT_ACTIONS, Selection
from learn.summary import print_summary
from learn.usage import Usage
from parsers import InputFormat

SHOWN_EXES = 3


def _parse_time(value: str | None, option: str) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        _fail(f"{option} {value!r} is neither epoch seconds nor an ISO 8601 time", "e.g. 2025-01-31T12:00")


def _parse_actions(values: list[str] | None) -> frozenset[Action]:
    if not values:
        return DEFAULT_ACTIONS
    actions: set[Action] = set()
    for value in (v.strip().lower() for vs in values for v in vs.split(",")):
        if value == "all":
            return frozenset(Action)
        if value == "kill":
            actions |= {Action.KILL_THREAD, Action.KILL_PROCESS}
            continue
        try:
            actions.add(Action(value))
        except ValueError:
            names = ", ".join(a.value for a in Action)
            _fail(f"--action {value!r} is no seccomp action", f"one of {names}, kill, all")
    return frozenset(actions)


@app.command(
    cls=_Command,
    epilog="Example: learn events /var/log/audit/audit.log | jq -r .syscall | sort | uniq -c. "
    "Exit codes: 0 success; 2 bad usage or unreadable input.",
)
def events(
    logs: Logs,
    input_format: InputFmt = InputFormat.AUTO,
    arch: Arch = None,
    timezone: Timezone = None,
    strict_origin: StrictOrigin = False,
) -> None:
    """Print every decoded SECCOMP event as one JSON object a line; problems go to stderr."""

    def report(problem: Problem) -> None:
        err.print(str(problem), markup=False)

    out = sys.stdout
    try:
        with _progress() as progress:
            for event in stream_events(
                logs, input_format, report, progress, decode_options(arch, timezone, strict_origin)
            ):
                out.write(json.dumps(event.to_json_dict()) + "\n")
            out.flush()
    except BrokenPipeError:  # `learn events | head`: the reader left; say nothing, exit 0, as cat would
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise _Exit(EXIT_OK) from None


@app.command(
    cls=_Command,
    epilog="Example: learn suggest /var/log/audit/audit.log --exe /usr/sbin/nginx -o nginx.json. " + EXIT_CODES_HELP,
)
def suggest(
    logs: Logs,
    output: Output = None,
    fmt: SuggestFormatOpt = SuggestFormat.OCI,
    input_format: InputFmt = InputFormat.AUTO,
    strict_origin: StrictOrigin = False,
    exe: Annotated[list[str] | None, typer.Option(metavar="PATH", help="Only records of this executable path.")] = None,
    comm: Annotated[list[str] | None, typer.Option(metavar="NAME", help="Only records of this command name.")] = None,
    pid: Annotated[list[int] | None, typer.Option(metavar="PID", help="Only records of this pid.")] = None,
    uid: Annotated[list[int] | None, typer.Option(metavar="UID", help="Only records of this uid.")] = None,
    snap: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="Only the records of snap NAME (label snap.NAME.*), and which snapd interfaces allow each call.",
        ),
    ] = None,
    since: Annotated[
        str | None, typer.Option(metavar="TIME", help="Only records at or after this time (ISO 8601 or epoch).")
    ] = None,
    until: Annotated[str | None, typer.Option(metavar="TIME", help="Only records at or before this time.")] = None,
    action: Annotated[
        list[str] | None,
        typer.Option(metavar="ACTION", help="Actions whose records count: log (default), errno, kill, ..., all."),
    ] = None,
    allow_loss: Annotated[
        bool, typer.Option("--allow-loss", metavar=FLAG, help="Exit 0 even if the logs say records were lost.")
    ] = False,
    quiet: Quiet = False,
    by_exe: ByExe = False,
    arch: Arch = None,
    timezone: Timezone = None,
    no_baseline: NoBaseline = False,
    deny: Deny = None,
    args: LearnArgs = False,
    report_json: ReportJson = None,
    save_usage: Annotated[
        str | None,
        typer.Option(
            metavar="FILE",
            help="Also write the selected usage (per node, arch, syscall, action, exe: count, first/last seen, "
            "a sample source:line) as a Parquet shard, which learn suggest reads beside logs.",
        ),
    ] = None,
    engine: Annotated[
        Engine,
        typer.Option(metavar="ENGINE", help="local (default), or dask: read and count each input as a Dask task."),
    ] = Engine.LOCAL,
    scheduler: Annotated[
        str | None,
        typer.Option(metavar="ADDRESS", help="With --engine dask: this scheduler (default: a local cluster)."),
    ] = None,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            metavar=FLAG,
            help="Read one growing LOG (or - until it ends) live; say each new call as it appears (Ctrl-C stops).",
        ),
    ] = False,
) -> None:
    """Build a minimal enforce-mode profile from existing logs; a summary goes to stderr."""
    from learn.finish import check_denied, finish
    from learn.report import Context

    selection = Selection(
        exes=frozenset(exe or ()), comms=frozenset(comm or ()), pids=frozenset(pid or ()),
        uids=frozenset(uid or ()), snap=snap, since=_parse_time(since, "--since"),
        until=_parse_time(until, "--until"), actions=_parse_actions(action),
    )  # fmt: skip
    if selection.since is not None and selection.until is not None and selection.since > selection.until:
        _fail(f"--since {since} is after --until {until}: no record can match", "swap them")
    if follow and (output is not None or report_json is not None or fmt is not SuggestFormat.OCI):
        _fail("--follow writes no profile, fragment or report", "leave out -o, --format and --report-json")
    if follow and (save_usage is not None or engine is not Engine.LOCAL):
        _fail("--follow reads one log live", "leave out --save-usage and --engine")
    if scheduler is not None and engine is not Engine.DASK:
        _fail("--scheduler names a Dask scheduler", "add --engine dask")
    if follow:
        _follow(logs, selection, snap, input_format, decode_options(arch, timezone, strict_origin), quiet)
        return
    if fmt is SuggestFormat.SNAPCRAFT and snap is None:
        _fail("--format snapcraft names the interfaces a snap needs", "give --snap NAME, the snap the records are of")
    check_denied(deny or ())
    _check_outputs(output, report_json)
    _check_report_path(report_json, output)
    if save_usage is not None:
        _check_outputs(save_usage, None)
    options = decode_options(arch, timezone, strict_origin)
    merged: Usage | None
    if engine is Engine.DASK:
        from learn.dask_engine import learn_on_dask

        findings, merged = learn_on_dask(logs, selection, input_format, options, scheduler, args=args)
    else:
        usage = Usage() if save_usage is not None else None
        with _progress() as progress:
            findings = learn_from_logs(logs, selection, input_format, progress, options=options, args=args, usage=usage)
        merged = usage
    if save_usage is not None and merged is not None:
        _save_usage(findings, merged, save_usage)
    if findings.selected == 0:
        if not quiet:
            print_summary(findings, err, None)
        if findings.events:
            _fail(*_nothing_selected(findings, selection), EXIT_NO_RECORDS)
        _fail(f"no seccomp records found in {', '.join(findings.sources)}", _no_records_hint(findings), EXIT_NO_RECORDS)
    profile = build_profile(findings)
    if not profile.allowed and findings.problem_counts[ProblemKind.UNKNOWN_ARCH]:
        if not quiet:
            print_summary(findings, err, None, by_exe=by_exe)
        _fail("the selected records name no arch (no arch=, kernels before 3.14), so no syscall has a name",
              "give --arch ARCH, the arch of the machine that wrote the log", EXIT_NO_RECORDS)  # fmt: skip
    finished = finish(profile, baseline=not no_baseline, deny=deny or ())
    interfaces = _snap_interfaces(findings, snap) if snap is not None else None
    if interfaces is not None and fmt is SuggestFormat.SNAPCRAFT:
        _emit_text(interfaces[1], output, "plugs fragment")
    else:
        _emit(finished.profile, OutputFormat(fmt.value), output)
    if not quiet:
        print_summary(findings, err, output or "stdout", by_exe=by_exe)
        _print_notes(finished.notes)
        _print_risks(finished.profile, findings)
        if interfaces is not None:
            err.print(interfaces[0], markup=False, end="")
    context = Context("suggest", finished.profile, output, fmt.value, finished.baseline_added, finished.denied)
    failure = _report(findings, context, report_json, quiet)
    if failure:
        _fail(failure, KEEP_HINT)
    if quiet and findings.loss_reported:
        amount = f"at least {findings.lost}" if findings.lost else "an unknown number of"
        err.print(f"learn: records lost: the logs say {amount} records were dropped; the profile is INCOMPLETE")
    if findings.loss_reported and not allow_loss:
        raise _Exit(EXIT_LOST)


def _save_usage(findings: Findings, usage: Usage, path: str) -> None:
    """The usage shard of what was read, with the provenance and problem counts of the run."""
    from learn import usage as shards

    shards.write(shards.from_findings(findings, usage), path)


def _no_records_hint(findings: Findings) -> str:
    """Why nothing was found: lines that look like records but were refused say so, not auditd."""
    counts = findings.problem_counts
    refused = {k: counts[k] for k in (ProblemKind.UNTRUSTED, ProblemKind.MALFORMED, ProblemKind.TRUNCATED) if counts[k]}
    if not refused:
        return NO_RECORDS_HINT
    what = ", ".join(f"{n} {k.value}" for k, n in refused.items())
    hint = f"lines that look like SECCOMP records were refused ({what}; see the problems above)"
    if ProblemKind.UNTRUSTED in refused:
        hint += (
            "; a log form that proves the kernel wrote the records (audit.log, journalctl -o json, /dev/kmsg) "
            "is read as is"
        )
    return hint


def _nothing_selected(findings: Findings, selection: Selection) -> tuple[str, str]:
    """The error and hint when records exist but the selection left every one out."""
    exes = findings.not_selected_exes.most_common()
    shown = ", ".join(f"{exe} ({n})" for exe, n in exes[:SHOWN_EXES])
    if len(exes) > SHOWN_EXES:
        shown += f" and {len(exes) - SHOWN_EXES} more executables"
    hint = f"the records are of {shown}"
    if findings.first_time is not None and findings.last_time is not None:
        first, last = (_when(t) for t in (findings.first_time, findings.last_time))
        hint += f"; they span {first} to {last}"
    if findings.not_selected_actions:
        actions = ", ".join(f"{a.value} {n}" for a, n in sorted(findings.not_selected_actions.items()))
        hint += f"; by action: {actions} (--action all takes every one)"
    what = _describe(selection)
    return f"none of the {findings.events} seccomp records in {', '.join(findings.sources)} matches {what}", hint


def _when(seconds: float) -> str:
    return datetime.fromtimestamp(seconds).isoformat(timespec="seconds")


def _describe(selection: Selection) -> str:
    parts = [f"--exe {e}" for e in sorted(selection.exes)] + [f"--comm {c}" for c in sorted(selection.comms)]
    parts += [f"--pid {p}" for p in sorted(selection.pids)] + [f"--uid {u}" for u in sorted(selection.uids)]
    if selection.snap is not None:
        parts.append(f"--snap {selection.snap}")
    for option, when in (("--since", selection.since), ("--until", selection.until)):
        if when is not None:
            parts.append(f"{option} {_when(when)}")
    if selection.actions != DEFAULT_ACTIONS:
        parts.append("--action " + ",".join(sorted(a.value for a in selection.actions)))
    return " ".join(parts) or "--action log"


def _follow(
    logs: list[str], selection: Selection, snap: str | None, fmt: InputFormat, options: Any, quiet: bool
) -> None:
    """suggest --follow: each new call on stdout as it appears (with --snap: its interfaces)."""
    from learn.follow import follow
    from learn.snapadvice import Call, advise, knowledge
    from learn.snapreport import blocks

    if len(logs) != 1:
        _fail(
            "--follow reads one log", "give one file, or - for stdin (journalctl -f -o json | learn suggest --follow -)"
        )

    def said(e: Any) -> None:
        if snap is not None and e.syscall is not None:
            text = blocks(advise([Call(e.arch, e.syscall, 1, (e.exe or "?",))]), snap, knowledge()).split("\n", 1)[1]
        else:
            text = f"new: {e.arch} {e.syscall or e.nr} ({e.action.value}) by {e.exe or e.comm or '?'}\n"
        _print_stdout(text)

    def problem(p: Problem) -> None:
        if not quiet and p.kind is not ProblemKind.NOTE:
            err.print(f"learn: {p}", markup=False)

    try:
        counts = follow(logs[0], selection, said, problem, fmt, options)
    except KeyboardInterrupt:
        raise _Exit(130) from None
    if not quiet:
        err.print(f"learn: {sum(counts.values())} records selected, {len(counts)} distinct calls", markup=False)


def _snap_interfaces(findings: Findings, snap: str) -> tuple[str, str]:
    """The snappy-debug-style blocks and the snapcraft fragment for the selected calls."""
    from learn.snapadvice import advise, knowledge
    from learn.snapreport import blocks, calls_from, snapcraft

    known = knowledge()
    advice = advise(calls_from(findings), known)
    return blocks(advice, snap, known), snapcraft(advice, snap, known)
