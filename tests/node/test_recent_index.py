"""The recent-window index (node.recent): always what the store holds, rebuilt at start,
so a restart scores the same; a failed job leaves nothing in it. SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from node.intake import store_report, validate
from node.outcome import Accepted, ReportDraft, SourceRef
from node.recent import COLUMNS
from node.service import ModeratorAction, Node, open_node
from node.setup import init_chapter
from node.store import AreaHour, Report, to_hour
from scoring.model import Channel

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
    finally:
        await node.close()
    node = await open_node(chapter_dir, clock=clock)
    try:
        assert indexed(node) == before
        assert mirrored(node) == history(node)
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
        assert after == expected
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
