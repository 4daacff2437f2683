"""What `learn suggest --snap NAME` says about interfaces: snappy-debug's block style on
stderr, and `--format snapcraft`, a `plugs:` fragment for snapcraft.yaml."""

from __future__ import annotations

from learn.argrules import rows_for, value_name
from learn.snapadvice import Advice, Call, Interface, Knowledge, chosen_plugs
from learn.tally import Findings

MAX_ALTERNATIVES = 6


def calls_from(findings: Findings) -> list[Call]:
    """The selected calls per (arch, syscall), with the arguments seen when every record of the
    call had them (`--args`: from SYSCALL records)."""
    calls = []
    for row in findings.counts.usage_by_syscall():
        if row.syscall is None:
            continue  # a number libseccomp cannot name: the summary says so
        calls.append(Call(row.arch, row.syscall, row.calls, row.exes, _args(findings, row.arch, row.syscall)))
    return calls


def _args(findings: Findings, arch: str, name: str) -> tuple[tuple[int, ...], ...]:
    if findings.arg_usage is None:
        return ()
    seen = findings.arg_usage.seen.get((arch, name))
    if not seen or None in seen:
        return ()
    keys = [k for k in seen if k is not None]
    rows = rows_for(arch, name)
    out = []
    for key in sorted(keys, key=lambda k: tuple(-1 if v is None else v for v in k)):
        args = [0] * 6
        for row, value in zip(rows, key, strict=True):
            if value is not None:
                args[row.index] = value
        out.append(tuple(args))
    return tuple(out)


def _how(iface: Interface, snap: str) -> str:
    connect = "connects automatically" if iface.auto_connect else f"snap connect {snap}:{iface.name}"
    return f"a store assertion must allow it; {connect}" if iface.store_only else connect


def _arguments(call: Call) -> str:
    if not call.args:
        return "unknown (the records hold none; --args reads them from SYSCALL records)"
    rows = rows_for(call.arch, call.name)
    seen = {", ".join(value_name(r, args[r.index]) for r in rows) for args in call.args}
    return "; ".join(sorted(seen))


def _names(entries: list[tuple[Interface, str]]) -> str:
    return ", ".join(f"'{iface.name}'" for iface, _ in entries[:MAX_ALTERNATIVES])


def blocks(advice: list[Advice], snap: str, known: Knowledge) -> str:
    """snappy-debug's `= Seccomp =` blocks, one per call."""
    out = [
        f"learn: snapd interfaces for snap {snap} (snapd {known.commit[:12]}, interfaces/builtin and the base template)"
    ]
    for a in advice:
        c = a.call
        exes = ", ".join(c.exes[:3]) + (" ..." if len(c.exes) > 3 else "")
        out += ["", "= Seccomp =", f"Syscall: {c.name} ({c.arch}; {c.count} records; {exes})",
                f"Arguments: {_arguments(c)}"]  # fmt: skip
        out.append("Suggestion:")
        if a.denied_by_template:
            out.append(f"* snapd's base template denies it ({'; '.join(a.denied_by_template)}): change the code")
        elif a.template_allows:
            out.append("* the base template allows it: this record is not a seccomp denial under strict confinement")
        elif not a.plugs and not a.slots:
            out.append("* no snapd interface allows it: change the code (or ask for an interface on the forum)")
        for iface, rule in a.plugs[:MAX_ALTERNATIVES]:
            how = _how(iface, snap)
            only = f"; only {rule}" if rule else ""
            out.append(f"* add '{iface.name}' to 'plugs' ({how}{only})")
        if len(a.plugs) > MAX_ALTERNATIVES:
            out.append(f"* ({len(a.plugs) - MAX_ALTERNATIVES} more interfaces allow it: {_all(a.plugs)})")
        if a.slots and not a.plugs:
            out.append(f"* or, if the snap provides one of these slots: {_names(a.slots)}")
    return "\n".join(out) + "\n"


def _all(entries: list[tuple[Interface, str]]) -> str:
    return ", ".join(iface.name for iface, _ in entries[MAX_ALTERNATIVES:])


def snapcraft(advice: list[Advice], snap: str, known: Knowledge) -> str:
    """A `plugs:` list for apps.<app> in snapcraft.yaml, a comment per interface naming the calls."""
    out = [
        f"# learn suggest --snap {snap}: interfaces whose seccomp rules allow the calls the snap made",
        f"# (snapd {known.commit[:12]}); review each, then put them under apps.<app>.plugs in snapcraft.yaml",
        "plugs:",
    ]
    by_name = {iface.name: iface for a in advice for iface, _ in a.plugs}
    for name, calls in chosen_plugs(advice).items():
        how = _how(by_name[name], snap)
        out += [f"  # {', '.join(calls)} ({how})", f"  - {name}"]
    for a in advice:
        if not a.plugs or any(rule == "" and not iface.store_only for iface, rule in a.plugs):
            continue  # picked above
        some = [f"{iface.name} ({rule})" for iface, rule in a.plugs if rule and not iface.store_only]
        store = [iface.name for iface, rule in a.plugs if iface.store_only]
        parts = [f"allowed only for some arguments by: {', '.join(some[:MAX_ALTERNATIVES])}"] if some else []
        parts += [f"by interfaces a store assertion must allow: {', '.join(store)}"] if store else []
        unknown = "arguments unknown (--args tells which); " if some and not a.call.args else ""
        out.append(f"# {a.call.name}: {unknown}{'; '.join(parts)}")
    denied = [a for a in advice if a.denied_by_template]
    for a in denied:
        out.append(
            f"# {a.call.name}: denied by snapd's base template ({'; '.join(a.denied_by_template)}): change the code"
        )
    for a in advice:
        if not a.plugs and not a.denied_by_template and not a.template_allows:
            out.append(f"# {a.call.name}: no snapd interface allows it: change the code")
    return "\n".join(out) + "\n"
