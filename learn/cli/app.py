"""The `learn` command line: the typer app, its help style, the exit codes, and main(), which
splits the program off run/check/enforce argv and turns every error into one line.

Exit codes: 0 success; 1 no seccomp records found; 2 bad usage, unreadable input or an output
that cannot be written; 3 `check`: something was denied; 4 records were lost (the profile is
still written; --allow-loss gives 0); 5 `check`: nothing denied, but the target failed.
`diff` follows diff(1): 0 same, 1 different, 2 trouble.
"""

from __future__ import annotations

import errno
import os
import sys
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from learn import __version__
from learn.argv import OptionTable, split_program
from learn.errors import LearnError

try:  # typer >= 0.22 carries its own copy of click
    from typer._click.exceptions import ClickException, UsageError
except ImportError:  # pragma: no cover
    # (click itself may be installed too, by learn[dask]'s distributed: the ignore covers both cases)
    from click.exceptions import ClickException, UsageError  # type: ignore[import-not-found,no-redef,assignment,unused-ignore]


EXIT_OK, EXIT_NO_RECORDS, EXIT_USAGE, EXIT_DENIED, EXIT_LOST, EXIT_TARGET_FAILED = 0, 1, 2, 3, 4, 5
EXIT_INTERNAL = 70  # EX_SOFTWARE: a bug in learn (LEARN_DEBUG=1 shows the traceback)
EXIT_CODES_HELP = (
    "Exit codes: 0 success; 1 no seccomp records found (or none the selection matches); 2 bad usage, "
    "unreadable input or an output that cannot be written; 4 the logs say records were lost (profile "
    "written, marked incomplete; --allow-loss gives 0)."
)
NO_RECORDS_HINT = (
    "is auditd running (auditctl -s), or did the records go to the kernel log (dmesg)? "
    "Is `log` in /proc/sys/kernel/seccomp/actions_logged? Records of other actions need --action."
)
KEEP_HINT = "free some space or choose another path, then move the kept file there"

# The order --help lists the commands in (the workflow's), whichever module defines them.
COMMAND_ORDER = [
    "events",
    "suggest",
    "run",
    "merge",
    "enforce",
    "check",
    "compile",
    "show",
    "dump",
    "lint",
    "diff",
    "report",
    "version",
]


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
    def list_commands(self, ctx: Any) -> list[str]:
        known = [name for name in COMMAND_ORDER if name in self.commands]
        return known + [name for name in self.commands if name not in COMMAND_ORDER]

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

# How many positional arguments come before the program, per command that runs one.
PROGRAM_AFTER = {"run": 0, "check": 1, "enforce": 1}


class _Exit(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


def _fail(message: str, hint: str = "", code: int = EXIT_USAGE) -> NoReturn:
    err.print(f"learn: error: {message}" + (f" (hint: {hint})" if hint else ""), markup=False)
    raise _Exit(code)


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
