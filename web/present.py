"""How the node's values are presented: reports, areas, alerts and queue items as JSON-ready
dicts, and the few facts about a report that every page words the same way.

Public JSON gives a report's level and a coarse count of independent reports ("1", "2-3",
"4-9", "10+"), never its raw confidence or source count (a poller would learn from them when
two reports share a sender); moderators get both. A place not in the gazetteer is shown as
"a place not on our list (awaiting review)": its text is for moderators only (area_text)."""

from __future__ import annotations

from datetime import datetime

from node.outcome import AreaView, PublicReport, QueueItem, ReceivedAlert, coarse_count
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
