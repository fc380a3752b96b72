"""Incidents for the public pages: the stored incidents (node.incident_store) with their reports.

An incident's id and stage are the stored ones: scoring.incident decided the
stage and node.incident_store stored it as the incident's reports, follow-ups
and verdicts came in (and retention's pass as they ran out); nothing here
recomputes it. This file gives the public pages their interface
(Node.public_incidents, get_incident, incident_follow_up). Rules it keeps:
- public shape only (node.outcome.PublicIncident): a level and a coarse count
  of independent reports ("1", "2-3", "4-9", "10+"), never a raw confidence,
  a source count, a description, a free-text place, a minute or an order of
  arrival;
- an incident: the reports of one type in one area that came while it was
  open (each while earlier ones were still active: a report after it ended
  opens a new one); listed while one of them is visible, and for ENDED_SHOWN
  after they ended; its level, count, hours and activity are read from those
  reports at `now` (the stored stage follows an expiry at retention's pass, which
  runs just after each whole hour, when active times end: node.cli);
- importance order: active first, then level (confirmed, likely, possible,
  unverified), then type (raid, checkpoint, patrol, vehicle), then the latest
  hour; ties by id (random), which carries no order of arrival;
- a follow-up ("still there" / "gone") is rate limited once, like a report,
  and applies to every report of the incident through intake's
  store_follow_up (the same independence rules as Node.follow_up), in one
  transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_
from sqlmodel import Session, col, select

from node.intake import store_follow_up
from node.outcome import PublicIncident, PublicReport, RateLimited, SourceRef, Unavailable
from node.reports import follow_ups_for, is_visible
from node.store import Incident, Report, to_hour
from scoring.decay import age_label
from scoring.model import Channel, FollowUp, FollowUpKind, Level

HORIZON_HOURS = 48  # as Node.active_reports: debunks stay visible as debunks for a while
ENDED_SHOWN = timedelta(hours=2)  # an ended incident stays listed (after the active ones)
MAX_READ = 2000  # reports read at most (a flood cannot grow a page without bound)
LEVEL_ORDER: tuple[str, ...] = tuple(level.value for level in Level)  # unverified .. confirmed
TYPE_ORDER: tuple[str, ...] = ("vehicle", "patrol", "checkpoint", "raid")  # least .. most harmful
STATUS_LEVEL = {"unverified": 0, "possible": 1, "likely": 2, "confirmed": 3}


def coarse_count(n: int) -> str:
    """A count of independent reports as the public sees it."""
    if n <= 1:
        return "1"
    if n <= 3:
        return "2-3"
    if n <= 9:
        return "4-9"
    return "10+"


@dataclass(frozen=True)
class _Member:
    row_id: str
    area_id: str
    view: PublicReport
    follow_ups: tuple[FollowUp, ...]


def _incident(incident: Incident, members: Sequence[_Member], now: datetime) -> PublicIncident:
    views = [m.view for m in members]
    first = min(members, key=lambda m: (m.view.hour, m.row_id))
    live = [v for v in views if not v.debunked]
    ranked = live or views
    level_index = max(STATUS_LEVEL.get(v.status, STATUS_LEVEL.get(v.level, 0)) for v in ranked)
    verified = any(v.status == "confirmed" for v in live)
    independent = min(len(views), max(v.independent_sources for v in views))
    still_there = [
        f.hour for m in members for f in m.follow_ups if f.kind is FollowUpKind.STILL_THERE
    ]
    last = max([v.hour for v in views] + [h for h in still_there if h <= now])
    last = last.replace(minute=0, second=0, microsecond=0)
    active = any(v.still_active for v in live)
    if not live:
        ended: str | None = "debunked"
    elif active:
        ended = None
    elif any(f.kind is FollowUpKind.GONE for m in members for f in m.follow_ups):
        ended = "gone"
    else:
        ended = "expired"
    view = first.view
    return PublicIncident(
        id=incident.id,
        type=view.type,
        area_id=first.area_id if view.area_known else "",
        area_name=view.area if view.area_known else None,
        lat=view.lat if view.area_known else None,
        lon=view.lon if view.area_known else None,
        highway=next((v.highway for v in views if v.highway), None),
        level=LEVEL_ORDER[level_index],
        stage=incident.stage,
        verified=verified,
        ended=ended,
        reports=coarse_count(independent),
        first_hour=first.view.hour,
        last_hour=last,
        age_label=age_label(now - last),
        opacity=max(v.opacity for v in views),
        active=active,
        active_until=max(v.active_until for v in views),
    )


def importance(incident: PublicIncident) -> tuple[object, ...]:
    """Sort key: most important first."""
    return (
        not incident.active,
        incident.ended == "debunked",
        -LEVEL_ORDER.index(incident.level),
        -TYPE_ORDER.index(incident.type) if incident.type in TYPE_ORDER else 0,
        -incident.last_hour.timestamp(),
        incident.id,
    )


def _shown(node, session: Session, now: datetime) -> list[tuple[Incident, list[_Member]]]:
    """The shown incidents with their reports. Shown: an incident with a report still
    visible (active, or a debunk still shown as one), or one whose reports ended within
    ENDED_SHOWN (so "gone" can be read, and said, after it ends)."""
    horizon = to_hour(now) - HORIZON_HOURS
    incidents = session.exec(
        select(Incident).where(
            or_(col(Incident.closed).is_(False), col(Incident.updated_hour) >= horizon)
        )
    ).all()
    return _with_reports(node, session, now, incidents)


def _with_reports(
    node, session: Session, now: datetime, incidents: Sequence[Incident]
) -> list[tuple[Incident, list[_Member]]]:
    by_id = {i.id: i for i in incidents}
    rows: list[Report] = []
    ids = sorted(by_id)
    for start in range(0, len(ids), 500):
        rows += session.exec(
            select(Report)
            .where(col(Report.incident_id).in_(ids[start : start + 500]))
            .where(col(Report.hour) >= to_hour(now) - HORIZON_HOURS)
            .where(col(Report.verdict) != "archived")
            .order_by(col(Report.hour).desc())
            .limit(MAX_READ)
        ).all()
    rows = sorted(rows, key=lambda r: (-r.hour, r.id))[:MAX_READ]
    follow_ups = follow_ups_for(session, [r.id for r in rows])
    grouped: dict[str, list[tuple[Report, PublicReport]]] = {}
    for row in rows:
        view = node._public(row, follow_ups[row.id], now)
        grouped.setdefault(row.incident_id, []).append((row, view))  # type: ignore[arg-type]
    found = []
    for incident_id, group in grouped.items():
        shown = (
            any(is_visible(row, follow_ups[row.id], now, node.config.scoring) for row, _ in group)
            or max(view.active_until for _, view in group) > now - ENDED_SHOWN
        )
        if shown:
            members = [_Member(r.id, r.area_id, v, tuple(follow_ups[r.id])) for r, v in group]
            found.append((by_id[incident_id], members))
    return found


def _level_at_least(level: str, wanted: str | None) -> bool:
    if wanted is None or wanted not in LEVEL_ORDER:
        return True
    return LEVEL_ORDER.index(level) >= LEVEL_ORDER.index(wanted)


async def public_incidents(
    node, area: str | None = None, type: str | None = None, level: str | None = None
) -> list[PublicIncident]:
    """Visible incidents by importance; area: a gazetteer id; level: this level or higher."""
    now = node.clock()

    def job(session: Session) -> list[PublicIncident]:
        found = [_incident(i, m, now) for i, m in _shown(node, session, now)]
        return sorted(
            (
                i
                for i in found
                if (area is None or i.area_id == area)
                and (type is None or i.type == type)
                and _level_at_least(i.level, level)
            ),
            key=importance,
        )

    return await node._read(job)


def _members_of(node, session: Session, incident_id: str, now: datetime) -> list[_Member] | None:
    incident = session.get(Incident, incident_id)
    if incident is None:
        return None
    found = _with_reports(node, session, now, [incident])
    return found[0][1] if found else None


async def get_incident(node, incident_id: str) -> PublicIncident | None:
    """One incident by its stored id, None when it is not visible."""
    now = node.clock()

    def job(session: Session) -> PublicIncident | None:
        incident = session.get(Incident, incident_id)
        found = _with_reports(node, session, now, [incident]) if incident is not None else []
        return _incident(*found[0], now) if found else None

    return await node._read(job)


async def incident_follow_up(
    node, incident_id: str, kind: FollowUpKind, source: SourceRef
) -> PublicIncident | RateLimited | Unavailable | None:
    """A "still there" / "gone" for an incident; None when no such incident is visible."""
    now = node.clock()
    members = await node._read(lambda s: _members_of(node, s, incident_id, now))
    if not members:
        return None
    wait = node.limiter.hit(node.source_keys.primary(source.identity, now), now)
    if wait:
        return RateLimited(wait)
    sources = node.source_keys.tags(source.identity, now)
    ids = [m.row_id for m in members if not m.view.debunked]  # a debunk stays a debunk
    member = source.channel == Channel.MEMBER

    def job(session: Session) -> int:
        return sum(
            store_follow_up(session, node.context, rid, kind, sources, False, now, member)
            is not None
            for rid in ids
        )

    stored = await node._write(job)
    if isinstance(stored, Unavailable):
        return stored
    return await get_incident(node, incident_id)
