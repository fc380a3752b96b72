"""Incidents at rest: a cluster's open incident, fed to scoring.incident, its stage stored.

node/ decides no stage: record() builds the cluster's evidence from its reports
(the same reads the alert and the responder notice use, node.alerts), asks
scoring.incident.advance, and stores the stage and reason it returns.

Rules kept here:
- One open incident per (area, type). It opens when a report of the cluster
  is active and none is open; it closes when advance returns ended or false
  alarm, and a later report then opens a new one (a new random id).
- A report belongs to the incident open when it is first settled
  (Report.incident_id, set here); an active report whose incident closed
  (a "still there" on it) joins the open one. Alerts and responder notices
  carry the id of the incident they were last written for.
- At rest only what the Incident row holds: a random id, area, type, stage,
  reason, whole hours (opened; updated = when stage or reason last changed),
  closed, verifier_unable. No report, source, verifier or minute.
- verifier_unable is set by a verifier's "unable" (mark_unable): advance then
  says unable while the evidence stays at the responders' level. It is
  cleared by the verifier's confirm or false alarm (an answer that decides
  supersedes one that could not), and by a new report joining the incident:
  "unable" was about what was known when the verifier went, and a new report
  is news no verifier has looked at, so the incident needs verification
  again (its request is still open and offered: node.verification).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import bindparam, update
from sqlmodel import Session, col, select

from node.recent import INFO_KEY, Entry, RecentIndex
from node.store import Incident, Report, to_hour
from scoring.defaults import ScoringConfig
from scoring.incident import Evidence, Stage, Transition, advance
from scoring.model import Channel, Decay, FollowUp, FollowUpKind, Verdict

CLOSING = (Stage.ENDED, Stage.FALSE_ALARM)  # stages that close an incident


# Built once (the writer runs them for every settled cluster): parameters bound at execution.
OPEN_INCIDENT = select(Incident).where(
    Incident.area_id == bindparam("area_id"),
    Incident.type == bindparam("report_type"),
    col(Incident.closed).is_(False),
)
OPEN_CLUSTERS = select(Incident.area_id, Incident.type).where(col(Incident.closed).is_(False))
PAST_REPORTED = OPEN_CLUSTERS.where(Incident.stage != Stage.REPORTED.value)
UNASSIGNED = (
    select(Report.area_id, Report.type)
    .where(
        col(Report.incident_id).is_(None),
        col(Report.hour) >= bindparam("since_hour"),
        col(Report.verdict).not_in([Verdict.DEBUNKED.value, Verdict.ARCHIVED.value]),
    )
    .distinct()
)
ASSIGN = (
    update(Report)
    .where(col(Report.id) == bindparam("_id"))
    .values(incident_id=bindparam("_incident"))
)


def open_incident(session: Session, area_id: str, report_type: str) -> Incident | None:
    """The cluster's open incident, if any."""
    found = session.execute(OPEN_INCIDENT, {"area_id": area_id, "report_type": report_type})
    return found.scalars().first()


def open_incident_clusters(session: Session, past_reported: bool = False) -> set[tuple[str, str]]:
    """(area, type) of every open incident (past_reported: only those beyond "reported",
    whose stage a re-score that lowers their reports may change)."""
    rows = session.execute(PAST_REPORTED if past_reported else OPEN_CLUSTERS).all()
    return {(area_id, report_type) for area_id, report_type in rows}


def unassigned_clusters(session: Session, since_hour: int) -> set[tuple[str, str]]:
    """(area, type) of the clusters with a report since `since_hour` that no incident holds
    and no moderator set aside: a database from before incidents were stored, or a report
    that was not active when its cluster was last refreshed. Refreshing them gives each
    active one its incident."""
    rows = session.execute(UNASSIGNED, {"since_hour": since_hour}).all()
    return {(area_id, report_type) for area_id, report_type in rows}


def evidence_of(
    rows: Sequence[Report | Entry],
    live: Sequence[tuple[Report | Entry, Decay]],
    follow_ups: Mapping[str, Sequence[FollowUp]],
    unable: bool,
) -> Evidence:
    """The cluster's evidence: `live` are its active reports with their decay, `rows` all
    of its recent reports, `follow_ups` theirs by report id; unable: the incident's
    verifier_unable."""
    top = max(live, key=lambda item: (item[0].confidence, item[0].id), default=None)
    return Evidence(
        confidence=max((r.confidence for r, _ in live), default=0.0),
        sources=top[0].independent_sources if top else 0,
        vouched=any(
            r.channel != Channel.WEB.value or r.verdict == Verdict.CONFIRMED.value for r, _ in live
        ),
        active=bool(live),
        ended_by_gone=not live
        and any(f.kind is FollowUpKind.GONE for r in rows for f in follow_ups.get(r.id, ())),
        confirmed=any(r.verdict == Verdict.CONFIRMED.value for r, _ in live),
        debunked=bool(rows) and all(r.verdict == Verdict.DEBUNKED.value for r in rows),
        unable=unable,
    )


def record(
    session: Session,
    area_id: str,
    report_type: str,
    rows: Sequence[Report | Entry],
    live: Sequence[tuple[Report | Entry, Decay]],
    follow_ups: Mapping[str, Sequence[FollowUp]],
    now: datetime,
    config: ScoringConfig,
    share_threshold: float,
) -> tuple[Transition, Incident | None]:
    """Feed the cluster's evidence to scoring.incident.advance and store what it returns
    in its open incident (opened when a report is active and none is; closed at ended or
    false alarm). Returns the transition and the incident (None: none open, none opened)."""
    incident = open_incident(session, area_id, report_type)
    hour = to_hour(now)
    if incident is None and live:
        incident = Incident(
            area_id=area_id,
            type=report_type,
            stage="",
            reason="",
            opened_hour=hour,
            updated_hour=hour,
        )
    if incident is None:
        evidence = evidence_of(rows, live, follow_ups, False)
        return advance(evidence, now, config, share_threshold), None
    joining = [r for r in rows if r.incident_id is None]
    if joining and incident.verifier_unable:  # news no verifier has looked at
        incident.verifier_unable = False
    joining += [r for r, _ in live if r.incident_id not in (None, incident.id)]
    evidence = evidence_of(rows, live, follow_ups, incident.verifier_unable)
    transition = advance(evidence, now, config, share_threshold)
    if (incident.stage, incident.reason) != (transition.stage.value, transition.reason.value):
        incident.stage, incident.reason = transition.stage.value, transition.reason.value
        incident.updated_hour = hour
    incident.closed = transition.stage in CLOSING
    session.add(incident)
    _assign(session, joining, incident.id)
    return transition, incident


def mark_unable(session: Session, area_id: str, report_type: str, unable: bool) -> None:
    """A verifier's answer about the cluster's open incident: "unable" (True), or one that
    decided, confirmed or false alarm (False). The caller then has the stage stored."""
    incident = open_incident(session, area_id, report_type)
    if incident is not None and incident.verifier_unable != unable:
        incident.verifier_unable = unable
        session.add(incident)


def _assign(session: Session, rows: Sequence[Report | Entry], incident_id: str) -> None:
    """Point these reports at the incident: in the store, and in the recent index that
    holds them (journaled, so a rolled-back batch undoes it)."""
    index: RecentIndex | None = session.info.get(INFO_KEY)
    by_statement = []
    for row in rows:
        if isinstance(row, Entry):
            if index is not None and index.get(row.id) is row:
                index.update(row, {"incident_id": incident_id})
            else:
                row.incident_id = incident_id
            loaded = session.identity_map.get(Session.identity_key(Report, row.id))
            if loaded is None:
                by_statement.append(row.id)
                continue
            row = loaded
        row.incident_id = incident_id
        session.add(row)
    if by_statement:
        params = [{"_id": report_id, "_incident": incident_id} for report_id in by_statement]
        session.connection().execute(ASSIGN, params)
