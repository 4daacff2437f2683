"""Run a target under a filter while a live source collects the records of its session.

`learn run`, `learn check` and `learn enforce` differ only in the filter they install and
in what they make of the records; the plumbing is here. Only the records of the target's
own audit session count (see learn.kernel.launch), parsed by the same parsers as logs, one
at a time as they are decoded from the source's spool: a run of a million syscalls must not
hold a million events in memory. A big netlink spool is counted a block at a time while the
target runs instead (learn.blockcounter), with the same findings.

Once the target has exited, a signal to learn does not throw the run away (see
launch.SignalPolicy): the first lets decoding finish, the second stops it, and the result
says how far it got (Supervised.interrupted): what was learned so far, marked incomplete.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from learn.errors import KernelError
from learn.kernel import auditenabled, auditrules, features, launch, tree
from learn.kernel.backlog import raised_backlog_limit
from learn.kernel.sources import SpoolingSource, choose_source
from learn.kernel.sources.loss import LossReport
from learn.kernel.sources.netlink import NetlinkSource
from learn.model import Item, SeccompEvent
from parsers import InputFormat, parse_numbered
from parsers.syscall_join import SyscallJoin

if TYPE_CHECKING:
    from learn.blockcounter import BlockCounter
    from learn.tally import Tally

BACKLOG_LIMIT = 1 << 16  # records the kernel queues before it makes the target wait
SOURCE_NAME = "run"  # what events of a live run give as their source
NO_LOSS = LossReport(0)
BLOCKS_FROM_RECORDS = 1 << 16  # fewer records decode faster one by one than numpy and pyarrow import


@dataclass(frozen=True)
class Interruption:
    """Decoding was stopped by a signal: the records after `decoded` are not in the result."""

    signum: int
    decoded: int  # records of the spool decoded when it stopped
    collected: int  # records the source collected in all

    @property
    def exit_status(self) -> int:
        return 128 + self.signum

    def __str__(self) -> str:
        name = signal.Signals(self.signum).name
        left = max(self.collected - self.decoded, 0)
        return (
            f"{name} stopped decoding after {self.decoded} of {self.collected} collected records: "
            f"the other {left} (and any syscall only they show) are not in the result"
        )


@dataclass
class Supervised:
    argv: Sequence[str]
    status: int  # the target's exit status, 128+N when killed by signal N
    source: str
    session: int
    loss: LossReport = NO_LOSS
    records: int = 0  # records the source collected, from every process
    events: int = 0  # the target's
    interrupted: Interruption | None = None
    save_log_failure: str | None = None  # --save-log could not be written (learn run)
    # Processes of the target's session still running when learning stopped (--until-exit).
    still_running: list[dict[str, object]] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return self.loss.lost

    @property
    def incomplete(self) -> bool:
        return self.lost > 0 or self.interrupted is not None


def supervise(
    argv: Sequence[str],
    install: Callable[[], None],
    on_item: Callable[[Item], None],
    source: str | None = None,
    creds: launch.Credentials | None = None,
    keep_line: Callable[[str], None] | None = None,
    *,
    args: bool = False,
    follow_tree: bool = True,
    tally: Tally | None = None,
) -> Supervised:
    """Run argv; hand every event of its session, and every problem, to on_item.

    keep_line, if given, receives the audit.log line of each of the target's events (--save-log).
    args: audit rules for the target's session make the kernel write the a0..a3 of the argument
    table's syscalls (learn.kernel.auditrules); events come joined with them.
    follow_tree: collect until the last process of the target's audit session has exited (learn
    is a child subreaper meanwhile, so double-forked daemons stay its descendants); else stop at
    the target's exit and list what was still running (Supervised.still_running).
    tally: on_item's own Tally (learn run): then a big netlink spool may be counted a block at a
    time (learn.livecount) instead of record by record, with the same findings.
    """
    features.require([c for c in features.run_checks() if c.name != "flag-log"])
    with (
        launch.signal_policy() as signals,
        raised_backlog_limit(BACKLOG_LIMIT),
        _started(choose_source(source)) as live,
    ):
        left: list[tree.Process] = []
        counting: BlockCounter | None = None
        with contextlib.ExitStack() as stack:
            try:
                with _argument_rules(args) as handshake:
                    if follow_tree:
                        tree.become_subreaper()
                    try:
                        target = launch.start(
                            argv, handshake.wrap(install) if handshake else install, creds, signals.running
                        )
                    except KernelError:
                        if handshake is not None and handshake.error is not None:
                            raise handshake.error from None
                        raise
                    signals.running(target.pid)
                    if tally is not None and keep_line is None and not args:
                        counting = _block_counter(live, tally, target.session, signals)
                        if counting is not None:
                            stack.enter_context(counting)
                    if follow_tree and target.session != launch.UNSET_LOGINUID:
                        signals.follow(target.session)
                    status = launch.wait(target.pid, signals)
                    if target.session != launch.UNSET_LOGINUID:
                        left = tree.wait_for_session(target.session) if follow_tree else tree.members(target.session)
                    if follow_tree:
                        signals.tree_exited()
            finally:
                live.finish_collecting()
            signals.finishing = lambda: f"decoding the {live.collected} records collected"
            signals.stopping = lambda: (
                f"writing what was learned from {live.decoded_records} of {live.collected} records"
            )
            run = Supervised(argv, status, live.name, target.session, still_running=[p.as_dict() for p in left])
            if counting is not None and counting.result():
                run.records, run.events = counting.records, counting.events
                if counting.stopped is not None:
                    run.interrupted = Interruption(*counting.stopped)
                run.loss = live.loss
            else:
                _decode(run, live, target.pid, signals, on_item, keep_line, args=args)
    return run


def _block_counter(
    live: SpoolingSource, tally: Tally, session: int, signals: launch.SignalPolicy
) -> BlockCounter | None:
    """A counter of the spool in blocks while the target runs (learn.livecount), where one can
    count it: the netlink source, the target's session known (learn.kernel.launch)."""
    if (
        not isinstance(live, NetlinkSource)
        or session == launch.UNSET_LOGINUID
        or tally.keeps_starting_exec  # pairs each exec with the pid's next record: record by record
        or os.environ.get("LEARN_RECORD_BY_RECORD") == "1"
    ):
        return None
    from learn.blockcounter import BlockCounter

    return BlockCounter(live, tally, session, lambda: signals.stop_signal, SOURCE_NAME, BLOCKS_FROM_RECORDS)


@contextlib.contextmanager
def _argument_rules(args: bool) -> Iterator[auditrules.SessionHandshake | None]:
    if not args:
        yield None
        return
    with auditenabled.audit_enabled(), auditrules.SessionHandshake(auditrules.SessionRules()) as handshake:
        yield handshake


def _decode(
    run: Supervised,
    live: SpoolingSource,
    pid: int,
    signals: launch.SignalPolicy,
    on_item: Callable[[Item], None],
    keep_line: Callable[[str], None] | None,
    *,
    args: bool = False,
) -> None:
    current = ""
    join = SyscallJoin() if args else None

    def counted(lines: Iterator[str]) -> Iterator[str]:
        nonlocal current
        for current in lines:
            if signals.stop_signal is not None:
                run.interrupted = Interruption(signals.stop_signal, live.decoded_records, live.collected)
                return
            run.records += 1
            yield current

    def session_lines(numbered: Iterator[tuple[int, str]]) -> Iterator[tuple[int, str]]:
        """--args: events leave the join later than their line, so --save-log keeps lines here."""
        for number, line in numbered:
            if keep_line is not None and f" ses={run.session} " in line:
                keep_line(line)
            yield number, line

    with contextlib.closing(live.decoded()) as lines:
        numbered = enumerate(counted(lines), 1)
        if join is None:
            items = parse_numbered(numbered, SOURCE_NAME, InputFormat.AUDITD)
        else:
            items = join.items(parse_numbered(join.lines(session_lines(numbered)), SOURCE_NAME, InputFormat.AUDITD))
        for item in items:
            if isinstance(item, SeccompEvent):
                if run.session == launch.UNSET_LOGINUID:  # it exited before we looked: its first record says
                    if item.pid != pid or item.ses is None:
                        continue
                    run.session = item.ses
                if item.ses != run.session:
                    continue
                run.events += 1
                if keep_line is not None and join is None:
                    keep_line(current)
            on_item(item)
    run.loss = live.loss


@contextlib.contextmanager
def _started(source: SpoolingSource) -> Iterator[SpoolingSource]:
    with source:
        source.start()
        yield source
