"""Times as a chapter's volunteers read them: on the chapter's own clock.

Rules: stored times stay whole UTC hours (node.store); this module only
turns one into the chapter's local time for display, never the other way.
The zone is [chapter] timezone, else the gazetteer's [region] timezone,
else UTC. Texts use plain spaces only (Babel's narrow no-break spaces would
turn an SMS into UCS-2, 70 characters a segment).
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton, get_time_format

_SPACES = str.maketrans({"\u202f": " ", "\u2009": " ", "\u00a0": " "})


def chapter_zone(configured: str, gazetteer: str = "") -> tzinfo:
    """The chapter's zone: [chapter] timezone, else the gazetteer's, else UTC."""
    name = configured or gazetteer
    return ZoneInfo(name) if name else UTC


def local(moment: datetime, zone: tzinfo) -> datetime:
    """A stored (UTC) time on the chapter's clock."""
    return moment.astimezone(zone)


def hour_text(moment: datetime, zone: tzinfo) -> str:
    """A date and hour with the zone's abbreviation: "2025-06-01 14:00 PDT"."""
    return local(moment, zone).strftime("%Y-%m-%d %H:00 %Z")


def clock_time(moment: datetime, zone: tzinfo, lang: str, now: datetime | None = None) -> str:
    """The hour as the language writes it ("2:00 PM", "14:00"), with the weekday
    ("Sun 2:00 PM", "dom 14:00") unless it is on the same local day as `now`."""
    here = local(moment, zone)
    twelve = "h" in get_time_format("short", locale=lang).pattern
    skeleton = "hm" if twelve else "Hm"
    if now is None or local(now, zone).date() != here.date():
        skeleton = "E" + skeleton
    text = format_skeleton(skeleton, here, tzinfo=zone, locale=lang)
    return text.translate(_SPACES).replace(",", "")
