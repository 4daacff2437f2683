"""The report page: every section a picture plus the table behind it, from learn-report/1 models.

Nothing is counted here: each number is read from the model that `--report-json` writes
(learn.report.build), so the page and the JSON can never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from learn.htmlreport import svg
from learn.htmlreport.kinds import ORDER, kind_of

Model = Mapping[str, Any]
KIND_COLOURS = dict(zip(ORDER, ("#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#ff7f0e", "#17becf", "#8c564b",
                                "#7f7f7f"), strict=True))  # fmt: skip
HEAT_COLUMNS = 160  # most frequent syscalls in the heat map; the table lists every one
HEAT_ROWS = 60
CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1200px;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}td,th{border:1px solid #ddd;padding:2px 6px;
text-align:left;vertical-align:top}th{background:#f3f3f3}td.n{text-align:right}
.figure{overflow-x:auto;margin:.5em 0}.note{color:#555}.warn{color:#a40000;font-weight:bold}
details{margin:.5em 0}summary{cursor:pointer;color:#0645ad}code{font-size:.95em}
.kind{display:inline-block;width:.8em;height:.8em;margin-right:.3em}
"""


def page(models: Sequence[Model]) -> str:
    learning = [m for m in models if m["command"] != "check"]
    checks = [m for m in models if m["command"] == "check"]
    sources = [s for m in models for s in m["sources"]]
    title = f"learn report: {', '.join(sources)}" if len(sources) <= 3 else f"learn report: {len(sources)} inputs"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        # no request may leave the page: nothing but inline content, even if something slipped in
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        'img-src data:">',
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        _overview(models),
        _section("kinds", "Syscalls by kind, per arch", [_kinds(m, len(learning) > 1) for m in learning]),
        _section("heatmap", "Executables × syscalls", [_heatmap(m, len(learning) > 1) for m in learning]),
        _section("discovery", "Discovery curve per run", [_discovery(learning)]),
        _section("runs", "Runs compared", [_runs_compared(learning)]),
        _section("risks", "Risky syscalls and argument values allowed", [_risks(learning)]),
        _section("problems", "Problems and losses", [_problems(models)]),
        _section("denials", "Denials from check runs", [_denials(checks)]),
        f'<p class="note">Made by learn {escape(str(models[0]["learn"]))} from the same data as '
        "<code>--report-json</code> (schema learn-report/1).</p>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _section(ident: str, heading: str, bodies: Sequence[str]) -> str:
    body = "".join(bodies) or '<p class="note">Nothing to show.</p>'
    return f'<section id="{ident}"><h2>{escape(heading)}</h2>{body}</section>'


def _table(head: Sequence[str], rows: Sequence[Sequence[Any]], numeric: Sequence[int] = ()) -> str:
    out = ["<table><thead><tr>", *(f"<th>{escape(h)}</th>" for h in head), "</tr></thead><tbody>"]
    for row in rows:
        cells = (f'<td class="n">{escape(str(v))}</td>' if i in numeric else f"<td>{escape(str(v))}</td>"
                 for i, v in enumerate(row))  # fmt: skip
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _behind(summary: str, table: str) -> str:
    """The table behind a picture, folded: open without JavaScript by a click."""
    return f"<details><summary>{escape(summary)}</summary>{table}</details>"


def _some(names: Sequence[str], shown: int = 5) -> str:
    """A few names; the heat map's table has them all."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return " ".join(names[:shown]) + more


def _name(entry: Mapping[str, Any]) -> str:
    return str(entry["syscall"]) if entry["syscall"] is not None else f"#{entry['nr']}"


def _heading(model: Model, several: bool) -> str:
    return f"<h3>{escape(', '.join(model['sources']))}</h3>" if several else ""


def _overview(models: Sequence[Model]) -> str:
    rows = []
    for m in models:
        r, profile = m["records"], m["profile"]
        arches = ", ".join(profile["arches"]) if profile else "-"
        lost = r["lost"] if r["lost"] or not r["loss_reported"] else "unknown"
        rows.append((m["command"], ", ".join(m["sources"]), r["selected"], r["duplicates"],
                     lost if r["loss_reported"] else 0, len(m["runs"]), arches))  # fmt: skip
    out = _table(("from", "inputs", "records", "duplicates removed", "lost", "runs", "arches"), rows, (2, 3, 4, 5))
    if any(m["records"]["loss_reported"] for m in models):
        out += '<p class="warn">The logs say records were lost: the profile may miss syscalls only they show.</p>'
    return f'<section id="overview">{out}</section>'


def _kinds(model: Model, several: bool) -> str:
    out = [_heading(model, several)]
    by_arch: dict[str, list[Mapping[str, Any]]] = {}
    for entry in model["syscalls"]:
        by_arch.setdefault(entry["arch"], []).append(entry)
    legend = " ".join(f'<span class="kind" style="background:{c}"></span>{k}' for k, c in KIND_COLOURS.items())
    for arch, entries in by_arch.items():
        ordered = sorted(entries, key=lambda e: (ORDER.index(kind_of(e["syscall"])), -e["count"], _name(e)))
        counts = {k: sum(e["count"] for e in ordered if kind_of(e["syscall"]) == k) for k in ORDER}
        shown = ", ".join(f"{k} {len([e for e in ordered if kind_of(e['syscall']) == k])}" for k in ORDER
                          if counts[k])  # fmt: skip
        out.append(f"<h4>{escape(arch)}: {len(entries)} syscalls ({escape(shown)})</h4><p>{legend}</p>")
        rows = [(_name(e), e["count"], KIND_COLOURS[kind_of(e["syscall"])]) for e in ordered]
        out.append(f'<div class="figure">{svg.bars(f"{arch} syscalls by kind", rows)}</div>')
        table = [(kind_of(e["syscall"]), _name(e), e["count"], f"{e['runs_seen']}/{e['runs_total']}",
                  _some(e["executables"])) for e in ordered]  # fmt: skip
        out.append(_behind(f"table: {arch} syscalls, kinds and counts",
                           _table(("kind", "syscall", "records", "runs", "executables"), table, (2,))))  # fmt: skip
    profile = model["profile"]
    if profile and any(profile["baseline_added"].values()):
        added = "; ".join(f"{a}: {' '.join(n)}" for a, n in profile["baseline_added"].items() if n)
        out.append(f'<p class="note">Also allowed by the baseline though no record shows them: {escape(added)}</p>')
    return "".join(out)


def _heatmap(model: Model, several: bool) -> str:
    usage = model.get("usage") or []  # models written before learn 1.x had no usage
    if not usage:
        return ""
    multiarch = len({u["arch"] for u in usage}) > 1
    cells: dict[tuple[str, str], int] = {}
    per_column: dict[str, int] = {}
    per_row: dict[str, int] = {}
    for u in usage:
        column = f"{u['arch']}:{_name(u)}" if multiarch else _name(u)
        cells[(u["executable"], column)] = cells.get((u["executable"], column), 0) + u["count"]
        per_column[column] = per_column.get(column, 0) + u["count"]
        per_row[u["executable"]] = per_row.get(u["executable"], 0) + u["count"]
    columns = sorted(per_column, key=lambda c: (-per_column[c], c))
    rows = sorted(per_row, key=lambda r: (-per_row[r], r))
    out = [_heading(model, several)]
    if len(columns) > HEAT_COLUMNS or len(rows) > HEAT_ROWS:
        out.append(f'<p class="note">The picture shows the {min(len(rows), HEAT_ROWS)} busiest executables and '
                   f"{min(len(columns), HEAT_COLUMNS)} most frequent syscalls; the table lists all.</p>")  # fmt: skip
    picture = svg.heatmap("executables by syscalls", rows[:HEAT_ROWS], columns[:HEAT_COLUMNS], cells)
    out.append(f'<div class="figure">{picture}</div>')
    table = [(r, per_row[r], len([c for c in columns if (r, c) in cells]),
              " ".join(f"{c}×{cells[(r, c)]}" for c in columns if (r, c) in cells)) for r in rows]  # fmt: skip
    out.append(_behind("table: executables and their syscalls",
                       _table(("executable", "records", "syscalls", "syscall×records"), table, (1, 2))))  # fmt: skip
    return "".join(out)


def _all_runs(models: Sequence[Model]) -> list[Mapping[str, Any]]:
    return [run for m in models for run in m["runs"]]


def _discovery(models: Sequence[Model]) -> str:
    runs = _all_runs(models)
    if not runs:
        return ""
    series = [(r["name"], [(p["record"], p["distinct"]) for p in r["curve"]], r["records"]) for r in runs]
    picture = svg.curves("distinct syscalls against the share of records, per run", series)
    out = [f'<div class="figure">{picture}</div>',
           '<p class="note">Flat at the end: the run saw what it was going to see. A rise near the end: run '
           "longer, or more runs, and merge.</p>"]  # fmt: skip
    rows = [(r["name"], r["records"], r["distinct"], r["last_new_record"], " ".join(r["late"]) or "-") for r in runs]
    out.append(_table(("run", "records", "distinct syscalls", "last new syscall at record",
                       "new in the last 10%"), rows, (1, 2, 3)))  # fmt: skip
    for r in runs:
        if r["may_be_too_short"]:
            out.append(f'<p class="warn">{escape(r["name"])} may have been too short: new syscalls still appeared '
                       f"at its end ({escape(' '.join(r['late']))}).</p>")  # fmt: skip
    return "".join(out)


def _runs_compared(models: Sequence[Model]) -> str:
    runs = [r["name"] for r in _all_runs(models)]
    if len(runs) < 2:
        return '<p class="note">One run: give several inputs (one per run) to compare them.</p>'
    seen: dict[str, dict[str, int]] = {}
    for m in models:
        for e in m["syscalls"]:
            for run in e["runs"]:
                seen.setdefault(f"{e['arch']}:{_name(e)}", {})[run] = 1
    differing = sorted(k for k, v in seen.items() if len(v) < len(runs))
    out = [f"<p>{len(seen)} syscalls in all; {len(seen) - len(differing)} seen in every run, "
           f"{len(differing)} not.</p>"]  # fmt: skip
    if differing:
        cells = {(run, key): 1 for key in differing for run in seen[key]}
        picture = svg.heatmap("runs by syscalls not seen in every run", runs, differing, cells)
        out.append(f'<div class="figure">{picture}</div>')
        rows = [(key, *("✓" if run in seen[key] else "" for run in runs)) for key in differing]
        out.append(_behind("table: which run saw which syscall", _table(("syscall", *runs), rows)))
    rare = [e for m in models for e in m["seen_in_one_run"]]
    if rare:
        rows2 = [(e["arch"], e["syscall"], e["run"]) for e in rare]
        out.append("<h4>Seen in one run only</h4>" + _table(("arch", "syscall", "run"), rows2))
    return "".join(out)


def _risks(models: Sequence[Model]) -> str:
    risks = [r for m in models for r in m["risks"]]
    if not risks:
        return '<p class="note">The profile allows none of the syscalls or values on learn\'s risk list.</p>'
    rows = [(r["syscall"] + (f" {r['value']}" if r["value"] else ""), " ".join(r["arches"]),
             r["reason"] + (" (only with some arguments)" if r["conditional"] else ""), r["reference"],
             " ".join(r["executables"]) or "-") for r in risks]  # fmt: skip
    return _table(("allowed", "arches", "why it is risky", "read more", "made by"), rows)


def _problems(models: Sequence[Model]) -> str:
    out = []
    for m in models:
        problems = m.get("problems") or {"counts": {}, "kept": []}
        if problems["counts"]:
            said = ", ".join(f"{k} {n}" for k, n in problems["counts"].items())
            out.append(f"<p>{escape(', '.join(m['sources']))}: {escape(said)}</p>")
        rows = [(f"{p['source']}:{p['line']}", p["kind"], p["message"] + (f" ({p['lost']} lost)" if p["lost"] else ""))
                for p in problems["kept"]]  # fmt: skip
        if rows:
            out.append(_table(("where", "kind", "what"), rows))
        kept, total = len(problems["kept"]), sum(problems["counts"].values())
        if total > kept:
            out.append(f'<p class="note">The first {kept} of {total} are listed.</p>')
        who = " ".join((m["target"] or {}).get("argv", ())) or ", ".join(m["sources"])
        for path in m["code_paths"]:
            out.append(f'<p class="warn">{escape(m["command"])} {escape(who)}: {escape(path["message"])}</p>')
    return "".join(out) or '<p class="note">No problems: every record decoded, none lost.</p>'


def _denials(checks: Sequence[Model]) -> str:
    if not checks:
        return '<p class="note">No check run given (<code>learn check --report-json FILE</code> writes one).</p>'
    out = []
    for m in checks:
        target = m["target"] or {}
        argv = " ".join(target.get("argv", ())) or ", ".join(m["sources"])
        profile = (m["profile"] or {}).get("output") or "?"
        out.append(f"<h3>{escape(argv)} under {escape(profile)}: {len(m['syscalls'])} syscalls denied</h3>")
        ordered = sorted(m["syscalls"], key=lambda e: (-e["count"], _name(e)))
        rows = [(_name(e), e["count"], KIND_COLOURS[kind_of(e["syscall"])]) for e in ordered]
        out.append(f'<div class="figure">{svg.bars("denied syscalls", rows)}</div>')
        table = [(e["arch"], _name(e), e["count"], " ".join(e["executables"])) for e in m["syscalls"]]
        out.append(_table(("arch", "syscall", "denied", "executables"), table, (2,)))
    return "".join(out)
