"""The values the scorer works on and returns.

Rule: plain frozen dataclasses and enums only; nothing here knows about a
database, a clock or a channel's wire format. Times are timezone-aware UTC
datetimes already truncated to the hour by the caller (the node), except
`Evidence.seen_at`, which lives only in the node's memory for burst
detection and is never stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class ReportType(StrEnum):
    CHECKPOINT = "checkpoint"
    RAID = "raid"
    VEHICLE = "vehicle"
    PATROL = "patrol"


class Channel(StrEnum):
    """Where a report came from; sets its prior."""

    WEB = "web"
    MEMBER = "member"
    MODERATOR = "moderator"


class Level(StrEnum):
    """Confidence bands (thresholds in scoring.defaults.LEVEL_FLOORS)."""

    UNVERIFIED = "unverified"
    POSSIBLE = "possible"
    LIKELY = "likely"
    CONFIRMED = "confirmed"


class Verdict(StrEnum):
    """A moderator's decision on a report; it overrides the score."""

    NONE = "none"
    CONFIRMED = "confirmed"
    DEBUNKED = "debunked"
    ARCHIVED = "archived"


class Flag(StrEnum):
    """Something the scorer noticed; several of them send a report to review."""

    SAME_SOURCE = "same_source"  # a repeat from a source already counted nearby
    NEAR_DUPLICATE = "near_duplicate"  # text copied from another source's report
    UNKNOWN_AREA = "unknown_area"  # area not in the gazetteer
    NO_HISTORY = "no_history"  # area never had confirmed activity
    UNUSUAL_HOUR = "unusual_hour"  # area has history, but not at this hour
    BURST = "burst"  # many new sources in one area within minutes, no history


class ReviewReason(StrEnum):
    LOW_CONFIDENCE_LONG_TEXT = "low_confidence_long_text"
    ANOMALY = "anomaly"
    NEAR_DUPLICATE = "near_duplicate"
    BURST = "burst"
    BORDERLINE_MODERATION = "borderline_moderation"


class FollowUpKind(StrEnum):
    STILL_THERE = "still_there"
    GONE = "gone"


@dataclass(frozen=True)
class Place:
    """A coarse centroid (about 1 km), never an exact position."""

    lat: float
    lon: float


@dataclass(frozen=True)
class Evidence:
    """One report as the scorer sees it.

    `sources` are the keyed hashes of the report's source under every key the
    node still holds: two reports share a source when the sets intersect. An
    empty set means unknown (e.g. after a restart); all unknown-source
    reports count together as one source. `fingerprint` is
    scoring.text.fingerprint() of the description, or None.
    """

    key: str
    type: ReportType
    area: str  # normalised area key (gazetteer id or normalised free text)
    place: Place | None  # None when the area is not in the gazetteer
    hour: datetime
    channel: Channel
    sources: frozenset[bytes] = frozenset()
    fingerprint: frozenset[int] | None = None
    verdict: Verdict = Verdict.NONE
    seen_at: datetime | None = None  # memory only, minutes precision, for bursts


@dataclass(frozen=True)
class History:
    """What the chapter's past says about an area (from aggregates + live reports)."""

    confirmed_same_hour_of_week: int = 0  # confirmed reports, this area, this hour of week (±1 h)
    confirmed_in_area: int = 0  # confirmed reports in this area, any time
    reports_in_area: int = 0  # all reports in this area, any time
    reports_same_hour_of_day: int = 0  # all reports in this area at this hour of day (±1 h)


@dataclass(frozen=True)
class Assessment:
    """The scorer's answer for one report."""

    confidence: float
    level: Level
    independent_sources: int  # the report itself plus distinct corroborating sources
    corroborated_by: tuple[str, ...]  # keys of the reports that counted as evidence
    flags: frozenset[Flag]


@dataclass(frozen=True)
class FollowUp:
    """A "still there" or "gone" from a source independent of the report's own."""

    kind: FollowUpKind
    hour: datetime
    by_moderator: bool = False
    by_member: bool = False  # from a vetted member (the member room): a tier above anonymous


@dataclass(frozen=True)
class Decay:
    """How a report is shown now: age label, fading and whether it is still active."""

    age_label: str  # one of scoring.defaults.AGE_LABELS' keys
    opacity: float  # 0..1
    scale: float  # 0..1
    active: bool
    active_until: datetime
    ended_by_gone: bool
