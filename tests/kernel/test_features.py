"""Kernel feature checks and audit requests, against the running kernel (root only)."""

from __future__ import annotations

import os

import pytest

from learn.errors import KernelError
from learn.kernel import features

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: audit netlink and seccomp probes"),
]


def test_every_check_passes_on_a_learning_capable_kernel() -> None:
    checks = features.run_checks()
    failed = [c for c in checks if not c.ok]
    assert not failed, failed
    features.require(checks)


def test_require_raises_the_first_failure_with_its_fix() -> None:
    bad = features.Check("log-logged", False, "not logged", 'sysctl kernel.seccomp.actions_logged="log"')
    with pytest.raises(KernelError) as caught:
        features.require([features.Check("ok", True, "fine"), bad])
    assert "not logged" in str(caught.value)
    assert caught.value.hint == bad.fix


def test_flag_log_probe_answers_efault_not_einval() -> None:
    check = features.flag_log_probe()
    assert check.ok, check


def test_seccomp_number_is_the_hosts() -> None:
    expected = {"x86_64": 317, "aarch64": 277}.get(os.uname().machine)
    if expected is None:
        pytest.skip("only x86_64 and aarch64 numbers are pinned here")
    assert features.seccomp_syscall_number() == expected


def test_audit_status_reads_the_counters() -> None:
    status = features.audit_status()
    assert status.enabled in (0, 1, 2)
    assert status.backlog_limit >= 0
    assert status.lost >= 0
    assert status.pid >= 0


def test_user_message_reaches_the_multicast_group() -> None:
    token = f"learn-test-{os.getpid()}"
    with features.audit_socket(1 << (features.AUDIT_NLGRP_READLOG - 1)) as sock:
        sock.settimeout(2.0)
        features.send_audit_message(token)
        while True:
            data = sock.recv(65536)
            if token.encode() in data:
                break
    rtype = features.NLMSG_HEADER.unpack_from(data)[1]
    assert rtype in (features.AUDIT_TRUSTED_APP, features.AUDIT_USER_AVC)
