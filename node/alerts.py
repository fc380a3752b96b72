"""The chapter's own alerts: one per active cluster (area x type) that reached
the share threshold, kept up to date and queued in the outbox for federation.

Rules: an alert is an aggregate and never carries a description or a single
report; a place not in the gazetteer (free text) never makes an alert or a
responder notice (node.store.listed); its outbox row is written in the
transaction of the change that caused it; every change of the same alert gets
the next seq.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from node.incident_store import open_incident_clusters, record, unassigned_clusters
from node.recent import INFO_KEY, Entry, RecentIndex
from node.reports import ALERT_HOURS, decay_of, follow_ups_for, new_id, still_active
from node.responders import (
    ResponderSettings,
    close_expired_received,
    open_notice_clusters,
    refresh_notice,
)
from node.store import Alert, OutboxAlert, PushQueueRow, Report, from_hour, listed, to_hour
from scoring.defaults import ScoringConfig, level_for
from scoring.incident import Stage, Transition
from scoring.model import Decay, FollowUp, Verdict

ALERT_CLUSTER_ROWS = 200  # the most recent reports of a cluster that make its alert
OUTBOX_WRITTEN = "vecinos_outbox_written"  # session.info flag: this transaction queued an alert
PUSH_WRITTEN = "vecinos_push_written"  # session.info flag: it queued a Web Push fan-out


def open_alerts(session: Session, area_ids: Iterable[str]) -> dict[tuple[str, str], Alert]:
    """The alerts of these areas not yet withdrawn, by (area, type)."""
    found: dict[tuple[str, str], Alert] = {}
    areas = sorted(set(area_ids))
    if not areas:
        return found
    query = select(Alert).where(col(Alert.withdrawn).is_(False), col(Alert.area_id).in_(areas))
    for alert in session.exec(query).all():
        found.setdefault((alert.area_id, alert.type), alert)
    return found


def open_alert_clusters(session: Session) -> set[tuple[str, str]]:
    """(area, type) of every alert not yet withdrawn, of every open responder notice, and of
    every open incident past "reported" (a re-score of its reports may change its stage)."""
    rows = session.exec(
        select(Alert.area_id, Alert.type).where(col(Alert.withdrawn).is_(False))
    ).all()
    found = {(area_id, report_type) for area_id, report_type in rows}
    return found | open_notice_clusters(session) | open_incident_clusters(session, True)


@dataclass(frozen=True)
class AlertSettings:
    chapter_id: str
    share_threshold: float
    responders: ResponderSettings = field(default_factory=ResponderSettings)
    push: bool = False  # queue each change for the Web Push fan-out (node.push.sender)

    @property
    def watch_threshold(self) -> float:
        """From this confidence a cluster may change an alert or a responder notice."""
        return min(self.share_threshold, self.responders.threshold)


def refresh_quiet_clusters(
    session: Session, now: datetime, config: ScoringConfig, settings: AlertSettings
) -> None:
    """Retention's pass: clusters whose responder notice or incident is open though no report
    changed (they went quiet and expired) get their all-clear and their incident its end,
    clusters with recent reports no incident holds get theirs (refresh_unassigned), and
    neighbours' expired alerts get their all-clear."""
    quiet = open_notice_clusters(session) | open_incident_clusters(session)
    for area_id, report_type in sorted(quiet - refresh_unassigned(session, now, config, settings)):
        refresh_alert(session, area_id, report_type, now, config, settings)
    close_expired_received(session, now, settings.responders)


def refresh_unassigned(
    session: Session, now: datetime, config: ScoringConfig, settings: AlertSettings
) -> set[tuple[str, str]]:
    """Refresh the clusters whose recent reports no incident holds (a database from before
    incidents were stored: run when the node opens, so the public list shows them at once).
    Returns the clusters refreshed."""
    unassigned = unassigned_clusters(session, to_hour(now) - ALERT_HOURS)
    for area_id, report_type in sorted(unassigned):
        refresh_alert(session, area_id, report_type, now, config, settings)
    return unassigned


def cluster_reports(
    session: Session, area_id: str, report_type: str, now_hour: int
) -> tuple[Sequence[Report | Entry], dict[str, Sequence[FollowUp]]]:
    """The cluster's latest ALERT_CLUSTER_ROWS reports of the last ALERT_HOURS, latest
    (hour, id) first, and their follow-ups: from the recent index on a writer session
    whose index covers them (node.recent), else from the store. Both give the same."""
    horizon = now_hour - ALERT_HOURS
    index: RecentIndex | None = session.info.get(INFO_KEY)
    if index is not None and index.current(session) and index.covers(horizon):
        entries = index.cluster(area_id, report_type, horizon, ALERT_CLUSTER_ROWS)
        return entries, {r.id: index.follow_ups(r.id) for r in entries}
    rows = session.exec(
        select(Report)
        .where(Report.area_id == area_id, Report.type == report_type, col(Report.hour) >= horizon)
        .order_by(col(Report.hour).desc(), col(Report.id).desc())  # as node.recent
        .limit(ALERT_CLUSTER_ROWS)
    ).all()
    return rows, dict(follow_ups_for(session, [r.id for r in rows]))


def cluster_state(
    session: Session, area_id: str, report_type: str, now: datetime, config: ScoringConfig
) -> tuple[
    Sequence[Report | Entry], dict[str, Sequence[FollowUp]], list[tuple[Report | Entry, Decay]]
]:
    """The cluster's recent reports (cluster_reports), their follow-ups, and the active ones
    with their decay."""
    rows, follow_ups = cluster_reports(session, area_id, report_type, to_hour(now))
    live = []
    shown_at: dict[tuple[int, str], Decay] = {}  # decay without follow-ups, by (hour, verdict)
    for row in rows:
        if row.verdict in (Verdict.DEBUNKED, Verdict.ARCHIVED):
            continue
        its = follow_ups[row.id]
        if its:
            shown = decay_of(row, its, now, config)
        else:
            shown = shown_at.get((row.hour, row.verdict))  # type: ignore[assignment]
            if shown is None:
                shown = shown_at[(row.hour, row.verdict)] = decay_of(row, its, now, config)
        if still_active(row, its, shown):
            live.append((row, shown))
    return rows, follow_ups, live


def record_stage(
    session: Session,
    area_id: str,
    report_type: str,
    now: datetime,
    config: ScoringConfig,
    settings: AlertSettings,
) -> Transition:
    """Store the cluster's incident stage only (node.incident_store), its alert and notice
    untouched: for a change that moves no report (a verifier's "unable")."""
    rows, follow_ups, live = cluster_state(session, area_id, report_type, now, config)
    transition, _ = record(
        session,
        area_id,
        report_type,
        rows,
        live,
        follow_ups,
        now,
        config,
        settings.share_threshold,
    )
    return transition


def refresh_alert(
    session: Session,
    area_id: str,
    report_type: str,
    now: datetime,
    config: ScoringConfig,
    settings: AlertSettings,
    alerts: dict[tuple[str, str], Alert] | None = None,
) -> OutboxAlert | None:
    """Bring the cluster's incident (node.incident_store) and the chapter's alert for
    (area, type) up to date; queue what changed.

    The incident's stage is scoring.incident's, stored first (for every cluster,
    a place not in the gazetteer too). An alert opens when an active cluster's
    stage is shared, is updated when its level, count or activity changes, and
    is withdrawn when the cluster is debunked, gone or expired. Same alert id,
    higher seq. The cluster's responder notice (node.responders) is refreshed
    from the same reads. `alerts`: the open alerts as open_alerts() read them in
    this transaction, when the caller refreshes each cluster at most once after
    that read (settle). On a writer session the cluster's reports and follow-ups
    come from the recent index (node.recent), which holds what the store
    holds; elsewhere, or outside its window, from the store.
    """
    now_hour = to_hour(now)
    rows, follow_ups, live = cluster_state(session, area_id, report_type, now, config)
    stage, incident = record(
        session,
        area_id,
        report_type,
        rows,
        live,
        follow_ups,
        now,
        config,
        settings.share_threshold,
    )
    if not listed(area_id):  # free text stays local until a moderator maps it to an area
        return None
    incident_id = incident.id if incident is not None else None
    best = max((r.confidence for r, _ in live), default=0.0)
    needs_verifier = stage.stage == Stage.NEEDS_VERIFICATION
    refresh_notice(
        session,
        area_id,
        report_type,
        rows,
        live,
        now,
        config,
        settings.responders,
        needs_verifier,
        incident_id,
        corroborated=stage.stage == Stage.CORROBORATED,
        follow_ups=follow_ups,
    )
    if alerts is not None:
        alert = alerts.get((area_id, report_type))
    else:
        alert = session.exec(
            select(Alert).where(
                Alert.area_id == area_id,
                Alert.type == report_type,
                col(Alert.withdrawn).is_(False),
            )
        ).first()
    if live and stage.shared:
        expires = max(to_hour(shown.active_until) for _, shown in live)
        count = max(r.independent_sources for r, _ in live)
        level = level_for(best).value
        if alert is None:
            first = min((r for r, _ in live), key=lambda r: r.hour)
            alert = Alert(
                alert_id=new_id(12),
                area_id=area_id,
                area_name=first.area_name,
                lat=first.lat,
                lon=first.lon,
                highway=first.highway,
                hour=first.hour,
                type=report_type,
                seq=0,
                level=level,
                confidence=best,
                reports=count,
                still_active=True,
                expires_hour=expires,
            )
            kind = "alert"
        elif (alert.level, alert.reports, alert.expires_hour, round(alert.confidence, 2)) == (
            level,
            count,
            expires,
            round(best, 2),
        ):
            return None
        else:
            kind = "update"
        alert.level, alert.confidence, alert.reports = level, best, count
        alert.still_active, alert.expires_hour = True, expires
        alert.incident_id = incident_id
    elif alert is not None:
        alert.withdrawn, alert.still_active = True, False
        if now_hour >= alert.expires_hour:  # expired: receivers drop it on their own
            session.add(alert)
            if settings.push:  # but a person who was pushed the alert gets its all-clear
                body = alert_body(alert, "expired", settings.chapter_id, area_id=True)
                session.add(PushQueueRow(body=body))
                session.info[PUSH_WRITTEN] = True
            return None
        kind = "withdrawal"
    else:
        return None
    alert.seq += 1
    session.add(alert)
    body = alert_body(alert, kind, settings.chapter_id)
    outbox = OutboxAlert(alert_id=alert.alert_id, seq=alert.seq, body=body)
    session.add(outbox)
    session.info[OUTBOX_WRITTEN] = True
    if settings.push:  # the same aggregate, plus the area id subscriptions are kept by
        session.add(PushQueueRow(body=alert_body(alert, kind, settings.chapter_id, area_id=True)))
        session.info[PUSH_WRITTEN] = True
    return outbox


def alert_body(alert: Alert, kind: str, chapter_id: str, area_id: bool = False) -> str:
    """The aggregate an alert carries (canonical JSON, signed later by federation).

    area_id=True adds the gazetteer id, for the Web Push queue (never sent to neighbours).
    """
    body = {
        "kind": kind,
        "type": alert.type,
        "area": alert.area_name,
        "lat": alert.lat,
        "lon": alert.lon,
        "highway": alert.highway,
        "hour": from_hour(alert.hour).isoformat(),
        "level": alert.level,
        "confidence": round(alert.confidence, 2),
        "reports": alert.reports,
        "still_active": alert.still_active,
        "expires": from_hour(alert.expires_hour).isoformat(),
        "chapter": chapter_id,
        "alert_id": alert.alert_id,
        "seq": alert.seq,
    }
    if area_id:
        body["area_id"] = alert.area_id
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def active_alert_bodies(
    session: Session, now: datetime, chapter_id: str
) -> list[tuple[str, int, str]]:
    """(alert id, seq, body) of the chapter's alerts still active now, oldest first.

    What a new or returning neighbour is sent (federation.delivery's catch-up):
    the alert as last sent, at its current seq, so receivers de-duplicate it.
    """
    rows = session.exec(
        select(Alert)
        .where(col(Alert.withdrawn).is_(False), col(Alert.expires_hour) > to_hour(now))
        .order_by(col(Alert.hour), col(Alert.alert_id))
    ).all()
    kinds = {1: "alert"}
    return [
        (a.alert_id, a.seq, alert_body(a, kinds.get(a.seq, "update"), chapter_id))
        for a in rows
        if a.seq > 0 and a.still_active
    ]
