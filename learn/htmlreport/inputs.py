"""The models a report is drawn from: logs (read as `learn suggest` reads them, one run per
input) and `--report-json` files of run, check or suggest, told apart by their content."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from learn.errors import InputError
from learn.report import SCHEMA

SNIFF = 64  # bytes: a JSON report starts with `{` and names its schema early
MAX_JSON = 256 << 20  # a report larger than this is not one learn wrote for a readable page


def is_report_json(path: str) -> bool:
    """A --report-json file: a JSON object whose first key is "schema" (as learn writes it)."""
    if path == "-":
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(SNIFF)
    except OSError:
        return False  # the log reader says why, as for every other input
    return head.lstrip().startswith(b"{") and b'"schema"' in head


def load_report_json(path: str) -> Mapping[str, Any]:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_JSON + 1)
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror}") from None
    if len(data) > MAX_JSON:
        raise InputError(f"{path} is larger than {MAX_JSON >> 20} MiB: not a report learn wrote")
    try:
        model = json.loads(data)
    except (ValueError, RecursionError) as e:
        raise InputError(f"{path}: not valid JSON ({e})", "give the file --report-json wrote") from None
    if not isinstance(model, dict) or model.get("schema") != SCHEMA:
        found = model.get("schema") if isinstance(model, dict) else type(model).__name__
        raise InputError(f"{path}: schema {found!r} is not {SCHEMA}", "give the file --report-json wrote")
    for key in ("command", "sources", "records", "runs", "syscalls", "risks", "code_paths", "seen_in_one_run"):
        if key not in model:
            raise InputError(f"{path}: a {SCHEMA} report without {key!r}", "give the file --report-json wrote")
    return model


def model_from_logs(paths: list[str]) -> Mapping[str, Any]:
    """The report model of `learn suggest LOGS` (all records, default actions, baseline added)."""
    from learn.finish import finish
    from learn.pipeline import build_profile, learn_from_logs
    from learn.report import Context, build
    from learn.select import Selection

    findings = learn_from_logs(paths, Selection())
    if findings.selected == 0:
        return build(findings, Context("suggest"))
    finished = finish(build_profile(findings))
    return build(findings, Context("suggest", finished.profile, None, "oci", finished.baseline_added, finished.denied))


def models(inputs: list[str]) -> list[Mapping[str, Any]]:
    """Logs first (one model, a run per input), then each report file in the order given."""
    reports = [path for path in inputs if is_report_json(path)]
    logs = [path for path in inputs if path not in reports]
    out = [model_from_logs(logs)] if logs else []
    return out + [load_report_json(path) for path in reports]


def described(found: list[Mapping[str, Any]]) -> str:
    """What a page shows, in a few words: `3 runs, 49 syscalls, 1 check run`."""
    learning = [m for m in found if m["command"] != "check"]
    runs = sum(len(m["runs"]) for m in learning)
    names = {(s["arch"], s["syscall"], s["nr"]) for m in learning for s in m["syscalls"]}
    checks = len(found) - len(learning)
    parts = [f"{runs} run{'s' * (runs != 1)}", f"{len(names)} syscalls"]
    if checks:
        parts.append(f"{checks} check run{'s' * (checks != 1)}")
    return ", ".join(parts)
