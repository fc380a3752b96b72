"""Trends from the aggregates: reports per day by type, and per hour of week.

Rule: reads only the aggregates table (area x type x day x hour of day,
counted by retention as reports are purged), which holds no report. Hours
are UTC, as stored; `Trends.local_rows` has them on the chapter's clock
(node.localtime), for pages volunteers read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from sqlmodel import Session, col, select

from node.store import Aggregate
from scoring.model import ReportType

DAYS_PER_WEEK = 7
HOURS_PER_DAY = 24


@dataclass(frozen=True)
class AggregateCount:
    """One row of the aggregates: counts of purged reports, nothing else."""

    area_id: str
    type: str
    day: date
    hour_of_day: int
    reports: int
    confirmed: int
    debunked: int


@dataclass(frozen=True)
class Trends:
    """The aggregates from `first` (None: all of them) up to today (the node's clock, in
    the chapter's zone): `rows` as stored (UTC), `local_rows` on the chapter's clock."""

    today: date
    first: date | None
    rows: tuple[AggregateCount, ...]
    local_rows: tuple[AggregateCount, ...] = ()


def on_clock(rows: Iterable[AggregateCount], zone: tzinfo) -> list[AggregateCount]:
    """The rows with their day and hour on the chapter's clock (stored ones are UTC)."""
    found = []
    for row in rows:
        moment = datetime.combine(row.day, time(row.hour_of_day), UTC).astimezone(zone)
        found.append(replace(row, day=moment.date(), hour_of_day=moment.hour))
    return found


def aggregate_counts(session: Session, first: date | None = None) -> list[AggregateCount]:
    """Aggregates rows from `first` on (all when None), by day, hour, area and type."""
    query = select(Aggregate)
    if first is not None:
        query = query.where(col(Aggregate.day) >= first.isoformat())  # ISO dates sort as text
    query = query.order_by(
        col(Aggregate.day), col(Aggregate.hour_of_day), col(Aggregate.area_id), col(Aggregate.type)
    )
    return [
        AggregateCount(
            area_id=row.area_id,
            type=row.type,
            day=date.fromisoformat(row.day),
            hour_of_day=row.hour_of_day,
            reports=row.reports,
            confirmed=row.confirmed,
            debunked=row.debunked,
        )
        for row in session.exec(query)
    ]


def per_day_by_type(
    rows: Iterable[AggregateCount], first: date, last: date
) -> list[tuple[date, dict[str, int]]]:
    """Every day from `first` to `last` (inclusive) with its reports per type (0 included)."""
    days: dict[date, dict[str, int]] = {}
    day = first
    while day <= last:
        days[day] = {t.value: 0 for t in ReportType}
        day += timedelta(days=1)
    for row in rows:
        counts = days.get(row.day)
        if counts is not None:
            counts[row.type] = counts.get(row.type, 0) + row.reports
    return list(days.items())


def hour_of_week(rows: Iterable[AggregateCount], area_id: str | None = None) -> list[list[int]]:
    """7 x 24 report counts (Monday first, UTC hours), of one area or all when None."""
    grid = [[0] * HOURS_PER_DAY for _ in range(DAYS_PER_WEEK)]
    for row in rows:
        if area_id is None or row.area_id == area_id:
            grid[row.day.weekday()][row.hour_of_day] += row.reports
    return grid


def totals_by_type(rows: Sequence[AggregateCount]) -> dict[str, tuple[int, int, int]]:
    """type -> (reports, confirmed, debunked), every type present."""
    totals = {t.value: (0, 0, 0) for t in ReportType}
    for row in rows:
        reports, confirmed, debunked = totals.get(row.type, (0, 0, 0))
        totals[row.type] = (
            reports + row.reports,
            confirmed + row.confirmed,
            debunked + row.debunked,
        )
    return totals
