"""Profiles that are not what they seem: recognition, moby's validation, errno limits, hostile files."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from learn.errors import LearnError, ProfileError
from learn.formats import MAX_PROFILE_BYTES, OutputFormat, detect_format, load_profile, write
from learn.formats.common import HostContext
from learn.model import Action
from learn.profile import Rule

HOST = HostContext("x86_64", "x86", kernel=(6, 1))


def _load(tmp_path: Path, text: str | bytes, fmt: str | None = None) -> Any:
    path = tmp_path / "p"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return load_profile(str(path), fmt, context=HOST)


# --- recognition (issue 7) --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty, not a profile"),
        ("\n  \n", "empty, not a profile"),
        ("# a comment\n# another\n", "only comments, not a profile"),
        ("This is a file of prose.\nread the file please\n", "cannot tell the profile format"),
        ("hello world\n", "cannot tell the profile format"),
        ("hello\n", "cannot tell the profile format"),  # a lone word that is no syscall
        ("[Service]\nExecStart=/bin/true\n", "cannot tell the profile format"),  # a unit without a filter
        ("read\x00\x01\x02\n", "binary data"),
    ],
)
def test_what_is_not_a_profile_is_refused(text: str, message: str) -> None:
    with pytest.raises(ProfileError, match=message) as caught:
        detect_format(text, "p")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        ("read\n", OutputFormat.SNAPD),
        ("# learned\n@complain\n", OutputFormat.SNAPD),
        ("@unrestricted\n", OutputFormat.SNAPD),
        ("socket AF_UNIX\n", OutputFormat.SNAPD),
        ("~ioctl - TIOCSTI\n", OutputFormat.SNAPD),
        ("setgid g:###GROUP###\n", OutputFormat.SNAPD),  # a template: the reader says what is wrong
        ("[Service]\nSystemCallFilter=read\n", OutputFormat.SYSTEMD),
    ],
)
def test_profiles_are_recognised_by_what_they_hold(text: str, fmt: OutputFormat) -> None:
    assert detect_format(text, "p") is fmt


def test_binary_and_non_utf8_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="not UTF-8"):
        _load(tmp_path, b"\x7fELF\x02\x01\x01\x00\xff\xfe")
    with pytest.raises(ProfileError, match="binary data"):
        _load(tmp_path, b"read\n\x00\x00\x00\n")
    with pytest.raises(ProfileError, match="binary data"):
        _load(tmp_path, b"read\n\x00\n", "snapd")  # naming a format does not make it text


def test_a_named_format_reads_what_detection_refuses(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="empty"):
        _load(tmp_path, "")
    empty = _load(tmp_path, "", "snapd").profile  # the user says: a snapd profile allowing nothing
    assert empty.names() == () and empty.default_action is Action.ERRNO


def test_profiles_over_the_size_cap_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="over 1 MiB"):
        _load(tmp_path, "read\n" + "#" * MAX_PROFILE_BYTES)


def test_unrestricted_is_a_profile_with_default_allow_and_nothing_else(tmp_path: Path) -> None:
    profile = _load(tmp_path, "@unrestricted\nread\n").profile
    assert (profile.default_action, profile.rules, profile.names()) == (Action.ALLOW, (), ())


# --- moby's validation, on every rule whatever the host (issues 7 and 8) ----------------------


def _doc(**entry: Any) -> str:
    rule = {"names": ["ptrace"], "action": "SCMP_ACT_ERRNO", **entry}
    return json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [rule]})


S390X_ONLY = {"includes": {"arches": ["s390x"]}}


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        # moby's KernelVersion: "<kernel>.<major>", each a uint8, not 0.0; also in rules for other arches
        (_doc(includes={"arches": ["s390x"], "minKernel": "4.15abc"}), r"invalid minKernel '4\.15abc'"),
        (_doc(includes={"arches": ["s390x"], "minKernel": "0.0"}), "cannot be 0.0"),
        (_doc(includes={"arches": ["s390x"], "minKernel": "4.256"}), "each 0..255"),
        (_doc(includes={"arches": ["s390x"], "minKernel": "4.1.2"}), "invalid minKernel"),
        (_doc(includes={"arches": ["s390x"], "minKernel": "+4.1"}), "invalid minKernel"),
        (_doc(excludes={"arches": ["s390x"], "minKernel": 4}), "expected a string"),
        # types as Go decodes them
        (_doc(excludes={"arches": "xamd64x"}), r'syscalls\[0\]\.excludes\.arches: "xamd64x" is not a list'),
        (_doc(includes=["x"]), r'syscalls\[0\]\.includes: \["x"\] is not an object'),
        (_doc(includes={"caps": "CAP_SYS_ADMIN"}), r'includes\.caps: "CAP_SYS_ADMIN" is not a list'),
        (_doc(includes={"caps": [1]}), r"includes\.caps\[0\]: 1 is not a string"),
        (_doc(names="ptrace"), r'names: "ptrace" is not a list'),
        (_doc(names=["ptrace", 7]), r"names\[1\]: 7 is not a string"),
        (_doc(comment=5), r"comment: 5 is not a string"),
        (_doc(errnoRet=-1), r"errnoRet: -1 is not an unsigned integer"),
        (_doc(errnoRet=True), r"errnoRet: true is not an unsigned integer"),
        (_doc(errnoRet=1.5), r"errnoRet: 1\.5 is not an unsigned integer"),
        (_doc(errnoRet="1"), r'errnoRet: "1" is not an unsigned integer'),
        (_doc(args=[None]), r"args\[0\]: null"),
        (_doc(args={"index": 0}), "args: .* is not a list"),
        (_doc(args=[{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}]), r"value: -1 is not an unsigned integer"),
        (_doc(args=[{"index": 0, "value": 1 << 64, "op": "SCMP_CMP_EQ"}]), "is not an unsigned integer"),
        # values runc refuses, also in a rule this host leaves out
        ({**S390X_ONLY, "action": "SCMP_ACT_NOPE"}, 'unknown action "SCMP_ACT_NOPE"'),
        ({**S390X_ONLY, "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_LIKE"}]}, "needs an op"),
        ({**S390X_ONLY, "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}, "index 6 is outside 0..5"),
        ({**S390X_ONLY, "name": "read", "names": ["write"]}, "both 'name' and 'names'"),
    ],
)  # fmt: skip
def test_moby_refuses_these_whatever_the_host(tmp_path: Path, doc: str | dict[str, Any], message: str) -> None:
    text = doc if isinstance(doc, str) else _doc(**doc)
    with pytest.raises(ProfileError, match=message) as caught:
        _load(tmp_path, text)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("top", "message"),
    [
        ({"defaultErrnoRet": True}, "defaultErrnoRet: true is not an unsigned integer"),
        ({"defaultErrnoRet": -1}, "defaultErrnoRet: -1 is not an unsigned integer"),
        ({"architectures": "SCMP_ARCH_X86_64"}, 'architectures: "SCMP_ARCH_X86_64" is not a list'),
        ({"archMap": ["SCMP_ARCH_X86_64"]}, r'archMap\[0\]: "SCMP_ARCH_X86_64" is not an object'),
        ({"syscalls": [None]}, r"syscalls\[0\]: null"),
        ({"syscalls": {"names": ["read"]}}, "syscalls: .* is not a list"),
        ({"flags": "SECCOMP_FILTER_FLAG_LOG"}, "flags: .* is not a list"),
        ({"listenerPath": 1}, "listenerPath: 1 is not a string"),
    ],
)
def test_the_top_level_is_checked_too(tmp_path: Path, top: dict[str, Any], message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        _load(tmp_path, json.dumps({"defaultAction": "SCMP_ACT_ERRNO", **top}))


def test_a_string_exclude_no_longer_drops_a_denial(tmp_path: Path) -> None:
    """`"arches": "xamd64x"` was matched as a substring of the host's arch; moby refuses it."""
    with pytest.raises(ProfileError, match="is not a list"):
        _load(tmp_path, _doc(excludes={"arches": "xamd64x"}))
    kept = _load(tmp_path, _doc(excludes={"arches": ["xamd64x"]})).profile
    assert Rule(("ptrace",), Action.ERRNO, 1) in kept.rules


def test_valid_moby_conditions_still_apply(tmp_path: Path) -> None:
    doc = _doc(includes={"arches": ["s390x"], "minKernel": "4.15"}, excludes={"minKernel": ""})
    assert _load(tmp_path, doc).profile.rules == ()  # a rule for s390x only: left out on x86_64


# --- errno values (issue 7) -------------------------------------------------------------------


@pytest.mark.parametrize("errno", [4094, 4095, 12345, 65535, 1 << 20])
def test_errno_ret_is_read_exactly(tmp_path: Path, errno: int) -> None:
    result = _load(tmp_path, _doc(errnoRet=errno))
    (rule,) = result.profile.rules
    assert rule.errno == errno and not any("caps errno" in n for n in result.notes)  # no clamping
    assert f'"errnoRet": {errno}' in write(result.profile, "oci").text


def test_default_errno_ret_is_read_exactly(tmp_path: Path) -> None:
    profile = _load(tmp_path, json.dumps({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 12345})).profile
    assert profile.default_errno == 12345


# --- hostile files: one line, linear time (issue 8) -------------------------------------------

BOUND = 2.0  # seconds for any one hostile profile, read and (if it reads) turned into a filter


def _timed(tmp_path: Path, text: str) -> None:
    from learn.kernel.filters import Mode, build_filter

    start = time.monotonic()
    try:
        profile = _load(tmp_path, text).profile
        if profile.arches and profile.default_action is not Action.ALLOW:
            build_filter(profile, mode=Mode.ENFORCE)
    except LearnError as e:
        assert "\n" not in str(e)
    assert time.monotonic() - start < BOUND


def _oci(syscalls: list[dict[str, Any]]) -> str:
    return json.dumps({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": syscalls})


HOSTILE = [
    pytest.param(lambda n: _oci([{"names": [f"n{i}" for i in range(n)], "action": "SCMP_ACT_ALLOW"}]), id="unknown-names"),
    pytest.param(lambda n: _oci([{"names": ["read"] * n, "action": "SCMP_ACT_ALLOW"}]), id="repeated-names"),
    pytest.param(
        lambda n: _oci([{"names": ["ioctl"], "action": "SCMP_ACT_ALLOW",
                         "args": [{"index": 1, "value": i, "op": "SCMP_CMP_EQ"} for i in range(n)]}]),
        id="argument-conditions",
    ),
    pytest.param(
        lambda n: _oci([{"names": ["ioctl"], "action": "SCMP_ACT_ALLOW" if i % 2 else "SCMP_ACT_ERRNO",
                         "args": [{"index": 1, "value": i, "op": "SCMP_CMP_GE"}]} for i in range(n)]),
        id="argument-rules",
    ),
    pytest.param(lambda n: '{"a": ' + "[" * n + "]" * n + "}", id="deep-json"),
    # one more space of indentation a level: past 1,500 levels the file is over the size cap
    pytest.param(lambda n: "kind: SeccompProfile\nspec:\n" + "\n".join(" " * (i + 1) + "-" for i in range(n % 1500)),
                 id="deep-yaml"),
    pytest.param(lambda n: "kind: SeccompProfile\nspec: " + "[" * n + "]" * n, id="deep-flow-yaml"),
    pytest.param(lambda n: "".join(f"x{i}\n" for i in range(n)) + "read\n", id="snapd-unknown-lines"),
    pytest.param(lambda n: "".join(f"ioctl - {i}\n" for i in range(n)), id="snapd-argument-lines"),
    pytest.param(lambda n: "[Service]\nSystemCallFilter=" + " ".join(f"n{i}" for i in range(n)) + "\n",
                 id="systemd-unknown-names"),
]  # fmt: skip


@pytest.mark.parametrize("make", HOSTILE)
@pytest.mark.parametrize("n", [20_000, 100_000])
def test_hostile_profiles_are_one_line_and_quick(tmp_path: Path, make: Any, n: int) -> None:
    _timed(tmp_path, make(n))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from([p.values[0] for p in HOSTILE]), st.integers(1, 120_000))
def test_hostile_profiles_of_any_size(tmp_path: Path, make: Any, n: int) -> None:
    _timed(tmp_path, make(n))


PROFILE_ALPHABET = st.sampled_from(list('{}[]":,- \n#~@abcdefrSCMP_ACT_ERRNOsyscallsnames0123456789|<>!uk'))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=PROFILE_ALPHABET, max_size=400) | st.text(max_size=200))
def test_arbitrary_text_is_a_profile_or_one_line(tmp_path: Path, text: str) -> None:
    _timed(tmp_path, text)
