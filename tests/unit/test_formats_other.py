"""systemd, SeccompProfile (SPO), PFC, the tiny YAML reader, detection and load_profile."""

from __future__ import annotations

from pathlib import Path

import pytest

from learn.errors import InputError, ProfileError
from learn.formats import (
    OutputFormat,
    check_expressible,
    detect_format,
    load_profile,
    read_profile,
    render,
    spo,
    systemd,
    write,
)
from learn.formats.common import HostContext
from learn.formats.miniyaml import dump_scalar, load_all
from learn.model import Action
from learn.profile import Arg, Op, Profile, Rule
from tests.conftest import SHARED

PROFILES = SHARED / "corpus" / "profiles"
HOST = HostContext("x86_64", "x86", kernel=(6, 18))
SMALL = Profile({"x86_64": ("read", "write"), "x86": ("read",)}, provenance=("learned from x",))


def test_systemd_drop_in() -> None:
    result = write(SMALL, OutputFormat.SYSTEMD)
    assert result.text.startswith(
        "# learned from x\n# systemd unit drop-in: put it in /etc/systemd/system/UNIT.d/seccomp.conf\n"
    )
    assert result.text.endswith(
        "[Service]\nSystemCallFilter=read write\nSystemCallErrorNumber=EPERM\nSystemCallArchitectures=x86 x86-64\n"
    )
    assert any("@default group" in n for n in result.notes)
    assert all(f"# not expressed: {n}" in result.text for n in result.notes)
    assert any("per-arch" in n for n in result.notes)


def test_systemd_round_trip_adds_systemds_default_group() -> None:
    back = systemd.read(render(SMALL, OutputFormat.SYSTEMD), "u.conf", HOST).profile
    assert {"read", "write", "execve", "exit_group"} <= set(back.names())
    assert (back.default_action, back.default_errno, back.arches) == (Action.ERRNO, 1, ("x86", "x86_64"))


@pytest.mark.parametrize(
    ("profile", "lines", "note"),
    [
        (Profile({"x86_64": ("read",)}, Action.LOG), ["SystemCallLog=~ read"], ""),
        (Profile({"x86_64": ("read",)}, Action.KILL_PROCESS), ["SystemCallFilter=read"], ""),
        (
            Profile({"x86_64": ("ioctl",)}, rules=(Rule(("ioctl",), Action.ERRNO, 13, (Arg(1, Op.EQ, 0x5412),)),)),
            ["SystemCallFilter=ioctl"],
            "allowed whatever their arguments: ioctl",
        ),
        (
            Profile({"x86_64": ("read",)}, rules=(Rule(("socket",), args=(Arg(0, Op.EQ, 1),)),)),
            ["SystemCallFilter=read socket"],
            "allowed by name: socket",
        ),
        (  # learned argument rules (issue 9): names instead, and clone3 with clone
            Profile(
                {"x86_64": ("read",)},
                rules=(
                    Rule(("clone",), args=(Arg(0, Op.MASKED_EQ, 0xFFFFFFEE, 0),)),
                    Rule(("clone3",), Action.ERRNO, 38),
                ),
            ),
            ["SystemCallFilter=clone clone3 read"],
            "allowed by name: clone clone3",
        ),
        (
            Profile({"x86_64": ("read", "ptrace")}, rules=(Rule(("ptrace",), Action.ERRNO, 1),)),
            ["SystemCallFilter=read"],
            "",
        ),
    ],
)
def test_systemd_what_it_can_and_cannot_say(profile: Profile, lines: list[str], note: str) -> None:
    result = systemd.write_result(profile)
    assert all(line in result.text.splitlines() for line in lines)
    assert not note or any(note in n for n in result.notes)


def test_systemd_reader() -> None:
    text = "[Service]\nSystemCallFilter=read\nSystemCallFilter=write\nSystemCallFilter=~read\nSystemCallFilter=~openat2:EACCES\n"
    text += "SystemCallErrorNumber=ENOSYS\nSystemCallArchitectures=native\n"
    p = systemd.read(text, "u", HOST).profile
    assert "write" in p.names() and "read" not in p.names()
    assert p.rules == (Rule(("openat2",), Action.ERRNO, 13),)
    assert (p.default_errno, p.arches) == (38, ("x86_64",))
    deny = systemd.read("[Service]\nSystemCallFilter=~ptrace mount\n", "u", HOST).profile
    assert deny.default_action is Action.ALLOW and {r.names[0] for r in deny.rules} == {"ptrace", "mount"}
    with pytest.raises(ProfileError, match="u:2: systemd group @system-service"):
        systemd.read("[Service]\nSystemCallFilter=@system-service\n", "u", HOST)


def test_spo_manifest_round_trip() -> None:
    rules = (Rule(("ioctl",), Action.ERRNO, 13, (Arg(1, Op.MASKED_EQ, 0xFFFFFFFF, 0x5412),)),)
    p = Profile({"x86_64": ("ioctl", "read")}, rules=rules)
    text = render(p, OutputFormat.SPO)
    assert text.startswith("apiVersion: security-profiles-operator.x-k8s.io/v1beta1\nkind: SeccompProfile\n")
    back = spo.read(text, "sp.yaml", HOST).profile
    assert (back.allowed, back.rules, back.default_action) == (p.allowed, p.rules, p.default_action)


def test_spo_notes() -> None:
    assert any("defaultErrnoRet" in n for n in check_expressible(Profile({"x86_64": ()}, default_errno=38), "spo"))
    huge = Profile({"x86_64": ()}, rules=(Rule(("read",), args=(Arg(0, Op.EQ, 1 << 63),)),))
    assert any("int64" in n for n in check_expressible(huge, "spo"))


def test_spo_example_file() -> None:
    r = load_profile(str(PROFILES / "spo_examples_seccompprofile.yaml"), context=HOST)
    assert r.fmt == "spo" and r.profile.default_action is Action.ERRNO
    assert any("4 SeccompProfiles" in n for n in r.notes)


def test_spo_json_manifest() -> None:
    text = '{"apiVersion": "security-profiles-operator.x-k8s.io/v1", "kind": "SeccompProfile",'
    text += ' "spec": {"defaultAction": "SCMP_ACT_LOG", "architectures": ["SCMP_ARCH_X86_64"]}}'
    assert detect_format(text) is OutputFormat.SPO
    assert spo.read(text, "j", HOST).profile.default_action is Action.LOG


def test_miniyaml() -> None:
    docs = load_all(
        "---\na: 1\nb: 'x # y'  # comment\nc:\n- d: \"q\"\n  e: [1, two]\n- plain\nf:\n  g: ~\n---\nh: []\n", "y"
    )
    assert docs == [{"a": 1, "b": "x # y", "c": [{"d": "q", "e": [1, "two"]}, "plain"], "f": {"g": None}}, {"h": []}]
    assert dump_scalar("SCMP_ACT_LOG") == "SCMP_ACT_LOG" and dump_scalar("1") == '"1"' and dump_scalar("a b") == '"a b"'
    with pytest.raises(ProfileError, match="y:1: YAML feature '&'"):
        load_all("a: &anchor 1\n", "y")


def test_pfc_is_the_enforce_filter() -> None:
    rules = (Rule(("ioctl",), Action.ERRNO, 13, (Arg(1, Op.EQ, 0x5412),)),)
    text = render(Profile({"x86_64": ("ioctl",)}, provenance=("from x",), rules=rules), OutputFormat.PFC)
    assert text.startswith("# from x\n#\n# pseudo filter code start")
    assert "action ERRNO(13);" in text and "action ALLOW;" in text


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        ('{"defaultAction": "SCMP_ACT_ERRNO"}', OutputFormat.OCI),
        ("# hi\nread\n~ioctl - TIOCSTI\n@complain\n", OutputFormat.SNAPD),
        ("[Service]\nSystemCallFilter=read\n", OutputFormat.SYSTEMD),
        ("apiVersion: x\nkind: SeccompProfile\n", OutputFormat.SPO),
    ],
)
def test_detect_format(text: str, fmt: OutputFormat) -> None:
    assert detect_format(text) is fmt


def test_detect_refuses_what_it_cannot_read() -> None:
    with pytest.raises(ProfileError, match="cannot tell the profile format"):
        detect_format("int main(void) { return 0; }\n")
    with pytest.raises(ProfileError, match="cannot read it back"):
        detect_format("#\n# pseudo filter code start\n")


def test_load_profile(tmp_path: Path) -> None:
    path = tmp_path / "p.seccomp"
    path.write_text("read\n")
    assert read_profile(str(path), context=HOST).names() == ("read",)
    assert read_profile(str(path), "snapd", context=HOST).provenance == (f"read from {path} (snapd)",)
    with pytest.raises(ProfileError, match="cannot read pfc"):
        load_profile(str(path), "pfc")
    with pytest.raises(InputError, match="cannot read"):
        load_profile(str(tmp_path / "missing"))
    (tmp_path / "bin").write_bytes(b"\xff\xfe")
    with pytest.raises(ProfileError, match="not UTF-8"):
        load_profile(str(tmp_path / "bin"))


def test_render_still_takes_every_output_format() -> None:
    for fmt in OutputFormat:
        assert render(Profile({"x86_64": ("read",)}), fmt)
