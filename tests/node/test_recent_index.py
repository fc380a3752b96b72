"""The recent-window index (node.recent): always what the store holds (reports, history
counters, open incidents), rebuilt at start, so a restart scores the same; a failed job
leaves nothing in it; the alert refresh reads the same clusters from it as from the store.
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from node.alerts import cluster_reports, refresh_alert
from node.incident_store import mark_unable
from node.intake import store_follow_up, store_report, validate
from node.outcome import Accepted, ReportDraft, SourceRef
from node.recent import COLUMNS
from node.service import ModeratorAction, Node, open_node
from node.setup import init_chapter
from node.store import AreaHour, Incident, Report, to_hour
from scoring.model import Channel, FollowUpKind

AREAS = ("Chula Vista", "National City", "Imperial Beach", "San Ysidro", "Otay Mesa")
TYPES = ("raid", "patrol", "vehicle", "checkpoint")


def web(n: int) -> SourceRef:
    return SourceRef(Channel.WEB, f"127.0.0.{n}".encode())


def stored(node: Node) -> dict[str, dict]:
    with Session(node.engine) as session:
        return {
            row.id: {name: getattr(row, name) for name in COLUMNS}
            for row in session.exec(select(Report)).all()
        }


def indexed(node: Node) -> dict[str, dict]:
    return {entry.id: entry.params() for entry in node.recent.entries()}


def history(node: Node) -> dict[tuple[str, int], tuple[int, int]]:
    with Session(node.engine) as session:
        return {
            (r.area_id, r.hour_of_week): (r.reports, r.confirmed)
            for r in session.exec(select(AreaHour)).all()
        }


def mirrored(node: Node) -> dict[tuple[str, int], tuple[int, int]]:
    """The index's mirror of the history counters."""
    return {
        (area, how): (counts[0], counts[1])
        for area, hours in node.recent._history.items()
        for how, counts in hours.items()
    }


def open_incidents(node: Node) -> dict[tuple[str, str], dict]:
    with Session(node.engine) as session:
        query = select(Incident).where(Incident.closed == False)  # noqa: E712
        return {(i.area_id, i.type): i.model_dump() for i in session.exec(query).all()}


def held_incidents(node: Node) -> dict[tuple[str, str], dict]:
    """The index's mirror of the open incidents."""
    return {(v["area_id"], v["type"]): v for v in node.recent.open_incidents()}


async def scenario(node: Node, clock, first: int, count: int) -> list[tuple]:
    """Reports over five areas and four types from sources first.., minutes apart."""
    seen = []
    for i in range(count):
        draft = ReportDraft(type=TYPES[i % 4], area=AREAS[i % 5])
        outcome = await node.submit(draft, web(first + i))
        assert isinstance(outcome, Accepted), outcome
        r = outcome.report
        seen.append((r.confidence, r.independent_sources, r.status, outcome.review_reasons))
        clock.advance(minutes=3)
    return seen


async def test_the_index_holds_what_the_store_holds_and_is_rebuilt_at_start(
    chapter_dir: Path, clock
) -> None:
    node = await open_node(chapter_dir, clock=clock)
    try:
        await scenario(node, clock, 1, 24)
        some = sorted(indexed(node))[:2]
        await node.moderate(some[0], ModeratorAction.CONFIRM)
        await node.moderate(some[1], ModeratorAction.DEBUNK)
        await scenario(node, clock, 40, 8)
        before = indexed(node)
        assert before == stored(node) and len(before) == 32
        assert mirrored(node) == history(node)
        incidents = held_incidents(node)
        assert incidents == open_incidents(node)
        assert len(incidents) in (19, 20)  # 20 clusters; the debunked one's may have closed
    finally:
        await node.close()
    node = await open_node(chapter_dir, clock=clock)
    try:
        assert indexed(node) == before
        assert mirrored(node) == history(node)
        assert held_incidents(node) == open_incidents(node) == incidents
    finally:
        await node.close()


async def test_scores_match_with_and_without_a_restart(
    chapter_dir: Path, tmp_path: Path, clock
) -> None:
    """Two chapters see the same reports at the same times; one restarts midway."""
    from tests.conftest import Clock

    reference_dir = tmp_path / "reference"
    init_chapter(reference_dir, "Reference")
    other_clock = Clock(clock.now)
    restarted = await open_node(chapter_dir, clock=clock)
    reference = await open_node(reference_dir, clock=other_clock)
    try:
        # Phase 1 from one source: after a restart it is "unknown", which counts
        # exactly as one source does, so both chapters must agree from here on.
        for i in range(10):
            draft = ReportDraft(type=TYPES[i % 4], area=AREAS[i % 5])
            for node in (restarted, reference):
                assert isinstance(await node.submit(draft, web(1)), Accepted)
            clock.advance(minutes=4)  # within its rate limit
            other_clock.advance(minutes=4)
        await restarted.close()
        restarted = await open_node(chapter_dir, clock=clock)
        clock.advance(minutes=20)  # past the burst window, which only memory knows
        other_clock.advance(minutes=20)
        after = await scenario(restarted, clock, 2, 20)
        expected = await scenario(reference, other_clock, 2, 20)
        # Same sources and reasons; arrival minutes (memory only) are forgotten at a
        # restart, so reports can only look further apart there: never more confident.
        assert [a[1:] for a in after] == [e[1:] for e in expected]
        assert all(a[0] <= e[0] for a, e in zip(after, expected, strict=True))
        assert any(sources > 2 for _, sources, _, _ in after)  # they did corroborate
    finally:
        await restarted.close()
        await reference.close()


async def test_a_failed_job_leaves_nothing_in_the_index(node: Node, clock) -> None:
    await node.submit(ReportDraft(type="raid", area="Vista"), web(1))
    before = indexed(node)
    valid = validate(ReportDraft(type="raid", area="Vista"), node.gazetteer, node.limits)
    assert not isinstance(valid, tuple)
    now = clock()

    def job(session: Session) -> None:
        store_report(session, node.context, valid, Channel.WEB, frozenset({b"x"}), now)
        raise RuntimeError("the job fails after storing")

    with pytest.raises(RuntimeError):
        await node.writer.run(job)
    assert indexed(node) == before == stored(node)
    assert mirrored(node) == history(node)
    hour = to_hour(now)
    assert [e.hour for e in node.recent.entries()] == [hour]


async def test_a_failed_job_leaves_the_open_incidents_as_stored(node: Node, clock) -> None:
    await node.submit(ReportDraft(type="raid", area="Vista"), web(1))
    before = held_incidents(node)
    assert before == open_incidents(node) and len(before) == 1
    valid = validate(ReportDraft(type="patrol", area="Vista"), node.gazetteer, node.limits)
    assert not isinstance(valid, tuple)
    now = clock()

    def job(session: Session) -> None:
        mark_unable(session, "vista", "raid", True)  # changes the open one
        store_report(session, node.context, valid, Channel.WEB, frozenset({b"x"}), now)
        refresh_alert(session, "vista", "patrol", now, node.config.scoring, node.context.alerts)
        assert len(held_incidents(node)) == 2  # opened another
        raise RuntimeError("the job fails after both")

    with pytest.raises(RuntimeError):
        await node.writer.run(job)
    assert held_incidents(node) == open_incidents(node) == before


def cluster_view(rows, follow_ups) -> list[tuple]:
    """What the alert refresh reads of a cluster, comparable across index and store."""
    return [
        (
            tuple(getattr(r, name) for name in COLUMNS),
            sorted((f.kind.value, f.hour, f.by_moderator) for f in follow_ups[r.id]),
        )
        for r in rows
    ]


async def test_the_alert_refresh_reads_from_the_index_what_the_store_holds(
    chapter_dir: Path, clock
) -> None:
    """cluster_reports() on a writer session (the index) equals the store's query, with
    follow-ups, verdicts and a rolled-back follow-up; and again after a restart."""
    node = await open_node(chapter_dir, clock=clock)
    try:
        await scenario(node, clock, 1, 30)
        ids = sorted(indexed(node))
        for n, report_id in enumerate(ids[:6]):
            kind = FollowUpKind.STILL_THERE if n % 2 else FollowUpKind.GONE
            await node.follow_up(report_id, kind, web(200 + n))
        await node.moderate(ids[6], ModeratorAction.CONFIRM)
        await node.moderate(ids[7], ModeratorAction.DEBUNK)
        now = clock()

        def failing(session: Session) -> None:
            store_follow_up(
                session, node.context, ids[8], FollowUpKind.GONE, frozenset({b"f"}), False, now
            )
            session.flush()
            raise RuntimeError("the job fails after its follow-up")

        with pytest.raises(RuntimeError):
            await node.writer.run(failing)
        clusters = sorted({(e.area_id, e.type) for e in node.recent.entries()})
        assert len(clusters) > 10

        def from_index(session: Session) -> list[list[tuple]]:
            assert node.recent.current(session)
            return [
                cluster_view(*cluster_reports(session, a, t, to_hour(now))) for a, t in clusters
            ]

        def from_store() -> list[list[tuple]]:
            with Session(node.engine) as session:
                return [
                    cluster_view(*cluster_reports(session, a, t, to_hour(now))) for a, t in clusters
                ]

        expected = from_store()
        assert sum(1 for view in expected for _, f in view if f) == 6  # the failed one is not
        assert await node.writer.run(from_index) == expected
    finally:
        await node.close()
    node = await open_node(chapter_dir, clock=clock)
    try:
        assert await node.writer.run(from_index) == expected == from_store()
    finally:
        await node.close()


async def test_staged_reports_are_written_before_any_later_read_and_once(node: Node) -> None:
    """A batch's new reports are staged and written together; a later job of the batch
    that reads the store sees them, and if that job fails they are written again after."""
    await node.submit(ReportDraft(type="raid", area="Vista"), web(1))
    gate = threading.Event()

    def count(session: Session) -> int:
        return session.connection().execute(text("SELECT COUNT(*) FROM report")).scalar_one()

    def count_then_fail(session: Session) -> None:
        assert count(session) == 2
        raise RuntimeError("the job fails after reading")

    blocked = asyncio.ensure_future(node.writer.run(lambda session: gate.wait(timeout=30)))
    jobs = [
        asyncio.ensure_future(node.submit(ReportDraft(type="raid", area="Vista"), web(2))),
        asyncio.ensure_future(node.writer.run(count_then_fail)),
        asyncio.ensure_future(node.writer.run(count)),
        asyncio.ensure_future(node.submit(ReportDraft(type="patrol", area="Vista"), web(3))),
    ]
    await asyncio.sleep(0)  # let every job be queued behind the blocked one
    gate.set()
    await blocked
    first, failed, counted, last = await asyncio.gather(*jobs, return_exceptions=True)
    assert isinstance(first, Accepted) and isinstance(last, Accepted)
    assert isinstance(failed, RuntimeError)
    assert counted == 2
    assert len(stored(node)) == 3 and indexed(node) == stored(node)
    assert mirrored(node) == history(node)
