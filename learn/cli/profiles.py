"""Commands over profile files and the filters running processes are under: merge, compile, show,
dump, lint, diff."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from learn.cli.app import _Command, _Exit, _fail, app, err
from learn.cli.options import Format, OptionalProfileArg, Output, PidOption, ProfileArg, ProfileFmt
from learn.cli.output import _check_outputs, _emit, _read_profile
from learn.formats import OutputFormat

SHOWN_ALONE = 20  # merge: names only one profile allows, listed


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
    epilog="Example: learn lint nginx.json. Exit codes: 0 no error or warning (notes may be printed); "
    "1 an error or warning; 2 a file cannot be read.",
)
def lint(
    profiles: Annotated[list[str], typer.Argument(help="Profiles, any format.")], profile_format: ProfileFmt = None
) -> None:
    """Check profiles statically: findings as `file: severity: message` on stdout."""
    from learn.lint import Severity, lint_file

    findings = [finding for path in profiles for finding in lint_file(path, profile_format)]
    sys.stdout.write("".join(f"{finding}\n" for finding in findings))
    sys.stdout.flush()
    serious = [f for f in findings if f.severity is not Severity.NOTE]
    if serious:
        errors = sum(1 for f in serious if f.severity is Severity.ERROR)
        err.print(f"learn: lint: {errors} errors, {len(serious) - errors} warnings", markup=False)
        raise _Exit(1)


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
        changes, notes = against(inspect(pid), intended, process_first=_written_before("--pid", a))
        _notes(notes)
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
