"""Retention: what goes, when, and what is left of it.

Run at least every 10 minutes (node.cli wires it to APScheduler) and by
`vecinos purge`. In one transaction: every report past its purge hour is
counted into the aggregates (area x type x day x hour of day, no report in
them; free-text areas all count as "unknown") and deleted with its
follow-ups, and a closed incident (node.incident_store) goes with its last
report; alerts whose clusters ended are closed, and expired alerts are
deleted with their outbox rows (sent or not: receivers would refuse them) and
room records; delivered outbox rows are dropped; neighbours' alerts go at
their expiry; responder notices of clusters that went quiet get their
all-clear, and closed notices go a day after. After the commit, description
keys whose whole day has passed retention are shredded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, delete, select

from node.alerts import AlertSettings, refresh_alert, refresh_quiet_clusters
from node.reports import UNKNOWN_AREA
from node.responders import purge_notices
from node.store import (
    Aggregate,
    Alert,
    AlertRoom,
    FollowUpRow,
    Incident,
    OutboxAlert,
    ReceivedAlertRow,
    Report,
    from_hour,
    to_hour,
)
from scoring.defaults import ScoringConfig
from scoring.model import Verdict


@dataclass
class PurgeCounts:
    reports: int = 0
    follow_ups: int = 0
    incidents: int = 0
    alerts_withdrawn: int = 0
    alerts_deleted: int = 0
    outbox_expired: int = 0
    received_alerts: int = 0
    outbox_delivered: int = 0
    keys_shredded: int = 0

    def line(self) -> str:
        return (
            f"purged {self.reports} reports, {self.follow_ups} follow-ups, "
            f"{self.incidents} incidents, "
            f"{self.outbox_delivered} sent outbox rows, {self.received_alerts} expired neighbour "
            f"alerts; closed {self.alerts_withdrawn} and deleted {self.alerts_deleted} alerts "
            f"({self.outbox_expired} never sent); shredded {self.keys_shredded} description keys"
        )


def purge(
    session: Session, now: datetime, config: ScoringConfig, alerts: AlertSettings
) -> PurgeCounts:
    counts = PurgeCounts()
    now_hour = to_hour(now)
    due = session.exec(select(Report).where(col(Report.purge_after_hour) <= now_hour)).all()
    for report in due:
        moment = from_hour(report.hour)
        area = report.area_id if report.area_known else UNKNOWN_AREA  # free text never stays
        key = (area, report.type, moment.date().isoformat(), moment.hour)
        aggregate = session.get(Aggregate, key) or Aggregate(
            area_id=key[0], type=key[1], day=key[2], hour_of_day=key[3]
        )
        aggregate.reports += 1
        aggregate.confirmed += report.verdict == Verdict.CONFIRMED
        aggregate.debunked += report.verdict == Verdict.DEBUNKED
        session.add(aggregate)
    ids = [r.id for r in due]
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        counts.follow_ups += session.exec(
            delete(FollowUpRow).where(col(FollowUpRow.report_id).in_(chunk))
        ).rowcount
        counts.reports += session.exec(delete(Report).where(col(Report.id).in_(chunk))).rowcount
    open_alerts = session.exec(select(Alert).where(col(Alert.withdrawn).is_(False))).all()
    for alert in open_alerts:
        refresh_alert(session, alert.area_id, alert.type, now, config, alerts)
        counts.alerts_withdrawn += alert.withdrawn
    refresh_quiet_clusters(session, now, config, alerts)  # responders' all-clears
    counts.incidents = session.exec(  # a closed incident goes with its last report
        delete(Incident).where(
            col(Incident.closed).is_(True),
            col(Incident.id).not_in(
                select(Report.incident_id).where(col(Report.incident_id).is_not(None))
            ),
        )
    ).rowcount
    purge_notices(session, now)
    # The chapter's own alerts: gone with everything about them once expired.
    expired = session.exec(select(Alert.alert_id).where(col(Alert.expires_hour) <= now_hour)).all()
    for start in range(0, len(expired), 500):
        chunk = expired[start : start + 500]
        counts.outbox_expired += session.exec(
            delete(OutboxAlert).where(
                col(OutboxAlert.alert_id).in_(chunk), col(OutboxAlert.delivered).is_(False)
            )
        ).rowcount
        session.exec(delete(OutboxAlert).where(col(OutboxAlert.alert_id).in_(chunk)))
        session.exec(delete(AlertRoom).where(col(AlertRoom.alert_id).in_(chunk)))
        counts.alerts_deleted += session.exec(
            delete(Alert).where(col(Alert.alert_id).in_(chunk))
        ).rowcount
    counts.received_alerts = session.exec(
        delete(ReceivedAlertRow).where(col(ReceivedAlertRow.expires_hour) <= now_hour)
    ).rowcount
    counts.outbox_delivered = session.exec(
        delete(OutboxAlert).where(col(OutboxAlert.delivered).is_(True))
    ).rowcount
    return counts
