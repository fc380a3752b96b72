"""Stored incidents on a real store (SQLite and PostgreSQL): a report opens its cluster's
incident, the stage scoring.incident returns is stored, reports, the alert and the responder
notice point at it, an end or a false alarm closes it (a later report opens a new one), and
retention closes the quiet ones and deletes them with their last report."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlmodel import Session, select
from test_responder_notices import _responder_node, report

from node.outcome import Accepted, ReportDraft, SourceRef
from node.service import ModeratorAction, Node
from node.store import Alert, Incident, Report, ResponderNotice
from scoring.model import Channel


@pytest.fixture
async def rnode(chapter_dir: Path, clock) -> AsyncIterator[Node]:
    async for node in _responder_node(chapter_dir, clock, hold=0):
        yield node


def incidents(node: Node) -> list[Incident]:
    with Session(node.engine) as session:
        return list(session.exec(select(Incident)).all())


def rows(node: Node, table: type) -> list:
    with Session(node.engine) as session:
        return list(session.exec(select(table)).all())


async def test_a_cluster_s_reports_alert_and_notice_key_on_its_incident(rnode: Node, clock) -> None:
    first = await report(rnode, clock, 1)
    [incident] = incidents(rnode)
    assert (incident.area_id, incident.type, incident.closed) == ("chula-vista", "raid", False)
    assert (incident.stage, incident.reason) == ("reported", "one_source")
    assert incident.opened_hour == incident.updated_hour
    for n in (2, 3, 4):
        await report(rnode, clock, n)
    [incident] = incidents(rnode)
    assert (incident.stage, incident.reason) == ("needs_verification", "anonymous_only")
    await rnode.moderate(first, ModeratorAction.CONFIRM)
    [incident] = incidents(rnode)
    assert (incident.stage, incident.reason) == ("verified", "confirmed")
    assert {r.incident_id for r in rows(rnode, Report)} == {incident.id}
    [notice] = rows(rnode, ResponderNotice)
    [alert] = rows(rnode, Alert)
    assert notice.incident_id == alert.incident_id == incident.id


async def test_a_false_alarm_closes_it_and_a_later_report_opens_a_new_one(
    rnode: Node, clock
) -> None:
    ids = [await report(rnode, clock, n) for n in (1, 2)]
    [before] = incidents(rnode)
    for report_id in ids:
        await rnode.moderate(report_id, ModeratorAction.DEBUNK)
    [closed] = incidents(rnode)
    assert (closed.id, closed.stage, closed.reason, closed.closed) == (
        before.id,
        "false_alarm",
        "debunked",
        True,
    )
    later = await report(rnode, clock, 3)
    [new] = [i for i in incidents(rnode) if not i.closed]
    assert new.id != before.id and new.stage == "reported"
    by_id = {r.id: r.incident_id for r in rows(rnode, Report)}
    assert by_id == {ids[0]: before.id, ids[1]: before.id, later: new.id}


async def test_retention_ends_a_quiet_incident_and_deletes_it_with_its_last_report(
    rnode: Node, clock
) -> None:
    outcome = await rnode.submit(
        ReportDraft(type="vehicle", area="Vista"), SourceRef(Channel.WEB, b"127.0.0.9")
    )
    assert isinstance(outcome, Accepted)
    clock.advance(hours=3)  # a vehicle is active for an hour
    counts = await rnode.purge()
    [ended] = incidents(rnode)
    assert (ended.stage, ended.reason, ended.closed) == ("ended", "expired", True)
    assert counts.incidents == 0  # its report is still kept
    clock.advance(hours=24)
    counts = await rnode.purge()
    assert (counts.reports, counts.incidents) == (1, 1) and incidents(rnode) == []
