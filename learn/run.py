"""`learn run`: the target's live run in complain mode, turned into a profile."""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from learn import __version__
from learn.aggregate import allowed_by_arch
from learn.arch import host_abis
from learn.atomic import write_atomically
from learn.kernel import launch, oci
from learn.kernel.filters import Mode, build_filter, install
from learn.model import Action
from learn.profile import Profile, merge
from learn.select import Selection
from learn.supervise import SOURCE_NAME, Supervised, supervise
from learn.tally import Findings, Tally


@dataclass(frozen=True)
class RunRequest:
    argv: Sequence[str]
    source: str | None = None  # netlink, auditd, kmsg; None: the best this host allows
    base: Profile | None = None  # allowed without logging; the result is base plus what was seen
    user: str | None = None
    group: str | None = None
    oci_runtime: str | None = None  # with bundle: the runtime installs the LOG filter itself
    bundle: str | None = None
    keep_lines: bool = False  # for --save-log


def learn_run(request: RunRequest) -> tuple[Supervised, Findings]:
    creds = launch.resolve_user(request.user, request.group)
    base = request.base or Profile({})
    tally = Tally([SOURCE_NAME], Selection(actions=frozenset({Action.LOG})), live=True)
    if request.bundle is not None:
        with oci.learning_bundle(request.bundle, base) as bundle:
            argv = [request.oci_runtime or "runc", "run", "--bundle", bundle, f"learn-{os.getpid()}"]
            run = supervise(argv, lambda: None, tally.item, request.source, creds, request.keep_lines)
    else:
        built = build_filter(base, mode=Mode.COMPLAIN if request.base else Mode.LEARN, arches=host_abis())
        run = supervise(request.argv, lambda: install(built), tally.item, request.source, creds, request.keep_lines)
    return run, tally.finish()


def build_run_profile(
    run: Supervised, findings: Findings, base: Profile | None, *, in_oci_runtime: bool = False
) -> Profile:
    provenance = [
        f"learned by learn {__version__} from a run of: {shlex.join(run.argv)}",
        f"{findings.selected} records from the {run.source} source, {run.lost} lost",
    ]
    allowed = allowed_by_arch(findings.usage)
    if in_oci_runtime:
        added = ", ".join(oci.GO_RUNTIME_ASYNC)
        provenance.append(f"added for the OCI runtime's Go runtime, which calls them at random: {added}")
        allowed = {a: tuple(sorted({*names, *oci.GO_RUNTIME_ASYNC})) for a, names in allowed.items()}
    learned = Profile(allowed, provenance=tuple(provenance), incomplete=run.lost > 0)
    # The result is an enforce-mode profile whatever the base says by default (ERRNO(EPERM)).
    return merge(learned, base, default=learned.default_verdict()) if base is not None else learned


def save_log(path: str, run: Supervised) -> None:
    """The target's records as audit.log lines: `learn suggest FILE` gives the same profile."""
    write_atomically(path, "".join(line + "\n" for line in run.target_lines))
