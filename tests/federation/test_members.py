"""Members report inside the encrypted member room, on a real Synapse.

A real chapter (init_chapter, `vecinos matrix setup`'s code, its
ChapterFederation) and separate matrix-nio clients playing the members,
invited into the member room by the chapter's bot. Every wait is bounded by
wait_for on an awaited reply: nothing sleeps.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from federation_harness import Chapter, make_chapter
from network import WAIT, Site, make_site
from nio import MatrixRoom, RedactedEvent, RoomMessageNotice, RoomMessageText

from federation.chapter import ChapterFederation
from federation.homeserver import Homeserver
from federation.state import MATRIX_DIR, load_rooms
from node.i18n import translate

pytestmark = pytest.mark.synapse


@dataclass
class Member:
    chapter: Chapter
    room_id: str
    bot_user: str
    answers: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)

    @property
    def user_id(self) -> str:
        return self.chapter.bot.user_id

    async def on_message(self, room: MatrixRoom, event: RoomMessageNotice) -> None:
        if room.room_id == self.room_id and event.sender == self.bot_user:
            self.answers.put_nowait({**event.source["content"], "event_id": event.event_id})

    async def say(self, body: str, thread: str | None = None) -> str:
        content: dict[str, Any] = {"msgtype": "m.text", "body": body}
        if thread is not None:
            content["m.relates_to"] = {
                "rel_type": "m.thread",
                "event_id": thread,
                "is_falling_back": True,
                "m.in_reply_to": {"event_id": thread},
            }
        return await self.chapter.bot.send_alert(self.room_id, content, "m.room.message")

    async def react(self, event_id: str, key: str) -> str:
        content = {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": key}}
        return await self.chapter.bot.send_alert(self.room_id, content, "m.reaction")

    async def answer_to(self, event_id: str) -> dict[str, Any]:
        """The bot's answer replying to `event_id` (earlier answers are skipped)."""

        async def until() -> dict[str, Any]:
            while True:
                content = await self.answers.get()
                relates = content.get("m.relates_to", {})
                if relates.get("m.in_reply_to", {}).get("event_id") == event_id:
                    return content

        return await asyncio.wait_for(until(), WAIT)

    async def report(self, body: str, thread: str | None = None) -> tuple[str, dict[str, Any]]:
        event_id = await self.say(body, thread)
        return event_id, await self.answer_to(event_id)


async def seat_member(hs: Homeserver, base: Path, site: Site, name: str) -> Member:
    room = load_rooms(site.data).member_room
    chapter = await make_chapter(hs, base, name)
    client = chapter.bot.client
    assert client is not None
    member = Member(chapter, room, site.user_id)
    client.add_event_callback(member.on_message, (RoomMessageNotice, RoomMessageText))
    await site.fed.bot.invite(room, chapter.bot.user_id)
    await chapter.bot.wait_until(lambda: room in client.invited_rooms, WAIT)
    await chapter.bot.join(room)
    await site.fed.bot.wait_for_member(room, chapter.bot.user_id, WAIT)
    return member


@dataclass
class Room:
    site: Site
    ana: Member
    beto: Member
    cruz: Member
    dani: Member


@pytest.fixture
async def room(homeserver: Homeserver, tmp_path: Path, clock) -> AsyncIterator[Room]:
    site = await make_site(homeserver, tmp_path, "a", clock)
    members: list[Member] = []
    try:
        for name in ("ana", "beto", "cruz", "dani"):
            members.append(await seat_member(homeserver, tmp_path / "members", site, name))
        yield Room(site, *members)
    finally:
        for m in members:
            await m.chapter.bot.close()
        await site.close()


def threaded(answer: dict[str, Any], root: str) -> None:
    relates = answer["m.relates_to"]
    assert relates["rel_type"] == "m.thread" and relates["event_id"] == root
    assert answer["msgtype"] == "m.notice"


async def test_members_report_in_english_and_spanish(room: Room, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="vecinos")
    sent, answer = await room.ana.report("checkpoint on I-8 eastbound near Alpine, still there")
    threaded(answer, sent)
    assert answer["body"].startswith("Received: checkpoint at Alpine")
    sent, answer = await room.beto.report("redada en Chula Vista, siguen ahí, tres camionetas")
    threaded(answer, sent)
    assert answer["body"].startswith("Recibido: redada en Chula Vista")

    reports = {(r.type, r.area, r.highway) for r in await room.site.node.live_reports()}
    assert reports == {("checkpoint", "Alpine", "I-8"), ("raid", "Chula Vista", None)}

    # Missing type: asked back in the thread, completed by a one-word answer there.
    sent, answer = await room.ana.report("la migra en San Ysidro")
    threaded(answer, sent)
    assert answer["body"] == translate("member_ask_type", "es")
    _, answer = await room.ana.report("retén", thread=sent)
    threaded(answer, sent)
    assert answer["body"].startswith("Recibido: retén en San Ysidro")
    assert any(r.area == "San Ysidro" for r in await room.site.node.live_reports())

    # Missing area: asked back; a place the gazetteer does not know is kept (encrypted), and
    # never repeated: free text is for moderators only (issue 11).
    sent, answer = await room.beto.report("redada, siguen ahí, tres camionetas")
    assert answer["body"] == translate("member_ask_area", "es")
    _, answer = await room.beto.report("Boyle Heights", thread=sent)
    threaded(answer, sent)
    unlisted = translate("area_unlisted", "es")
    assert answer["body"].startswith(f"Recibido: redada en {unlisted}")
    assert "Boyle Heights" not in answer["body"]

    # A scan of the node's files (outside the crypto store) and of the logs: no member ID.
    for member in (room.ana, room.beto):
        ours = [r.getMessage() for r in caplog.records if r.name.startswith("vecinos")]
        assert ours and not [line for line in ours if member.user_id in line]
        for path in room.site.data.rglob("*"):
            if path.is_file() and MATRIX_DIR not in path.relative_to(room.site.data).parts:
                data = path.read_bytes()
                assert member.user_id.encode() not in data, path
                assert member.user_id.split(":")[0][1:].encode() not in data, path


async def test_personal_information_is_refused_and_nothing_is_stored(room: Room) -> None:
    sent, answer = await room.ana.report("raid in Chula Vista, call me at 619-555-0134")
    threaded(answer, sent)
    assert translate("refused_phone", "en") in answer["body"]
    assert answer["body"].startswith("Not stored.")
    # Refused before any question, in the member's language.
    sent, answer = await room.beto.report("la migra en la esquina, llamen al 619-555-0134")
    threaded(answer, sent)
    assert answer["body"].startswith("No se guardó.")
    assert translate("refused_phone", "es") in answer["body"]
    assert await room.site.node.live_reports() == []
    for path in room.site.data.rglob("*"):
        if path.is_file() and MATRIX_DIR not in path.relative_to(room.site.data).parts:
            assert b"555-0134" not in path.read_bytes()


async def test_a_flood_is_rate_limited_and_other_members_get_through(room: Room) -> None:
    limit = room.site.node.config.get("intake", "rate_limit_reports")
    areas = ["Chula Vista", "National City", "San Ysidro", "Otay Mesa", "Encanto", "Alpine"]
    for i in range(limit):
        _, answer = await room.ana.report(f"patrol in {areas[i % len(areas)]}")
        assert answer["body"].startswith("Received"), answer["body"]
    _, answer = await room.ana.report("patrol in Lincoln Park")
    assert answer["body"].startswith(translate("rate_limited", "en").split("{")[0])
    _, answer = await room.beto.report("patrol in Lincoln Park, still there")
    assert answer["body"].startswith("Received: patrol at Lincoln Park")


async def test_reactions_and_replies_extend_and_end_reports(room: Room, clock) -> None:
    node = room.site.node
    _, answer = await room.ana.report("raid in National City, still there")
    [report] = await node.live_reports()
    assert report.still_active
    clock.advance(hours=1, minutes=30)
    await room.beto.react(answer["event_id"], "👍")
    # The bot handles member events in order: the answer to a later message
    # means the reactions before it were handled.
    await room.beto.report("!help")
    extended = await node.get_report(report.id)
    assert extended is not None and extended.active_until > report.active_until
    # One follow-up per source counts; two independent "gone"s end it.
    await room.cruz.react(answer["event_id"], "👎")
    await room.dani.react(answer["event_id"], "👎")
    await room.dani.report("!help")
    ended = await node.get_report(report.id)
    assert ended is not None and not ended.still_active

    sent, _ = await room.ana.report("retén en Otay Mesa")
    _, answer = await room.ana.report("ya se fueron", thread=sent)
    threaded(answer, sent)
    assert answer["body"] == translate("member_follow_up_gone", "es")


async def test_commands_answer_short(room: Room) -> None:
    _, answer = await room.ana.report("!lang es")
    assert answer["body"] == translate("member_lang_set", "es")
    _, answer = await room.ana.report("!active")
    assert answer["body"] == translate("member_active_none", "es")
    await room.ana.report("!report raid Chula Vista active three vans")
    _, answer = await room.ana.report("!active Chula Vista")
    assert answer["body"].startswith("redada en Chula Vista")
    _, answer = await room.beto.report("!help")
    assert "!report" in answer["body"] and len(answer["body"]) < 400


async def test_reports_sent_while_the_bot_was_away_are_answered(room: Room) -> None:
    """More than a sync's 100 events while the bot is stopped: the gap filler hands the
    member messages it fetches to the member room too, oldest first."""
    site = room.site
    await site.fed.stop()
    sent = [
        await room.ana.say(text)
        for text in ("raid in Chula Vista", "checkpoint in San Ysidro", "patrol in Alpine")
    ]
    for i in range(110):  # conversation, not reports: the bot reads and ignores it
        await room.beto.say(f"hola {i}")
    site.fed = ChapterFederation(site.node)
    await site.fed.start()
    for event_id, area in zip(sent, ("Chula Vista", "San Ysidro", "Alpine"), strict=True):
        answer = await room.ana.answer_to(event_id)
        assert area in answer["body"] and answer["body"].startswith("Received")
    areas = {r.area for r in await site.node.live_reports()}
    assert areas == {"Chula Vista", "San Ysidro", "Alpine"}


async def test_redaction_leaves_the_homeserver_less(room: Room) -> None:
    room.site.fed.members.redact = True  # [matrix] redact_member_messages = true
    sent, answer = await room.ana.report("raid in National City, three vans")
    assert answer["body"].startswith("Received")
    refused, _ = await room.beto.report("raid in Chula Vista, call me at 619-555-0134")
    await room.ana.report("!help")  # handled in order: the redactions above are done
    client = room.ana.chapter.bot.client
    assert client is not None
    for event_id in (sent, refused):
        got = await client.room_get_event(room.ana.room_id, event_id)
        assert isinstance(got.event, RedactedEvent), got
    kept = await client.room_get_event(room.ana.room_id, answer["event_id"])
    assert not isinstance(kept.event, RedactedEvent)  # the bot's answer stays


async def test_an_edited_report_is_not_a_second_report(room: Room) -> None:
    sent, answer = await room.ana.report("checkpoint on I-8 near Alpine")
    assert answer["body"].startswith("Received: checkpoint at Alpine")
    edit = await room.ana.chapter.bot.send_alert(
        room.ana.room_id,
        {
            "msgtype": "m.text",
            "body": "* checkpoint on I-8 near Alpine, still there",
            "m.new_content": {"msgtype": "m.text", "body": "checkpoint on I-8 near Alpine"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": sent},
        },
        "m.room.message",
    )
    help_sent = await room.ana.say("!help")
    while True:  # every answer up to the one to !help: none to the edit
        content = await asyncio.wait_for(room.ana.answers.get(), WAIT)
        replied = content.get("m.relates_to", {}).get("m.in_reply_to", {}).get("event_id")
        assert replied != edit
        if replied == help_sent:
            break
    assert [r.area for r in await room.site.node.live_reports()] == ["Alpine"]
