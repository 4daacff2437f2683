"""Audit stamps: `seconds.millis:serial`, or `ausearch -i`'s local time, read in a named zone.

`ausearch -i` prints the stamp in the local time of the machine that ran it, without the
zone. Reading it with the analysing machine's process TZ (time.mktime) would make the
result depend on where it is read; the zone is explicit here (zoneinfo), by default the
reader's own, and the caller says which it took.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, tzinfo
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from learn.model import ProblemKind
from parsers.values import BadRecord

_RAW_STAMP = re.compile(r"(\d+)\.(\d+):(\d+)", re.ASCII)
# `ausearch -i` prints local time as strftime("%x %T"): the date in the locale's form.
_INTERPRETED_STAMP = re.compile(r"(.{6,24}?) (\d\d):(\d\d):(\d\d)\.(\d+):(\d+)", re.ASCII)
# %x: C and en_US 03/04/25, 03/04/2025 (month first; day first, as en_GB, when the first is
# over 12); de_DE, ru_RU 04.03.2025; ISO and sv_SE 2025-03-04; ja_JP and zh_CN 2025年03月04日.
_SLASHED = re.compile(r"(\d\d)/(\d\d)/(\d\d|\d{4})", re.ASCII)
_DOTTED = re.compile(r"(\d\d)\.(\d\d)\.(\d\d|\d{4})", re.ASCII)
_YEAR_FIRST = re.compile(r"(\d{4})(?:-|/|年)(\d\d)(?:-|/|月)(\d\d)日?", re.ASCII)
_ELIDED_STAMP = "..."
_LOCALTIME = "/etc/localtime"


class Zone(NamedTuple):
    zone: tzinfo
    name: str


def named_zone(name: str) -> Zone:
    """A zoneinfo zone by its name (Europe/Berlin, UTC); ValueError if there is none."""
    try:
        return Zone(ZoneInfo(name), name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ValueError(f"{name!r} is no time zone name") from e


def local_zone() -> Zone:
    """The reader's zone as the C library takes it: $TZ, else /etc/localtime, else UTC."""
    tz = os.environ.get("TZ")
    if tz is not None:
        key = tz.removeprefix(":")
        try:
            return named_zone(key or "UTC")
        except ValueError:
            if os.path.isabs(key) and os.path.isfile(key):
                return _from_file(key, key)
            return Zone(UTC, f"UTC (TZ={tz} is no zone name)")
    if os.path.isfile(_LOCALTIME):
        target = os.path.realpath(_LOCALTIME)
        name = target.split("/zoneinfo/", 1)[1] if "/zoneinfo/" in target else _LOCALTIME
        return _from_file(_LOCALTIME, name)
    return Zone(UTC, "UTC")


def _from_file(path: str, name: str) -> Zone:
    with open(path, "rb") as f:
        return Zone(ZoneInfo.from_file(f, key=name), name)


def _local_date(text: str) -> tuple[int, int, int] | None:
    """(year, month, day) of a date as `ausearch -i` prints it in some locale's %x."""
    m = _SLASHED.fullmatch(text)
    if m:
        first, second, year = (int(g) for g in m.groups())
        month, day = (second, first) if first > 12 else (first, second)
    else:
        m = _DOTTED.fullmatch(text)
        if m:
            day, month, year = (int(g) for g in m.groups())
        else:
            m = _YEAR_FIRST.fullmatch(text)
            if m is None:
                return None
            year, month, day = (int(g) for g in m.groups())
    return (year + 2000 if year < 100 else year), month, day


def parse_stamp(stamp: str, zone: tzinfo | None = None) -> tuple[str | None, float | None]:
    """(serial text "seconds.millis:serial", epoch seconds) from the inside of audit(...).

    zone is the zone `ausearch -i` stamps were printed in (None: the reader's)."""
    m = _RAW_STAMP.fullmatch(stamp)
    if m:
        return stamp, float(f"{m.group(1)}.{m.group(2)}")
    m = _INTERPRETED_STAMP.fullmatch(stamp)
    date = _local_date(m.group(1)) if m else None
    if m and date is not None:
        _, hour, minute, second, millis, serial = m.groups()
        year, month, day = date
        try:
            local = datetime(year, month, day, int(hour), int(minute), int(second))
        except ValueError:
            raise BadRecord(ProblemKind.MALFORMED, f"audit stamp {stamp!r} is no date") from None
        # In the hour a clock change repeats, the earlier reading (fold=0) is taken.
        seconds = int(local.replace(tzinfo=zone or local_zone().zone).timestamp())
        return f"{seconds}.{millis}:{serial}", float(f"{seconds}.{millis}")
    if stamp == _ELIDED_STAMP:
        return None, None
    raise BadRecord(ProblemKind.MALFORMED, f"audit stamp {stamp!r} is not seconds.millis:serial")
