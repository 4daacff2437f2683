"""Each form a SECCOMP record takes in the wild, and the lines that only pretend to be one."""

from __future__ import annotations

import json

import pytest

from learn.dedupe import Deduplicator
from learn.model import Action, Item, Problem, ProblemKind, SeccompEvent
from parsers import InputFormat, parse

BODY = (
    'auid=1000 uid=1000 gid=1000 ses=3 subj=snap.foo.bar (complain) pid=4242 comm="curl" '
    'exe="/snap/foo/1/usr/bin/curl" sig=0 arch=c000003e syscall=257 compat=0 ip=0x7f00000001 code=0x7ffc0000'
)
STAMP = "1700000000.123:4567"
KERNEL = f"audit: type=1326 audit({STAMP}): {BODY}"


def items(*lines: str, fmt: InputFormat = InputFormat.AUTO) -> list[Item]:
    return list(parse([line + "\n" for line in lines], "t.log", fmt))


def one_event(line: str) -> SeccompEvent:
    got = items(line)
    assert len(got) == 1 and isinstance(got[0], SeccompEvent), got
    return got[0]


def problem_kinds(*lines: str) -> list[ProblemKind]:
    return [p.kind for p in items(*lines) if isinstance(p, Problem)]


ACCEPTED = [
    f"type=SECCOMP msg=audit({STAMP}): {BODY}",
    f"node=worker-1 type=SECCOMP msg=audit({STAMP}): {BODY}",
    f"52:type=SECCOMP msg=audit({STAMP}): {BODY}",
    f"type=1326 audit({STAMP}): {BODY}",
    KERNEL,
    f"[ 1234.567890] {KERNEL}",
    f"[Mon Jul  6 15:37:40 2020] {KERNEL}",  # dmesg -T
    f"[Jul 6 15:37] {KERNEL}",  # dmesg -H
    f"[  +0.000123] {KERNEL}",  # dmesg -H relative
    f"<5>[  198.963101] {KERNEL}",  # dmesg -r
    f"kern  :notice: [  198.963101] {KERNEL}",  # dmesg -x
    f"5,1234,5678901,-;{KERNEL}",  # /dev/kmsg
    f"Jul  6 15:37:40 host kernel: [369128.669452] {KERNEL}",  # rsyslog traditional
    f"2025-10-19T08:04:51.123456+00:00 node-1 kernel: {KERNEL}",  # rsyslog RFC 3339
    f"2024-04-25T16:56:53+0000 host kernel: {KERNEL}",  # journalctl -o short-iso
    f"Apr 25 16:56:53.123456 host kernel: {KERNEL}",  # journalctl -o short-precise
    f"[ 1234.567890] host kernel: {KERNEL}",  # journalctl -o short-monotonic
    f"Mär 04 19:57:53 host kernel: {KERNEL}",  # German locale month
]


@pytest.mark.parametrize("line", ACCEPTED)
def test_kernel_and_auditd_forms_decode(line: str) -> None:
    e = one_event(line)
    assert (e.arch, e.nr, e.syscall, e.action, e.pid) == ("x86_64", 257, "openat", Action.LOG, 4242)
    assert e.serial == STAMP and e.timestamp == 1700000000.123
    assert e.subj == "snap.foo.bar (complain)"
    assert e.exe == "/snap/foo/1/usr/bin/curl"


def test_journald_audit_transport_has_no_stamp() -> None:
    e = one_event(f"Apr 25 16:56:53 host audit[4242]: SECCOMP {BODY}")
    assert e.syscall == "openat" and e.serial is None


FORGED = [
    f"Jul  8 10:31:23 host app: {KERNEL}",  # logger with another tag
    f"Jul  8 10:31:23 host kernel[1234]: {KERNEL}",  # logger -t kernel --id
    f"Jul  8 10:31:23 host app: Jul  8 10:31:23 host kernel: {KERNEL}",  # embedded
    f"2025-10-19T08:04:51+00:00 node-1 conmon[4242]: type=SECCOMP msg=audit({STAMP}): {BODY}",
    f"echo type=SECCOMP msg=audit({STAMP}): {BODY}",
    f"type=USER_AVC msg=audit({STAMP}): pid=1 uid=0 msg='type=SECCOMP msg=audit({STAMP}): {BODY}'",
    f"12,1234,5678901,-;{KERNEL}",  # written to /dev/kmsg by a process: facility user
    f"<13>[  198.963101] {KERNEL}",  # same, seen through dmesg -r
    f"user  :notice: [  198.963101] {KERNEL}",  # same, seen through dmesg -x
    f"Apr 25 16:56:53 host notaudit[4242]: SECCOMP {BODY}",
]


@pytest.mark.parametrize("line", FORGED)
def test_lines_not_written_by_the_kernel_are_refused(line: str) -> None:
    got = items(line)
    assert not [e for e in got if isinstance(e, SeccompEvent)]
    assert [p.kind for p in got if isinstance(p, Problem)] == [ProblemKind.UNTRUSTED]


def _journal(transport: str, message: str, **extra: str) -> str:
    return json.dumps({"_TRANSPORT": transport, "MESSAGE": message, **extra})


def test_journal_json_trusts_only_kernel_and_audit_transports() -> None:
    kernel = one_event(_journal("kernel", KERNEL))
    audit = one_event(
        _journal(
            "audit",
            f"SECCOMP {BODY}",
            _AUDIT_TYPE="1326",
            _AUDIT_ID="4567",
            _SOURCE_REALTIME_TIMESTAMP="1700000000123456",
        )
    )
    assert kernel.serial == audit.serial == STAMP
    assert list(Deduplicator()([kernel, audit])) == [kernel]
    for transport in ("syslog", "stdout", "journal"):
        assert problem_kinds(_journal(transport, KERNEL)) == [ProblemKind.UNTRUSTED]


def test_journal_json_byte_array_message() -> None:
    raw = list(KERNEL.encode())
    assert one_event(json.dumps({"_TRANSPORT": "kernel", "MESSAGE": raw})).syscall == "openat"


def test_x32_syscall_numbers_decode_as_x32() -> None:
    body = BODY.replace("syscall=257", f"syscall={0x40000000 | 257}")
    e = one_event(f"type=SECCOMP msg=audit({STAMP}): {body}")
    assert (e.arch, e.syscall, e.nr) == ("x32", "openat", 0x40000000 | 257)


def test_i386_decodes_with_its_own_numbers() -> None:
    body = BODY.replace("arch=c000003e syscall=257 compat=0", "arch=40000003 syscall=5 compat=1")
    e = one_event(f"type=SECCOMP msg=audit({STAMP}): {body}")
    assert (e.arch, e.syscall) == ("x86", "open")


def test_unknown_number_is_kept_not_dropped() -> None:
    e = one_event(f"type=SECCOMP msg=audit({STAMP}): {BODY.replace('syscall=257', 'syscall=4000')}")
    assert (e.nr, e.syscall) == (4000, None)


@pytest.mark.parametrize(
    ("code", "action", "errno"),
    [
        ("0x0", Action.KILL_THREAD, None),
        ("0x80000000", Action.KILL_PROCESS, None),
        ("0x30000", Action.TRAP, None),
        ("0x50000", Action.ERRNO, None),  # the kernel logs the action without its data
        ("0x50026", Action.ERRNO, 38),
        ("0x7fc00000", Action.USER_NOTIF, None),
        ("0x7ff00000", Action.TRACE, None),
        ("0x7ffc0000", Action.LOG, None),
        ("0x7fff0000", Action.ALLOW, None),
    ],
)
def test_codes(code: str, action: Action, errno: int | None) -> None:
    e = one_event(f"type=SECCOMP msg=audit({STAMP}): {BODY.replace('code=0x7ffc0000', f'code={code}')}")
    assert (e.action, e.errno) == (action, errno)


@pytest.mark.parametrize("cut", ["code=0x7ffc", "code=0x7ffc000", "code=0x", "code=", "syscall=", "syscall=25"])
def test_records_cut_short_never_give_a_syscall(cut: str) -> None:
    line = f"type=SECCOMP msg=audit({STAMP}): {BODY}"
    cut_line = line[: line.index(cut.split("=")[0] + "=")] + cut
    got = items(cut_line)
    assert not [e for e in got if isinstance(e, SeccompEvent)]
    assert [p.kind for p in got if isinstance(p, Problem)] == [ProblemKind.TRUNCATED]


def test_interpreted_form() -> None:
    line = (
        "type=SECCOMP msg=audit(06/26/25 17:24:52.830:4911) : auid=unset uid=chronos gid=chronos "
        "ses=unset subj=u:r:cros_disks:s0 pid=83658 comm=AsyncLocalStore exe=/opt/drivefs sig=SIGSYS "
        "arch=aarch64 syscall=msync compat=0 ip=0x7d0767988c code=errno(13)"
    )
    note, e = items(line)
    assert isinstance(e, SeccompEvent) and isinstance(note, Problem), (note, e)
    assert (e.arch, e.nr, e.syscall, e.action, e.errno) == ("aarch64", 227, "msync", Action.ERRNO, 13)
    assert e.serial == "1750958692.830:4911"  # 2025-06-26 17:24:52 UTC (tests run with TZ=UTC)
    assert note.kind is ProblemKind.NOTE and "read as UTC" in note.message


def test_debian_auparse_unknown_syscall_is_a_problem() -> None:
    line = (
        "type=SECCOMP msg=audit(11/22/26 11:20:41.808:1396) : auid=unset uid=root gid=root ses=unset "
        "pid=5754 comm=ls exe=/usr/bin/ls sig=0 arch=x86_64 syscall=unknown-syscall(-1) compat=0 "
        "ip=0x7f48c5b2ac47 code=log"
    )
    assert problem_kinds(line) == [ProblemKind.NOTE, ProblemKind.MALFORMED]  # NOTE: the zone taken


def test_legacy_anom_abend_seccomp_record() -> None:
    line = (
        'audit: type=1701 audit(1357000000.100:20): auid=1000 uid=1000 gid=1000 ses=1 pid=99 comm="a" '
        'exe="/a" reason="seccomp" sig=31 syscall=39 compat=0 ip=0x7f0 code=0x0'
    )
    got = items(line)
    events = [e for e in got if isinstance(e, SeccompEvent)]
    assert len(events) == 1 and events[0].nr == 39 and events[0].action is Action.KILL_THREAD
    assert (events[0].arch, events[0].syscall) == ("unknown", None)  # not the reader's arch
    assert [p.kind for p in got if isinstance(p, Problem)] == [ProblemKind.UNKNOWN_ARCH]


def test_anom_abend_without_seccomp_reason_is_not_ours() -> None:
    line = (
        "type=ANOM_ABEND msg=audit(1706114183.948:8264563): auid=4294967295 uid=0 gid=0 "
        'ses=4294967295 pid=2040848 comm="mkdir" exe="/bin/busybox" sig=31 res=1'
    )
    assert items(line) == []


def test_loss_notices() -> None:
    got = items(
        "[ 3683.829070] kauditd_printk_skb: 12 callbacks suppressed",
        "audit: audit_lost=5 audit_rate_limit=0 audit_backlog_limit=64",
        "audit: backlog limit exceeded",
        "net_ratelimit: 3 callbacks suppressed",
    )
    assert [(p.kind, p.lost) for p in got if isinstance(p, Problem)] == [
        (ProblemKind.LOSS, 12),
        (ProblemKind.LOSS, 0),
        (ProblemKind.LOSS, 0),
    ]


def test_forced_input_format_ignores_other_forms() -> None:
    auditd_line = f"type=SECCOMP msg=audit({STAMP}): {BODY}"
    assert items(KERNEL, fmt=InputFormat.AUDITD) == []
    assert len(items(auditd_line, fmt=InputFormat.AUDITD)) == 1


def test_stamped_copies_count_once_and_loops_count_every_time() -> None:
    stamped = f"type=SECCOMP msg=audit({STAMP}): {BODY}"
    journal = f"Apr 25 16:56:53 host audit[4242]: SECCOMP {BODY}"
    dedupe = Deduplicator()
    got = list(dedupe(items(stamped, f"[ 1.0] {KERNEL}", journal, journal, journal)))
    # one stamped event (twice printed) + its unstamped copy; two more unstamped calls
    assert len(got) == 3 and dedupe.duplicates == 2


def test_ids_beyond_32_bits_are_malformed_on_the_fast_path_too() -> None:
    line = f"type=SECCOMP msg=audit({STAMP}): {BODY.replace('auid=1000', 'auid=4294967296')}"
    assert problem_kinds(line) == [ProblemKind.MALFORMED]


# Forms seen in pasted excerpts (issue 11): no origin shown, or the audit system's own forwarders.
AUDITD = f"type=SECCOMP msg=audit({STAMP}): {BODY}"
WILD = [
    f"kernel: [    9.837389] {KERNEL}",  # syslog, date and host cut off
    f"myhost kernel: {KERNEL}",  # host only
    f"14:02:39 kernel: {KERNEL}",  # time only (GNOME Logs export)
    f"    [    9.837389] {KERNEL}",  # markdown code block
    f"\t{AUDITD}",
    f"  node=worker-1 {AUDITD}",
    f"> [    9.40] {KERNEL}",  # e-mail quoting
    f"> > {AUDITD}",
    f">{AUDITD}",
    f"Dec  2 10:00:00 myhost audispd[568]: node=myhost {AUDITD}",  # auditd 2's dispatcher
    f"audisp-syslog[612]: {AUDITD}",  # auditd 3's syslog plugin, date and host cut off
    f"2026-12-02T10:00:00+00:00 myhost audisp-syslog: {AUDITD}",
]


@pytest.mark.parametrize("line", WILD)
def test_pasted_forms_decode(line: str) -> None:
    e = one_event(line)
    assert (e.arch, e.nr, e.syscall, e.action, e.pid) == ("x86_64", 257, "openat", Action.LOG, 4242)
    assert e.serial == STAMP


@pytest.mark.parametrize(
    "line",
    [
        "foo syscall=59 compat=0 ip=0x7f code=0x7ffc0000",
        f"type=SECCOMP auid=1 {BODY}",
        "denied 41(socket) with code=0x0",
    ],
)
def test_a_record_like_line_that_yields_nothing_is_a_problem(line: str) -> None:
    got = items(line)
    assert not [e for e in got if isinstance(e, SeccompEvent)]
    assert problem_kinds(line)


# snappy-debug (issue 11): its `Log:` line, and syslog lines it rewrote; syscall=N became N(name).
SNAPPY_BODY = BODY.replace("syscall=257", "257(openat)")
SNAPPY = [
    f"Log: {SNAPPY_BODY}",
    f"audit({STAMP}): {SNAPPY_BODY}",
    f"    audit({STAMP}): {SNAPPY_BODY}",  # as snapd's 2016 docs show them
]


@pytest.mark.parametrize("line", SNAPPY)
def test_snappy_debug_renderings_decode_by_number(line: str) -> None:
    e = one_event(line)
    assert (e.arch, e.nr, e.syscall, e.action, e.pid) == ("x86_64", 257, "openat", Action.LOG, 4242)
    assert e.serial == (None if line.startswith("Log:") else STAMP)


def test_snappy_debug_name_that_disagrees_is_reported_and_the_number_decides() -> None:
    """snappy-debug names the number with its host's table: an i386 record read on amd64."""
    body = BODY.replace("arch=c000003e syscall=257 compat=0", "arch=40000003 45(recvfrom) compat=1")
    event, note = items(f"Log: {body}")
    assert isinstance(event, SeccompEvent) and (event.arch, event.syscall) == ("x86", "brk")
    assert isinstance(note, Problem) and note.kind is ProblemKind.NOTE and "'recvfrom'" in note.message


def test_snappy_debug_block_lines_around_the_record_are_not_records() -> None:
    block = ["= Seccomp =", "Time: Mar 27 20:29:40", f"Log: {SNAPPY_BODY}", "Syscall: openat", "Suggestion:",
             "* add 'process-control' to 'plugs'"]  # fmt: skip
    assert [type(i) for i in items(*block)] == [SeccompEvent]


# ausearch -i (issue 11): every action name, other locales' dates, hard-wrapped records.
INTERPRETED = (
    "type=SECCOMP msg=audit(11/22/26 11:21:43.904:2729) : auid=unset uid=root gid=root ses=unset pid=7094 "
    "comm=python exe=/usr/bin/python3.11 sig=SIG0 arch=x86_64 syscall=execve compat=0 ip=0x7fc2cb3c6ad7 code=log"
)


@pytest.mark.parametrize(
    ("code", "action", "errno"),
    [
        ("kill", Action.KILL_THREAD, None),  # auparse's name for SECCOMP_RET_KILL (and, masked, KILL_PROCESS)
        ("kill-thread", Action.KILL_THREAD, None),
        ("kill-process", Action.KILL_PROCESS, None),
        ("kill_process", Action.KILL_PROCESS, None),
        ("trap", Action.TRAP, None),
        ("errno", Action.ERRNO, None),
        ("errno(13)", Action.ERRNO, 13),
        ("user-notify", Action.USER_NOTIF, None),  # auditd 3.0.9's name
        ("user-notif", Action.USER_NOTIF, None),
        ("trace", Action.TRACE, None),
        ("log", Action.LOG, None),
        ("allow", Action.ALLOW, None),
        ("unknown-seccomp-code(0x80000000)", Action.KILL_PROCESS, None),
    ],
)
def test_interpreted_action_names(code: str, action: Action, errno: int | None) -> None:
    (e,) = [i for i in items(INTERPRETED.replace("code=log", f"code={code}")) if isinstance(i, SeccompEvent)]
    assert (e.action, e.errno) == (action, errno)


@pytest.mark.parametrize(
    "date", ["11/22/26", "11/22/2026", "22/11/2026", "22.11.2026", "22.11.26", "2026-11-22", "2026年11月22日"]
)
def test_interpreted_dates_of_other_locales(date: str) -> None:
    (e,) = [i for i in items(INTERPRETED.replace("11/22/26", date)) if isinstance(i, SeccompEvent)]
    assert e.serial == "1795346503.904:2729"  # tests run with TZ=UTC: the raw record's own stamp


def _pager(line: str, width: int) -> list[str]:
    return [line[i : i + width] for i in range(0, len(line), width)]


@pytest.mark.parametrize("width", [40, 63, 80, 100])
@pytest.mark.parametrize("record", [INTERPRETED, AUDITD, f"[    9.837389] {KERNEL}"])
def test_records_wrapped_by_a_pager_are_joined(record: str, width: int) -> None:
    got = [i for i in items(*_pager(record, width)) if isinstance(i, SeccompEvent)]
    assert [(e.syscall, e.line, e.exe) for e in got] == [(one_syscall(record), 1, one_exe(record))]


def one_syscall(record: str) -> str:
    return "execve" if record is INTERPRETED else "openat"


def one_exe(record: str) -> str:
    return "/usr/bin/python3.11" if record is INTERPRETED else "/snap/foo/1/usr/bin/curl"


@pytest.mark.parametrize("width", [50, 72])
def test_records_wrapped_by_a_poster_at_spaces_are_joined(width: int) -> None:
    import textwrap

    got = [i for i in items(*textwrap.wrap(INTERPRETED, width), *textwrap.wrap(AUDITD, width))]
    assert [(e.syscall, e.comm, e.exe) for e in got if isinstance(e, SeccompEvent)] == [
        ("execve", "python", "/usr/bin/python3.11"),
        ("openat", "curl", "/snap/foo/1/usr/bin/curl"),
    ]


def test_a_cut_record_before_a_log_line_stays_cut() -> None:
    got = items(AUDITD[:150], AUDITD, f"[ 1.0] {KERNEL}"[:90], "Dec  2 10:00:00 h kernel: x")
    assert [type(i) for i in got] == [Problem, SeccompEvent, Problem]
    assert [p.kind for p in got if isinstance(p, Problem)] == [ProblemKind.TRUNCATED] * 2
