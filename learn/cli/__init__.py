"""The `learn` command line: the only package that knows typer.

app.py holds the typer app, the exit codes and main(); the command modules register their
commands on it when imported here (--help lists them in app.COMMAND_ORDER).
"""

from learn.cli import live, logs, profiles, report
from learn.cli.app import (
    EXIT_CODES_HELP,
    EXIT_DENIED,
    EXIT_INTERNAL,
    EXIT_LOST,
    EXIT_NO_RECORDS,
    EXIT_OK,
    EXIT_TARGET_FAILED,
    EXIT_USAGE,
    app,
    main,
    program_argv,
)

__all__ = [
    "EXIT_CODES_HELP",
    "EXIT_DENIED",
    "EXIT_INTERNAL",
    "EXIT_LOST",
    "EXIT_NO_RECORDS",
    "EXIT_OK",
    "EXIT_TARGET_FAILED",
    "EXIT_USAGE",
    "app",
    "live",
    "logs",
    "main",
    "profiles",
    "program_argv",
    "report",
]
