"""Responder notices on a real store (SQLite and PostgreSQL): when responders are told,
what a notice carries, and the short texts built from it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from node.outcome import Accepted, ReportDraft, SourceRef
from node.responders import room_text, short_text
from node.service import ModeratorAction, Node, open_node
from scoring.model import Channel
from tests.support import neighbour_alert, set_config

DESCRIPTIONS = (
    "three white vans by the swap meet",
    "agents with vans near the school",
    "they stopped vans at the plaza corner",
    "officers and vans outside the market",
)


def web(n: int) -> SourceRef:
    return SourceRef(Channel.WEB, f"127.0.0.{n}".encode())


@pytest.fixture
async def rnode(chapter_dir: Path, clock) -> AsyncIterator[Node]:
    """A node with Matrix configured and SMS for raids (no homeserver needed to queue)."""
    set_config(chapter_dir, "matrix", "homeserver", '"http://127.0.0.1:9"')
    set_config(chapter_dir, "matrix", "user_id", '"@bot:example.org"')
    set_config(chapter_dir, "sms", "account_sid", '"AC123"')
    set_config(chapter_dir, "sms", "auth_token", '"secret"')
    set_config(chapter_dir, "sms", "to", '"+15550100"')
    set_config(chapter_dir, "sms", "from_number", '"+15550199"')
    set_config(chapter_dir, "web", "public_url", '"https://vecinos.example.org/"')
    node = await open_node(chapter_dir, clock=clock)
    try:
        yield node
    finally:
        await node.close()


async def report(node: Node, clock, n: int, kind: str = "raid", area: str = "Chula Vista") -> str:
    outcome = await node.submit(
        ReportDraft(type=kind, area=area, description=DESCRIPTIONS[n - 1], still_active=True),
        web(n),
    )
    assert isinstance(outcome, Accepted), outcome
    clock.advance(minutes=4)
    return outcome.report.id


async def drained(node: Node, consumer: str) -> list[dict]:
    """Bodies queued for a consumer, removed as a consumer would."""
    found = []
    for notice in await node.pending_notices(consumer):
        found.append(notice.body)
        await node.notice_done(notice.outbox_id)
    return found


async def test_a_likely_cluster_is_told_updated_and_cleared(rnode: Node, clock) -> None:
    ready = rnode.watch_notices()
    ids = [await report(rnode, clock, n) for n in (1, 2)]
    assert await rnode.pending_notices("matrix") == []  # "possible": not yet
    ids.append(await report(rnode, clock, 3))
    await asyncio.wait_for(ready.wait(), 10)
    [new] = await drained(rnode, "matrix")
    assert (new["kind"], new["type"], new["area"], new["level"], new["reports"]) == (
        "new",
        "raid",
        "Chula Vista",
        "likely",
        3,
    )
    assert new["origin"] == "" and set(new["report_ids"]) <= set(ids) and new["report_ids"]
    assert await rnode.pending_alerts() == []  # below the share threshold: no federation alert
    [sms] = await drained(rnode, "sms")
    assert sms == new

    ids.append(await report(rnode, clock, 4))
    [update] = await drained(rnode, "matrix")
    assert (update["kind"], update["reports"], update["seq"]) == ("update", 4, 2)
    assert update["notice_id"] == new["notice_id"]
    assert await drained(rnode, "sms") == []  # same level: texts are not sent updates

    await rnode.moderate(ids[0], ModeratorAction.CONFIRM)
    [raised] = await drained(rnode, "matrix")
    assert (raised["kind"], raised["level"], raised["level_up"]) == ("update", "confirmed", True)
    assert [b["level"] for b in await drained(rnode, "sms")] == ["confirmed"]

    for report_id in ids:
        await rnode.moderate(report_id, ModeratorAction.DEBUNK)
    *lowered, clear = await drained(rnode, "matrix")
    assert [b["kind"] for b in lowered] == ["update"] * len(lowered)  # the level falls first
    assert (clear["kind"], clear["reason"], clear["notice_id"]) == (
        "all_clear",
        "debunked",
        new["notice_id"],
    )
    assert [b["kind"] for b in await drained(rnode, "sms")] == ["all_clear"]
    for body in (new, update, raised, clear):
        assert "vans" not in str(body)


async def test_a_quiet_cluster_gets_its_all_clear_at_retention(rnode: Node, clock) -> None:
    for n in (1, 2, 3):
        await report(rnode, clock, n, kind="checkpoint", area="San Ysidro")
    [new] = await drained(rnode, "matrix")
    assert new["type"] == "checkpoint"
    assert await drained(rnode, "sms") == []  # SMS is for raids only (the default)
    clock.advance(hours=6)
    await rnode.purge()
    [clear] = await drained(rnode, "matrix")
    assert (clear["kind"], clear["reason"]) == ("all_clear", "expired")
    clock.advance(days=2)
    await rnode.purge()  # closed notices go a day after their expiry
    assert await rnode.pending_notices("matrix") == []


async def test_a_neighbours_alert_is_told_marked_and_cleared(rnode: Node, clock) -> None:
    assert await rnode.receive_alert(neighbour_alert(clock.now))
    [new] = await drained(rnode, "matrix")
    assert (new["kind"], new["origin"], new["area"], new["report_ids"]) == (
        "new",
        "norte-1a2b",
        "Oceanside",
        [],
    )
    text = room_text(new, "en", clock.now, rnode.public_url)
    assert "From a neighbouring chapter: norte-1a2b" in text
    assert text.endswith("https://vecinos.example.org/")
    assert short_text(new, "es", clock.now).startswith("[norte-1a2b] redada")
    assert await rnode.receive_alert(neighbour_alert(clock.now, seq=2, still_active=False))
    [clear] = await drained(rnode, "matrix")
    assert (clear["kind"], clear["reason"]) == ("all_clear", "withdrawn")

    # A second alert that simply expires: its all-clear comes from retention.
    later = neighbour_alert(clock.now, seq=1, hours=2)
    assert await rnode.receive_alert(
        type(later)(**{**later.__dict__, "alert_id": "a2", "seq": 1})  # type: ignore[arg-type]
    )
    assert [b["kind"] for b in await drained(rnode, "matrix")] == ["new"]
    clock.advance(hours=3)
    await rnode.purge()
    assert [(b["kind"], b["reason"]) for b in await drained(rnode, "matrix")] == [
        ("all_clear", "expired")
    ]


async def test_short_texts_stay_short_and_say_no_description(rnode: Node, clock) -> None:
    for n in (1, 2, 3):
        await report(rnode, clock, n)
    [body] = await drained(rnode, "sms")
    text = short_text(body, "es", clock.now + timedelta(minutes=30), rnode.public_url)
    assert text.startswith("redada (probable) en Chula Vista, 3 reportes")
    assert text.endswith(f"https://vecinos.example.org/api/v1/reports/{body['report_ids'][0]}")
    assert len(text) < 160 and "vans" not in text
    long_area = {**body, "area": "Un lugar con un nombre larguísimo " * 6, "highway": "I-805"}
    text = short_text(long_area, "en", clock.now, rnode.public_url)
    assert len(text) < 160 and text.startswith("raid (likely) at Un lugar")
    room = room_text(body, "en", clock.now, rnode.public_url)
    assert room.startswith("🚨 raid at Chula Vista: likely (66%), 3 independent report(s)")
    assert "!confirm ID" in room and body["report_ids"][0] in room


async def test_the_threshold_is_configurable(chapter_dir: Path, clock) -> None:
    set_config(chapter_dir, "matrix", "homeserver", '"http://127.0.0.1:9"')
    set_config(chapter_dir, "matrix", "user_id", '"@bot:example.org"')
    set_config(chapter_dir, "scoring", "responder_level", '"confirmed"')
    node = await open_node(chapter_dir, clock=clock)
    try:
        ids = [await report(node, clock, n) for n in (1, 2, 3, 4)]
        assert await node.pending_notices("matrix") == []
        await node.moderate(ids[0], ModeratorAction.CONFIRM)
        assert [n.body["level"] for n in await node.pending_notices("matrix")] == ["confirmed"]
    finally:
        await node.close()


async def test_without_consumers_nothing_is_queued(node: Node, clock) -> None:
    for n in (1, 2, 3, 4):
        await report(node, clock, n)
    assert await node.pending_notices("matrix") == []
