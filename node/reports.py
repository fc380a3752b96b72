"""Stored reports seen two ways: as evidence for the scorer, and as the public
sees them; plus the reads scoring needs (neighbourhood, history).

Rules: runs inside a database session handed in by the caller (the writer
thread for anything that writes); reads the clock only through the `now`
it is given.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlmodel import Session, col, select

from node.outcome import PublicReport
from node.recent import COLUMNS, INFO_KEY, Entry, RecentIndex
from node.sources import RecentMemory
from node.store import FollowUpRow, Report, from_hour
from scoring.decay import decay, visible
from scoring.defaults import ScoringConfig, level_for
from scoring.model import (
    Channel,
    Decay,
    Evidence,
    FollowUp,
    FollowUpKind,
    History,
    Place,
    ReportType,
    Verdict,
)

KM_PER_DEGREE = 111.0
UNKNOWN_AREA = "unknown"  # how free-text areas are counted in history and aggregates
HOURS_PER_WEEK = 168

# Which retention class a report is in, by the moderator's verdict.
RETENTION_CLASS: dict[Verdict, str] = {
    Verdict.NONE: "transient",
    Verdict.CONFIRMED: "verified",
    Verdict.DEBUNKED: "verified",
    Verdict.ARCHIVED: "archived",
}

# Statuses whose descriptions the public may read, by [web] public_descriptions_from.
PUBLIC_DESCRIPTION_STATUSES: dict[str, frozenset[str]] = {
    "never": frozenset(),
    "likely": frozenset({"likely", "confirmed"}),
    "confirmed": frozenset({"confirmed"}),
}


def new_id(nbytes: int = 8) -> str:
    return secrets.token_urlsafe(nbytes)


def window_hours(config: ScoringConfig) -> int:
    return max(1, math.ceil(config.window / timedelta(hours=1)))


ALERT_HOURS = 48  # how far back a cluster's reports make its alert (node.alerts)


def recent_hours(config: ScoringConfig) -> int:
    """How far back the recent index keeps reports: a neighbourhood reaches back twice
    the window from its center, and centers a few hours old (verdicts) stay covered;
    an alert's cluster reaches back ALERT_HOURS from a batch's clock (a few hours'
    slack, as a batch's jobs may be a little behind the latest)."""
    return max(6 * window_hours(config), ALERT_HOURS + 6)


def place_of(row: Report) -> Place | None:
    return Place(row.lat, row.lon) if row.lat is not None and row.lon is not None else None


def evidence_of(row: Report | Entry, memory: RecentMemory, now: datetime) -> Evidence:
    recent = memory.get(row.id, now)
    if isinstance(row, Entry):
        return row.evidence(recent)
    return Evidence(
        key=row.id,
        type=ReportType(row.type),
        area=row.area_id,
        place=place_of(row),
        hour=from_hour(row.hour),
        channel=Channel(row.channel),
        sources=recent.sources if recent else frozenset(),
        fingerprint=recent.fingerprint if recent else None,
        verdict=Verdict(row.verdict),
        seen_at=recent.seen_at if recent else None,
    )


def hour_of_week(hour: int) -> int:
    moment = from_hour(hour)
    return moment.weekday() * 24 + moment.hour


# Hot-path statements as plain SQL (valid in SQLite and PostgreSQL): building
# the same queries as SQLAlchemy expressions costs more than running them.
HISTORY_SQL = text(
    "SELECT"
    " COALESCE(SUM(CASE WHEN hour_of_week IN (:w0, :w1, :w2) THEN confirmed ELSE 0 END), 0),"
    " COALESCE(SUM(confirmed), 0),"
    " COALESCE(SUM(reports), 0),"
    " COALESCE(SUM(CASE WHEN hour_of_week % 24 IN (:d0, :d1, :d2) THEN reports ELSE 0 END), 0)"
    " FROM area_hour WHERE area_id = :area"
)
COUNT_HISTORY_SQL = text(
    "INSERT INTO area_hour (area_id, hour_of_week, reports, confirmed)"
    " VALUES (:area, :how, :reports, :confirmed)"
    " ON CONFLICT (area_id, hour_of_week) DO UPDATE SET"
    " reports = area_hour.reports + excluded.reports,"
    " confirmed = CASE WHEN area_hour.confirmed + excluded.confirmed < 0 THEN 0"
    " ELSE area_hour.confirmed + excluded.confirmed END"
)


def history_for(session: Session, area_id: str, hour: int) -> History:
    """The area's past from its hour-of-week counters (which hold no report).

    On a writer session with the recent index attached, from its mirror in memory.
    """
    how = hour_of_week(hour)
    index: RecentIndex | None = session.info.get(INFO_KEY)
    if index is not None:
        return index.history(area_id, how)
    params: dict[str, object] = {"area": area_id}
    for d in (-1, 0, 1):
        params[f"w{d + 1}"] = (how + d) % HOURS_PER_WEEK
        params[f"d{d + 1}"] = (how % 24 + d) % 24
    totals = session.connection().execute(HISTORY_SQL, params).one()
    return History(*(int(total) for total in totals))


def count_history(
    session: Session, area_id: str, hour: int, reports: int = 0, confirmed: int = 0
) -> None:
    """Add to the area's counters for this hour of week (confirmed never drops below 0)."""
    params = {
        "area": area_id,
        "how": hour_of_week(hour),
        "reports": reports,
        "confirmed": confirmed,
    }
    session.connection().execute(COUNT_HISTORY_SQL, params)
    index: RecentIndex | None = session.info.get(INFO_KEY)
    if index is not None:
        index.count(area_id, params["how"], reports, confirmed)  # type: ignore[arg-type]


def _neighbour_query(area_ids: Sequence[str], hour: int, span: int, limit: int, columns: str):
    share = max(4, limit // max(1, len(area_ids) - 1))
    params: dict[str, object] = {"low": hour - span, "high": hour + span}
    parts = []
    for index, area_id in enumerate(area_ids):
        params[f"a{index}"] = area_id
        params[f"n{index}"] = limit if index == 0 else share
        parts.append(
            f"SELECT {columns} FROM (SELECT {columns} FROM report WHERE area_id = :a{index} "
            f"AND hour BETWEEN :low AND :high ORDER BY hour DESC, id DESC LIMIT :n{index})"
            f" AS t{index}"
        )
    return text(" UNION ALL ".join(parts)), params


def neighbourhood(
    session: Session, area_ids: Sequence[str], hour: int, config: ScoringConfig, limit: int
) -> list[Report]:
    """Reports that can be a neighbour of a neighbour, most recent first (as ORM rows).

    `area_ids` are the area and its gazetteer neighbours within twice the
    radius, nearest first. Each area is read through its (area, hour) index
    with its own limit (the area itself gets the whole `limit`), so the cost
    stays bounded however many reports a flood has put in the window:
    corroboration is capped, and the first few dozen carry all the evidence.
    Ties within an hour go by id, as in node.recent.
    """
    query, params = _neighbour_query(area_ids, hour, 2 * window_hours(config), limit, "id, hour")
    found = session.connection().execute(query, params).all()
    found.sort(key=lambda row: (row[1], row[0]), reverse=True)
    ids = [row[0] for row in found[:limit]]
    if not ids:
        return []
    rows = list(session.exec(select(Report).where(col(Report.id).in_(ids))).all())
    rows.sort(key=lambda r: (r.hour, r.id), reverse=True)
    return rows


def recent_neighbourhood(
    session: Session,
    index: RecentIndex,
    area_ids: Sequence[str],
    hour: int,
    config: ScoringConfig,
    limit: int,
) -> list[Entry]:
    """neighbourhood() as index entries: from memory when the index covers the range.

    Below the index's floor (a verdict on an old report) it reads the store,
    and hands back the index's own entries for the reports it holds.
    """
    span = 2 * window_hours(config)
    found = index.around(area_ids, hour, span, limit)
    if found is not None:
        return found
    query, params = _neighbour_query(area_ids, hour, span, limit, ", ".join(COLUMNS))
    rows = [Entry(**row._mapping) for row in session.connection().execute(query, params)]
    rows.sort(key=lambda r: (r.hour, r.id), reverse=True)
    return [index.get(r.id) or r for r in rows[:limit]]


class Pool:
    """Reports around one place and hour, each turned into evidence once."""

    def __init__(self, rows: Sequence[Report | Entry], memory: RecentMemory, now: datetime) -> None:
        self.rows = rows
        self.memory = memory
        self.now = now
        memory.forget_old(now)
        peek = memory.peek
        self.evidence = {
            row.id: row.evidence(peek(row.id))
            if isinstance(row, Entry)
            else evidence_of(row, memory, now)
            for row in rows
        }

    def of(self, row: Report | Entry) -> Evidence:
        """The row as evidence; a row not in the pool is never added to its others."""
        found = self.evidence.get(row.id)
        if found is None:
            return evidence_of(row, self.memory, self.now)
        if found.verdict != row.verdict:
            found = self.evidence[row.id] = evidence_of(row, self.memory, self.now)
        return found

    def others(self, row: Report | Entry) -> list[Evidence]:
        return [e for key, e in self.evidence.items() if key != row.id]


def follow_ups_for(session: Session, report_ids: Iterable[str]) -> dict[str, list[FollowUp]]:
    ids = list(report_ids)
    found: dict[str, list[FollowUp]] = {i: [] for i in ids}
    if not ids:
        return found
    for row in session.exec(select(FollowUpRow).where(col(FollowUpRow.report_id).in_(ids))).all():
        found[row.report_id].append(
            FollowUp(FollowUpKind(row.kind), from_hour(row.hour), row.by_moderator, row.by_member)
        )
    return found


def _decay_args(row: Report, follow_ups: list[FollowUp], now: datetime, config: ScoringConfig):
    """The arguments scoring.decay's decay() and visible() take, from a stored row."""
    return (
        ReportType(row.type),
        from_hour(row.hour),
        follow_ups,
        Verdict(row.verdict),
        now,
        config,
        row.independent_sources,
    )


def decay_of(
    row: Report, follow_ups: list[FollowUp], now: datetime, config: ScoringConfig
) -> Decay:
    return decay(*_decay_args(row, follow_ups, now, config))


def is_visible(
    row: Report, follow_ups: list[FollowUp], now: datetime, config: ScoringConfig
) -> bool:
    return visible(*_decay_args(row, follow_ups, now, config))


def still_active(row: Report, follow_ups: list[FollowUp], shown: Decay) -> bool:
    """Active by decay, and either claimed active or confirmed since by a "still there"."""
    refreshed = any(f.kind is FollowUpKind.STILL_THERE for f in follow_ups)
    return shown.active and (row.still_active_claimed or refreshed)


def public_view(
    row: Report,
    follow_ups: list[FollowUp],
    now: datetime,
    config: ScoringConfig,
    description: str | None = None,
) -> PublicReport:
    shown = decay_of(row, follow_ups, now, config)
    return PublicReport(
        id=row.id,
        type=row.type,
        area=row.area_name,
        area_known=row.area_known,
        lat=row.lat,
        lon=row.lon,
        highway=row.highway,
        hour=from_hour(row.hour),
        status=row.status,
        level=level_for(row.confidence).value,
        confidence=row.confidence,
        independent_sources=row.independent_sources,
        age_label=shown.age_label,
        opacity=shown.opacity,
        scale=shown.scale,
        still_active=still_active(row, follow_ups, shown),
        active_until=shown.active_until,
        debunked=row.verdict == Verdict.DEBUNKED,
        description=description,
    )


@dataclass(frozen=True)
class Bounds:
    """How much work one report may cause (node config [intake])."""

    max_neighbours: int
    max_rescored: int
