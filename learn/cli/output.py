"""What commands write: profiles and reports to files (atomically, kept elsewhere on failure) or
stdout, notes and risks to stderr, a progress bar; and the profiles they read."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from learn.atomic import check_writable, keep_elsewhere, write_atomically
from learn.cli.app import KEEP_HINT, _fail, err
from learn.errors import OutputError
from learn.formats import OutputFormat, ProfileFormat
from learn.pipeline import Findings
from learn.profile import Profile
from learn.sources import Progress as ProgressHook

PROGRESS_MIN_BYTES = 8 << 20


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


def _print_notes(notes: list[str]) -> None:
    for note in notes:
        err.print(f"note: {note}", markup=False)


def _check_report_path(report: str | None, output: str | None) -> None:
    if report == "-" and output in (None, "-"):
        _fail("--report-json - and the profile cannot both go to standard output", "give -o FILE for the profile")


def _report(findings: Findings, context: Any, path: str | None, quiet: bool) -> str | None:
    """The report: its coverage lines in the summary, and as JSON to path (--report-json); the
    error if path could not be written (the report is then kept elsewhere)."""
    if quiet and path is None:  # nothing to show or write: do not pay for building it (pandas)
        return None
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
    from learn.risk import assess, summary_lines

    for line in summary_lines(assess(profile), findings.counts.exes_by_syscall()):
        err.print(line, markup=False)
