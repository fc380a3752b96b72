"""INTERIM incidents for the public pages: today's visible reports grouped by area x type.

Interim, until node/ stores incidents (issue 10): the incident's stage is
scoring.incident's (reported, needs verification, corroborated, verified,
false alarm, unable, ended), decided from its reports here. Until then this file gives
the public pages the same interface (Node.public_incidents, get_incident,
incident_follow_up) from the stored reports, so the pages can be built and
tested against it. Rules it keeps, as the real model must:
- public shape only (node.outcome.PublicIncident): a level and a coarse count
  of independent reports ("1", "2-3", "4-9", "10+"), never a raw confidence,
  a source count, a description, a free-text place, a minute or an order of
  arrival;
- an incident: the reports of one type in one area, each arriving while the
  earlier ones were still active; listed while one of them is visible, and
  for ENDED_SHOWN after it ended;
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

from sqlmodel import Session, col, select

from node.intake import store_follow_up
from node.outcome import PublicIncident, PublicReport, RateLimited, SourceRef, Unavailable
from node.reports import follow_ups_for, is_visible
from node.store import Report, to_hour
from scoring.decay import age_label
from scoring.defaults import ScoringConfig
from scoring.incident import Evidence as IncidentEvidence
from scoring.incident import advance
from scoring.model import Channel, FollowUp, FollowUpKind, Level, Verdict

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
    vouched: bool = False  # a member's or moderator's report, or a confirmed one


def _stage(
    members: Sequence[_Member], now: datetime, config: ScoringConfig, ended: str | None
) -> str:
    """The incident's stage, as scoring.incident decides it from its reports."""
    live = [m for m in members if not m.view.debunked and m.view.still_active]
    evidence = IncidentEvidence(
        confidence=max((m.view.confidence for m in live), default=0.0),
        sources=max((m.view.independent_sources for m in live), default=0),
        vouched=any(m.vouched for m in live),
        active=bool(live),
        ended_by_gone=ended == "gone",
        confirmed=any(m.view.status == "confirmed" for m in live),
        debunked=ended == "debunked",
    )
    # the public stage does not depend on what neighbours are sent: no share threshold
    return advance(evidence, now, config, share_threshold=1.0).stage.value


def _incident(members: Sequence[_Member], now: datetime, config: ScoringConfig) -> PublicIncident:
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
    stage = _stage(members, now, config, ended)
    view = first.view
    return PublicIncident(
        id=first.row_id,
        type=view.type,
        area_id=first.area_id if view.area_known else "",
        area_name=view.area if view.area_known else None,
        lat=view.lat if view.area_known else None,
        lon=view.lon if view.area_known else None,
        highway=next((v.highway for v in views if v.highway), None),
        level=LEVEL_ORDER[level_index],
        stage=stage,
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


def _clusters(node, session: Session, now: datetime) -> list[list[_Member]]:
    """The shown incidents' reports: per area and type, a report that came while the previous
    ones were active joins them, a later one starts a new incident. Shown: an incident with a
    report still visible (active, or a debunk still shown as one), or one that ended within
    ENDED_SHOWN (so "gone" can be read, and said, after it ends)."""
    rows = session.exec(
        select(Report)
        .where(col(Report.hour) >= to_hour(now) - HORIZON_HOURS)
        .where(col(Report.verdict) != "archived")
        .order_by(col(Report.hour).desc())
        .limit(MAX_READ)
    ).all()
    follow_ups = follow_ups_for(session, [r.id for r in rows])
    by_place: dict[tuple[str, str], list[tuple[Report, PublicReport]]] = {}
    for row in rows:
        view = node._public(row, follow_ups[row.id], now)
        by_place.setdefault((row.area_id, row.type), []).append((row, view))
    found: list[list[_Member]] = []
    for members in by_place.values():
        members.sort(key=lambda m: (m[1].hour, m[0].id))
        groups: list[list[tuple[Report, PublicReport]]] = []
        until: datetime | None = None
        for row, view in members:
            if until is None or view.hour >= until:
                groups.append([])
                until = view.active_until
            groups[-1].append((row, view))
            until = max(until, view.active_until)
        for group in groups:
            shown = (
                any(
                    is_visible(row, follow_ups[row.id], now, node.config.scoring)
                    for row, _ in group
                )
                or max(view.active_until for _, view in group) > now - ENDED_SHOWN
            )
            if shown:
                found.append(
                    [
                        _Member(r.id, r.area_id, v, tuple(follow_ups[r.id]), _vouched(r))
                        for r, v in group
                    ]
                )
    return found


def _vouched(row: Report) -> bool:
    return row.channel != Channel.WEB.value or row.verdict == Verdict.CONFIRMED.value


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
        scoring = node.config.scoring
        found = [_incident(m, now, scoring) for m in _clusters(node, session, now)]
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
    row = session.get(Report, incident_id)
    if row is None:
        return None
    for members in _clusters(node, session, now):
        if min(members, key=lambda m: (m.view.hour, m.row_id)).row_id == incident_id:
            return members
    return None


async def get_incident(node, incident_id: str) -> PublicIncident | None:
    """One incident by id (the id of its earliest report), None when it is not visible."""
    now = node.clock()

    def job(session: Session) -> PublicIncident | None:
        members = _members_of(node, session, incident_id, now)
        return _incident(members, now, node.config.scoring) if members else None

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
