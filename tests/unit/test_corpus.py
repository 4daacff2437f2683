"""Every real log in the shared corpus decodes as its provenance notes describe.

Golden files pin the exact output; this table states the facts a reader can check against
PROVENANCE.md: which arch, syscall and action each log shows, what must be refused, and
which copies are one event.
"""

from __future__ import annotations

from collections import Counter

import pytest

from learn.dedupe import Deduplicator
from learn.model import Problem, SeccompEvent
from learn.pipeline import events_from
from tests.conftest import CORPUS_LOGS

# file -> (distinct events as (arch, syscall, action) with multiplicity, problem kinds)
EXPECTED: dict[str, tuple[Counter[tuple[str, str, str]], Counter[str]]] = {
    # ENRICHED with separator lost, aarch64 kill_process; the same event again from ausearch -i
    "chromiumos-platform2_debugd_audit_log_utils_test.log": (
        Counter({("aarch64", "msync", "kill_process"): 1, ("aarch64", "msync", "kill_thread"): 1}),
        Counter({"note": 1}),  # the zone its ausearch -i stamp was read in
    ),
    # hand-edited fixture: cut after gid, msg=test(...), auid > u32 twice
    "chromiumos-platform2_croslog_testdata_TEST_AUDIT_LOG": (
        Counter(),
        Counter({"truncated": 2, "malformed": 2}),
    ),
    # go-libaudit's golden says: i386, getpgid, SIGSYS
    "go-libaudit_auparse_testdata_test3.log": (Counter({("x86", "getpgid", "kill_thread"): 1}), Counter()),
    # journald audit copy + kernel copy of ONE event; errno 0x50000
    "issues/crun_issue_683.log": (Counter({("x86_64", "mount", "errno"): 1}), Counter()),
    # ARM compat=1 getrandom (384) on arm
    "issues/dhcpcd_issue_323.log": (Counter({("arm", "getrandom", "kill_thread"): 1}), Counter()),
    "issues/dhcpcd_issue_460.log": (Counter({("x86", "rt_sigprocmask", "kill_thread"): 1}), Counter()),
    "issues/firedancer_pr_766.log": (Counter({("x86_64", "write", "kill_process"): 1}), Counter()),
    # audit+kernel duplicates; one thread hitting two syscalls
    "issues/firejail_issue_3267.log": (
        Counter(
            {
                ("x86_64", "setresuid", "kill_thread"): 1,
                ("x86_64", "sched_setscheduler", "kill_thread"): 1,
                ("x86_64", "sched_setaffinity", "kill_thread"): 1,
            }
        ),
        Counter(),
    ),
    # the same kill event twice per pid with different syslog seconds
    "issues/firejail_pr_3543.log": (Counter({("x86_64", "chroot", "kill_thread"): 2}), Counter()),
    # interpreted record hard-wrapped over four lines by its poster: joined (issue 11)
    "issues/libreswan_pr_782.log": (Counter({("ppc64le", "statfs64", "kill_thread"): 1}), Counter()),
    # audit_printk_skb (old name) suppressed 206: loss; chromium errno records
    "issues/nixpkgs_issue_13710.log": (
        Counter({("x86_64", "set_robust_list", "errno"): 3}),
        Counter({"loss": 1}),
    ),
    # ANOM_ABEND sig=31 is what a kill also produces, but it is no SECCOMP record
    "issues/security-profiles-operator_issue_2060.log": (Counter(), Counter()),
    "issues/security-profiles-operator_issue_244.log": (Counter({("x86_64", "write", "log"): 1}), Counter()),
    # no hostname; comm="(date)"; syscall 317 is seccomp itself
    "issues/systemd_issue_5300.log": (Counter({("x86_64", "seccomp", "kill_thread"): 1}), Counter()),
    "kubernetes-website_seccomp_tutorial.log": (
        Counter(
            {
                ("x86_64", "getsockname", "log"): 1,
                ("x86_64", "setsockopt", "log"): 1,
                ("x86_64", "futex", "log"): 2,
                ("x86_64", "accept4", "log"): 1,
                ("x86_64", "read", "log"): 1,
                ("x86_64", "pselect6", "log"): 2,
            }
        ),
        Counter(),
    ),
    # <5> priority prefix; ARM compat=1 on arm64; 208 is setresuid32 on arm
    "openharmony-docs_subsys-boot-init-seccomp.log": (
        Counter({("arm", "setresuid32", "kill_process"): 1}),
        Counter(),
    ),
    # wrapped inside `syscall=` / `208 ...` by a pager: joined (issue 11)
    "openharmony-docs_subsys-boot-init-seccomp_wrapped.log": (
        Counter({("arm", "setresuid32", "kill_process"): 1}),
        Counter(),
    ),
    "qemu-devel_virtiofsd_s390x_patch.log": (Counter({("s390x", "sigreturn", "kill_process"): 1}), Counter()),
    # ARM private syscall 983045 = set_tls; the AppArmor line is not ours
    "snapd_docs_security_md_2016.log": (Counter({("arm", "set_tls", "kill_thread"): 1}), Counter()),
    "spectrum-config-imx8_README_console.log": (
        Counter(
            {
                ("aarch64", "socket", "log"): 4,
                ("aarch64", "connect", "log"): 4,
                ("aarch64", "nanosleep", "log"): 2,
            }
        ),
        Counter({"loss": 1}),
    ),
    # negatives: type=1016 copy, truncated `type=1326 syscall=1`, AVC/AppArmor, uid=invalid;
    # the record missing uid/gid is the same event (stamp 549067) as the one before it
    "spo_auditsource_test.log": (
        Counter(
            {
                ("x86_64", "write", "log"): 1,
                ("x86_64", "rt_sigaction", "log"): 1,
                ("x86_64", "close", "log"): 1,
                ("x86_64", "clone", "log"): 1,
                ("x86_64", "read", "log"): 1,
            }
        ),
        # malformed: uid=invalid, gid=invalid, and a type=1016 record with SECCOMP's fields
        # (line 5: looks like a record, no form reads it; said, never dropped silently)
        Counter({"truncated": 1, "malformed": 3}),
    ),
    # hex comm/exe; i386 socketcall; 0x1d with a trailing pid=1 trap; s390 record without
    # code; record without arch; SYSCALL record; suppressed; invalid UTF-8 hex cut short
    "spo_auditsource_test_0b0c42b.log": (
        Counter({("x86_64", "open", "log"): 1, ("x86", "socketcall", "log"): 1, ("x86_64", "close", "log"): 1}),
        Counter({"truncated": 3, "loss": 1}),
    ),
    # the same record through auditd, node=, bare type=1326, dmesg, rsyslog: two events
    "spo_auditsource_test_0b0c42b_assembled_accept.log": (
        Counter({("x86_64", "close", "log"): 1, ("x86_64", "rt_sigaction", "log"): 1}),
        Counter(),
    ),
    "spo_auditsource_test_0b0c42b_assembled_reject.log": (Counter(), Counter({"untrusted": 6})),
}


def _decode(name: str) -> tuple[Counter[tuple[str, str, str]], Counter[str], list[SeccompEvent]]:
    items = list(Deduplicator()(events_from([str(CORPUS_LOGS / name)])))
    events = [e for e in items if isinstance(e, SeccompEvent)]
    got = Counter((e.arch, e.syscall or f"#{e.nr}", e.action.value) for e in events)
    kinds = Counter(p.kind.value for p in items if isinstance(p, Problem))
    return got, kinds, events


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_log_decodes_as_documented(name: str) -> None:
    events, problems = EXPECTED[name]
    got, kinds, _ = _decode(name)
    assert got == events
    assert kinds == problems


def test_every_corpus_log_is_in_the_table() -> None:
    logs = {
        str(p.relative_to(CORPUS_LOGS))
        for p in CORPUS_LOGS.rglob("*")
        if p.is_file() and not p.name.endswith(".golden") and "snapd_testing" not in p.name
    }
    assert logs == set(EXPECTED)


def test_snapd_spread_log_has_all_forty_records() -> None:
    got, kinds, events = _decode("snapd_testing_tools_log_parser_with-debug-output.log.spread")
    assert sum(got.values()) == 40 and not kinds
    assert {e.exe for e in events} == {"/snap/test-snapd-curl/27/usr/bin/curl"}


def test_hex_encoded_comm_and_exe_are_decoded() -> None:
    _, _, events = _decode("spo_auditsource_test_0b0c42b.log")
    assert (events[0].comm, events[0].exe) == ("my app", "/opt/my app/bin")


def test_enrichment_after_separator_does_not_override_fields() -> None:
    _, _, events = _decode("spo_auditsource_test_0b0c42b.log")
    close = next(e for e in events if e.syscall == "close")
    assert close.pid == 2039886


def test_selinux_label_kept_as_is() -> None:
    _, _, events = _decode("qemu-devel_virtiofsd_s390x_patch.log")
    assert events[0].subj == "system_u:system_r:virtd_t:s0-s0:c0.c1023"


def test_loss_count_is_read_from_the_log() -> None:
    items = list(events_from([str(CORPUS_LOGS / "spectrum-config-imx8_README_console.log")]))
    assert [p.lost for p in items if isinstance(p, Problem)] == [108]


def test_go_libaudit_golden_agrees() -> None:
    import json

    golden = json.loads((CORPUS_LOGS / "go-libaudit_auparse_testdata_test3.log.golden").read_text())
    seccomp = next(r for r in golden if r["record_type"] == "seccomp")
    _, _, events = _decode("go-libaudit_auparse_testdata_test3.log")
    assert events[0].syscall == seccomp["data"]["syscall"]
    assert events[0].serial.endswith(f":{seccomp['sequence']}")  # type: ignore[union-attr]
