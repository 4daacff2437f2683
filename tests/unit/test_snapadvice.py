"""`learn suggest --snap`: snapd's interfaces for the calls a devmode snap made, checked against
snapd's own meaning (its interface snippets and base template at the pinned commit)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from learn.snapadvice import Call, advise, chosen_plugs, knowledge
from learn.snapreport import blocks, snapcraft
from tests.conftest import ROOT, SAMPLE_LOGS

AF_INET, AF_NETLINK, SOCK_STREAM, SOCK_RAW = 2, 16, 1, 3
NETLINK_AUDIT, NETLINK_KOBJECT_UEVENT = 9, 15
TIOCSTI, TCGETS = 0x5412, 0x5401
DEVMODE = SAMPLE_LOGS / "wild" / "devmode-snap.audit.log"


def plugs(name: str, *args: tuple[int, ...]) -> list[str]:
    (advice,) = advise([Call("x86_64", name, 1, args=args)])
    return [iface.name for iface, rule in advice.plugs if rule == ""]


@pytest.mark.parametrize(
    ("name", "interface"),
    [
        ("sched_setattr", "process-control"),
        ("setpriority", "process-control"),
        ("add_key", "dm-crypt"),
        ("mount", "mount-control"),
        ("init_module", "kernel-module-control"),
        ("settimeofday", "time-control"),
        ("sethostname", "hostname-control"),
        ("perf_event_open", "system-trace"),
        ("ioperm", "io-ports-control"),
    ],
)
def test_a_call_only_a_privileged_interface_allows(name: str, interface: str) -> None:
    assert interface in plugs(name)
    (advice,) = advise([Call("x86_64", name, 1)])
    assert not advice.denied_by_template and not advice.template_allows


def test_bind_is_network_bind_first_which_connects_automatically() -> None:
    (advice,) = advise([Call("x86_64", "bind", 1)])
    first, _ = advice.plugs[0]
    assert (first.name, first.auto_connect) == ("network-bind", True)
    assert [i.auto_connect for i, _ in advice.plugs] == sorted((i.auto_connect for i, _ in advice.plugs), reverse=True)


def test_netlink_protocols_are_granted_by_different_interfaces() -> None:
    uevent = plugs("socket", (AF_NETLINK, SOCK_RAW, NETLINK_KOBJECT_UEVENT))
    audit = plugs("socket", (AF_NETLINK, SOCK_RAW, NETLINK_AUDIT))
    assert {"hardware-observe", "raw-usb", "raw-input"} <= set(uevent)
    assert {"netlink-audit", "auditd-support"} <= set(audit)
    assert "hardware-observe" not in audit and "netlink-audit" not in uevent


def test_without_arguments_an_interface_that_allows_some_says_which() -> None:
    (advice,) = advise([Call("x86_64", "socket", 1)])
    rules = dict((iface.name, rule) for iface, rule in advice.plugs)
    assert (
        rules["hardware-observe"] == "socket AF_NETLINK - NETLINK_GENERIC; socket AF_NETLINK - NETLINK_KOBJECT_UEVENT"
    )


def test_tiocsti_is_denied_by_the_template() -> None:
    (advice,) = advise([Call("x86_64", "ioctl", 1, args=((1, TIOCSTI, 0),))])
    assert advice.denied_by_template == ["~ioctl - TIOCSTI", "~ioctl - 4294967295|TIOCSTI"]
    assert not advice.plugs


def test_an_ioctl_record_without_arguments_is_one_the_template_denies() -> None:
    """The template allows ioctl by name, so a devmode record of it means a `~` rule matched."""
    (advice,) = advise([Call("x86_64", "ioctl", 1)])
    assert "~ioctl - TIOCSTI" in advice.denied_by_template and "~ioctl - TIOCLINUX" in advice.denied_by_template


@pytest.mark.parametrize(
    ("name", "args"), [("read", ()), ("ioctl", ((1, TCGETS, 0),)), ("socket", ((AF_INET, SOCK_STREAM, 0),))]
)
def test_calls_the_template_allows(name: str, args: tuple[tuple[int, ...], ...]) -> None:
    (advice,) = advise([Call("x86_64", name, 1, args=args)])
    assert advice.template_allows and not advice.denied_by_template and not advice.plugs


def test_a_call_no_interface_allows() -> None:
    (advice,) = advise([Call("x86_64", "kexec_load", 1)])
    assert not advice.plugs and not advice.slots and not advice.template_allows and not advice.denied_by_template


def test_unrestricted_interfaces_are_never_the_advice() -> None:
    (advice,) = advise([Call("x86_64", "kexec_load", 1)])
    assert {"lxd-support", "steam-support"}.isdisjoint(i.name for i, _ in advice.plugs)


def test_knowledge_names_its_source() -> None:
    known = knowledge()
    assert re.fullmatch(r"[0-9a-f]{40}", known.commit) and known.repository.endswith("/canonical/snapd")
    assert len(known.interfaces) > 70 and "~ioctl - TIOCSTI" in known.template


def test_snapcraft_fragment_plugs_one_interface_per_call() -> None:
    calls = [Call("x86_64", n, 1) for n in ("sched_setattr", "setpriority", "bind", "ptrace")]
    calls.append(Call("x86_64", "ioctl", 1, args=((1, TIOCSTI, 0),)))
    advice = advise(calls)
    assert chosen_plugs(advice) == {"network-bind": ["bind"], "process-control": ["sched_setattr", "setpriority"]}
    text = snapcraft(advice, "demo", knowledge())
    assert "  # sched_setattr, setpriority (snap connect demo:process-control)\n  - process-control\n" in text
    assert "  # bind (connects automatically)\n  - network-bind\n" in text
    (ptrace,) = [line for line in text.splitlines() if line.startswith("# ptrace: ")]
    assert ptrace.endswith("by interfaces a store assertion must allow: docker-support")
    assert "# ioctl: denied by snapd's base template" in text
    assert "= Seccomp =\nSyscall: sched_setattr" in blocks(advice, "demo", knowledge())


def _learn(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "learn", *map(str, args)], capture_output=True, text=True, cwd=ROOT, check=False
    )


def test_suggest_snap_on_a_devmode_log() -> None:
    done = _learn("suggest", "--snap", "learn-demo", DEVMODE, "--format", "snapcraft")
    assert done.returncode == 0, done.stderr
    assert "  - process-control\n" in done.stdout and "  - network-bind\n" in done.stdout
    assert "Syscall: sched_setattr" in done.stderr and "* add 'process-control' to 'plugs'" in done.stderr
    profile = _learn("suggest", "--snap", "learn-demo", DEVMODE, "-q")
    assert profile.returncode == 0 and '"sched_setattr"' in profile.stdout and profile.stderr == ""


def test_snapcraft_format_needs_a_snap() -> None:
    done = _learn("suggest", DEVMODE, "--format", "snapcraft")
    assert done.returncode == 2 and "--snap NAME" in done.stderr and "Traceback" not in done.stderr


def test_rules_a_plug_attribute_adds_are_named() -> None:
    """browser-support adds user namespaces only with allow-sandbox: true (snapd builds that snippet)."""
    (advice,) = advise([Call("x86_64", "unshare", 1)])
    rules = {iface.name: rule for iface, rule in advice.plugs}
    assert rules["browser-support"] == "with plug attribute allow-sandbox: true"
    assert rules["userns"] == ""


def test_arguments_from_syscall_records_reach_the_advice() -> None:
    """`--args`: the real capture's socket(AF_UNIX)/socket(AF_INET) and ioctl(TCGETS) are the template's."""
    from learn.model import Action
    from learn.pipeline import learn_from_logs
    from learn.select import Selection
    from learn.snapreport import calls_from

    log = SAMPLE_LOGS / "auditd-args" / "argcalls.audit.log"
    findings = learn_from_logs([str(log)], Selection(actions=frozenset(Action)), args=True)
    by_name = {a.call.name: a for a in advise(calls_from(findings))}
    assert [args[:3] for args in by_name["socket"].call.args] == [(1, 1, 0), (2, 2, 0)]
    assert by_name["socket"].template_allows and by_name["ioctl"].template_allows
