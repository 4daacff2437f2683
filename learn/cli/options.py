"""The options and arguments commands share, typed for typer."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from learn.cli.app import FLAG
from learn.formats import OutputFormat, ProfileFormat
from parsers import InputFormat

Logs = Annotated[list[str], typer.Argument(help="Log files, directories of rotated logs, .gz, or - for stdin.")]
Output = Annotated[
    str | None, typer.Option("-o", "--output", metavar="FILE", help="Write the profile here (atomically).")
]
Format = Annotated[
    OutputFormat,
    typer.Option("--format", "-f", metavar="FORMAT", help="Profile format: oci, snapd, systemd, spo or pfc."),
]


class Engine(StrEnum):
    """suggest's --engine: where inputs are read and counted."""

    LOCAL = "local"
    DASK = "dask"


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
