"""The baseline every learned profile allows, and --deny: per ABI, said in the provenance."""

from __future__ import annotations

import pytest

from learn.baseline import BASELINE, baseline_for, missing, with_baseline
from learn.errors import UsageError
from learn.finish import finish
from learn.model import Action
from learn.profile import Profile, Rule


def test_baseline_is_per_abi() -> None:
    assert baseline_for("x86_64") == ("exit", "exit_group", "restart_syscall", "rt_sigreturn")
    assert baseline_for("x86") == BASELINE  # sigreturn is i386's too
    assert "sigreturn" not in baseline_for("aarch64")


def test_with_baseline_adds_what_each_arch_lacks_and_says_so() -> None:
    learned = Profile({"x86_64": ("exit_group", "read"), "x86": ("read",)}, provenance=("learned",))
    profile, added = with_baseline(learned)
    assert profile.allowed["x86_64"] == ("exit", "exit_group", "read", "restart_syscall", "rt_sigreturn")
    assert profile.allowed["x86"] == tuple(sorted({*BASELINE, "read"}))
    assert added == {"x86_64": ("exit", "restart_syscall", "rt_sigreturn"), "x86": BASELINE}
    assert profile.provenance[0] == "learned"
    assert profile.provenance[1].startswith("baseline, allowed on every ABI")
    assert "not in the records: exit exit_group restart_syscall rt_sigreturn sigreturn" in profile.provenance[1]
    assert missing(profile) == {} and missing(learned)["x86"] == BASELINE


def test_a_profile_without_arches_gets_no_baseline() -> None:
    assert with_baseline(Profile({})) == (Profile({}), {})


def test_a_deny_rule_for_a_baseline_name_counts_as_missing() -> None:
    profile = Profile({"x86_64": baseline_for("x86_64")}, rules=(Rule(("rt_sigreturn",), Action.ERRNO),))
    assert missing(profile) == {"x86_64": ("rt_sigreturn",)}


def test_finish_denies_names_with_notes() -> None:
    learned = Profile({"x86_64": ("ptrace", "read")})
    done = finish(learned, deny=["ptrace", "bpf", "ptrace"])
    assert done.profile.allowed["x86_64"] == ("exit", "exit_group", "read", "restart_syscall", "rt_sigreturn")
    assert done.denied == ("ptrace",)
    assert any("--deny bpf: not in the profile" in n for n in done.notes)
    assert any(line.startswith("removed by --deny") and "ptrace" in line for line in done.profile.provenance)
    assert finish(learned, baseline=False).profile == learned


def test_finish_refuses_a_name_libseccomp_does_not_know() -> None:
    with pytest.raises(UsageError, match="no such syscall"):
        finish(Profile({"x86_64": ("read",)}), deny=["ptrace2"])


def test_cli_no_baseline_and_deny() -> None:
    from tests.unit.test_cli import KUBE, assert_one_line_error, learn

    done = learn("suggest", KUBE, "--no-baseline", "--deny", "accept4", "--deny", "ptrace")
    assert done.returncode == 0, done.stderr
    assert "accept4" not in done.stdout and "rt_sigreturn" not in done.stdout
    assert "note: --deny ptrace: not in the profile; nothing removed" in done.stderr
    assert "removed by --deny" in done.stderr and "baseline:" not in done.stderr
    assert_one_line_error(learn("suggest", KUBE, "--deny", "nosuchcall"), 2)
