"""Incidents at rest: a cluster's open incident, fed to scoring.incident, its stage stored.

node/ decides no stage: record() builds the cluster's evidence from its reports
(the same reads the alert and the responder notice use, node.alerts), asks
scoring.incident.advance, and stores the stage and reason it returns.

Rules kept here:
- One open incident per (area, type). It opens when a report of the cluster
  is active and none is open; it closes when advance returns ended or false
  alarm, and a later report then opens a new one (a new random id). When no
  pass closed it in between (the node was down), a report that finds every
  report of the open incident ended closes it first, then opens the new one.
- A report belongs to the incident open when it is first settled
  (Report.incident_id, set here); an active report whose incident closed
  (a "still there" on it) joins the open one. Alerts and responder notices
  carry the id of the incident they were last written for.
- At rest only what the Incident row holds: a random id, area, type, stage,
  reason, whole hours (opened; updated = when stage or reason last changed),
  closed, verifier_unable. No report, source, verifier or minute.
- On a writer session the open incidents are read from the recent index
  (node.recent), which mirrors every write made here, journaled like the
  rest of it; elsewhere from the store. Writes are one statement each, and
  only when something changed: a report that changes no stage costs no
  incident statement.
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
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlmodel import Session, col, select

from node.recent import INFO_KEY, Entry, RecentIndex
from node.store import Incident, Report, random_key, to_hour
from scoring.defaults import ScoringConfig
from scoring.incident import Evidence, Stage, Transition, advance
from scoring.model import Channel, Decay, FollowUp, FollowUpKind, Verdict

CLOSING = (Stage.ENDED, Stage.FALSE_ALARM)  # stages that close an incident


# Built once (the writer runs them for every settled cluster): parameters bound at execution.
INCIDENTS = Incident.__table__  # type: ignore[attr-defined]
OPEN_INCIDENT = select(INCIDENTS).where(
    INCIDENTS.c.area_id == bindparam("area_id"),
    INCIDENTS.c.type == bindparam("report_type"),
    INCIDENTS.c.closed.is_(False),
)
OPEN_CLUSTERS = select(INCIDENTS.c.area_id, INCIDENTS.c.type, INCIDENTS.c.stage).where(
    INCIDENTS.c.closed.is_(False)
)
INSERT_INCIDENT = insert(INCIDENTS)
UPDATED_COLUMNS = ("stage", "reason", "updated_hour", "closed", "verifier_unable")
UPDATE_INCIDENT = (
    update(INCIDENTS)
    .where(INCIDENTS.c.id == bindparam("_id"))
    .values(
        stage=bindparam("stage"),
        reason=bindparam("reason"),
        updated_hour=bindparam("updated_hour"),
        closed=bindparam("closed"),
        verifier_unable=bindparam("verifier_unable"),
    )
)
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


@dataclass
class OpenIncident:
    """An open incident's row, as record() reads and writes it (the Incident table's columns)."""

    id: str
    area_id: str
    type: str
    stage: str
    reason: str
    opened_hour: int
    updated_hour: int
    closed: bool = False
    verifier_unable: bool = False


def _mirror(session: Session) -> RecentIndex | None:
    """The recent index that holds the open incidents, on a writer session (else None)."""
    index: RecentIndex | None = session.info.get(INFO_KEY)
    return index if index is not None and index.holds_incidents else None


def open_incident(session: Session, area_id: str, report_type: str) -> OpenIncident | None:
    """The cluster's open incident, if any (a copy: _store writes a change)."""
    mirror = _mirror(session)
    if mirror is not None:
        values: Mapping[str, Any] | None = mirror.open_incident(area_id, report_type)
    else:
        found = session.connection().execute(
            OPEN_INCIDENT, {"area_id": area_id, "report_type": report_type}
        )
        values = found.mappings().first()
    return None if values is None else OpenIncident(**values)


def open_incident_clusters(session: Session, past_reported: bool = False) -> set[tuple[str, str]]:
    """(area, type) of every open incident (past_reported: only those beyond "reported",
    whose stage a re-score that lowers their reports may change)."""
    mirror = _mirror(session)
    if mirror is not None:
        held = mirror.open_incidents()
        rows: Sequence[Any] = [(v["area_id"], v["type"], v["stage"]) for v in held]
    else:
        rows = session.connection().execute(OPEN_CLUSTERS).all()
    return {
        (area_id, report_type)
        for area_id, report_type, stage in rows
        if not past_reported or stage != Stage.REPORTED.value
    }


def _store(session: Session, incident: OpenIncident, opening: bool) -> None:
    """Write the incident (an INSERT when it opens, else an UPDATE) and mirror it."""
    values = asdict(incident)
    if opening:
        session.connection().execute(INSERT_INCIDENT, values)
    else:
        changed = {name: values[name] for name in UPDATED_COLUMNS}
        session.connection().execute(UPDATE_INCIDENT, {"_id": incident.id, **changed})
    mirror = _mirror(session)
    if mirror is not None:
        mirror.set_open_incident(incident.area_id, incident.type, values)


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
) -> tuple[Transition, OpenIncident | None]:
    """Feed the cluster's evidence to scoring.incident.advance and store what it returns
    in its open incident (opened when a report is active and none is; closed at ended or
    false alarm). Returns the transition and the incident (None: none open, none opened)."""
    incident = open_incident(session, area_id, report_type)
    hour = to_hour(now)
    if incident is not None and _ended_before(incident, live):
        own = [r for r in rows if r.incident_id == incident.id]
        _close(
            session,
            incident,
            advance(evidence_of(own, [], follow_ups, False), now, config, share_threshold),
            hour,
        )
        incident = None
    opening = incident is None and bool(live)
    if incident is None:
        if not live:
            evidence = evidence_of(rows, live, follow_ups, False)
            return advance(evidence, now, config, share_threshold), None
        incident = OpenIncident(random_key(), area_id, report_type, "", "", hour, hour)
    before = asdict(incident)
    unassigned = [r for r in rows if r.incident_id is None]
    if unassigned and incident.verifier_unable:  # news no verifier has looked at
        incident.verifier_unable = False
    rejoining = [r for r, _ in live if r.incident_id not in (None, incident.id)]
    joining = unassigned + rejoining
    # Its own reports and those joining it: an earlier incident's at the place (ended, and
    # perhaps left undecided by a verifier who looked at this one) says nothing of it.
    mine = [r for r in rows if r.incident_id == incident.id] + joining
    evidence = evidence_of(mine, live, follow_ups, incident.verifier_unable)
    transition = advance(evidence, now, config, share_threshold)
    if (incident.stage, incident.reason) != (transition.stage.value, transition.reason.value):
        incident.stage, incident.reason = transition.stage.value, transition.reason.value
        incident.updated_hour = hour
    incident.closed = transition.stage in CLOSING
    if opening or asdict(incident) != before:
        _store(session, incident, opening)
    _assign(session, joining, incident.id)
    return transition, incident


def _ended_before(incident: OpenIncident, live: Sequence[tuple[Report | Entry, Decay]]) -> bool:
    """Whether every report of the open incident had ended before the active ones came: no
    pass of retention closed it in between (the node was down). It ended then; they open a
    new incident, as they would have had retention run."""
    return bool(live) and all(r.incident_id != incident.id for r, _ in live)


def _close(session: Session, incident: OpenIncident, ended: Transition, hour: int) -> None:
    incident.stage, incident.reason = ended.stage.value, ended.reason.value
    incident.updated_hour, incident.closed = hour, True
    _store(session, incident, opening=False)


def mark_unable(session: Session, area_id: str, report_type: str, unable: bool) -> None:
    """A verifier's answer about the cluster's open incident: "unable" (True), or one that
    decided, confirmed or false alarm (False). The caller then has the stage stored."""
    incident = open_incident(session, area_id, report_type)
    if incident is not None and incident.verifier_unable != unable:
        incident.verifier_unable = unable
        _store(session, incident, opening=False)


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
