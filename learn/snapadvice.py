"""Which snapd interfaces allow the calls a devmode snap made: the devmode-to-strict loop.

In devmode, snapd's filter logs exactly the calls strict confinement would deny, so a devmode
snap's records are what its developer must resolve: by plugging an interface whose seccomp
rules allow the call, or by changing the code when no interface does, or when snapd's base
template denies the call outright (its `~` rules, e.g. `ioctl` TIOCSTI).

The knowledge is snapd's own, at a pinned commit (learn/data/snapd_interfaces.json, made by
scripts/extract-snapd-interfaces): the base template and each interface's plug and slot
snippets, read with learn's snap-seccomp reader and matched with Profile.decide, arguments
included when the records have them (`--args`, from SYSCALL records).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from learn.formats import snapd
from learn.formats.common import HostContext
from learn.model import Action
from learn.profile import Profile, Rule

DATA = "snapd_interfaces.json"


@dataclass(frozen=True)
class Interface:
    name: str
    auto_connect: bool  # its base declaration does not deny auto-connection
    store_only: bool  # its plugs' base declaration denies installation: a store assertion must allow it
    plug: tuple[str, ...]  # snap-seccomp rule lines a connected plug adds
    slot: tuple[str, ...]  # ... and a slot (permanent or connected)
    attributes: tuple[tuple[str, tuple[str, ...]], ...] = ()  # a plug attribute, the rules it adds when true

    @property
    def unrestricted(self) -> bool:
        return "@unrestricted" in self.plug


@dataclass(frozen=True)
class Knowledge:
    template: tuple[str, ...]
    interfaces: tuple[Interface, ...]
    commit: str
    repository: str


@cache
def knowledge() -> Knowledge:
    data: dict[str, Any] = json.loads(resources.files("learn.data").joinpath(DATA).read_text())
    ifaces = tuple(
        Interface(
            name,
            bool(v["auto_connect"]),
            bool(v.get("store_only", False)),
            tuple(v["plug"]),
            tuple(v["slot"]),
            tuple((attr, tuple(lines)) for attr, lines in sorted(v.get("plug_attributes", {}).items())),
        )
        for name, v in sorted(data["interfaces"].items())
    )
    prov = data["provenance"]
    return Knowledge(tuple(data["template"]), ifaces, prov["commit"], prov["repository"])


@cache
def _profile(lines: tuple[str, ...], arch: str) -> Profile:
    return snapd.read("\n".join(lines), "snapd", HostContext(arch)).profile


@dataclass(frozen=True)
class Call:
    """One syscall the snap made (per arch), and what the records say of its arguments."""

    arch: str
    name: str
    count: int
    exes: tuple[str, ...] = ()
    args: tuple[tuple[int, ...], ...] = ()  # argument values seen (a0..); empty when unknown


@dataclass
class Advice:
    call: Call
    denied_by_template: list[str] = field(default_factory=list)  # the `~` rules that match
    template_allows: bool = False  # the template alone allows it (then the record is no seccomp denial)
    plugs: list[tuple[Interface, str]] = field(default_factory=list)  # (interface, "" or the rule it needs)
    slots: list[tuple[Interface, str]] = field(default_factory=list)

    @property
    def resolved_by(self) -> list[str]:
        return [iface.name for iface, _ in self.plugs]


def _rule_lines(lines: Sequence[str], name: str, deny: bool) -> list[str]:
    prefix = ("~" if deny else "") + name
    return [line for line in lines if line == prefix or line.startswith(prefix + " ")]


def _allows(lines: tuple[str, ...], call: Call) -> str | None:
    """ "" if these rules allow every call seen, the conditional rule lines if only some
    arguments would be, None if they allow no such call."""
    profile = _profile(lines, call.arch)
    if call.args:
        verdicts = [profile.decide(call.arch, call.name, args) for args in call.args]
        return "" if all(v.action is Action.ALLOW for v in verdicts) else None
    if call.name in profile.allowed.get(call.arch, ()):
        return ""
    conditional = [r for r in profile.rules_for(call.arch, call.name) if r.action is Action.ALLOW]
    return "; ".join(_rule_lines(lines, call.name, deny=False)) if conditional else None


def _template_denials(lines: tuple[str, ...], call: Call) -> list[str]:
    profile = _profile(lines, call.arch)
    denials: list[Rule] = [r for r in profile.rules_for(call.arch, call.name) if r.action is Action.ERRNO]
    if not denials:
        return []
    written = _rule_lines(lines, call.name, deny=True)
    if call.args:
        if not any(r.matches(args) for r in denials for args in call.args):
            return []
        matching = [w for w in written if any(_denies(w, call.arch, call.name, args) for args in call.args)]
        return matching or written
    return written


def _denies(line: str, arch: str, name: str, args: tuple[int, ...]) -> bool:
    verdict = _profile((line,), arch).decide(arch, name, args)
    return verdict.action is Action.ERRNO and verdict.errno == snapd.EACCES


def _rank(call: Call, iface: Interface, rule: str) -> tuple[bool, bool, bool, int, bool, int, str]:
    """Interfaces any snap may plug before those a store assertion must allow; those that
    connect automatically first; general ones before those of one service (which have slot
    rules: fwupd, bluez, x11); one named for the call (`mount`: mount-control, then cifs-mount;
    `bind`: network-bind); one allowing every argument seen; the fewest rules."""
    words = iface.name.split("-")
    named = 0 if words[0] == call.name else 1 if call.name in words else 2
    return (iface.store_only, not iface.auto_connect, bool(iface.slot), named, rule != "", len(iface.plug), iface.name)


def advise(calls: Iterable[Call], known: Knowledge | None = None) -> list[Advice]:
    """Per call: the base template's verdict, then the interfaces whose rules allow it,
    those that connect automatically first."""
    known = known or knowledge()
    out = []
    for call in calls:
        advice = Advice(call)
        advice.denied_by_template = _template_denials(known.template, call)
        advice.template_allows = not advice.denied_by_template and _allows(known.template, call) == ""
        if not advice.denied_by_template and not advice.template_allows:
            for iface in known.interfaces:
                if iface.unrestricted:
                    continue  # lxd-support, steam-support: everything; never the advice for one call
                plug = _allows(iface.plug, call) if iface.plug else None
                for attribute, extra in iface.attributes if plug is None else ():
                    with_it = _allows(iface.plug + extra, call)
                    if with_it is not None:
                        plug = "; ".join(filter(None, (f"with plug attribute {attribute}: true", with_it)))
                        break
                if plug is not None:
                    advice.plugs.append((iface, plug))
                slot = _allows(iface.slot, call) if iface.slot else None
                if slot is not None:
                    advice.slots.append((iface, slot))
            advice.plugs.sort(key=lambda p: _rank(call, *p))
            advice.slots.sort(key=lambda p: (p[1] != "", p[0].name))
        out.append(advice)
    return out


def chosen_plugs(advice: list[Advice]) -> dict[str, list[str]]:
    """One interface per call that an interface any snap may plug allows for every argument seen:
    its first (as advise() ranks them), unless it can take one the snap needs anyway (the first
    of a call that no interface connecting automatically allows): interface -> calls."""
    ranked = {a.call.name: whole for a in advice if (whole := [i for i, r in a.plugs if r == "" and not i.store_only])}
    needed = {ifaces[0].name for ifaces in ranked.values() if not any(i.auto_connect for i in ifaces)}
    chosen: dict[str, list[str]] = {}
    for name, ifaces in ranked.items():
        pick = next((i for i in ifaces if i.name in needed), ifaces[0])
        chosen.setdefault(pick.name, []).append(name)
    return {name: sorted(calls) for name, calls in sorted(chosen.items())}
