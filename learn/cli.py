"""The `learn` command line: the only module that knows typer.

Exit codes: 0 success; 1 no seccomp records found; 2 bad usage or unreadable input;
4 the logs say records were lost (the profile is still written; --allow-loss gives 0).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from learn import __version__
from learn.atomic import write_atomically
from learn.errors import LearnError
from learn.formats import OutputFormat
from learn.model import Action, Problem
from learn.pipeline import build_profile, learn_from_logs, stream_events
from learn.profile import Profile
from learn.select import DEFAULT_ACTIONS, Selection
from learn.sources import Progress as ProgressHook
from learn.summary import print_run_summary, print_summary
from parsers import InputFormat

EXIT_OK, EXIT_NO_RECORDS, EXIT_USAGE, EXIT_DENIED, EXIT_LOST = 0, 1, 2, 3, 4
EXIT_CODES_HELP = (
    "Exit codes: 0 success; 1 no seccomp records found; 2 bad usage or unreadable input; "
    "4 the logs say records were lost (profile written, marked incomplete; --allow-loss gives 0)."
)
PROGRESS_MIN_BYTES = 8 << 20
NO_RECORDS_HINT = (
    "is auditd running (auditctl -s), or did the records go to the kernel log (dmesg)? "
    "Is `log` in /proc/sys/kernel/seccomp/actions_logged? Records of other actions need --action."
)

app = typer.Typer(
    help="Learn the smallest seccomp profile a program needs from the kernel's SECCOMP records. " + EXIT_CODES_HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, highlight=False, soft_wrap=True)

Logs = Annotated[list[str], typer.Argument(help="Log files, directories of rotated logs, .gz, or - for stdin.")]
Output = Annotated[str | None, typer.Option("-o", "--output", help="Write the profile here (atomically).")]
Format = Annotated[OutputFormat, typer.Option("--format", "-f", help="Profile format.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No summary on stderr.")]
InputFmt = Annotated[
    InputFormat, typer.Option("--input-format", help="Force the input form instead of detecting it per line.")
]

Command = Annotated[list[str], typer.Argument(help="The program and its arguments, after --.")]
MaybeCommand = Annotated[list[str] | None, typer.Argument(help="The program and its arguments, after --.")]
ProfileArg = Annotated[str, typer.Argument(help="Profile file: OCI/Docker JSON or snapd syntax.")]
Source = Annotated[str | None, typer.Option(help="Record source: netlink, auditd or kmsg (default: best).")]
User = Annotated[str | None, typer.Option(help="Run the target as this user.")]
Group = Annotated[str | None, typer.Option(help="Run the target with this group.")]
PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}


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

        def start(path: str, size: int) -> Callable[[int], None]:
            if size < PROGRESS_MIN_BYTES:
                return lambda _n: None
            task = bars.add_task(os.path.basename(path), total=size)
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


@app.command(epilog="Exit codes: 0 success; 2 bad usage or unreadable input.")
def events(logs: Logs, input_format: InputFmt = InputFormat.AUTO) -> None:
    """Print every decoded SECCOMP event as one JSON object a line; problems go to stderr."""

    def report(problem: Problem) -> None:
        err.print(str(problem), markup=False)

    out = sys.stdout
    with _progress() as progress:
        for event in stream_events(logs, input_format, report, progress):
            out.write(json.dumps(event.to_json_dict()) + "\n")


@app.command(epilog=EXIT_CODES_HELP)
def suggest(
    logs: Logs,
    output: Annotated[str | None, typer.Option("-o", "--output", help="Write the profile here (atomically).")] = None,
    fmt: Format = OutputFormat.OCI,
    input_format: InputFmt = InputFormat.AUTO,
    exe: Annotated[list[str] | None, typer.Option(help="Only records of this executable path.")] = None,
    comm: Annotated[list[str] | None, typer.Option(help="Only records of this command name.")] = None,
    pid: Annotated[list[int] | None, typer.Option(help="Only records of this pid.")] = None,
    uid: Annotated[list[int] | None, typer.Option(help="Only records of this uid.")] = None,
    snap: Annotated[str | None, typer.Option(help="Only the records of snap NAME (label snap.NAME.*).")] = None,
    since: Annotated[str | None, typer.Option(help="Only records at or after this time (ISO 8601 or epoch).")] = None,
    until: Annotated[str | None, typer.Option(help="Only records at or before this time.")] = None,
    action: Annotated[
        list[str] | None,
        typer.Option(help="Actions whose records count: log (default), errno, kill_thread, ..., all."),
    ] = None,
    allow_loss: Annotated[bool, typer.Option(help="Exit 0 even if the logs say records were lost.")] = False,
    quiet: Quiet = False,
) -> None:
    """Build a minimal enforce-mode profile from existing logs; a summary goes to stderr."""
    selection = Selection(
        exes=frozenset(exe or ()), comms=frozenset(comm or ()), pids=frozenset(pid or ()),
        uids=frozenset(uid or ()), snap=snap, since=_parse_time(since, "--since"),
        until=_parse_time(until, "--until"), actions=_parse_actions(action),
    )  # fmt: skip
    with _progress() as progress:
        findings = learn_from_logs(logs, selection, input_format, progress)
    if findings.selected == 0:
        if not quiet:
            print_summary(findings, err, None)
        _fail(f"no seccomp records found in {', '.join(findings.sources)}", NO_RECORDS_HINT, EXIT_NO_RECORDS)
    _emit(build_profile(findings), fmt, output)
    if not quiet:
        print_summary(findings, err, output or "stdout")
    if findings.loss_reported and not allow_loss:
        raise _Exit(EXIT_LOST)


@app.command(
    context_settings=PASS_THROUGH,
    epilog="Exit status: the target's (128+N if killed by signal N); else 4 if records were lost "
    "(unless --allow-loss), 2 for bad usage, 1 if no records arrived.",
)
def run(
    command: MaybeCommand = None,
    output: Output = None,
    fmt: Format = OutputFormat.OCI,
    source: Source = None,
    profile: Annotated[
        str | None,
        typer.Option("--profile", help="Base profile: allowed without logging, kept in the result."),
    ] = None,
    user: User = None,
    group: Group = None,
    oci_bundle: Annotated[
        str | None, typer.Option(help="Learn the container of this OCI bundle, run by --oci-runtime (no CMD).")
    ] = None,
    oci_runtime: Annotated[str, typer.Option(help="OCI runtime for --oci-bundle.")] = "runc",
    save_log: Annotated[str | None, typer.Option(help="Write the target's records here, in audit.log form.")] = None,
    allow_loss: Annotated[bool, typer.Option(help="Exit with the target's status even if records were lost.")] = False,
    quiet: Quiet = False,
) -> None:
    """Run a program in complain mode (SECCOMP_RET_LOG) and learn its profile from the kernel's records."""
    from learn.run import RunRequest, build_run_profile, learn_run
    from learn.run import save_log as write_log

    base = _read_profile(profile) if profile else None
    if command and oci_bundle:
        _fail("give either -- CMD or --oci-bundle DIR, not both")
    if not command and not oci_bundle:
        _fail("no command to run", "learn run -- CMD ARGS, or learn run --oci-bundle DIR")
    request = RunRequest(command or [], source, base, user, group, oci_runtime, oci_bundle, save_log is not None)
    result, findings = learn_run(request)
    if save_log:
        write_log(save_log, result)
    if findings.selected == 0 and base is None:
        if not quiet:
            print_run_summary(result, findings.events, err)
        lost = f" ({result.lost} lost)" if result.lost else ""
        code = result.status or (EXIT_LOST if result.lost and not allow_loss else EXIT_NO_RECORDS)
        _fail(f"no seccomp records of the target arrived from the {result.source} source{lost}",
              "" if result.lost else NO_RECORDS_HINT, code)  # fmt: skip
    _emit(build_run_profile(result, findings, base, in_oci_runtime=oci_bundle is not None), fmt, output)
    if not quiet:
        findings.sources = [f"a run of {result.argv[0]} (audit session {result.session})"]
        print_summary(findings, err, output or "stdout")
        print_run_summary(result, findings.events, err)
    if result.status != 0:
        raise _Exit(result.status)
    if result.lost and not allow_loss:
        raise _Exit(EXIT_LOST)


@app.command(name="merge")
def merge_profiles(
    profiles: Annotated[list[str], typer.Argument(help="Profiles to unite (OCI or snapd).")],
    output: Annotated[str | None, typer.Option("-o", "--output", help="Write the profile here (atomically).")] = None,
    fmt: Format = OutputFormat.OCI,
) -> None:
    """Unite profiles: every syscall any of them allows, on every arch any of them lists."""
    from learn.profile import merge

    _emit(merge(*(_read_profile(p) for p in profiles)), fmt, output)


@app.command(context_settings=PASS_THROUGH, epilog="Exit status: the target's (128+N if killed by signal N).")
def enforce(
    profile: Annotated[str | None, typer.Argument(help="Profile file (OCI or snapd); omit with --bpf.")] = None,
    command: MaybeCommand = None,
    bpf: Annotated[str | None, typer.Option(help="Load this compiled BPF if it is its source's build.")] = None,
    user: User = None,
    group: Group = None,
) -> None:
    """Run a program under a profile in enforce mode: EPERM for the rest, denials logged."""
    from learn.enforce import compiled_installer, profile_installer
    from learn.enforce import enforce as run_enforced
    from learn.kernel import launch

    argv = [profile, *(command or [])] if bpf and profile else list(command or [])
    if bpf:
        installer = compiled_installer(bpf)
    elif profile:
        installer = profile_installer(_read_profile(profile))
    else:
        _fail("give a PROFILE or --bpf FILE, then -- CMD")
    if not argv:
        _fail("no command to run", "learn enforce PROFILE -- CMD ARGS")
    for note in installer.notes:
        err.print(f"learn: note: {note}", markup=False)
    raise _Exit(run_enforced(argv, installer, launch.resolve_user(user, group)))


@app.command(
    context_settings=PASS_THROUGH,
    epilog="Exit codes: 0 nothing denied and nothing lost; 3 something was denied; 4 records were lost; 2 bad usage.",
)
def check(
    profile: ProfileArg,
    command: Command,
    complain: Annotated[bool, typer.Option(help="Allow the profile, LOG the rest: report, don't deny.")] = False,
    source: Source = None,
    user: User = None,
    group: Group = None,
) -> None:
    """Run a program under a profile and report every syscall the profile denied."""
    from learn.enforce import check as run_check
    from learn.enforce import profile_installer
    from learn.kernel import launch

    installer = profile_installer(_read_profile(profile), complain=complain)
    for note in installer.notes:
        err.print(f"learn: note: {note}", markup=False)
    result = run_check(command, installer, complain=complain, source=source, creds=launch.resolve_user(user, group))
    denied = result.denied
    what = "would be denied (complain mode)" if complain else "denied"
    denied.sources = [f"a run of {command[0]} (audit session {result.run.session})"]
    if denied.selected:
        print_summary(denied, err, None, title=f"{denied.selected} calls {what}")
    else:
        err.print(f"learn: nothing {what}")
    print_run_summary(result.run, result.run.events, err)
    if denied.selected:
        raise _Exit(EXIT_DENIED)
    if result.run.lost:
        raise _Exit(EXIT_LOST)


@app.command(name="compile")
def compile_command(
    profile: ProfileArg,
    output: Annotated[str, typer.Option("-o", "--output", help="Where to write the BPF (and OUT.json).")],
) -> None:
    """Compile a profile to raw BPF for this host's ABIs, plus a sidecar naming its source (see enforce --bpf)."""
    from learn.compiled import compile_profile
    from learn.kernel.features import flag_log_probe

    compiled = compile_profile(profile, output, log_denials=flag_log_probe().ok)
    for note in compiled.notes:
        err.print(f"learn: note: {note}", markup=False)
    size = f"{len(compiled.program) // 8} BPF instructions"
    what = "no filter (the profile allows every call)" if compiled.unrestricted else size
    err.print(
        f"learn: {output}: {what} for {', '.join(compiled.arches)}"
        f" (libseccomp {compiled.sidecar['libseccomp']}); sidecar {output}.json",
        markup=False,
    )


@app.command()
def show(profile: ProfileArg) -> None:
    """Print the profile's filter as libseccomp's PFC, after the allowed syscalls per arch."""
    from learn.compiled import unrestricted
    from learn.kernel.filters import Mode, build_filter, export_pfc

    loaded = _read_profile(profile)
    if unrestricted(loaded):
        sys.stdout.write("# unrestricted: no filter is loaded (the profile allows every call)\n")
        return
    for arch in loaded.arches:
        names = loaded.allowed.get(arch, ())
        sys.stdout.write(f"# {arch}: {len(names)} allowed: {' '.join(names)}\n")
    sys.stdout.write(export_pfc(build_filter(loaded, mode=Mode.ENFORCE).filter))


@app.command()
def diff(a: ProfileArg, b: ProfileArg) -> None:
    """Syscalls and rules added (+) and removed (-) per arch, from profile A to profile B."""
    from learn.diff import diff as compare

    changes = compare(_read_profile(a), _read_profile(b))
    sys.stdout.write("".join(f"{line}\n" for line in changes.lines()) if changes else "no differences\n")


def _read_profile(path: str) -> Profile:
    """A profile of any supported format; what the reader left out or assumed goes to stderr."""
    from learn.formats import load_profile

    loaded = load_profile(path)
    for note in loaded.notes:
        err.print(f"learn: note: {note}", markup=False)
    return loaded.profile


def _emit(profile: Profile, fmt: OutputFormat, output: str | None) -> None:
    """Write the profile, atomically to a file; say what the format could not express."""
    from learn.formats import write

    result = write(profile, fmt)
    for note in result.notes:
        err.print(f"learn: note: {fmt.value} cannot express: {note}", markup=False)
    if output is None or output == "-":
        sys.stdout.write(result.text)
        sys.stdout.flush()
    else:
        write_atomically(output, result.text)


@app.command()
def version() -> None:
    """Print learn's version."""
    print(__version__)


def main() -> None:
    try:
        app()  # click's standalone mode turns usage errors into one message and exit 2
    except _Exit as stop:
        sys.exit(stop.code)
    except LearnError as error:
        err.print(f"learn: error: {error}" + (f" (hint: {error.hint})" if error.hint else ""), markup=False)
        sys.exit(error.exit_code)
    except BrokenPipeError:
        # `learn events | head`: the reader left; say nothing, as cat would.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
