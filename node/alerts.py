"""The chapter's own alerts: one per active cluster (area x type) that reached
the share threshold, kept up to date and queued in the outbox for federation.

Rules: an alert is an aggregate and never carries a description or a single
report; its outbox row is written in the transaction of the change that
caused it; every change of the same alert gets the next seq.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from node.reports import decay_of, follow_ups_for, new_id, still_active
from node.responders import (
    ResponderSettings,
    close_expired_received,
    open_notice_clusters,
    refresh_notice,
)
from node.store import Alert, OutboxAlert, Report, from_hour, to_hour
from scoring.defaults import ScoringConfig, level_for
from scoring.model import Verdict

ALERT_CLUSTER_ROWS = 200  # the most recent reports of a cluster that make its alert
OUTBOX_WRITTEN = "vecinos_outbox_written"  # session.info flag: this transaction queued an alert


def open_alert_clusters(session: Session) -> set[tuple[str, str]]:
    """(area, type) of every alert not yet withdrawn, and of every open responder notice."""
    rows = session.exec(
        select(Alert.area_id, Alert.type).where(col(Alert.withdrawn).is_(False))
    ).all()
    return {(area_id, report_type) for area_id, report_type in rows} | open_notice_clusters(
        session
    )


@dataclass(frozen=True)
class AlertSettings:
    chapter_id: str
    share_threshold: float
    responders: ResponderSettings = field(default_factory=ResponderSettings)

    @property
    def watch_threshold(self) -> float:
        """From this confidence a cluster may change an alert or a responder notice."""
        return min(self.share_threshold, self.responders.threshold)


def refresh_quiet_clusters(
    session: Session, now: datetime, config: ScoringConfig, settings: AlertSettings
) -> None:
    """Retention's pass: clusters whose responder notice is open though no report changed
    (they went quiet and expired) and neighbours' expired alerts get their all-clear."""
    for area_id, report_type in sorted(open_notice_clusters(session)):
        refresh_alert(session, area_id, report_type, now, config, settings)
    close_expired_received(session, now, settings.responders)


def refresh_alert(
    session: Session,
    area_id: str,
    report_type: str,
    now: datetime,
    config: ScoringConfig,
    settings: AlertSettings,
) -> OutboxAlert | None:
    """Bring the chapter's alert for (area, type) up to date; queue what changed.

    An alert opens when an active cluster reaches the share threshold, is
    updated when its level, count or activity changes, and is withdrawn when
    the cluster is debunked, gone or expired. Same alert id, higher seq.
    The cluster's responder notice (node.responders) is refreshed from the
    same reads.
    """
    now_hour = to_hour(now)
    horizon = now_hour - 48
    rows = session.exec(
        select(Report)
        .where(Report.area_id == area_id, Report.type == report_type, col(Report.hour) >= horizon)
        .order_by(col(Report.hour).desc())
        .limit(ALERT_CLUSTER_ROWS)
    ).all()
    follow_ups = follow_ups_for(session, [r.id for r in rows])
    live = []
    for row in rows:
        if row.verdict in (Verdict.DEBUNKED, Verdict.ARCHIVED):
            continue
        shown = decay_of(row, follow_ups[row.id], now, config)
        if still_active(row, follow_ups[row.id], shown):
            live.append((row, shown))
    best = max((r.confidence for r, _ in live), default=0.0)
    refresh_notice(session, area_id, report_type, rows, live, now, config, settings.responders)
    alert = session.exec(
        select(Alert).where(
            Alert.area_id == area_id, Alert.type == report_type, col(Alert.withdrawn).is_(False)
        )
    ).first()
    if live and best >= settings.share_threshold:
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
    elif alert is not None:
        alert.withdrawn, alert.still_active = True, False
        if now_hour >= alert.expires_hour:  # expired: receivers drop it on their own
            session.add(alert)
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
    return outbox


def alert_body(alert: Alert, kind: str, chapter_id: str) -> str:
    """The aggregate an alert carries (canonical JSON, signed later by federation)."""
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
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
