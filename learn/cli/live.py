"""Commands that run a program under a filter: run (complain mode, learn), enforce, check."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from learn.atomic import write_atomically
from learn.cli.app import (
    EXIT_DENIED,
    EXIT_LOST,
    EXIT_NO_RECORDS,
    EXIT_TARGET_FAILED,
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
    PASS_THROUGH,
    ByExe,
    Command,
    Deny,
    Format,
    Group,
    LearnArgs,
    MaybeCommand,
    NoBaseline,
    Output,
    ProfileArg,
    ProfileFmt,
    Quiet,
    ReportJson,
    Source,
    UntilExit,
    User,
)
from learn.cli.output import (
    _check_outputs,
    _check_report_path,
    _deliver,
    _print_notes,
    _print_risks,
    _print_stdout,
    _read_profile,
    _render,
    _report,
)
from learn.formats import OutputFormat
from learn.profile import Profile
from learn.summary import print_run_summary, print_summary

if TYPE_CHECKING:
    from learn.tally import Findings
    from learn.usage import Usage

CONTAINER_RUNTIMES = frozenset({"runc", "crun", "runsc", "youki", "podman", "docker"})


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
    save_usage: Annotated[
        str | None,
        typer.Option(metavar="FILE", help="Also write the usage as a Parquet shard (as learn suggest --save-usage)."),
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
    _check_outputs(output, save_log, report_json, save_usage)
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
    request = RunRequest(
        command or [], source, base, user, group, oci_runtime, oci_bundle, save_log, args, until_exit,
        save_usage=save_usage is not None,
    )  # fmt: skip
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
        if save_usage is not None and findings.shard is not None:
            _save_run_usage(findings, findings.shard, result.lost, result.incomplete, save_usage)
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


def _save_run_usage(findings: Findings, shard: Usage, lost: int, incomplete: bool, path: str) -> None:
    """The run's usage shard; its loss (or interruption) keeps what it builds marked incomplete."""
    from learn import usage as shards

    usage = shards.from_findings(findings, shard)
    usage.lost = max(usage.lost, lost)
    if incomplete:
        usage.problem_counts["loss"] += 1
    shards.write(usage, path)


def _print_base_counts(learned: Profile, base: Profile, console: Console) -> None:
    """--profile BASE: the tables above list what was new; say what the written profile holds."""
    for arch in learned.arches:
        total, known = set(learned.allowed.get(arch, ())), set(base.allowed.get(arch, ()))
        console.print(
            f"{arch}: {len(total - known)} new syscalls, {len(total)} in the profile "
            f"({len(total & known)} from the base profile)"
        )


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
