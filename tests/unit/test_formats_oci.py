"""learn.formats.oci: the writer's output, and the reader on runtime-spec and moby profiles."""

from __future__ import annotations

import json

import pytest

from learn.errors import ProfileError
from learn.formats import oci
from learn.formats.common import MOBY_DEFAULT_CAPS, HostContext
from learn.model import Action
from learn.profile import Arg, Op, Profile, Rule, Verdict
from tests.conftest import SHARED

PROFILES = SHARED / "corpus" / "profiles"
X86_64 = HostContext("x86_64", "x86", kernel=(6, 18))


def _read(text: str, context: HostContext = X86_64, strict: bool = False) -> oci.ReadResult:
    return oci.read(text, "p.json", context, strict)


def _moby(context: HostContext = X86_64) -> Profile:
    return oci.read((PROFILES / "moby-profiles_seccomp_default.json").read_text(), "moby", context).profile


def test_unconditional_output_is_unchanged() -> None:
    text = oci.write(Profile({"x86_64": ("read", "write"), "x86": ("read",)}))
    assert text == (
        '{\n  "defaultAction": "SCMP_ACT_ERRNO",\n  "defaultErrnoRet": 1,\n  "architectures": [\n'
        '    "SCMP_ARCH_X86",\n    "SCMP_ARCH_X86_64"\n  ],\n  "syscalls": [\n    {\n      "names": [\n'
        '        "read",\n        "write"\n      ],\n      "action": "SCMP_ACT_ALLOW"\n    }\n  ]\n}\n'
    )


def test_rules_are_written_with_args_and_errno() -> None:
    rules = (
        Rule(("personality",), args=(Arg(0, Op.EQ, 8),)),
        Rule(("clone",), args=(Arg(0, Op.MASKED_EQ, 0x7E020000, 0),)),
        Rule(("clone3",), Action.ERRNO, 38),
    )
    spec = oci.to_dict(Profile({"x86_64": ("read",)}, rules=rules))
    assert spec["syscalls"] == [
        {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [
            {"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]},
        {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [
            {"index": 0, "value": 0x7E020000, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
        {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
    ]  # fmt: skip


def test_overlapping_rules_are_noted_for_runc() -> None:
    rules = (Rule(("ioctl",), Action.ERRNO, 13, (Arg(1, Op.EQ, 0x5412),)),)
    result = oci.write_result(Profile({"x86_64": ("ioctl",)}, rules=rules))
    assert any("overlap for ioctl" in n for n in result.notes)
    assert not oci.write_result(Profile({"x86_64": ("read",)}, rules=rules)).notes


def test_moby_default_on_x86_64() -> None:
    p = _moby()
    assert p.arches == ("x32", "x86", "x86_64")  # archMap: the native entry and its sub-arches
    assert (p.default_action, p.default_errno) == (Action.ERRNO, 1)
    assert {"read", "arch_prctl", "modify_ldt", "ptrace"} <= set(p.names())
    assert not {"syslog", "bpf", "reboot", "set_tls", "s390_runtime_instr"} & set(p.names())
    assert Rule(("clone3",), Action.ERRNO, 38) in p.rules
    assert Rule(("clone",), args=(Arg(0, Op.MASKED_EQ, 0x7E020000),)) in p.rules  # not s390's a1
    assert p.decide("x86_64", "personality", (0xFFFFFFFF,)) == Verdict(Action.ALLOW, None)
    assert p.decide("x86_64", "personality", (5,)) == Verdict(Action.ERRNO, 1)


@pytest.mark.parametrize(
    ("context", "present", "absent"),
    [
        # With CAP_SYS_ADMIN clone is allowed outright and clone3 is not ENOSYS.
        (HostContext("x86_64", caps=MOBY_DEFAULT_CAPS | {"CAP_SYS_ADMIN"}, kernel=(6, 18)), {"clone", "mount"}, set()),
        # minKernel 4.8 for ptrace without CAP_SYS_PTRACE.
        (HostContext("x86_64", kernel=(4, 7)), set(), {"ptrace", "process_vm_readv"}),
        # arm64: its own archMap entry and its arch-only names.
        (HostContext("aarch64", "arm", kernel=(6, 18)), {"set_tls", "cacheflush"}, {"arch_prctl", "modify_ldt"}),
    ],
)
def test_moby_includes_and_excludes(context: HostContext, present: set[str], absent: set[str]) -> None:
    p = _moby(context)
    assert present <= set(p.names()) and not absent & set(p.names())


def test_moby_on_arm64_lists_arm64_arches() -> None:
    assert _moby(HostContext("aarch64", "arm", kernel=(6, 18))).arches == ("aarch64", "arm")


def test_moby_with_sys_admin_drops_the_conditional_clone() -> None:
    p = _moby(HostContext("x86_64", caps=MOBY_DEFAULT_CAPS | {"CAP_SYS_ADMIN"}, kernel=(6, 18)))
    assert not any(r.names == ("clone",) or r.names == ("clone3",) for r in p.rules)


def test_old_format_and_fixtures() -> None:
    old = oci.read((PROFILES / "moby-profiles_seccomp_fixtures_default-old-format.json").read_text(), "o", X86_64)
    assert old.profile.arches == ("x32", "x86", "x86_64") and len(old.profile.names()) > 300
    example = oci.read((PROFILES / "moby-profiles_seccomp_fixtures_example.json").read_text(), "e", X86_64)
    assert Rule(("syslog",), Action.ERRNO, 12345) in example.profile.rules  # exactly as written
    assert example.profile.arches == ("x86_64",)  # no architectures: the native ABI, as runc does


def test_containers_common_errno_names_and_default_errno() -> None:
    r = oci.read((PROFILES / "containers-common_pkg_seccomp_seccomp.json").read_text(), "c", X86_64)
    assert (r.profile.default_action, r.profile.default_errno) == (Action.ERRNO, 38)
    assert r.profile.decide("x86_64", "kexec_load") == Verdict(Action.ERRNO, 1)
    assert "socket" in r.profile.names()  # CAP_AUDIT_WRITE is one of Docker's defaults


def test_a_whole_config_json_is_read() -> None:
    doc = {"ociVersion": "1.0.2", "linux": {"seccomp": {"defaultAction": "SCMP_ACT_KILL", "syscalls": []}}}
    p = _read(json.dumps(doc)).profile
    assert p.default_action is Action.KILL_THREAD  # SCMP_ACT_KILL is libseccomp's old KILL_THREAD


def test_two_conditions_on_one_argument_become_two_rules_as_runc_does() -> None:
    doc = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [
            {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]}],
    }  # fmt: skip
    r = _read(json.dumps(doc))
    assert r.profile.rules == (Rule(("socket",), args=(Arg(0, Op.EQ, 1),)), Rule(("socket",), args=(Arg(0, Op.EQ, 2),)))
    assert any("OR" in n for n in r.notes)


def test_value_two_is_kept_for_masked_eq_only() -> None:
    doc = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [
        {"index": 0, "value": 3, "valueTwo": 4, "op": "SCMP_CMP_EQ"}]}]}  # fmt: skip
    assert _read(json.dumps(doc)).profile.rules[0].args == (Arg(0, Op.EQ, 3),)


def test_unknown_names() -> None:
    doc = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read", "raed"], "action": "SCMP_ACT_ALLOW"}]}
    r = _read(json.dumps(doc))
    assert r.profile.names() == ("read",) and any("unknown syscall 'raed'" in n for n in r.notes)
    with pytest.raises(ProfileError, match=r"syscalls\[0\]: unknown syscall 'raed'"):
        _read(json.dumps(doc), strict=True)
    doc["syscalls"][0]["action"] = "SCMP_ACT_ERRNO"  # a denial that cannot be kept is an error
    with pytest.raises(ProfileError, match="unknown syscall 'raed'"):
        _read(json.dumps(doc))


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ('{"defaultAction": "SCMP_ACT_ERRNO",\n "syscalls": [,]}', r"p.json:2: not JSON"),
        ("{}", "seccomp off"),
        ('{"defaultAction": "SCMP_ACT_NOPE"}', "unknown action"),
        ('{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_VAX"]}', "no architecture 'SCMP_ARCH_VAX'"),
        (
            '{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86"], "archMap": [{}]}',
            "both 'architectures' and 'archMap'",
        ),
        ('{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"name": "a", "names": ["b"], "action": "SCMP_ACT_ALLOW"}]}',
         "both 'name' and 'names'"),
        ('{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_LOG", "errnoRet": 1}]}',
         "errnoRet is for"),
        ('{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",'
         ' "includes": {"minKernel": "4"}}]}', "invalid minKernel"),
        ('{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",'
         ' "args": [{"index": 7, "value": 1, "op": "SCMP_CMP_EQ"}]}]}', "index 7"),
    ],
)  # fmt: skip
def test_errors_say_why(doc: str, message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        _read(doc)
