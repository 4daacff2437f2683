"""Where learn's own options end and the target program's argv begins.

`learn run`, `check` and `enforce` run a program, and everything from the program's name on
belongs to the program, with or without `--`, as for sudo, env, strace and unshare:
`learn run -o p.json curl -s -o page.html URL` must not take curl's `-o`. Pure string work,
so the splitting is tested without a parser; the option table comes from the command itself.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class OptionTable:
    takes_value: frozenset[str]  # "-o", "--output", ...
    flags: frozenset[str]  # "-q", "--quiet", "--help", ...


def split_program(
    args: Sequence[str],
    options: OptionTable,
    positionals_before: int = 0,
    program_first_after: Collection[str] = (),
) -> list[str]:
    """args with `--` inserted before the program, so that no option of it is taken as learn's.

    The program is the first positional argument after `positionals_before` others (check's
    and enforce's PROFILE), or the very first one once an option of `program_first_after` was
    seen (enforce --bpf FILE has no PROFILE). Unknown options are left for the parser to refuse.
    """
    out: list[str] = []
    seen: set[str] = set()
    positionals = 0
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            return list(args)
        if arg.startswith("-") and arg != "-":
            out.append(arg)
            i += 1
            for name, value_follows in _options_in(arg, options):
                seen.add(name)
                if value_follows and i < len(args):
                    out.append(args[i])
                    i += 1
            continue
        before = 0 if seen.intersection(program_first_after) else positionals_before
        if positionals >= before:
            return [*out, "--", *args[i:]]
        out.append(arg)
        positionals += 1
        i += 1
    return out


def _options_in(arg: str, options: OptionTable) -> list[tuple[str, bool]]:
    """(option name, whether its value is the next argument) for `--name[=v]` or a `-abc` cluster."""
    if arg.startswith("--"):
        name, has_value = arg.split("=", 1)[0], "=" in arg
        return [(name, name in options.takes_value and not has_value)]
    found = []
    for k, letter in enumerate(arg[1:], start=1):
        name = f"-{letter}"
        if name in options.takes_value:  # its value is the rest of the cluster, or the next argument
            found.append((name, k == len(arg) - 1))
            break
        found.append((name, False))
        if name not in options.flags:
            break  # unknown: the parser will say so
    return found
