"""An upgraded node keeps its data: a column the models gained is added to the old tables.

A chapter's database as an older node left it (here: follow-ups without
`by_member`, the column dropped from a real node's database) is opened by the
new node, on SQLite and on PostgreSQL: the column comes back with its default,
the old rows are kept and still count, and new rows use it.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from sqlmodel import Session, select

from node.config import load_config
from node.outcome import Accepted, ReportDraft, SourceRef
from node.service import open_node
from node.store import FollowUpRow, Incident, Report, add_missing_columns, database_url, make_engine
from scoring.model import Channel, FollowUpKind


def web(n: int) -> SourceRef:
    return SourceRef(Channel.WEB, f"10.0.0.{n}".encode())


async def test_an_old_database_gains_the_new_column_and_keeps_its_rows(
    chapter_dir: Path, clock
) -> None:
    node = await open_node(chapter_dir, clock=clock)
    try:
        outcome = await node.submit(ReportDraft(type="vehicle", area="Vista"), web(1))
        assert isinstance(outcome, Accepted)
        report_id = outcome.report.id
        assert await node.follow_up(report_id, FollowUpKind.GONE, web(2)) is not None
    finally:
        await node.close()
    config = load_config(chapter_dir / "vecinos.toml")
    url = database_url(chapter_dir, config.get("storage", "database_url"))
    old = create_engine(url)
    with old.begin() as connection:  # as the node before `by_member` made it
        connection.execute(text("ALTER TABLE followup DROP COLUMN by_member"))
    old.dispose()

    node = await open_node(chapter_dir, clock=clock)
    try:
        with Session(node.engine) as session:
            [kept] = session.exec(select(FollowUpRow)).all()
            assert (kept.report_id, kept.kind, kept.by_member) == (report_id, "gone", False)
        report = await node.get_report(report_id)
        assert report is not None and report.still_active  # one address's "gone": no quorum
        assert await node.follow_up(report_id, FollowUpKind.GONE, web(3)) is not None
        report = await node.get_report(report_id)
        assert report is not None and not report.still_active  # the old one still counts
        assert add_missing_columns(node.engine) == []  # a second start adds nothing
    finally:
        await node.close()


async def test_an_old_database_gains_the_incidents_table_and_columns(
    chapter_dir: Path, clock
) -> None:
    node = await open_node(chapter_dir, clock=clock)
    try:
        outcome = await node.submit(ReportDraft(type="vehicle", area="Vista"), web(1))
        assert isinstance(outcome, Accepted)
        report_id = outcome.report.id
    finally:
        await node.close()
    config = load_config(chapter_dir / "vecinos.toml")
    url = database_url(chapter_dir, config.get("storage", "database_url"))
    old = create_engine(url)
    with old.begin() as connection:  # as the node before incidents were stored made it
        connection.execute(text("DROP TABLE incident"))
        connection.execute(text("DROP INDEX ix_report_incident_id"))
        for table in ("report", "alert", "responder_notice"):
            connection.execute(text(f"ALTER TABLE {table} DROP COLUMN incident_id"))
    old.dispose()

    node = await open_node(chapter_dir, clock=clock)
    try:
        indexes = {i["name"] for i in inspect(node.engine).get_indexes("report")}
        assert "ix_report_incident_id" in indexes and inspect(node.engine).has_table("incident")
        with Session(node.engine) as session:  # the kept report has its incident at once
            [kept] = session.exec(select(Report)).all()
            [incident] = session.exec(select(Incident)).all()
            assert (kept.id, kept.incident_id) == (report_id, incident.id)
            assert (incident.area_id, incident.type, incident.closed) == ("vista", "vehicle", False)
        [shown] = await node.public_incidents()  # published by the opening tick
        assert shown.id == incident.id
        outcome = await node.submit(ReportDraft(type="vehicle", area="Vista"), web(2))
        assert isinstance(outcome, Accepted)
        assert add_missing_columns(node.engine) == []
    finally:
        await node.close()


def test_a_current_database_is_left_as_it_is(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'new.db'}")
    try:
        assert add_missing_columns(engine) == []
    finally:
        engine.dispose()
