"""Time zone names as shop exports write them, read as IANA zones.

Square, Shopify and other Rails-built tools name a zone the way Rails' ActiveSupport does
('Pacific Time (US & Canada)', 'London', 'Beijing'), and Windows-built ones ('W. Europe
Standard Time'). Every engine's zone database knows only IANA names ('America/Los_Angeles'),
so a shop's own zone is read through this table before it reaches one.
"""

from __future__ import annotations

import re
from functools import lru_cache

# names that are not the last part of the IANA zone they mean (a city name that is, such as
# 'London' or 'Kuala Lumpur', is found in the zone database itself); link names that every
# engine's database knows (Europe/Kiev rather than the newer Europe/Kyiv)
ALIASES = {
    # Rails (ActiveSupport::TimeZone)
    "International Date Line West": "Etc/GMT+12",
    "Midway Island": "Pacific/Midway",
    "American Samoa": "Pacific/Pago_Pago",
    "Hawaii": "Pacific/Honolulu",
    "Alaska": "America/Juneau",
    "Pacific Time (US & Canada)": "America/Los_Angeles",
    "Mountain Time (US & Canada)": "America/Denver",
    "Central Time (US & Canada)": "America/Chicago",
    "Eastern Time (US & Canada)": "America/New_York",
    "Arizona": "America/Phoenix",
    "Indiana (East)": "America/Indiana/Indianapolis",
    "Saskatchewan": "America/Regina",
    "Guadalajara": "America/Mexico_City",
    "Central America": "America/Guatemala",
    "Quito": "America/Guayaquil",
    "Atlantic Time (Canada)": "America/Halifax",
    "Newfoundland": "America/St_Johns",
    "Brasilia": "America/Sao_Paulo",
    "Georgetown": "America/Guyana",
    "Greenland": "America/Godthab",
    "Mid-Atlantic": "Atlantic/South_Georgia",
    "Cape Verde Is.": "Atlantic/Cape_Verde",
    "Edinburgh": "Europe/London",
    "West Central Africa": "Africa/Algiers",
    "Bern": "Europe/Zurich",
    "Kyiv": "Europe/Kiev",
    "Pretoria": "Africa/Johannesburg",
    "St. Petersburg": "Europe/Moscow",
    "Abu Dhabi": "Asia/Dubai",
    "Ekaterinburg": "Asia/Yekaterinburg",
    "Islamabad": "Asia/Karachi",
    "Chennai": "Asia/Kolkata",
    "Mumbai": "Asia/Kolkata",
    "New Delhi": "Asia/Kolkata",
    "Sri Jayawardenepura": "Asia/Colombo",
    "Astana": "Asia/Almaty",
    "Hanoi": "Asia/Ho_Chi_Minh",
    "Beijing": "Asia/Shanghai",
    "Osaka": "Asia/Tokyo",
    "Sapporo": "Asia/Tokyo",
    "Canberra": "Australia/Sydney",
    "Wellington": "Pacific/Auckland",
    "Solomon Is.": "Pacific/Guadalcanal",
    "New Caledonia": "Pacific/Noumea",
    "Marshall Is.": "Pacific/Majuro",
    "Nuku'alofa": "Pacific/Tongatapu",
    "Tokelau Is.": "Pacific/Fakaofo",
    "Chatham Is.": "Pacific/Chatham",
    "Samoa": "Pacific/Apia",
    # Windows
    "Hawaiian Standard Time": "Pacific/Honolulu",
    "Alaskan Standard Time": "America/Anchorage",
    "Pacific Standard Time": "America/Los_Angeles",
    "US Mountain Standard Time": "America/Phoenix",
    "Mountain Standard Time": "America/Denver",
    "Central Standard Time": "America/Chicago",
    "Eastern Standard Time": "America/New_York",
    "Atlantic Standard Time": "America/Halifax",
    "E. South America Standard Time": "America/Sao_Paulo",
    "GMT Standard Time": "Europe/London",
    "W. Europe Standard Time": "Europe/Berlin",
    "Romance Standard Time": "Europe/Paris",
    "Central Europe Standard Time": "Europe/Budapest",
    "Central European Standard Time": "Europe/Warsaw",
    "E. Europe Standard Time": "Europe/Chisinau",
    "FLE Standard Time": "Europe/Kiev",
    "GTB Standard Time": "Europe/Bucharest",
    "Russian Standard Time": "Europe/Moscow",
    "India Standard Time": "Asia/Kolkata",
    "China Standard Time": "Asia/Shanghai",
    "Tokyo Standard Time": "Asia/Tokyo",
    "Korea Standard Time": "Asia/Seoul",
    "Singapore Standard Time": "Asia/Singapore",
    "AUS Eastern Standard Time": "Australia/Sydney",
    "E. Australia Standard Time": "Australia/Brisbane",
    "W. Australia Standard Time": "Australia/Perth",
    "New Zealand Standard Time": "Pacific/Auckland",
}
# abbreviations a time is labelled with ('PST' in winter, 'PDT' in summer, as PayPal writes them),
# each an exact offset in seconds, and the zone whose clock it belongs to. Those that are IANA
# names of their own (EST, MST, HST, CET, EET, WET) are read as such; IST, which means India,
# Ireland or Israel, is not read at all
ABBREVIATIONS = {
    "PST": (-8 * 3600, "America/Los_Angeles"), "PDT": (-7 * 3600, "America/Los_Angeles"),
    "MDT": (-6 * 3600, "America/Denver"),
    "CST": (-6 * 3600, "America/Chicago"), "CDT": (-5 * 3600, "America/Chicago"),
    "EDT": (-4 * 3600, "America/New_York"),
    "AKST": (-9 * 3600, "America/Anchorage"), "AKDT": (-8 * 3600, "America/Anchorage"),
    "AST": (-4 * 3600, "America/Halifax"), "ADT": (-3 * 3600, "America/Halifax"),
    "NST": (-12600, "America/St_Johns"), "NDT": (-9000, "America/St_Johns"),
    "BST": (3600, "Europe/London"), "WEST": (3600, "Europe/Lisbon"),
    "CEST": (2 * 3600, "Europe/Berlin"), "EEST": (3 * 3600, "Europe/Helsinki"),
    "MSK": (3 * 3600, "Europe/Moscow"), "SAST": (2 * 3600, "Africa/Johannesburg"),
    "SGT": (8 * 3600, "Asia/Singapore"), "HKT": (8 * 3600, "Asia/Hong_Kong"),
    "JST": (9 * 3600, "Asia/Tokyo"), "KST": (9 * 3600, "Asia/Seoul"),
    "AWST": (8 * 3600, "Australia/Perth"), "ACST": (34200, "Australia/Adelaide"),
    "ACDT": (37800, "Australia/Adelaide"), "AEST": (10 * 3600, "Australia/Sydney"),
    "AEDT": (11 * 3600, "Australia/Sydney"), "NZST": (12 * 3600, "Pacific/Auckland"),
    "NZDT": (13 * 3600, "Pacific/Auckland"),
}
# an abbreviation written after a time ('2024-01-05 10:00:00 PST') is that exact offset; here EST,
# MST, HST, CET, EET and WET too, which as settings are IANA zones of their own
SUFFIX_OFFSETS = {**{name: offset for name, (offset, _) in ABBREVIATIONS.items()},
                  "EST": -5 * 3600, "MST": -7 * 3600, "HST": -10 * 3600, "CET": 3600, "EET": 2 * 3600,
                  "WET": 0}
AREAS = ("Africa", "America", "Antarctica", "Asia", "Atlantic", "Australia", "Europe", "Indian",
         "Pacific")
_BY_NAME = {name.lower(): zone for name, zone in ALIASES.items()}
# Windows writes a zone as '(UTC-08:00) Pacific Time (US & Canada)'
OFFSET_PREFIX = re.compile(r"^\((utc|gmt)\s*([+-]\d{1,2}:\d{2})?\)\s*", re.I)


def fixed_offset(text: str) -> int | None:
    """Seconds east of UTC for 'UTC', 'Z', 'GMT', '+02:00', '-0530'; None when not a zone."""
    text = text.strip()
    if text in ("", "UTC", "GMT", "Z"):
        return 0
    m = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", text)
    if not m:
        return None
    seconds = int(m.group(2)) * 3600 + int(m.group(3)) * 60
    return seconds if m.group(1) == "+" else -seconds


def zone_of(name: str) -> int | str | None:
    """What a zone as written means, for source.timezone, features.timezone and a time-zone
    column alike: seconds east of UTC for an offset or an abbreviation ('+02:00', 'PST' is
    -08:00 whatever the date), the IANA zone of any other name (see iana_zone; 'EST' and 'CET'
    are IANA zones of their own), or None when it names no zone."""
    import zoneinfo

    offset = fixed_offset(name)
    if offset is None:
        offset = abbreviation_offset(name)
    if offset is not None:
        return offset
    named = iana_zone(name)
    if named is not None:
        return named
    try:
        zoneinfo.ZoneInfo(str(name).strip())
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None
    return str(name).strip()


@lru_cache(maxsize=1)
def _by_city() -> dict[str, str]:
    """The IANA zones by their last part ('london' -> Europe/London), one zone per city."""
    import zoneinfo

    found: dict[str, str] = {}
    for zone in sorted(zoneinfo.available_timezones(), key=lambda z: (len(z), z)):
        if zone.split("/")[0] in AREAS:
            found.setdefault(zone.rsplit("/", 1)[-1].replace("_", " ").lower(), zone)
    return found


@lru_cache(maxsize=512)
def iana_zone(name: str) -> str | None:
    """The IANA zone a shop's zone name means: an IANA name itself, a Rails or Windows name,
    or a city with its own zone ('London'); None when it names none of these."""
    import zoneinfo

    text = str(name).strip()
    if not text:
        return None
    if "/" in text or text.upper() in ("UTC", "GMT"):
        try:
            zoneinfo.ZoneInfo(text)
            return text
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return None
    key = OFFSET_PREFIX.sub("", text).strip().lower()
    if key in ("utc", "gmt", "coordinated universal time"):
        return "UTC"
    return _BY_NAME.get(key) or _by_city().get(key)


def abbreviation_offset(name: str) -> int | None:
    """Seconds east of UTC of a zone abbreviation such as 'PDT'; None for any other name."""
    found = ABBREVIATIONS.get(str(name).strip().upper())
    return found[0] if found else None


def clock_zone(name: str) -> str | None:
    """The zone a shop's clock follows, for a name of it: the IANA zone of an abbreviation
    ('PDT' -> America/Los_Angeles, through winter and summer) or of any other name."""
    found = ABBREVIATIONS.get(str(name).strip().upper())
    return found[1] if found else iana_zone(name)
