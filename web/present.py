"""How the node's values are presented: reports, areas, alerts and queue items as JSON-ready
dicts; incidents as the public pages show them (a level and a coarse count, never a raw
confidence); and the words every page uses alike: honest ages for hour-precision times and
counts that say what they count.

Public JSON gives a report's level and a coarse count of independent reports ("1", "2-3",
"4-9", "10+"), never its raw confidence or source count (a poller would learn from them when
two reports share a sender); moderators get both. A place not in the gazetteer is shown as
"a place not on our list (awaiting review)": its text is for moderators only (area_text)."""

from __future__ import annotations

from datetime import datetime

from node import i18n
from node.outcome import (
    AreaView,
    PublicIncident,
    PublicReport,
    QueueItem,
    ReceivedAlert,
    coarse_count,
)
from scoring.model import ReportType
from web.messages import translate

REPORT_TYPES: tuple[str, ...] = tuple(t.value for t in ReportType)  # in the forms' order


def state_code(report: PublicReport) -> str:
    """The message id of whether a report is debunked, still active, or no longer active."""
    if report.debunked:
        return "web_debunked"
    return "web_still_active" if report.still_active else "web_not_active"


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def area_label(report: PublicReport, lang: str) -> str:
    """The report's area as every page shows it (never a reporter's free text)."""
    return report.area if report.area_known else translate("area_unlisted", lang)


def sources_label(report: PublicReport) -> str:
    """The public, coarse count of a report's independent sources."""
    return coarse_count(report.independent_sources)


def report_json(report: PublicReport, lang: str, vetted: bool = False) -> dict[str, object]:
    """The public fields of a report, with its age label and status translated.

    vetted (moderators): also the raw confidence and number of independent sources.
    """
    data: dict[str, object] = {
        "id": report.id,
        "type": report.type,
        "area": area_label(report, lang),
        "area_known": report.area_known,
        "lat": report.lat,
        "lon": report.lon,
        "highway": report.highway,
        "hour": _iso(report.hour),
        "status": report.status,
        "status_text": translate(report.status, lang),
        "level": report.level,
        "reports": sources_label(report),
        "age_label": report.age_label,
        "age_text": translate(report.age_label, lang),
        "opacity": round(report.opacity, 3),
        "scale": round(report.scale, 3),
        "still_active": report.still_active,
        "active_until": _iso(report.active_until),
        "debunked": report.debunked,
    }
    if report.description is not None:
        data["description"] = report.description
    if vetted:
        data["confidence"] = round(report.confidence, 3)
        data["independent_sources"] = report.independent_sources
    return data


def area_json(area: AreaView) -> dict[str, object]:
    return {
        "id": area.id,
        "name": area.name,
        "aliases": list(area.aliases),
        "lat": area.lat,
        "lon": area.lon,
    }


def queue_item_json(item: QueueItem, lang: str) -> dict[str, object]:
    return {
        "report": report_json(item.report, lang, vetted=True),
        "reasons": list(item.reasons),
        "description": item.description,
        "area_text": item.area_text,
        "priority": round(item.priority, 3),
        "incident": item.incident_id,
        "incident_stage": item.incident_stage,
    }


def alert_json(alert: ReceivedAlert, lang: str) -> dict[str, object]:
    """A neighbour's alert, with its type and level translated."""
    return {
        "chapter": alert.chapter,
        "alert_id": alert.alert_id,
        "seq": alert.seq,
        "relayed_by": alert.relayed_by,
        "type": alert.type,
        "type_text": translate(alert.type, lang),
        "area": alert.area,
        "lat": alert.lat,
        "lon": alert.lon,
        "highway": alert.highway,
        "hour": _iso(alert.hour),
        "level": alert.level,
        "level_text": translate(alert.level, lang),
        "reports": coarse_count(alert.reports),
        "still_active": alert.still_active,
        "expires": _iso(alert.expires),
    }


# -- incidents and honest words (the public pages) ------------------------------------

# How long ago an hour-precision time was, in whole clock hours between its hour and the
# current hour: true whatever the minute (a report at 10:59 read at 11:01 is "last hour",
# never "1-2 hours ago"). (most clock hours, message id), the last one open-ended.
AGE_WORDS: tuple[tuple[int | None, str], ...] = (
    (0, "web_age_this_hour"),
    (1, "web_age_last_hour"),
    (3, "web_age_2_3_hours"),
    (23, "web_age_4_23_hours"),
    (None, "web_age_a_day_or_more"),
)
# A coarse count (PublicIncident.reports) -> (the number its plural form agrees with, as shown)
COUNT_WORDS: dict[str, tuple[int, str]] = {
    "1": (1, "1"),
    "2-3": (3, "2–3"),
    "4-9": (9, "4–9"),
    "10+": (10, "10+"),
}
# An incident's state, by PublicIncident.ended (None: still active).
ENDED_WORDS: dict[str | None, str] = {
    None: "web_still_active",
    "gone": "web_incident_gone",
    "expired": "web_incident_expired",
    "debunked": "web_debunked",
    "false_alarm": "web_incident_false_alarm",
}


# What the public is told of an open incident's verification (scoring.incident's stage):
# 'likely' on anonymous evidence or one member's word is "not verified yet", so a rumour is
# not read as a fact; a confirm says so. A verifier's "unable" is still "not verified yet":
# the public must not learn that a volunteer was on the spot (a poller would within a tick).
# Stage -> (the API's word, its message id).
CHECKS: dict[str, tuple[str, str]] = {
    "needs_verification": ("pending", "web_check_pending"),
    "unable": ("pending", "web_check_pending"),
    "verified": ("verified", "web_check_verified"),
}


def check_of(incident: PublicIncident) -> tuple[str, str] | None:
    """What is known of the incident's verification, (word, message id); None: nothing to
    say (ended, below the responders' level, or corroborated by trusted reports)."""
    if incident.ended or not incident.active:
        return None
    return CHECKS.get(incident.stage)


def clock_hours(hour: datetime, now: datetime) -> int:
    """Whole clock hours from `hour`'s hour to `now`'s (0: the same hour)."""
    start = hour.replace(minute=0, second=0, microsecond=0)
    current = now.replace(minute=0, second=0, microsecond=0)
    return max(0, int((current - start).total_seconds() // 3600))


def age_words(hour: datetime, now: datetime) -> str:
    """The message id saying how long ago `hour` was, true for an hour-precision time."""
    hours = clock_hours(hour, now)
    for most, code in AGE_WORDS:
        if most is None or hours <= most:
            return code
    return AGE_WORDS[-1][1]


def count_words(reports: str) -> tuple[int, str]:
    """(the count a plural form agrees with, the count as shown) of a coarse count."""
    return COUNT_WORDS.get(reports, (1, reports))


# incident_view's fields the JSON API gives as they are (web.openapi "PublicIncident").
JSON_FROM_VIEW = (
    "id", "type", "type_text", "area", "lat", "lon", "highway", "level", "level_text",
    "verified", "active", "ended", "reports", "age_text", "opacity",
)  # fmt: skip


def incident_view(incident: PublicIncident, lang: str, now: datetime) -> dict[str, object]:
    """An incident's public facts, translated: what the list, its page and the map show."""
    plural, shown = count_words(incident.reports)
    state = "ended" if incident.ended else "active"
    check = check_of(incident)
    return {
        "id": incident.id,
        "type": incident.type,
        "type_text": translate(incident.type, lang),
        "area": incident.area_name,
        "area_text": incident.area_name or translate("web_place_not_listed", lang),
        "area_id": incident.area_id,
        "lat": incident.lat,
        "lon": incident.lon,
        "highway": incident.highway,
        "level": incident.level,
        "shown_level": "debunked" if incident.ended == "debunked" else incident.level,
        "level_text": translate(incident.level, lang),
        "verified": incident.verified,
        "active": incident.active,
        "ended": incident.ended,
        "state": state,
        "state_text": translate(ENDED_WORDS.get(incident.ended, "web_not_active"), lang),
        "reports": incident.reports,
        "reports_text": i18n.translate_plural("web_incident_reports", plural, lang, count=shown),
        "age_text": translate(age_words(incident.last_hour, now), lang),
        "first_age_text": translate(age_words(incident.first_hour, now), lang),
        "fade": max(0, min(4, round(incident.opacity * 4))),
        "opacity": round(incident.opacity, 2),
        "check": check[0] if check else None,
        "check_text": translate(check[1], lang) if check else None,
    }


def incident_json(incident: PublicIncident, lang: str, now: datetime) -> dict[str, object]:
    """An incident for the JSON API: the page's public facts (incident_view: a level, a
    coarse count, whole hours), never a confidence, a source count or a minute."""
    view = incident_view(incident, lang, now)
    return {
        **{name: view[name] for name in JSON_FROM_VIEW},
        "area_known": bool(incident.area_id),
        "verification": view["check"],
        "verification_text": view["check_text"],
        "first_hour": _iso(incident.first_hour),
        "last_hour": _iso(incident.last_hour),
    }
