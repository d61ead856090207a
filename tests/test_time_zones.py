"""Porting a schedule's time zone: IANA names, Windows names and Azure ML SDK `TimeZone` members all resolve.

The SDK members below are copied from `azureml.pipeline.core.schedule.TimeZone` (azureml-pipeline-core 1.62.0):
member name, its value (the Windows name), and the IANA zone CLDR's windowsZones maps it to.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from tzlocal.windows_tz import win_tz

from shared.time_zones import ZONE_FORMS, member_name, parse_time_zone, resolve_zone

SDK_MEMBERS = [
    ("WEuropeStandardTime", "W. Europe Standard Time", "Europe/Berlin"),
    ("PacificStandardTime", "Pacific Standard Time", "America/Los_Angeles"),
    ("UTC11", "UTC-11", "Etc/GMT+11"),
    ("UTC12", "UTC+12", "Etc/GMT-12"),
    ("PacificStandardTimeMexico", "Pacific Standard Time (Mexico)", "America/Tijuana"),
    ("ESouthAmericaStandardTime", "E. South America Standard Time", "America/Sao_Paulo"),
    ("AusCentralWStandardTime", "Aus Central W. Standard Time", "Australia/Eucla"),
    ("IndiaStandardTime", "India Standard Time", "Asia/Calcutta"),
    ("TurksAndCaicosStandardTime", "Turks And Caicos Standard Time", "America/Grand_Turk"),
]


def resolved(value: object) -> tuple[str, list[str]]:
    problems: list[str] = []
    return parse_time_zone(value, "recurrence.time_zone", problems), problems


@pytest.mark.parametrize(("member", "windows", "iana"), SDK_MEMBERS, ids=[m[0] for m in SDK_MEMBERS])
def test_sdk_members_and_windows_names_map_to_iana(member: str, windows: str, iana: str) -> None:
    assert member_name(windows) == member
    for spelling in (member, f"TimeZone.{member}", windows):
        assert resolved(spelling) == (iana, []), spelling


def test_iana_names_pass_through_and_null_is_utc() -> None:
    assert resolved("Europe/Berlin") == ("Europe/Berlin", [])
    assert resolved(None) == ("UTC", [])


def test_every_windows_zone_in_the_mapping_resolves_to_a_loadable_zone() -> None:
    for windows in win_tz:
        zone = resolve_zone(windows)
        assert zone is not None and ZoneInfo(zone).key == zone, windows
        assert resolve_zone(member_name(windows)) == zone, windows


@pytest.mark.parametrize("retired", ["Mid-Atlantic Standard Time", "MidAtlanticStandardTime", "KamchatkaStandardTime"])
def test_retired_windows_zones_in_the_sdk_enum_say_why_they_have_no_mapping(retired: str) -> None:
    zone, [problem] = resolved(retired)
    assert zone == "UTC"
    assert problem.startswith(f"recurrence.time_zone {retired!r} is the Windows zone ")
    assert "which Windows has retired and CLDR no longer maps to an IANA zone: give the IANA zone" in problem


@pytest.mark.parametrize(("given", "suggested"), [
    ("europe/berlin", "'Europe/Berlin'?"),
    ("WEuropeStandardTme", "'WEuropeStandardTime'"),
    ("Pacific Standard", "'Pacific Standard Time'"),
    ("America/Los_Angles", "'America/Los_Angeles'"),
])
def test_an_unknown_zone_suggests_the_closest_names(given: str, suggested: str) -> None:
    zone, [problem] = resolved(given)
    assert zone == "UTC"
    assert problem.startswith(f"recurrence.time_zone {given!r} is not a known time zone {ZONE_FORMS}; did you mean ")
    assert suggested in problem


def test_a_zone_that_resembles_nothing_gets_no_guess() -> None:
    _, [problem] = resolved("Mars/Olympus_Mons_Base")
    assert problem == f"recurrence.time_zone 'Mars/Olympus_Mons_Base' is not a known time zone {ZONE_FORMS}"


def test_a_huge_zone_value_is_refused_without_guessing() -> None:
    _, [problem] = resolved("Europe/" + "x" * 100_000)
    assert problem.endswith(f"is not a known time zone {ZONE_FORMS}")
