"""The one intake path, end to end on a real store: validation, moderation,
scoring against stored neighbours, rate limits, follow-ups, moderation
decisions and the alert outbox."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlmodel import Session, select

from node.outcome import Accepted, RateLimited, Refused, ReportDraft, SourceRef
from node.service import ModeratorAction, Node
from node.store import OutboxAlert, Report, from_hour
from scoring.model import Channel, FollowUpKind


def web(n: int) -> SourceRef:
    return SourceRef(Channel.WEB, f"127.0.0.{n}".encode())


def raid(area: str = "Chula Vista", **extra: object) -> ReportDraft:
    return ReportDraft(type="raid", area=area, **extra)  # type: ignore[arg-type]


def rows(node: Node) -> list[Report]:
    with Session(node.engine) as session:
        return list(session.exec(select(Report)).all())


def outbox(node: Node) -> list[dict]:
    with Session(node.engine) as session:
        found = session.exec(select(OutboxAlert).order_by(OutboxAlert.id)).all()
        return [json.loads(r.body) for r in found]


async def test_accepted_report_is_stored_with_its_hour_only(node: Node, clock) -> None:
    outcome = await node.submit(raid(description="tres camionetas blancas"), web(1))
    assert isinstance(outcome, Accepted)
    assert outcome.report.type == "raid"
    assert outcome.report.area == "Chula Vista" and outcome.report.area_known
    assert outcome.report.still_active
    [row] = rows(node)
    assert from_hour(row.hour) == clock.now.replace(minute=0, second=0, microsecond=0)
    assert row.description_ct is not None and b"camionetas" not in row.description_ct


async def test_missing_and_wrong_fields_are_refused_per_field(node: Node) -> None:
    draft = ReportDraft(type="parade", area=None, highway="Route 66", description="x" * 5000)
    outcome = await node.submit(draft, web(1))
    assert isinstance(outcome, Refused)
    codes = {(e.field, e.code) for e in outcome.errors}
    assert codes == {
        ("type", "invalid_type"),
        ("area", "missing_area"),
        ("highway", "invalid_highway"),
        ("description", "description_too_long"),
    }
    assert outcome.draft is draft  # the reporter's text comes back to be fixed
    assert rows(node) == []


async def test_wrong_types_are_refused_not_crashed(node: Node) -> None:
    draft = ReportDraft(type=5, area=["x"], description={"a": 1})  # type: ignore[arg-type]
    outcome = await node.submit(draft, web(1))
    assert isinstance(outcome, Refused)
    assert {e.field for e in outcome.errors} == {"type", "area", "description"}


async def test_personal_information_is_refused_and_nothing_kept(node: Node) -> None:
    outcome = await node.submit(
        raid(description="la camioneta con placas 7ABC123, llamen al 619-555-0142"), web(1)
    )
    assert isinstance(outcome, Refused)
    assert {e.code for e in outcome.errors} >= {"refused_plate", "refused_phone"}
    assert rows(node) == []


async def test_spanish_type_words_and_close_spellings_match(node: Node) -> None:
    outcome = await node.submit(ReportDraft(type="Redada", area="chula bista"), web(1))
    assert isinstance(outcome, Accepted)
    assert outcome.report.type == "raid" and outcome.report.area == "Chula Vista"
    outcome = await node.submit(ReportDraft(type="retén", area="SAN YSIDRO"), web(2))
    assert isinstance(outcome, Accepted) and outcome.report.type == "checkpoint"


async def test_a_place_named_like_a_person_is_a_place_but_a_name_elsewhere_is_refused(
    node: Node,
) -> None:
    from node.gazetteer import Area, Gazetteer, Place

    named = Area(
        id="maria-garcia", name="Maria Garcia", aliases=(), place=Place(32.6, -117.0), highways=()
    )
    node.gazetteer = Gazetteer("test", (), [*node.gazetteer.areas, named])
    outcome = await node.submit(raid(area="maria  GARCIA"), web(1))
    assert isinstance(outcome, Accepted) and outcome.report.area == "Maria Garcia"
    outcome = await node.submit(raid(area="Maria Garcia's house on 5th"), web(2))
    assert isinstance(outcome, Refused)
    assert {e.code for e in outcome.errors} == {"refused_name"}


async def test_unknown_area_is_kept_as_text_and_flagged(node: Node) -> None:
    outcome = await node.submit(raid(area="the big swap meet"), web(1))
    assert isinstance(outcome, Accepted)
    assert not outcome.report.area_known and outcome.report.lat is None
    assert "anomaly" in outcome.review_reasons
    [row] = rows(node)
    assert "unknown_area" in row.flags and row.in_review


async def test_rate_limit_per_source_leaves_others_through(node: Node) -> None:
    for _ in range(5):
        assert isinstance(await node.submit(raid(), web(9)), Accepted)
    limited = await node.submit(raid(), web(9))
    assert isinstance(limited, RateLimited) and limited.retry_after_s > 0
    assert isinstance(await node.submit(raid(), web(10)), Accepted)


async def test_rate_limit_window_passes(node: Node, clock) -> None:
    for _ in range(5):
        await node.submit(raid(), web(9))
    assert isinstance(await node.submit(raid(), web(9)), RateLimited)
    clock.advance(minutes=16)
    assert isinstance(await node.submit(raid(), web(9)), Accepted)


async def test_independent_reports_corroborate_and_raise_an_alert(node: Node, clock) -> None:
    # two vetted members' reports: anonymous web reports alone, or with one member, never
    # reach the neighbours
    first = await node.submit(raid(), SourceRef(Channel.MEMBER, b"@member:example.org"))
    assert isinstance(first, Accepted)
    confidences = [first.report.confidence]
    for n in range(2, 7):
        clock.advance(minutes=4)  # minutes apart: independent sightings, not a burst
        second = SourceRef(Channel.MEMBER, b"@rosa:example.org")
        outcome = await node.submit(raid(), second if n == 6 else web(n))
        assert isinstance(outcome, Accepted)
        confidences.append(outcome.report.confidence)
    assert confidences == sorted(confidences) and confidences[-1] > confidences[0]
    earliest = await node.get_report(first.report.id)
    assert earliest is not None and earliest.confidence > first.report.confidence
    assert earliest.independent_sources == 6
    alerts = outbox(node)
    assert alerts and alerts[0]["kind"] == "alert" and alerts[0]["type"] == "raid"
    assert alerts[0]["area"] == "Chula Vista" and "description" not in alerts[0]
    assert [a["seq"] for a in alerts] == list(range(1, len(alerts) + 1))


async def test_a_burst_of_new_sources_is_capped_and_reviewed(node: Node) -> None:
    outcomes = [await node.submit(raid(area="Jacumba"), web(n)) for n in range(1, 9)]
    assert all(isinstance(o, Accepted) for o in outcomes)
    last = outcomes[-1]
    assert isinstance(last, Accepted) and "burst" in last.review_reasons
    # anonymous sources alone stop at 'likely' (shown as needing verification), never shared
    assert last.report.level == "likely"
    assert outbox(node) == []  # a burst alone never reaches the neighbours


async def test_same_source_repeats_never_corroborate(node: Node) -> None:
    first = await node.submit(raid(), web(1))
    assert isinstance(first, Accepted)
    for _ in range(4):
        again = await node.submit(raid(), web(1))
        assert isinstance(again, Accepted)
        assert again.report.confidence <= first.report.confidence
    report = await node.get_report(first.report.id)
    assert report is not None and report.confidence == first.report.confidence
    assert outbox(node) == []


async def test_copy_paste_flood_does_not_corroborate(node: Node) -> None:
    text = "ICE is at the Walmart parking lot right now with four trucks, everyone stay away"
    first = await node.submit(raid(description=text), web(1))
    assert isinstance(first, Accepted)
    for n in range(2, 5):
        copy = await node.submit(raid(description=text + "!"), web(n))
        assert isinstance(copy, Accepted)
        assert "near_duplicate" in copy.review_reasons
    report = await node.get_report(first.report.id)
    assert report is not None and report.independent_sources == 1


async def test_follow_ups_extend_and_end_a_report(node: Node, clock) -> None:
    outcome = await node.submit(ReportDraft(type="vehicle", area="National City"), web(1))
    assert isinstance(outcome, Accepted)
    report_id = outcome.report.id
    clock.advance(hours=1, minutes=30)
    extended = await node.follow_up(report_id, FollowUpKind.STILL_THERE, web(2))
    assert extended is not None and not isinstance(extended, RateLimited)
    assert extended.still_active and extended.active_until > outcome.report.active_until
    # the reporter's own "gone" does not count; two independent ones do
    own = await node.follow_up(report_id, FollowUpKind.GONE, web(1))
    assert own is not None and not isinstance(own, RateLimited) and own.still_active
    await node.follow_up(report_id, FollowUpKind.GONE, web(3))
    ended = await node.follow_up(report_id, FollowUpKind.GONE, web(4))
    assert ended is not None and not isinstance(ended, RateLimited) and not ended.still_active


async def test_a_members_gone_ends_a_lone_report_an_addresss_does_not(node: Node) -> None:
    member = SourceRef(Channel.MEMBER, b"@rosa:chapter.example")
    ids = []
    for n in (1, 2):
        outcome = await node.submit(ReportDraft(type="vehicle", area=f"Area {n}"), web(n))
        assert isinstance(outcome, Accepted)
        ids.append(outcome.report.id)
    by_address = await node.follow_up(ids[0], FollowUpKind.GONE, web(3))
    assert by_address is not None and not isinstance(by_address, RateLimited)
    assert by_address.still_active  # one fresh address is not the quorum (2)
    by_member = await node.follow_up(ids[1], FollowUpKind.GONE, member)
    assert by_member is not None and not isinstance(by_member, RateLimited)
    assert not by_member.still_active  # a vetted member's counts as two
    again = await node.follow_up(ids[0], FollowUpKind.GONE, member)
    assert again is not None and not isinstance(again, RateLimited) and not again.still_active


async def test_follow_up_on_missing_report(node: Node) -> None:
    assert await node.follow_up("nope", FollowUpKind.GONE, web(1)) is None
    assert await node.moderate("nope", ModeratorAction.CONFIRM) is None


async def test_moderator_confirm_and_debunk_override_the_score(node: Node) -> None:
    outcome = await node.submit(raid(description="dos patrullas"), web(1))
    assert isinstance(outcome, Accepted)
    confirmed = await node.moderate(outcome.report.id, ModeratorAction.CONFIRM)
    assert confirmed is not None and confirmed.status == "confirmed"
    assert confirmed.confidence == 1.0 and confirmed.level == "confirmed"
    assert confirmed.description == "dos patrullas"  # public from "confirmed" by default
    kinds = [a["kind"] for a in outbox(node)]
    assert kinds == ["alert"]
    debunked = await node.moderate(outcome.report.id, ModeratorAction.DEBUNK)
    assert debunked is not None and debunked.debunked and debunked.status == "debunked"
    assert [a["kind"] for a in outbox(node)] == ["alert", "withdrawal"]
    await node.publish()  # the public list changes at publication ticks
    shown = await node.active_reports()
    assert [r.id for r in shown] == [outcome.report.id] and shown[0].debunked


async def test_descriptions_are_not_public_below_the_configured_status(node: Node) -> None:
    outcome = await node.submit(raid(description="tres camionetas"), web(1))
    assert isinstance(outcome, Accepted) and outcome.report.description is None
    await node.publish()
    [shown] = await node.active_reports()
    assert shown.description is None
    queue = await node.review_queue()
    assert all(item.report.description is None for item in queue)


async def test_review_queue_lists_reasons_and_text_for_moderators(node: Node) -> None:
    await node.submit(raid(area="somewhere nobody knows", description="long " * 80), web(1))
    [item] = await node.review_queue()
    assert "anomaly" in item.reasons and item.description and item.description.startswith("long")
    await node.moderate(item.report.id, ModeratorAction.ARCHIVE)
    assert await node.review_queue() == []


async def test_reports_expire_from_the_active_list(node: Node, clock) -> None:
    await node.submit(ReportDraft(type="vehicle", area="Escondido"), web(1))
    await node.publish()
    assert len(await node.active_reports()) == 1
    clock.advance(hours=3)
    assert await node.active_reports() == []


async def test_a_batch_with_a_report_and_a_follow_up_still_settles_the_alert(
    chapter_dir, clock
) -> None:
    from node.service import open_node
    from tests.support import set_config

    set_config(chapter_dir, "federation", "share_threshold", "0.45")
    node = await open_node(chapter_dir, clock=clock)
    try:
        first = await node.submit(raid(area="Vista"), web(1))
        assert isinstance(first, Accepted)
        clock.advance(minutes=4)
        second, _ = await asyncio.gather(
            node.submit(raid(area="Vista"), web(2)),
            node.follow_up(first.report.id, FollowUpKind.STILL_THERE, web(3)),
        )
        assert isinstance(second, Accepted) and second.report.confidence >= 0.45
        assert [a["kind"] for a in outbox(node)] == ["alert"]
        report = await node.get_report(first.report.id)
        assert report is not None and report.confidence == second.report.confidence
    finally:
        await node.close()


async def test_a_restart_never_turns_one_source_into_a_crowd(chapter_dir, clock) -> None:
    from node.service import open_node

    node = await open_node(chapter_dir, clock=clock)
    try:
        for _ in range(4):  # one person, four reports: they do not corroborate each other
            assert isinstance(await node.submit(raid(area="Vista"), web(1)), Accepted)
    finally:
        await node.close()
    node = await open_node(chapter_dir, clock=clock)  # the in-memory source keys are gone
    try:
        clock.advance(minutes=4)
        after = await node.submit(raid(area="Vista"), web(2))
        assert isinstance(after, Accepted)
        assert after.report.independent_sources == 2  # the forgotten ones count as one
        assert outbox(node) == []
        for report_id in {r.id for r in rows(node)} - {after.report.id}:
            report = await node.get_report(report_id)
            assert report is not None and report.confidence == 0.3  # scores stay frozen
        # follow-ups after the restart: each source counts once
        gone = [await node.follow_up(after.report.id, FollowUpKind.GONE, web(5)) for _ in range(2)]
        assert all(g is not None and not isinstance(g, RateLimited) for g in gone)
        last = gone[-1]
        assert last is not None and not isinstance(last, RateLimited) and last.still_active
    finally:
        await node.close()


async def test_a_locked_database_is_unavailable_and_keeps_nothing(
    node: Node, chapter_dir, storage: str
) -> None:
    import sqlite3

    from node.outcome import Unavailable

    if storage:
        pytest.skip("SQLite only: its whole-file lock")
    first = await node.submit(raid(), web(1))
    assert isinstance(first, Accepted)
    blocker = sqlite3.connect(chapter_dir / "vecinos.db", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # another process holds the database
    try:
        locked = await node.submit(raid(area="Vista"), web(2))
        assert isinstance(locked, Unavailable) and locked.retry_after_s > 0
        moderated = await node.moderate(first.report.id, ModeratorAction.CONFIRM)
        assert isinstance(moderated, Unavailable)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert [r.area_id for r in rows(node)] == ["chula-vista"]  # nothing of them was kept
    assert isinstance(await node.submit(raid(area="Vista"), web(2)), Accepted)
