"""The `learn` command line: the only module that knows typer.

Exit codes: 0 success; 1 no seccomp records found; 2 bad usage, unreadable input or an output
that cannot be written; 3 `check`: something was denied; 4 records were lost (the profile is
still written; --allow-loss gives 0); 5 `check`: nothing denied, but the target failed.
`diff` follows diff(1): 0 same, 1 different, 2 trouble.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

try:  # typer >= 0.22 carries its own copy of click
    from typer._click.exceptions import ClickException, UsageError
except ImportError:  # pragma: no cover
    from click.exceptions import ClickException, UsageError  # type: ignore[import-not-found,no-redef]

from learn import __version__
from learn.argv import OptionTable, split_program
from learn.atomic import check_writable, keep_elsewhere, write_atomically
from learn.errors import LearnError, OutputError
from learn.formats import OutputFormat, ProfileFormat
from learn.model import Action, Problem, ProblemKind
from learn.pipeline import Findings, build_profile, decode_options, learn_from_logs, stream_events
from learn.profile import Profile
from learn.select import DEFAULT_ACTIONS, Selection
from learn.sources import Progress as ProgressHook
from learn.summary import print_run_summary, print_summary
from parsers import InputFormat

EXIT_OK, EXIT_NO_RECORDS, EXIT_USAGE, EXIT_DENIED, EXIT_LOST, EXIT_TARGET_FAILED = 0, 1, 2, 3, 4, 5
EXIT_INTERNAL = 70  # EX_SOFTWARE: a bug in learn (LEARN_DEBUG=1 shows the traceback)
EXIT_CODES_HELP = (
    "Exit codes: 0 success; 1 no seccomp records found (or none the selection matches); 2 bad usage, "
    "unreadable input or an output that cannot be written; 4 the logs say records were lost (profile "
    "written, marked incomplete; --allow-loss gives 0)."
)
PROGRESS_MIN_BYTES = 8 << 20
NO_RECORDS_HINT = (
    "is auditd running (auditctl -s), or did the records go to the kernel log (dmesg)? "
    "Is `log` in /proc/sys/kernel/seccomp/actions_logged? Records of other actions need --action."
)
CONTAINER_RUNTIMES = frozenset({"runc", "crun", "runsc", "youki", "podman", "docker"})
SHOWN_EXES = 3
SHOWN_ALONE = 20  # merge: names only one profile allows, listed
KEEP_HINT = "free some space or choose another path, then move the kept file there"


class _UntypedArgument(TyperArgument):
    """An argument shown by its name only: typer would add `<list[str]>` to it in --help."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None

    def get_usage_pieces(self, ctx: Any) -> list[str]:
        name = (self.name or "arg").upper()
        return [(name if self.required else f"[{name}]") + ("..." if self.nargs != 1 else "")]


class _Command(TyperCommand):
    """Help without typer's type tags: arguments show their name, options their metavar (by
    default their name in capitals, nothing for a flag)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if isinstance(param, TyperArgument):
                param.__class__ = _UntypedArgument
                if param.metavar is None:  # PROFILE, COMMAND... rather than typer's {profile}
                    param.metavar = (param.name or "arg").upper() + ("..." if param.nargs != 1 else "")
            elif isinstance(param, TyperOption) and param.metavar is None:
                param.metavar = FLAG if param.is_flag or param.count else (param.name or "value").upper()

    def get_help_option(self, ctx: Any) -> TyperOption | None:
        option = super().get_help_option(ctx)
        if option is not None:
            option.metavar = FLAG
        return option


class _Group(TyperGroup):
    def get_help_option(self, ctx: Any) -> TyperOption | None:
        option = super().get_help_option(ctx)
        if option is not None:
            option.metavar = FLAG
        return option


app = typer.Typer(
    cls=_Group,
    help="Learn the smallest seccomp profile a program needs from the kernel's SECCOMP records. "
    + EXIT_CODES_HELP
    + " check: 3 denied, 5 the target failed; diff: 1 different. run, check and enforce: everything "
    "from the program's name on is the program's.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, highlight=False, soft_wrap=True)
FLAG = ""  # the metavar of an option without a value: nothing after its name in --help

Logs = Annotated[list[str], typer.Argument(help="Log files, directories of rotated logs, .gz, or - for stdin.")]
Output = Annotated[
    str | None, typer.Option("-o", "--output", metavar="FILE", help="Write the profile here (atomically).")
]
Format = Annotated[
    OutputFormat,
    typer.Option("--format", "-f", metavar="FORMAT", help="Profile format: oci, snapd, systemd, spo or pfc."),
]


class SuggestFormat(StrEnum):
    """suggest's --format: a profile format, or (with --snap) snapcraft's plugs."""

    OCI = "oci"
    SNAPD = "snapd"
    SYSTEMD = "systemd"
    SPO = "spo"
    PFC = "pfc"
    SNAPCRAFT = "snapcraft"  # the interfaces to plug, not a profile (learn.snapreport)


SuggestFormatOpt = Annotated[
    SuggestFormat,
    typer.Option(
        "--format",
        "-f",
        metavar="FORMAT",
        help="Profile format: oci, snapd, systemd, spo, pfc; with --snap: snapcraft.",
    ),
]
Quiet = Annotated[
    bool, typer.Option("--quiet", "-q", metavar=FLAG, help="No summary on stderr (a loss is still said).")
]
ByExe = Annotated[bool, typer.Option("--by-exe", metavar=FLAG, help="Summary: one block per executable.")]
LearnArgs = Annotated[
    bool,
    typer.Option(
        "--args", metavar=FLAG, help="Learn argument values too (socket families, ioctl requests, clone flags...)."
    ),
]
InputFmt = Annotated[
    InputFormat,
    typer.Option(
        "--input-format", metavar="FORM", help="Force the input form (auditd, kernel, journal-json); default: detect."
    ),
]
Arch = Annotated[
    str | None, typer.Option(help="Arch of the machine that wrote records without arch= (kernels before 3.14).")
]
Timezone = Annotated[
    str | None,
    typer.Option(help="Zone `ausearch -i` stamps were printed in, e.g. Europe/Berlin (default: this host's)."),
]
StrictOrigin = Annotated[
    bool,
    typer.Option(
        "--strict-origin",
        metavar=FLAG,
        help="Refuse records of forms anyone can write (text syslog, dmesg): read only audit.log, "
        "/dev/kmsg and journalctl -o json.",
    ),
]

NoBaseline = Annotated[
    bool,
    typer.Option(
        "--no-baseline",
        metavar=FLAG,
        help="Leave out the baseline (exit, exit_group, restart_syscall, rt_sigreturn, sigreturn) unless seen.",
    ),
]
Deny = Annotated[
    list[str] | None,
    typer.Option("--deny", metavar="SYSCALL", help="Leave this syscall out of the profile (repeatable), with a note."),
]
UntilExit = Annotated[
    bool,
    typer.Option(
        "--until-exit",
        metavar=FLAG,
        help="Stop at the program's exit, not at its last descendant's; list what is still running.",
    ),
]
ReportJson = Annotated[
    str | None,
    typer.Option(
        "--report-json", metavar="FILE", help="Write the report as JSON here (schema: docs/report-schema.json)."
    ),
]
Command = Annotated[list[str], typer.Argument(help="The program and its arguments (-- before it is optional).")]
MaybeCommand = Annotated[
    list[str] | None, typer.Argument(help="The program and its arguments (-- before it is optional).")
]
ProfileArg = Annotated[str, typer.Argument(help="Profile file: OCI/Docker JSON, snapd, systemd or SPO.")]
OptionalProfileArg = Annotated[
    str | None, typer.Argument(help="Profile file: OCI/Docker JSON, snapd, systemd or SPO.", show_default=False)
]
PidOption = Annotated[
    int | None, typer.Option(metavar="PID", help="Show the filters this running process is under, decompiled.")
]
ProfileFmt = Annotated[
    ProfileFormat | None,
    typer.Option("--profile-format", help="Read profiles as this format instead of recognising it."),
]
Source = Annotated[
    str | None, typer.Option(metavar="SOURCE", help="Record source: netlink, auditd or kmsg (default: best).")
]
User = Annotated[str | None, typer.Option(metavar="USER", help="Run the target as this user.")]
Group = Annotated[str | None, typer.Option(metavar="GROUP", help="Run the target with this group.")]
PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}
# How many positional arguments come before the program, per command that runs one.
PROGRAM_AFTER = {"run": 0, "check": 1, "enforce": 1}


class _Exit(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


def _fail(message: str, hint: str = "", code: int = EXIT_USAGE) -> NoReturn:
    err.print(f"learn: error: {message}" + (f" (hint: {hint})" if hint else ""), markup=False)
    raise _Exit(code)


@contextlib.contextmanager
def _progress() -> Iterator[ProgressHook | None]:
    """A progress bar over bytes read, on large inputs, when stderr is a terminal."""
    if not err.is_terminal:
        yield None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True) as bars:

        def start(path: str, size: int | None) -> Callable[[int], None]:
            if size is not None and size < PROGRESS_MIN_BYTES:
                return lambda _n: None
            # stdin and pipes have no size: the bar then shows the bytes read so far.
            task = bars.add_task("stdin" if path == "-" else os.path.basename(path), total=size)
            return lambda n: bars.advance(task, n)

        yield start


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
    if follow:
        _follow(logs, selection, snap, input_format, decode_options(arch, timezone, strict_origin), quiet)
        return
    if fmt is SuggestFormat.SNAPCRAFT and snap is None:
        _fail("--format snapcraft names the interfaces a snap needs", "give --snap NAME, the snap the records are of")
    check_denied(deny or ())
    _check_outputs(output, report_json)
    _check_report_path(report_json, output)
    with _progress() as progress:
        findings = learn_from_logs(
            logs, selection, input_format, progress, options=decode_options(arch, timezone, strict_origin), args=args
        )
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


@app.command(
    cls=_Command,
    context_settings=PASS_THROUGH,
    epilog="Example: sudo learn run -o ls.json ls -la / (everything from the program's name on is the "
    "program's; -- before it is optional). Exit status: the target's (128+N if killed by signal N); "
    "else 4 if records were lost (unless --allow-loss), 2 for bad usage or an output that cannot be "
    "written (the result is then kept elsewhere, named in the error), 1 if no records arrived; 128+N "
    "when a second signal N stopped learn after the target's exit (what was learned is written, marked "
    "incomplete).",
)
def run(
    command: MaybeCommand = None,
    output: Output = None,
    fmt: Format = OutputFormat.OCI,
    source: Source = None,
    profile: Annotated[
        str | None,
        typer.Option("--profile", metavar="BASE", help="Base profile: allowed without logging, kept in the result."),
    ] = None,
    user: User = None,
    group: Group = None,
    oci_bundle: Annotated[
        str | None,
        typer.Option(metavar="DIR", help="Learn the container of this OCI bundle, run by --oci-runtime (no CMD)."),
    ] = None,
    oci_runtime: Annotated[str, typer.Option(metavar="RUNTIME", help="OCI runtime for --oci-bundle.")] = "runc",
    save_log: Annotated[
        str | None, typer.Option(metavar="FILE", help="Write the target's records here, in audit.log form.")
    ] = None,
    allow_loss: Annotated[
        bool,
        typer.Option("--allow-loss", metavar=FLAG, help="Exit with the target's status even if records were lost."),
    ] = False,
    quiet: Quiet = False,
    by_exe: ByExe = False,
    profile_format: ProfileFmt = None,
    args: LearnArgs = False,
    no_baseline: NoBaseline = False,
    deny: Deny = None,
    report_json: ReportJson = None,
    until_exit: UntilExit = False,
) -> None:
    """Run a program in complain mode (SECCOMP_RET_LOG) and learn its profile from the kernel's records."""
    from learn.finish import check_denied, finish
    from learn.kernel.launch import signal_policy
    from learn.report import Context, stdio_not_terminals
    from learn.run import RunRequest, build_run_profile, learn_run

    base = _read_profile(profile, profile_format) if profile else None
    if command and oci_bundle:
        _fail("give either a program or --oci-bundle DIR, not both")
    if not command and not oci_bundle:
        _fail("no command to run", "learn run CMD ARGS, or learn run --oci-bundle DIR")
    check_denied(deny or ())
    _check_outputs(output, save_log, report_json)
    _check_report_path(report_json, output)
    not_terminals = stdio_not_terminals()  # what the target inherits
    if command and os.path.basename(command[0]) in CONTAINER_RUNTIMES:
        err.print(
            f"learn: note: {os.path.basename(command[0])} is a container runtime: a profile learned around it "
            "fails inside it (the runtime makes calls of its own after it loads the container's filter, and "
            "docker's or podman's container is not their child); learn run --oci-bundle DIR learns the "
            "container inside the runtime (README: Containers)",
            markup=False,
        )
    request = RunRequest(command or [], source, base, user, group, oci_runtime, oci_bundle, save_log, args, until_exit)
    with signal_policy():  # once the target has exited, a signal must not lose what was learned
        result, findings = learn_run(request)
        log_failure = result.save_log_failure  # --save-log is streamed during the run
        if findings.selected == 0 and base is None and result.interrupted is None:
            if log_failure:
                _fail(log_failure, KEEP_HINT)
            if not quiet:
                print_run_summary(result, findings.events, err)
            lost = f" ({result.lost} lost)" if result.lost else ""
            code = result.status or (EXIT_LOST if result.lost and not allow_loss else EXIT_NO_RECORDS)
            _fail(f"no seccomp records of the target arrived from the {result.source} source{lost}",
                  "" if result.lost else NO_RECORDS_HINT, code)  # fmt: skip
        finished = finish(
            build_run_profile(result, findings, base, in_oci_runtime=oci_bundle is not None),
            baseline=not no_baseline, deny=deny or (),
            still_running=[f"{p['pid']} ({p['comm']})" for p in result.still_running],
        )  # fmt: skip
        learned = finished.profile
        text = _render(learned, fmt)
        if output in (None, "-"):
            _print_stdout(text)
        profile_failure = _deliver(output, "profile", lambda p: write_atomically(p, text), lambda: text)
        failures = [f for f in (log_failure, profile_failure) if f]
        if failures:
            _fail("; ".join(failures), KEEP_HINT)
        findings.sources = [f"a run of {result.argv[0]} (audit session {result.session})"]
        if not quiet:
            print_summary(findings, err, output or "stdout", by_exe=by_exe)
            if base is not None:
                _print_base_counts(learned, base, err)
            _print_notes(finished.notes)
            _print_risks(learned, findings)
        context = Context(
            "run", learned, output, fmt.value, finished.baseline_added, finished.denied, result, not_terminals
        )
        report_failure = _report(findings, context, report_json, quiet)
        if not quiet:
            print_run_summary(result, findings.events, err)
        if report_failure:
            _fail(report_failure, KEEP_HINT)
        if quiet and result.interrupted is not None:
            err.print(f"learn: {result.interrupted}; the profile is INCOMPLETE", markup=False)
        elif quiet and result.lost:
            err.print(f"learn: records lost: {result.lost}; the profile is INCOMPLETE (--allow-loss to accept it)")
    if result.interrupted is not None:  # asked to stop: what was learned is written, marked incomplete
        raise _Exit(result.interrupted.exit_status)
    if result.status != 0:
        raise _Exit(result.status)
    if result.lost and not allow_loss:
        raise _Exit(EXIT_LOST)


def _print_notes(notes: list[str]) -> None:
    for note in notes:
        err.print(f"note: {note}", markup=False)


def _check_report_path(report: str | None, output: str | None) -> None:
    if report == "-" and output in (None, "-"):
        _fail("--report-json - and the profile cannot both go to standard output", "give -o FILE for the profile")


def _report(findings: Findings, context: Any, path: str | None, quiet: bool) -> str | None:
    """The report: its coverage lines in the summary, and as JSON to path (--report-json); the
    error if path could not be written (the report is then kept elsewhere)."""
    from learn.report import build, readable, write_json

    report = build(findings, context)
    if not quiet:
        for line in readable(report):
            err.print(line, markup=False)
    if path == "-":
        _print_stdout(write_json(report))
        return None
    return _deliver(path, "report", lambda p: write_atomically(p, write_json(report)), lambda: write_json(report))


def _print_risks(profile: Profile, findings: Findings) -> None:
    from learn.aggregate import exes_by_syscall
    from learn.risk import assess, summary_lines

    for line in summary_lines(assess(profile), exes_by_syscall(findings.usage)):
        err.print(line, markup=False)


def _print_base_counts(learned: Profile, base: Profile, console: Console) -> None:
    """--profile BASE: the tables above list what was new; say what the written profile holds."""
    for arch in learned.arches:
        total, known = set(learned.allowed.get(arch, ())), set(base.allowed.get(arch, ()))
        console.print(
            f"{arch}: {len(total - known)} new syscalls, {len(total)} in the profile "
            f"({len(total & known)} from the base profile)"
        )


@app.command(cls=_Command, name="merge", epilog="Example: learn merge py.json py2.json -o all.json")
def merge_profiles(
    profiles: Annotated[list[str], typer.Argument(help="Profiles to unite (OCI or snapd).")],
    output: Output = None,
    fmt: Format = OutputFormat.OCI,
    default: Annotated[
        str | None,
        typer.Option(
            "--default", metavar="ACTION", help="The result's default when the profiles' differ: errno[:N], allow, ..."
        ),
    ] = None,
    profile_format: ProfileFmt = None,
) -> None:
    """Unite profiles: every syscall any of them allows, on every arch any of them lists."""
    from learn.coverage import profiles_coverage
    from learn.profile import merge, parse_verdict

    chosen = parse_verdict(default) if default is not None else None
    read = [(path, _read_profile(path, profile_format)) for path in profiles]
    _emit(merge(*(p for _, p in read), default=chosen), fmt, output)
    alone = profiles_coverage(read)
    if len(read) > 1:
        err.print(
            f"coverage: {len(read)} profiles; {len(alone)} syscalls allowed by only 1 of {len(read)}", markup=False
        )
        for arch, name, path in alone[:SHOWN_ALONE]:
            err.print(f"  {arch} {name}: in 1 of {len(read)} profiles ({path})", markup=False)
        if len(alone) > SHOWN_ALONE:
            err.print(f"  ... and {len(alone) - SHOWN_ALONE} more", markup=False)


@app.command(
    cls=_Command,
    context_settings=PASS_THROUGH,
    epilog="Example: sudo learn enforce ls.json ls -la / (everything from the program's name on is the "
    "program's). Exit status: the target's (128+N if killed by signal N); 2 bad usage.",
)
def enforce(
    profile: Annotated[str | None, typer.Argument(help="Profile file (OCI or snapd); omit with --bpf.")] = None,
    command: MaybeCommand = None,
    bpf: Annotated[
        str | None, typer.Option(metavar="FILE", help="Load this compiled BPF if it is its source's build.")
    ] = None,
    user: User = None,
    group: Group = None,
    profile_format: ProfileFmt = None,
) -> None:
    """Run a program under a profile in enforce mode: EPERM for the rest, denials logged."""
    from learn.enforce import compiled_installer, profile_installer
    from learn.enforce import enforce as run_enforced
    from learn.kernel import launch

    argv = [profile, *(command or [])] if bpf and profile else list(command or [])
    if bpf:
        installer = compiled_installer(bpf)
    elif profile:
        installer = profile_installer(_read_profile(profile, profile_format))
    else:
        _fail("give a PROFILE or --bpf FILE, then the program")
    if not argv:
        _fail("no command to run", "learn enforce PROFILE CMD ARGS")
    for note in installer.notes:
        err.print(f"learn: note: {note}", markup=False)
    raise _Exit(run_enforced(argv, installer, launch.resolve_user(user, group)))


@app.command(
    cls=_Command,
    context_settings=PASS_THROUGH,
    epilog="Example: sudo learn check ls.json ls -la /tmp. Exit codes: 0 nothing denied, nothing lost and the "
    "target exited 0; 3 something was denied; 4 records were lost; 5 nothing denied, but the target failed "
    "(its status is in the summary); 2 bad usage.",
)
def check(
    profile: ProfileArg,
    command: Command,
    complain: Annotated[
        bool, typer.Option("--complain", metavar=FLAG, help="Allow the profile, LOG the rest: report, don't deny.")
    ] = False,
    source: Source = None,
    user: User = None,
    group: Group = None,
    by_exe: ByExe = False,
    profile_format: ProfileFmt = None,
    report_json: ReportJson = None,
    args: LearnArgs = False,
    until_exit: UntilExit = False,
) -> None:
    """Run a program under a profile and report every syscall the profile denied."""
    from learn.enforce import check as run_check
    from learn.enforce import profile_installer
    from learn.kernel import launch
    from learn.report import Context, stdio_not_terminals

    checked = _read_profile(profile, profile_format)
    installer = profile_installer(checked, complain=complain)
    _check_outputs(report_json)
    not_terminals = stdio_not_terminals()
    for note in installer.notes:
        err.print(f"learn: note: {note}", markup=False)
    with launch.signal_policy():  # once the target has exited, a signal must not lose the report
        creds = launch.resolve_user(user, group)
        result = run_check(
            command, installer, complain=complain, source=source, creds=creds, args=args, profile=checked,
            until_exit=until_exit,
        )  # fmt: skip
        denied = result.denied
        if result.clone3_enosys:
            err.print(f"learn: note: clone3 got ENOSYS {result.clone3_enosys}× as the profile says (libc then calls "
                      "clone, whose flags the argument rules check): not counted as denials")  # fmt: skip
        what = "would be denied (complain mode)" if complain else "denied"
        usage = denied.arg_usage
        if usage is not None and not complain and any(None in keys for keys in usage.seen.values()):
            err.print("learn: note: the kernel writes no SYSCALL record for a call the filter denies, so denied "
                      "calls show no arguments; check --args --complain runs them and shows them")  # fmt: skip
        denied.sources = [f"a run of {command[0]} (audit session {result.run.session})"]
        status = result.run.status
        so_far = " in the records decoded" if result.run.interrupted else ""
        if denied.selected:
            print_summary(denied, err, None, title=f"{denied.selected} calls {what}", by_exe=by_exe, calls_verb=what)
        elif status != 0:
            err.print(f"learn: nothing {what}{so_far}, but the target failed (exit status {status})")
        else:
            err.print(f"learn: nothing {what}{so_far}")
        context = Context("check", checked, profile, None, run=result.run, not_terminals=not_terminals)
        report_failure = _report(denied, context, report_json, quiet=False)
        print_run_summary(result.run, result.run.events, err)
        if report_failure:
            _fail(report_failure, KEEP_HINT)
    if denied.selected:
        raise _Exit(EXIT_DENIED)
    if result.run.interrupted is not None:  # nothing denied so far proves nothing
        raise _Exit(result.run.interrupted.exit_status)
    if result.run.lost:
        raise _Exit(EXIT_LOST)
    if status != 0:
        raise _Exit(EXIT_TARGET_FAILED)


@app.command(cls=_Command, name="compile", epilog="Example: learn compile ls.json -o ls.bpf")
def compile_command(
    profile: ProfileArg,
    output: Annotated[
        str, typer.Option("-o", "--output", metavar="FILE", help="Where to write the BPF (and FILE.json).")
    ],
    profile_format: ProfileFmt = None,
) -> None:
    """Compile a profile to raw BPF for this host's ABIs, plus a sidecar naming its source (see enforce --bpf)."""
    from learn.compiled import compile_profile
    from learn.kernel.features import flag_log_probe

    _check_outputs(output)
    fmt = OutputFormat(profile_format) if profile_format else None
    compiled = compile_profile(profile, output, log_denials=flag_log_probe().ok, fmt=fmt)
    for note in compiled.notes:
        err.print(f"learn: note: {note}", markup=False)
    size = f"{len(compiled.program) // 8} BPF instructions"
    what = "no filter (the profile allows every call)" if compiled.unrestricted else size
    err.print(
        f"learn: {output}: {what} for {', '.join(compiled.arches)}"
        f" (libseccomp {compiled.sidecar['libseccomp']}); sidecar {output}.json",
        markup=False,
    )


@app.command(cls=_Command, epilog="Example: learn show ls.json, or sudo learn show --pid 1234")
def show(profile: OptionalProfileArg = None, pid: PidOption = None, profile_format: ProfileFmt = None) -> None:
    """Print the profile's filter as libseccomp's PFC, after the allowed syscalls per arch; with --pid,
    the seccomp filters a running process is under, decompiled (mode, stacked filters, rules)."""
    from learn.compiled import unrestricted
    from learn.kernel.filters import Mode, build_filter, export_pfc

    if pid is not None:
        if profile is not None:
            _fail("show takes a profile or --pid, not both", "learn show PROFILE, or learn show --pid PID")
        from learn.inspect import inspect, show_lines

        process = inspect(pid)
        _notes(process.notes())
        sys.stdout.write("".join(f"{line}\n" for line in show_lines(process)))
        return
    if profile is None:
        _fail("show needs a profile or --pid PID", "learn show PROFILE, or learn show --pid PID")
    loaded = _read_profile(profile, profile_format)
    if unrestricted(loaded):
        sys.stdout.write("# unrestricted: no filter is loaded (the profile allows every call)\n")
        return
    for arch in loaded.arches:
        names = loaded.allowed.get(arch, ())
        sys.stdout.write(f"# {arch}: {len(names)} allowed: {' '.join(names)}\n")
    built = build_filter(loaded, mode=Mode.ENFORCE)
    sys.stdout.write("".join(f"# learn checks before libseccomp's filter: {guard}\n" for guard in built.guards))
    sys.stdout.write(export_pfc(built.filter))


@app.command(
    cls=_Command,
    epilog="Example: sudo learn dump 1234 -o running.json. What a format cannot say is noted on stderr.",
)
def dump(
    pid: Annotated[int, typer.Argument(help="The process whose seccomp filters to write as a profile.")],
    output: Output = None,
    fmt: Format = OutputFormat.OCI,
) -> None:
    """Write the profile a running process is under (its filters, decompiled), in any format."""
    from learn.inspect import effective, inspect

    _check_outputs(output)
    process = inspect(pid)
    _notes(process.notes())
    _emit(effective(process), fmt, output)


@app.command(
    cls=_Command,
    epilog="Example: learn diff old.json new.json, or sudo learn diff --pid 1234 ls.json. "
    "Exit codes, as diff(1): 0 the same, 1 different, 2 trouble.",
)
def diff(
    a: OptionalProfileArg = None,
    b: Annotated[str | None, typer.Argument(help="The profile to compare A with.", show_default=False)] = None,
    pid: Annotated[
        int | None,
        typer.Option(metavar="PID", help="Compare the filters this process is under (decompiled) with one profile."),
    ] = None,
    profile_format: ProfileFmt = None,
) -> None:
    """Syscalls and rules added (+) and removed (-) per arch, from profile A to profile B (or between
    a running process and a profile: --pid PID PROFILE, or PROFILE --pid PID)."""
    from learn.diff import diff as compare

    if pid is not None:
        if a is None or b is not None:
            _fail("diff --pid takes one profile", "learn diff --pid PID PROFILE, or learn diff PROFILE --pid PID")
        from learn.inspect import against, inspect

        intended = _read_profile(a, profile_format)
        process = inspect(pid)
        _notes(process.notes())
        changes = against(process, intended, process_first=_written_before("--pid", a))
    else:
        if a is None or b is None:
            _fail("diff needs two profiles, or one and --pid PID", "learn diff A B, or learn diff --pid PID PROFILE")
        changes = compare(_read_profile(a, profile_format), _read_profile(b, profile_format))
    sys.stdout.write("".join(f"{line}\n" for line in changes.lines()) if changes else "no differences\n")
    if changes:
        raise _Exit(1)


def _written_before(option: str, argument: str) -> bool:
    """Whether option came before argument on the command line (diff's sides follow it)."""
    args = sys.argv[1:]
    at = next((i for i, arg in enumerate(args) if arg == option or arg.startswith(option + "=")), len(args))
    return at < (args.index(argument) if argument in args else len(args))


def _notes(notes: list[str]) -> None:
    for note in notes:
        err.print(f"learn: note: {note}", markup=False)


def _read_profile(path: str, fmt: ProfileFormat | None = None) -> Profile:
    """A profile of any supported format (recognised, or `fmt`); what the reader left out or
    assumed goes to stderr."""
    from learn.formats import load_profile

    loaded = load_profile(path, fmt)
    for note in loaded.notes:
        err.print(f"learn: note: {note}", markup=False)
    return loaded.profile


def _check_outputs(*paths: str | None) -> None:
    """Before any work: every named output can be created (stdout, `-`, needs no check)."""
    for path in paths:
        if path != "-" and path is not None:
            check_writable(path)


def _render(profile: Profile, fmt: OutputFormat) -> str:
    """The profile's text; what the format could not express goes to stderr."""
    from learn.formats import write

    result = write(profile, fmt)
    for note in result.notes:
        err.print(f"learn: note: {fmt.value} cannot express: {note}", markup=False)
    return result.text


def _emit(profile: Profile, fmt: OutputFormat, output: str | None) -> None:
    """Write the profile to output (atomically to a regular file), or to stdout."""
    _emit_text(_render(profile, fmt), output, "profile")


def _emit_text(text: str, output: str | None, what: str) -> None:
    if output is None or output == "-":
        _print_stdout(text)
        return
    failure = _deliver(output, what, lambda p: write_atomically(p, text), lambda: text)
    if failure:
        _fail(failure, KEEP_HINT)


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


def _print_stdout(text: str) -> None:
    """The profile on stdout; if stdout fails (a full disk behind `>`), the profile is kept."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as error:
        kept = keep_elsewhere("profile", text)
        where = f"the profile is kept in {kept}" if kept else "the profile could not be kept anywhere"
        _fail(f"cannot write standard output: {error.strerror}; {where}", KEEP_HINT)


def _deliver(path: str | None, what: str, write: Callable[[str], None], text: Callable[[], str]) -> str | None:
    """Write to path (None: nothing asked); if that fails, keep the text elsewhere, never lose it,
    and return the error naming where it went."""
    if path is None or path == "-":
        return None
    try:
        write(path)
    except OutputError as error:
        kept = keep_elsewhere(path, text())
        return f"{error}; the {what} is kept in {kept}" if kept else f"{error}; the {what} could not be kept anywhere"
    return None


def _version_line() -> str:
    from learn.compiled import libseccomp_version

    return f"learn {__version__} (libseccomp {libseccomp_version()})"


def _print_version(value: bool) -> None:
    if value:
        print(_version_line())
        raise typer.Exit()


@app.callback()
def _learn(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            metavar=FLAG,
            is_eager=True,
            callback=_print_version,
            help="Print learn's and libseccomp's version.",
        ),
    ] = False,
) -> None:
    pass


@app.command(cls=_Command, epilog="Example: learn version")
def version() -> None:
    """Print learn's version and libseccomp's."""
    print(_version_line())


def _option_table(command: TyperCommand) -> OptionTable:
    takes_value: set[str] = set()
    flags: set[str] = {"--help"}
    for param in command.params:
        if isinstance(param, TyperOption):
            names = [*param.opts, *param.secondary_opts]
            (flags if param.is_flag or param.count else takes_value).update(names)
    return OptionTable(frozenset(takes_value), frozenset(flags))


def program_argv(group: TyperGroup, args: list[str]) -> list[str]:
    """args with `--` before the program of run/check/enforce: its options are never learn's."""
    if not args or args[0] not in PROGRAM_AFTER:
        return args
    command = group.commands[args[0]]
    assert isinstance(command, TyperCommand)
    table = _option_table(command)
    return [args[0], *split_program(args[1:], table, PROGRAM_AFTER[args[0]], program_first_after={"--bpf"})]


def main() -> None:
    try:
        group = typer.main.get_command(app)
        assert isinstance(group, TyperGroup)
        args = program_argv(group, sys.argv[1:])
        if not args:  # as `learn --help`, but a usage error
            group.main(args=["--help"], standalone_mode=False)
            sys.exit(EXIT_USAGE)
        # not standalone: click's usage errors come here, to be said in one line like the others
        code = group.main(args=args, standalone_mode=False)
        sys.exit(code if isinstance(code, int) else EXIT_OK)
    except _Exit as stop:
        sys.exit(stop.code)
    except ClickException as error:
        context = getattr(error, "ctx", None)
        where = context.command_path if context is not None else "learn"
        _error_line(error.format_message(), f"see {where} --help" if isinstance(error, UsageError) else "")
        sys.exit(error.exit_code)
    except LearnError as error:
        _error_line(str(error), error.hint)
        sys.exit(error.exit_code)
    except BrokenPipeError:
        # `learn events | head`: the reader left; say nothing, as cat would.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
    except OSError as error:  # EIO, ENOSPC, a file gone while read: one line, never a traceback
        where = f"{error.filename}: " if error.filename else ""
        code = f" ({errno.errorcode.get(error.errno, error.errno)})" if error.errno else ""
        _error_line(f"{where}{error.strerror or error}{code}", "")
        sys.exit(EXIT_USAGE)
    except MemoryError:
        _error_line("out of memory", "the input may be hostile, or the memory limit too low")
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as error:
        if os.environ.get("LEARN_DEBUG"):
            raise
        _error_line(f"internal error: {type(error).__name__}: {error}", "a bug in learn; LEARN_DEBUG=1 shows where")
        sys.exit(EXIT_INTERNAL)


def _error_line(message: str, hint: str) -> None:
    err.print(f"learn: error: {message}" + (f" (hint: {hint})" if hint else ""), markup=False)
