"""Responder notices on a real store (SQLite and PostgreSQL): when responders are told,
what a notice carries, and the short texts built from it."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session

from node.gazetteer import DEFAULT_PATH, Gazetteer
from node.outcome import Accepted, ReportDraft, SourceRef
from node.responders import room_text, short_text
from node.service import ModeratorAction, Node, open_node
from node.store import Report
from scoring.defaults import LEVEL_FLOORS, level_floor
from scoring.model import Channel, ReportType
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
    """A node with Matrix configured and SMS for raids (no homeserver needed to queue),
    paging at once (no hold: the hold has its own tests, with held_node)."""
    async for node in _responder_node(chapter_dir, clock, hold=0):
        yield node


@pytest.fixture
async def held_node(chapter_dir: Path, clock) -> AsyncIterator[Node]:
    """The same with a 5-minute hold ([responders] hold_minutes)."""
    async for node in _responder_node(chapter_dir, clock, hold=5):
        yield node


async def _responder_node(chapter_dir: Path, clock, hold: int) -> AsyncIterator[Node]:
    set_config(chapter_dir, "matrix", "homeserver", '"http://127.0.0.1:9"')
    set_config(chapter_dir, "matrix", "user_id", '"@bot:example.org"')
    set_config(chapter_dir, "sms", "account_sid", '"AC123"')
    set_config(chapter_dir, "sms", "auth_token", '"secret"')
    set_config(chapter_dir, "sms", "to", '"+15550100"')
    set_config(chapter_dir, "sms", "from_number", '"+15550199"')
    set_config(chapter_dir, "web", "public_url", '"https://vecinos.example.org/"')
    set_config(chapter_dir, "responders", "hold_minutes", str(hold))
    node = await open_node(chapter_dir, clock=clock)
    try:
        yield node
    finally:
        await node.close()


async def report(
    node: Node, clock, n: int, kind: str = "raid", area: str = "Chula Vista", source: int = 0
) -> str:
    outcome = await node.submit(
        ReportDraft(type=kind, area=area, description=DESCRIPTIONS[n - 1], still_active=True),
        web(source or n),
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
    ids = [await report(rnode, clock, 1)]
    assert await rnode.pending_notices("matrix") == []  # "possible": not yet
    ids.append(await report(rnode, clock, 2))  # two independent witnesses: 'likely'
    await asyncio.wait_for(ready.wait(), 10)
    [new] = await drained(rnode, "matrix")
    assert (new["kind"], new["type"], new["area"], new["level"], new["reports"]) == (
        "new",
        "raid",
        "Chula Vista",
        "likely",
        2,
    )
    assert new["origin"] == "" and set(new["report_ids"]) <= set(ids) and new["report_ids"]
    assert await rnode.pending_alerts() == []  # below the share threshold: no federation alert
    [sms] = await drained(rnode, "sms")
    assert sms == new

    ids.append(await report(rnode, clock, 3))
    [update] = await drained(rnode, "matrix")
    assert (update["kind"], update["reports"], update["seq"]) == ("update", 3, 2)
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
    texts = await drained(rnode, "sms")  # every downgrade reaches the texts too, then the end
    assert [b["kind"] for b in texts] == [b["kind"] for b in lowered if b["level_down"]] + [
        "all_clear"
    ]
    assert all(b["level_down"] for b in texts[:-1]) and texts[:-1]
    for body in (new, update, raised, clear):
        assert "vans" not in str(body)


async def test_a_quiet_cluster_gets_its_all_clear_at_retention(rnode: Node, clock) -> None:
    for n in (1, 2):
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


async def test_each_way_a_cluster_ends_gets_its_own_all_clear(rnode: Node, clock) -> None:
    # One report debunked, the others left to expire: the all-clear says "expired".
    ids = [await report(rnode, clock, n) for n in (1, 2, 3, 4)]
    await rnode.moderate(ids[0], ModeratorAction.DEBUNK)
    kinds = [b["kind"] for b in await drained(rnode, "matrix")]
    assert kinds[0] == "new" and set(kinds[1:]) == {"update"}  # still active without it
    clock.advance(hours=12)
    await rnode.purge()
    [clear] = await drained(rnode, "matrix")
    assert (clear["kind"], clear["reason"]) == ("all_clear", "expired")

    # Members say it is gone: "gone". Archived by a moderator: "gone" too (not debunked).
    for k, action in enumerate((ModeratorAction.GONE, ModeratorAction.ARCHIVE), start=1):
        area = "National City"
        ids = [await report(rnode, clock, n, area=area, source=10 * k + n) for n in (1, 2)]
        [new] = await drained(rnode, "matrix")
        for report_id in ids:
            await rnode.moderate(report_id, action)
        *_, clear = await drained(rnode, "matrix")
        assert (clear["kind"], clear["reason"], clear["notice_id"]) == (
            "all_clear",
            "gone",
            new["notice_id"],
        ), action
        clock.advance(hours=12)
        await rnode.purge()
        assert await drained(rnode, "matrix") == []  # closed once: no second all-clear


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
    assert text.endswith("https://vecinos.example.org/map#alerts-title")
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
    for n in (1, 2):
        await report(rnode, clock, n)
    [body] = await drained(rnode, "sms")
    text = short_text(body, "es", clock.now + timedelta(minutes=30), rnode.public_url)
    assert text.startswith("redada (probable) en Chula Vista, 2 reportes")
    assert text.endswith(f"https://vecinos.example.org/map#i-{body['incident_id']}")
    assert body["incident_id"]
    assert len(text) < 160 and "vans" not in text
    room = room_text(body, "en", clock.now, rnode.public_url)
    assert room.startswith("🚨 raid at Chula Vista: likely (63%), 2 independent report(s)")
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


LONG_URL = "https://rapid-response.vecinos-sd.org"  # a longer public address than most
INCIDENT_ID = "AbCdEfGhIjK"  # node.store.random_key(): 11 characters


def every_short_body(gazetteer: Gazetteer, origin: str, now: datetime) -> Iterator[dict]:
    """A notice body for every area x highway x type x level x kind x age of the gazetteer."""
    for area in gazetteer.areas:
        for highway, report_type, (_, level), kind, age in itertools.product(
            (None, *area.highways),
            ReportType,
            LEVEL_FLOORS,
            ("new", "update", "all_clear"),
            (0, 2, 5, 12, 30),
        ):
            yield {
                "kind": kind,
                "reason": "gone" if kind == "all_clear" else None,
                "origin": origin,
                "type": report_type.value,
                "area": area.name,
                "highway": highway,
                "level": level.value,
                "confidence": 0.66,
                "reports": 123,
                "hour": (now - timedelta(hours=age)).isoformat(),
                "report_ids": [] if origin else ["LmNoPqRsTuV"],
                "incident_id": None if origin else INCIDENT_ID,
            }


@pytest.mark.parametrize("lang", ["en", "es"])
def test_every_short_text_of_the_gazetteer_is_under_160_with_its_map_link(lang: str) -> None:
    gazetteer = Gazetteer.load(DEFAULT_PATH)
    now = datetime(2026, 5, 1, 12, tzinfo=UTC)
    local = list(every_short_body(gazetteer, "", now))
    assert len(local) > 1000
    for body in local:
        text = short_text(body, lang, now, LONG_URL)
        assert len(text) < 160, text
        assert text.endswith(f" {LONG_URL}/map#i-{INCIDENT_ID}"), text
        assert body["area"] in text, text  # gazetteer names are never shortened
    for body in every_short_body(gazetteer, "vecinos-san-diego-1a2b3c", now):
        text = short_text(body, lang, now, "https://vecinos.example.org")
        assert len(text) < 160 and text.startswith("[vecinos-san-diego-1a2b3c] "), text
        assert body["area"] in text, text  # a neighbour's place is whole; its link only if it fits
        linked = text.endswith(" https://vecinos.example.org/map#alerts-title")
        assert linked or "http" not in text, text
    longest_id = "c" * 64  # the longest chapter id federation accepts
    for body in every_short_body(gazetteer, longest_id, now):
        text = short_text(body, lang, now, LONG_URL)
        assert len(text) < 160 and text.startswith(f"[{longest_id}] "), text


def test_a_long_place_is_shortened_before_the_link_is_left_out() -> None:
    now = datetime(2026, 5, 1, 12, tzinfo=UTC)
    body = next(every_short_body(Gazetteer.load(DEFAULT_PATH), "", now))
    long_place = {**body, "area": "Un lugar con un nombre larguísimo " * 6, "highway": "I-805"}
    text = short_text(long_place, "es", now, LONG_URL)
    assert len(text) == 159 and text.endswith(f" {LONG_URL}/map#i-{INCIDENT_ID}")
    assert text.startswith("retén (confirmado) en Un lugar con un nombre") and "…, 123" in text
    no_link = short_text(long_place, "en", now)
    assert len(no_link) < 160 and "http" not in no_link


async def test_a_level_that_does_not_hold_never_pages(held_node: Node, clock) -> None:
    """Two independent witnesses make 'likely'; within the hold a moderator debunks the
    second and the level falls back. With the hold, no one is paged, on any channel."""
    node = held_node
    ids = [await report(node, clock, n) for n in (1, 2)]  # 'likely' from the 2nd
    assert await node.pending_notices("matrix") == []  # held: 4 of 5 minutes
    await node.moderate(ids[1], ModeratorAction.DEBUNK)
    live = await node.live_reports()
    assert max(level_floor(r.level) for r in live if r.status != "debunked") < level_floor("likely")
    for _ in range(10):  # the scheduled check, minute by minute, long past the hold
        clock.advance(minutes=1)
        await node.check_responders()
    assert await node.pending_notices("matrix") == []
    assert await node.pending_notices("sms") == []


async def test_a_level_that_holds_pages_once_the_hold_has_passed(held_node: Node, clock) -> None:
    node = held_node
    for n in (1, 2):
        await report(node, clock, n)  # 4 minutes apart; 'likely' from the 2nd
    assert await node.pending_notices("matrix") == []  # held: 4 of 5 minutes
    await node.check_responders()
    assert await node.pending_notices("matrix") == []
    clock.advance(minutes=1)
    await node.check_responders()  # the scheduled check opens it
    [new] = await drained(node, "matrix")
    assert (new["kind"], new["level"], new["reports"]) == ("new", "likely", 2)
    assert [b["kind"] for b in await drained(node, "sms")] == ["new"]


async def test_a_moderators_confirm_pages_at_once(held_node: Node, clock) -> None:
    node = held_node
    [report_id] = [await report(node, clock, 1)]
    await node.moderate(report_id, ModeratorAction.CONFIRM)
    [new] = await drained(node, "matrix")
    assert (new["kind"], new["level"]) == ("new", "confirmed")


async def test_a_downgrade_reaches_every_channel_that_got_the_notice(
    chapter_dir: Path, clock
) -> None:
    """Matrix, SMS, Signal and Telegram all got the opening: all get the downgrade, as an
    explicit message, and its text says so."""
    set_config(chapter_dir, "signal", "url", '"http://127.0.0.1:9"')
    set_config(chapter_dir, "signal", "number", '"+15550101"')
    set_config(chapter_dir, "signal", "recipients", '"+15550102"')
    set_config(chapter_dir, "telegram", "chat_id", '"-100123"')
    set_config(chapter_dir, "telegram", "token", '"123:abc"')
    channels = ("matrix", "sms", "signal", "telegram")
    async for node in _responder_node(chapter_dir, clock, hold=0):
        ids = [await report(node, clock, n) for n in (1, 2)]
        for name in channels:
            assert [b["kind"] for b in await drained(node, name)] == ["new"], name
        await node.moderate(ids[1], ModeratorAction.DEBUNK)  # back to 'possible' while open
        for name in channels:
            [down] = await drained(node, name)
            assert (down["kind"], down["level"], down["level_down"]) == (
                "update",
                "possible",
                True,
            ), name
        now = clock()
        assert short_text(down, "en", now).startswith("Downgraded to possible: raid at")
        assert short_text(down, "es", now).startswith("Baja a posible: redada en")
        assert room_text(down, "en", now).startswith("⬇️ Downgraded: raid at Chula Vista")


async def test_a_notice_whose_reports_ended_gets_its_all_clear_not_a_downgrade(
    rnode: Node, clock
) -> None:
    """Two witnesses make a patrol 'likely'; a third report, much later and too far apart to
    corroborate them, keeps the incident active at 'possible' after theirs ended. What the
    responders were told about has run its time: an all-clear ("expired"), not a downgrade
    that leaves an open notice on a weaker report nobody paged them for."""
    day = clock.now
    clock.now = day.replace(hour=15, minute=5)
    for n in (1, 2):
        await report(rnode, clock, n, kind="patrol")
    [new] = await drained(rnode, "matrix")
    assert (new["kind"], new["level"]) == ("new", "likely")
    clock.now = day.replace(hour=17, minute=50)
    late = await report(rnode, clock, 3, kind="patrol")
    for update in await drained(rnode, "matrix"):  # its count, perhaps; not its level
        assert (update["kind"], update["level"]) == ("update", "likely")
    clock.now = day.replace(hour=18, minute=0, second=2)  # theirs end: patrol, 2 h past the hour
    await rnode.purge()
    [clear] = await drained(rnode, "matrix")
    assert (clear["kind"], clear["reason"], clear["notice_id"]) == (
        "all_clear",
        "expired",
        new["notice_id"],
    )
    with Session(rnode.engine) as session:
        still = session.get(Report, late)
        assert still is not None and still.status == "possible"  # it stays, on the map
