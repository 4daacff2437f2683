"""`learn report`: one self-contained HTML page from logs and --report-json files (learn.htmlreport)."""

from __future__ import annotations

from typing import Annotated

import typer

from learn.cli.app import EXIT_NO_RECORDS, _Command, _fail, app, err
from learn.cli.output import _check_outputs, _emit_text


@app.command(cls=_Command, epilog="Example: learn report run1.log run2.log check.json -o report.html")
def report(
    inputs: Annotated[
        list[str],
        typer.Argument(
            metavar="INPUT...",
            help="Logs, saved run logs, directories, .gz, - (stdin), and --report-json files of run, check, suggest.",
        ),
    ],
    output: Annotated[
        str | None, typer.Option("-o", "--output", metavar="FILE", help="Write the HTML page here (atomically).")
    ] = None,
) -> None:
    """One self-contained HTML page (no network, no script): syscalls by kind, who made them, discovery, risks."""
    from learn.htmlreport.inputs import described, models
    from learn.htmlreport.render import page

    _check_outputs(output)
    found = models(inputs)
    if not any(m["records"]["selected"] for m in found):
        _fail(f"no seccomp records in {', '.join(inputs)}", "learn report reads what learn suggest reads",
              EXIT_NO_RECORDS)  # fmt: skip
    _emit_text(page(found), output, "report")
    if output not in (None, "-"):
        err.print(f"learn: report written to {output} ({described(found)})", markup=False)
