"""The edges of `learn`'s command line: output files, argv of the program, exit codes, hints."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from learn.argv import OptionTable, split_program
from learn.cli import app, program_argv
from tests.conftest import CORPUS_LOGS, ROOT
from tests.unit.test_cli import KUBE, assert_one_line_error, learn

LS_LOG = ROOT / "sample-logs" / "auditd" / "ls-la.audit.log"
LOSSY = CORPUS_LOGS / "spectrum-config-imx8_README_console.log"
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mknod and chown need root")

# --- where the program's argv begins ---------------------------------------------------------

TABLE = OptionTable(
    takes_value=frozenset({"-o", "--output", "--profile", "--bpf", "--source"}),
    flags=frozenset({"-q", "--quiet", "--complain", "--help"}),
)


@pytest.mark.parametrize(
    ("args", "before", "expected"),
    [
        (["-o", "z.json", "ls", "--help"], 0, ["-o", "z.json", "--", "ls", "--help"]),
        (["-o", "z.json", "--", "ls", "--help"], 0, ["-o", "z.json", "--", "ls", "--help"]),
        (["-q", "curl", "-s", "-o", "page.html", "URL"], 0, ["-q", "--", "curl", "-s", "-o", "page.html", "URL"]),
        (["-qo", "p.json", "ls", "-q"], 0, ["-qo", "p.json", "--", "ls", "-q"]),
        (["-op.json", "ls"], 0, ["-op.json", "--", "ls"]),
        (["--output=p.json", "ls", "-o", "x"], 0, ["--output=p.json", "--", "ls", "-o", "x"]),
        (["p.json", "--complain", "ls", "-l"], 1, ["p.json", "--complain", "--", "ls", "-l"]),
        (["--complain", "p.json", "ls", "--complain"], 1, ["--complain", "p.json", "--", "ls", "--complain"]),
        (["--bpf", "x.bpf", "ls", "-l"], 1, ["--bpf", "x.bpf", "--", "ls", "-l"]),
        (["--help"], 0, ["--help"]),
        (["-o", "p.json"], 0, ["-o", "p.json"]),
        (["--nope", "ls"], 0, ["--nope", "--", "ls"]),
    ],
)
def test_the_program_starts_at_its_name(args: list[str], before: int, expected: list[str]) -> None:
    assert split_program(args, TABLE, before, program_first_after={"--bpf"}) == expected


def test_option_table_comes_from_the_commands() -> None:
    import typer

    group = typer.main.get_command(app)
    assert program_argv(group, ["run", "-o", "z.json", "ls", "--help"]) == ["run", "-o", "z.json", "--", "ls", "--help"]
    assert program_argv(group, ["run", "--save-log", "l", "-q", "id", "-u"]) == [
        "run", "--save-log", "l", "-q", "--", "id", "-u",
    ]  # fmt: skip
    assert program_argv(group, ["check", "p.json", "--complain", "ls", "-q"]) == [
        "check", "p.json", "--complain", "--", "ls", "-q",
    ]  # fmt: skip
    assert program_argv(group, ["enforce", "--bpf", "x.bpf", "ls", "-l"])[3:] == ["--", "ls", "-l"]
    assert program_argv(group, ["suggest", "-o", "x", "log", "--exe", "e"]) == [
        "suggest",
        "-o",
        "x",
        "log",
        "--exe",
        "e",
    ]


def test_run_without_dashes_does_not_take_the_programs_options(tmp_path: Path) -> None:
    """No kernel needed: the missing output directory is refused before anything starts, and the
    error names learn's own -o, not the program's."""
    result = learn("run", "-o", tmp_path / "missing" / "p.json", "touch", tmp_path / "started", "-o", "x")
    assert_one_line_error(result, 2)
    assert "missing" in result.stderr and not (tmp_path / "started").exists()


# --- output files -----------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["suggest", "merge"])
def test_output_directory_and_empty_path_are_one_line_exit_2(tmp_path: Path, command: str) -> None:
    source = LS_LOG if command == "suggest" else ROOT / "tests" / "golden"
    if command == "merge":
        profile = tmp_path / "a.json"
        profile.write_text(learn("suggest", LS_LOG).stdout)
        source = profile
    for output in (tmp_path, "", tmp_path / "no" / "such" / "p.json"):
        result = learn(command, source, "-o", output)
        assert_one_line_error(result, 2)
    assert "is a directory" in learn(command, source, "-o", tmp_path).stderr


def test_suggest_refuses_a_missing_directory_before_reading(tmp_path: Path) -> None:
    result = learn("suggest", "/no/such/log", "-o", tmp_path / "missing" / "p.json")
    assert_one_line_error(result, 2)
    assert "directory" in result.stderr and "/no/such/log" not in result.stderr


def test_fifo_is_written_through(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    result = learn("suggest", "-q", LS_LOG, "-o", fifo)
    reader.join(timeout=30)
    assert result.returncode == 0, result.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert json.loads(got[0])["defaultAction"] == "SCMP_ACT_ERRNO"


@needs_root
def test_character_device_is_written_through_not_replaced(tmp_path: Path) -> None:
    null = tmp_path / "null"
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # a second /dev/null, ours to test on
    before = os.lstat(null)
    result = learn("suggest", "-q", LS_LOG, "-o", null)
    assert result.returncode == 0, result.stderr
    after = os.lstat(null)
    assert stat.S_ISCHR(after.st_mode) and (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null"]


def test_socket_is_connected_to(tmp_path: Path) -> None:
    path = tmp_path / "sock"
    got: list[bytes] = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        server.listen(1)

        def serve() -> None:
            conn, _ = server.accept()
            with conn:
                got.append(b"".join(iter(lambda: conn.recv(65536), b"")))

        thread = threading.Thread(target=serve)
        thread.start()
        result = learn("suggest", "-q", LS_LOG, "-o", path)
        thread.join(timeout=30)
    assert result.returncode == 0, result.stderr
    assert json.loads(got[0])["architectures"] == ["SCMP_ARCH_X86_64"]


def test_dev_stdout_writes_to_the_descriptor() -> None:
    result = learn("suggest", "-q", LS_LOG, "-o", "/dev/stdout")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["defaultAction"] == "SCMP_ACT_ERRNO"


def test_symlink_target_is_replaced_and_the_link_kept(tmp_path: Path) -> None:
    (tmp_path / "real.json").write_text("old\n")
    (tmp_path / "real.json").chmod(0o640)
    (tmp_path / "link.json").symlink_to("real.json")
    assert learn("suggest", "-q", LS_LOG, "-o", tmp_path / "link.json").returncode == 0
    assert (tmp_path / "link.json").is_symlink()
    assert json.loads((tmp_path / "real.json").read_text())["defaultErrnoRet"] == 1
    assert stat.S_IMODE((tmp_path / "real.json").stat().st_mode) == 0o640  # the file's mode is kept


@needs_root
def test_symlink_planted_in_a_sticky_directory_is_refused(tmp_path: Path) -> None:
    public = tmp_path / "public"
    public.mkdir()
    public.chmod(0o1777)
    link = public / "p.json"
    link.symlink_to(tmp_path / "victim")
    os.lchown(link, 65534, 65534)  # nobody's link, as if nobody planted it
    result = learn("suggest", "-q", LS_LOG, "-o", link)
    assert_one_line_error(result, 2)
    assert not (tmp_path / "victim").exists()


def test_a_profile_that_cannot_be_written_is_kept(tmp_path: Path) -> None:
    """/dev/full fails every write with ENOSPC: the profile goes to the state directory instead."""
    state = tmp_path / "state"
    env = {**os.environ, "XDG_STATE_HOME": str(state)}
    result = subprocess.run(
        [sys.executable, "-m", "learn", "suggest", "-q", str(LS_LOG), "-o", "/dev/full"],
        capture_output=True, text=True, env=env, cwd=ROOT, check=False,
    )  # fmt: skip
    assert_one_line_error(result, 2)
    (kept,) = (state / "learn").iterdir()
    assert str(kept) in result.stderr and "No space left" in result.stderr
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert json.loads(kept.read_text())["defaultAction"] == "SCMP_ACT_ERRNO"


def test_a_profile_that_stdout_cannot_take_is_kept(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "learn", "suggest", "-q", str(LS_LOG)], stdout=full, stderr=subprocess.PIPE,
            text=True, env={**os.environ, "XDG_STATE_HOME": str(state)}, cwd=ROOT, check=False,
        )  # fmt: skip
    assert_one_line_error(result, 2)
    (kept,) = (state / "learn").iterdir()
    assert "standard output" in result.stderr and str(kept) in result.stderr
    assert json.loads(kept.read_text())["defaultAction"] == "SCMP_ACT_ERRNO"


# --- one line, never a traceback --------------------------------------------------------------


def test_eio_is_one_line() -> None:
    for command in ("suggest", "events"):
        result = learn(command, "/proc/self/mem")
        assert_one_line_error(result, 2)
        assert "Input/output error" in result.stderr


def test_memory_error_and_bugs_are_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from learn import cli
    from learn.cli import logs  # suggest's module: learn_from_logs is looked up there

    def exhausted(*_args: object, **_kwargs: object) -> None:
        raise MemoryError

    monkeypatch.setattr(logs, "learn_from_logs", exhausted)
    monkeypatch.setattr(sys, "argv", ["learn", "suggest", str(LS_LOG)])
    with pytest.raises(SystemExit) as stop:
        cli.main()
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip() == (
        "learn: error: out of memory (hint: the input may be hostile, or the memory limit too low)"
    )

    def buggy(*_args: object, **_kwargs: object) -> None:
        raise KeyError("x")

    monkeypatch.setattr(logs, "learn_from_logs", buggy)
    monkeypatch.delenv("LEARN_DEBUG", raising=False)
    with pytest.raises(SystemExit) as stop:
        cli.main()
    assert stop.value.code == cli.EXIT_INTERNAL
    assert capsys.readouterr().err.startswith("learn: error: internal error: KeyError")


# --- version and help -------------------------------------------------------------------------


def test_version_names_learn_and_libseccomp() -> None:
    from learn import __version__

    for args in (["--version"], ["version"]):
        result = learn(*args)
        assert result.returncode == 0
        assert result.stdout.startswith(f"learn {__version__} (libseccomp 2.")


@pytest.mark.parametrize(
    "command", ["suggest", "run", "check", "enforce", "events", "merge", "compile", "show", "diff"]
)
def test_help_has_no_type_tags_and_an_example(command: str) -> None:
    result = learn(command, "--help")
    assert result.returncode == 0, result.stderr
    assert "<" not in result.stdout and "{" not in result.stdout, result.stdout  # <bool>, <list[str]>, {profile}
    assert "Example: " in result.stdout and f"learn {command}" in " ".join(result.stdout.split())


# --- exit codes and hints ---------------------------------------------------------------------


def test_diff_follows_diff1(tmp_path: Path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(learn("suggest", LS_LOG).stdout)
    b.write_text(a.read_text().replace('"write"', '"sysinfo", "write"'))
    assert learn("diff", a, a).returncode == 0
    changed = learn("diff", a, b)
    assert changed.returncode == 1 and "+x86_64 sysinfo" in changed.stdout
    assert_one_line_error(learn("diff", a, tmp_path / "missing.json"), 2)


def test_selection_that_matches_nothing_says_so() -> None:
    result = learn("suggest", KUBE, "--exe", "/usr/bin/nothing")
    assert_one_line_error(result, 1)
    assert "none of the 8 seccomp records" in result.stderr and "/http-echo (8)" in result.stderr
    assert "auditd running" not in result.stderr
    late = learn("suggest", KUBE, "--since", "2030-01-01")
    assert_one_line_error(late, 1)
    assert "they span 2020-07-06" in late.stderr


def test_since_after_until_is_a_usage_error() -> None:
    result = learn("suggest", KUBE, "--since", "2025-02-01", "--until", "2025-01-01")
    assert_one_line_error(result, 2)
    assert "after --until" in result.stderr


def test_quiet_still_says_records_were_lost(tmp_path: Path) -> None:
    result = learn("suggest", "-q", LOSSY, "-o", tmp_path / "p.json")
    assert result.returncode == 4
    assert "records lost" in result.stderr and "INCOMPLETE" in result.stderr


def test_oci_profile_marks_loss_in_a_key_runtimes_ignore(tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    assert learn("suggest", "--allow-loss", LOSSY, "-o", out).returncode == 0
    spec = json.loads(out.read_text())
    assert spec["x-learn-incomplete"].startswith("records were lost")
    from learn.formats import read_profile

    assert read_profile(str(out)).incomplete


def test_by_exe_gives_one_block_per_executable(tmp_path: Path) -> None:
    merged = tmp_path / "both.log"
    merged.write_text(KUBE.read_text() + LS_LOG.read_text())
    result = learn("suggest", merged, "--by-exe", "--action", "all")
    assert result.returncode == 0, result.stderr
    blocks = [line for line in result.stderr.splitlines() if not line.startswith((" ", "learn:", "profile"))]
    assert any(line.startswith("/http-echo: 8 calls") for line in blocks), result.stderr
    assert any(line.startswith("/usr/bin/ls: ") for line in blocks), result.stderr
    assert "  x86_64 (6): accept4 futex getsockname pselect6 read setsockopt" in result.stderr


def test_kernel_error_hint_names_a_readme_section_that_exists() -> None:
    import re

    from learn.errors import KernelError

    (section,) = re.findall(r"'([^']+)'", KernelError.hint)
    assert f"\n## {section}\n" in (ROOT / "README.md").read_text()


@pytest.mark.parametrize(
    "args",
    [["check", "p.json"], ["suggest", "--nope", "x"], ["suggest", LS_LOG, "-f", "nope"], ["nosuchcommand"]],
)
def test_usage_errors_are_one_line(args: list[str]) -> None:
    result = learn(*args)
    assert_one_line_error(result, 2)
    assert len(result.stderr.splitlines()) == 1, result.stderr


def test_events_into_a_closed_pipe_exits_0_quietly() -> None:
    log = ROOT / "sample-logs" / "auditd" / "ls-la.enriched.audit.log"  # more than a pipe holds
    reader = subprocess.Popen(["head", "-c", "10"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    assert reader.stdin is not None
    writer = subprocess.run(
        [sys.executable, "-m", "learn", "events", str(log)], stdout=reader.stdin, stderr=subprocess.PIPE,
        text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    reader.stdin.close()
    reader.wait()
    assert (writer.returncode, writer.stderr) == (0, "")


def test_records_all_refused_get_a_hint_about_the_refusal_not_auditd(tmp_path: Path) -> None:
    forged = tmp_path / "forged.syslog"
    forged.write_text(
        'Dec  2 09:56:05 host audit[1234]: SECCOMP auid=0 uid=0 gid=0 ses=1 subj=unconfined pid=1 comm="x" '
        'exe="/x" sig=0 arch=c000003e syscall=101 compat=0 ip=0x1 code=0x7ffc0000\n'
    )
    result = learn("suggest", "--strict-origin", forged)
    assert_one_line_error(result, 1)
    assert "were refused (1 untrusted" in result.stderr and "auditd running" not in result.stderr
