"""Schedule time zones as users port them: IANA names, Windows names, and the Azure ML SDK's `TimeZone` members.

The SDK's `ScheduleRecurrence(time_zone=TimeZone.WEuropeStandardTime)` takes an enum whose values are
Windows zone names ("W. Europe Standard Time") and whose member names are those names without spaces and
punctuation (docs/services.md, "Schedules"). Windows names map to IANA zones through CLDR's
`windowsZones` table (its "001" territory row), as shipped and kept current by the `tzlocal` package;
slot maths then uses the IANA zone from the system or `tzdata`.
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache
from zoneinfo import available_timezones

from tzlocal.windows_tz import win_tz

from .validation import json_type

SDK_PREFIX = "TimeZone."
"""Accepted before a member name, as the name appears in ported code (`TimeZone.PacificStandardTime`)."""
RETIRED_WINDOWS_ZONES = frozenset({"Mid-Atlantic Standard Time", "Kamchatka Standard Time"})
"""In the SDK's enum, but retired by Windows and absent from CLDR's table: no maintained mapping exists."""
ZONE_FORMS = ("(an IANA name such as 'Europe/Berlin', a Windows name such as 'W. Europe Standard Time' or an Azure "
              "ML TimeZone member such as 'WEuropeStandardTime')")
MAX_GUESSED_LENGTH = 64
_NOT_ZONES = frozenset({"localtime", "Factory"})
_PUNCTUATION = re.compile(r"[^0-9A-Za-z]")


def member_name(windows_name: str) -> str:
    """SDK enum member of a Windows zone: "UTC-11" -> "UTC11", "W. Europe Standard Time" -> "WEuropeStandardTime"."""
    return _PUNCTUATION.sub("", windows_name)


@lru_cache(maxsize=1)
def _iana_zones() -> frozenset[str]:
    return frozenset(available_timezones()) - _NOT_ZONES


@lru_cache(maxsize=1)
def _aliases() -> dict[str, str]:
    """Every accepted non-IANA spelling -> its Windows name."""
    names = {*win_tz, *RETIRED_WINDOWS_ZONES}
    return {**{member_name(name): name for name in names}, **{name: name for name in names}}


def resolve_zone(value: str) -> str | None:
    """The IANA zone for an IANA name, Windows name or SDK member name; None when unknown or unmappable."""
    if value in _iana_zones():
        return value
    windows = _aliases().get(value.removeprefix(SDK_PREFIX))
    return win_tz.get(windows) if windows else None


def closest_names(value: str, count: int = 3) -> list[str]:
    """Accepted names nearest to `value` (case-insensitively; one spelling per zone), for "did you mean" hints."""
    candidates = {name.lower(): name for name in (*_iana_zones(), *_aliases()) if name not in RETIRED_WINDOWS_ZONES}
    wanted = value.removeprefix(SDK_PREFIX).lower()
    if wanted in candidates:
        return [candidates[wanted]]
    if len(wanted) > MAX_GUESSED_LENGTH:
        return []  # no zone name is that long, and comparing would cost time for nothing
    found: dict[str, str] = {}  # zone -> the nearest spelling of it
    for match in difflib.get_close_matches(wanted, candidates, n=count * 3, cutoff=0.6):
        found.setdefault(resolve_zone(candidates[match]) or match, candidates[match])
    return list(found.values())[:count]


def parse_time_zone(value: object, field: str, problems: list[str]) -> str:
    """Validate a zone (null means UTC) and return its IANA name, which always loads."""
    if value is None:
        return "UTC"
    if not isinstance(value, str):
        problems.append(f"{field} must be a time zone name such as 'Europe/Berlin' or 'W. Europe Standard Time' "
                        f"(got {json_type(value)})")
        return "UTC"
    zone = resolve_zone(value)
    if zone is not None:
        return zone
    windows = _aliases().get(value.removeprefix(SDK_PREFIX))
    if windows in RETIRED_WINDOWS_ZONES:
        problems.append(f"{field} {value!r} is the Windows zone {windows!r}, which Windows has retired and CLDR no "
                        "longer maps to an IANA zone: give the IANA zone you mean instead")
        return "UTC"
    suggestions = closest_names(value)
    hint = f"; did you mean {' or '.join(map(repr, suggestions))}?" if suggestions else ""
    shown = value if len(value) <= 60 else value[:57] + "..."
    problems.append(f"{field} {shown!r} is not a known time zone {ZONE_FORMS}{hint}")
    return "UTC"
