"""`learn run`: the target's live run in complain mode, turned into a profile."""

from __future__ import annotations

import contextlib
import os
import shlex
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO

from learn import __version__
from learn.arch import host_abis
from learn.atomic import StreamedOutput, keep_elsewhere
from learn.errors import OutputError
from learn.kernel import clone3, launch, oci
from learn.kernel.filters import Mode, build_filter, install
from learn.model import Action
from learn.pipeline import with_arg_rules
from learn.profile import Profile, merge
from learn.select import Selection
from learn.supervise import SOURCE_NAME, Supervised, supervise
from learn.tally import Findings, Tally

_FLUSH_BYTES = 1 << 20  # lines are written in blocks of this size


@dataclass(frozen=True)
class RunRequest:
    argv: Sequence[str]
    source: str | None = None  # netlink, auditd, kmsg; None: the best this host allows
    base: Profile | None = None  # allowed without logging; the result is base plus what was seen
    user: str | None = None
    group: str | None = None
    oci_runtime: str | None = None  # with bundle: the runtime installs the LOG filter itself
    bundle: str | None = None
    save_log: str | None = None  # where the target's records go, as audit.log lines
    args: bool = False  # learn argument values too (audit rules for the session, learn.kernel.auditrules)
    until_exit: bool = False  # stop at the target's exit, not at its tree's last process
    save_usage: bool = False  # fill findings.shard (learn.usage) for --save-usage


def learn_run(request: RunRequest) -> tuple[Supervised, Findings]:
    """Run and learn; a --save-log file that could not be written is named in run.save_log_failure."""
    creds = launch.resolve_user(request.user, request.group)
    base = request.base or Profile({})
    shard = None
    if request.save_usage:
        from learn.usage import Usage

        shard = Usage()
    tally = Tally([SOURCE_NAME], Selection(actions=frozenset({Action.LOG})), live=True, args=request.args, usage=shard)
    with launch.signal_policy(), _saved_log(request.save_log) as log:  # signals: until the result is built
        if request.bundle is not None:
            with oci.learning_bundle(request.bundle, base, args=request.args) as bundle:
                argv = [request.oci_runtime or "runc", "run", "--bundle", bundle, f"learn-{os.getpid()}"]
                run = supervise(
                    argv, lambda: None, tally.item, request.source, creds, log.write if log else None,
                    args=request.args, follow_tree=not request.until_exit, tally=tally,
                )  # fmt: skip
        else:
            built = build_filter(base, mode=Mode.COMPLAIN if request.base else Mode.LEARN, arches=host_abis())
            installer = lambda: install(built)  # noqa: E731
            if request.args:
                installer = clone3.stacked(host_abis(), installer)
            keep = log.write if log else None
            run = supervise(
                request.argv, installer, tally.item, request.source, creds, keep, args=request.args,
                follow_tree=not request.until_exit, tally=tally,
            )  # fmt: skip
        findings = tally.finish()
        findings.shard = shard
    run.save_log_failure = log.failure if log else None
    return run, findings


def build_run_profile(
    run: Supervised, findings: Findings, base: Profile | None, *, in_oci_runtime: bool = False
) -> Profile:
    provenance = [
        f"learned by learn {__version__} from a run of: {shlex.join(run.argv)}",
        f"{findings.selected} records from the {run.source} source, {run.lost} lost",
    ]
    if run.interrupted is not None:
        provenance.append(f"INCOMPLETE: {run.interrupted}")
    allowed = findings.allowed_by_arch()  # without pandas: learn run -q never imports it
    if in_oci_runtime:
        added = ", ".join(oci.GO_RUNTIME_ASYNC)
        provenance.append(f"added for the OCI runtime's Go runtime, which calls them at random: {added}")
        allowed = {a: tuple(sorted({*names, *oci.GO_RUNTIME_ASYNC})) for a, names in allowed.items()}
    learned = with_arg_rules(Profile(allowed, provenance=tuple(provenance), incomplete=run.incomplete), findings)
    # The result is an enforce-mode profile whatever the base says by default (ERRNO(EPERM)).
    return merge(learned, base, default=learned.default_verdict()) if base is not None else learned


class SavedLog:
    """--save-log: the target's lines, streamed to the file as they are decoded (see StreamedOutput).

    If the file cannot take them (ENOSPC), what was written and the rest go to a file that
    keep_elsewhere() names instead; a failure stops the log, never the run.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.failure: str | None = None
        self._out: StreamedOutput | None = StreamedOutput(path)
        self._kept: IO[bytes] | None = None
        self._pending: list[str] = []
        self._size = 0

    def write(self, line: str) -> None:
        self._pending.append(line)
        self._size += len(line) + 1
        if self._size >= _FLUSH_BYTES:
            self._flush()

    def commit(self) -> None:
        self._flush()
        if self._out is not None:
            try:
                self._out.commit()
            except OutputError as error:
                self._fail(error)
        if self._kept is not None:
            self._kept.close()
            self._kept = None

    def discard(self) -> None:
        if self._out is not None:
            self._out.discard()
            self._out = None
        if self._kept is not None:
            self._kept.close()
            self._kept = None

    def _flush(self) -> None:
        data = "".join(line + "\n" for line in self._pending).encode("utf-8", "surrogateescape")
        self._pending, self._size = [], 0
        try:
            if self._out is not None:
                self._out.write(data)
            elif self._kept is not None:
                self._kept.write(data)
        except OutputError as error:
            self._fail(error, data)
        except OSError as err:
            self.failure = f"{self.failure}, then {err.strerror}: the record log is partial"
            self.discard()

    def _fail(self, error: OutputError, data: bytes = b"") -> None:
        """Move what was written, and what comes, to a kept file."""
        out, self._out = self._out, None
        kept = keep_elsewhere(self.path, b"")
        try:
            if kept is None:
                raise OSError("no place to keep it")
            self._kept = open(kept, "ab")  # noqa: SIM115 - closed by commit() or discard()
            if out is not None:
                out.copy_written(self._kept)
            self._kept.write(data)
        except OSError:
            self.discard()
            if kept is not None:
                with contextlib.suppress(OSError):
                    os.unlink(kept)
            self.failure = f"{error}; the record log could not be kept anywhere"
        else:
            self.failure = f"{error}; the record log is kept in {kept}"
        finally:
            if out is not None:
                out.discard()


@contextlib.contextmanager
def _saved_log(path: str | None) -> Iterator[SavedLog | None]:
    if path is None or path == "-":  # stdout carries the profile
        yield None
        return
    log = SavedLog(path)
    try:
        yield log
    except BaseException:
        log.discard()
        raise
    log.commit()
