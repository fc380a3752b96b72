"""Stored reports fed to the pure scorer (scoring.score.assess), and the columns it sets.

The store layer (node.reports) reads and shows reports and never scores; this
module is the one place in node/ that asks the scorer for a report's
confidence, level and independent sources, whether on arrival, after a verdict
or because a neighbour arrived (re-scoring). The incident's stage is asked of
scoring.incident by node.incident_store.

Rules: runs inside a database session handed in by the caller (the writer
thread); reads the clock only through the `now` it is given; the scorer is
pure, so the same rows and `now` give the same columns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlmodel import Session

from node.recent import Entry
from node.reports import Bounds, Pool, history_for, neighbourhood, window_hours
from node.sources import RecentMemory
from node.store import Report
from scoring.defaults import ScoringConfig, level_for
from scoring.model import Assessment, History, Verdict
from scoring.score import assess, match_similarity, overridden_confidence, status_for


def assessment_values(
    row: Report | Entry, pool: Pool, now: datetime, config: ScoringConfig, history: History
) -> tuple[Assessment, dict[str, object]]:
    """Score `row` against the pool: the assessment, and the columns it sets."""
    result = assess(pool.of(row), pool.others(row), history, now, config)
    verdict = Verdict(row.verdict)
    confidence = overridden_confidence(result.confidence, verdict)
    return result, {
        "confidence": confidence,
        "status": status_for(level_for(confidence), verdict),
        "independent_sources": result.independent_sources,
        "flags": ",".join(sorted(result.flags)),
    }


def apply_assessment(
    row: Report | Entry, pool: Pool, now: datetime, config: ScoringConfig, history: History
) -> Assessment:
    """Score `row` against the pool, write the result into the row, return it."""
    result, values = assessment_values(row, pool, now, config, history)
    for name, value in values.items():
        setattr(row, name, value)
    return result


def rescore_around(
    session: Session,
    center: Report,
    memory: RecentMemory,
    now: datetime,
    config: ScoringConfig,
    bounds: Bounds,
    nearby: Callable[[str], Sequence[str]],
    histories: dict[tuple[str, int], History] | None = None,
) -> list[Report]:
    """Re-score the reports near `center` (its arrival or verdict changes their evidence).

    At most bounds.max_rescored of them: the same area and type first (they
    make the alert), then the most recent.
    """
    rows = neighbourhood(
        session, nearby(center.area_id), center.hour, config, bounds.max_neighbours
    )
    pool = Pool(rows, memory, now)
    window = window_hours(config)
    me = pool.of(center)
    near = [
        r
        for r in rows
        if r.id != center.id
        and pool.of(r).sources  # a report whose source was forgotten keeps its score
        and abs(r.hour - center.hour) <= window
        and match_similarity(me, pool.of(r), config) > 0
    ]
    near.sort(key=lambda r: (r.area_id != center.area_id or r.type != center.type, -r.hour))
    histories = {} if histories is None else histories
    changed = []
    for row in near[: bounds.max_rescored]:
        key = (row.area_id, row.hour)
        if key not in histories:
            histories[key] = history_for(session, row.area_id, row.hour)
        before = (row.confidence, row.status, row.independent_sources)
        apply_assessment(row, pool, now, config, histories[key])
        if (row.confidence, row.status, row.independent_sources) != before:
            session.add(row)
            changed.append(row)
    return changed


def near_to_rescore(
    center: Entry,
    rows: list[Entry],
    memory: RecentMemory,
    now: datetime,
    config: ScoringConfig,
    bounds: Bounds,
) -> list[Entry]:
    """The entries whose score `center` can change: rescore_around()'s choice, on entries.

    `rows` is the center's neighbourhood (recent_neighbourhood). At most
    bounds.max_rescored: the same area and type first, then the most recent.
    """
    window = window_hours(config)
    memory.forget_old(now)
    me = center.evidence(memory.peek(center.id))
    near = []
    for r in rows:
        if r.id == center.id or abs(r.hour - center.hour) > window:
            continue
        other = r.evidence(memory.peek(r.id))
        # a report whose source was forgotten keeps its score
        if other.sources and match_similarity(me, other, config) > 0:
            near.append(r)
    near.sort(key=lambda r: (r.area_id != center.area_id or r.type != center.type, -r.hour))
    return near[: bounds.max_rescored]


def rescored_values(
    row: Entry, pool: Pool, now: datetime, config: ScoringConfig, history: History
) -> dict[str, object] | None:
    """Score `row` again against the Pool of its own neighbourhood; None when nothing changes.

    Reports of the same area and hour share a neighbourhood, so one Pool at `now` serves
    them all (a Pool's evidence holds no score).
    """
    _, values = assessment_values(row, pool, now, config, history)
    if (values["confidence"], values["status"], values["independent_sources"]) == (
        row.confidence,
        row.status,
        row.independent_sources,
    ):
        return None
    return values
