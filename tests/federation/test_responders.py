"""The responders room on a real Synapse: alerts, updates and all-clears in one thread,
neighbours' alerts marked as such, moderators' commands by power level, and
notices that wait while the bot is away.

Real chapters (init_chapter, `vecinos matrix setup`'s code, open_node with
the tests' Clock, ChapterFederation) and separate matrix-nio clients
(ChapterBot accounts) playing a moderator and a responder, invited by the
chapter's bot because the config names them. Every wait is an awaited
message bounded by wait_for: nothing sleeps.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from federation_harness import Chapter, make_chapter
from network import WAIT, Site, connect, make_site
from nio import RoomMessageNotice, RoomMessageText

from federation.chapter import ChapterFederation
from federation.homeserver import Homeserver
from federation.setup import setup_matrix
from node.config import set_values
from node.i18n import translate
from node.service import ModeratorAction, open_node
from node.setup import init_chapter
from tests.support import pin_wire_scoring

pytestmark = pytest.mark.synapse

PUBLIC_URL = "https://vecinos.example.org"


@dataclass
class Person:
    """A responder's Matrix client in the responders room; `posts` gets the bot's messages."""

    chapter: Chapter
    room_id: str = ""
    bot_user: str = ""
    posts: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)

    @property
    def user_id(self) -> str:
        return self.chapter.bot.user_id

    def on_message(self, room_id: str, event: Any) -> None:
        if room_id == self.room_id and event.sender == self.bot_user:
            self.posts.put_nowait({**event.source["content"], "event_id": event.event_id})

    async def next_post(self) -> dict[str, Any]:
        return await asyncio.wait_for(self.posts.get(), WAIT)

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

    async def command(self, body: str, thread: str | None = None) -> dict[str, Any]:
        """Send a command; the bot's answer replying to it."""
        return (await self.answers_until(await self.say(body, thread)))[-1]

    async def answers_until(self, sent: str) -> list[dict[str, Any]]:
        """The bot's posts up to and including its answer to the event `sent`."""
        posts = [await self.next_post()]
        while replied_to(posts[-1]) != sent:
            posts.append(await self.next_post())
        return posts


def replied_to(post: dict[str, Any]) -> str | None:
    return post.get("m.relates_to", {}).get("m.in_reply_to", {}).get("event_id")


async def responders_site(
    hs: Homeserver, base: Path, clock: Any, moderator: str, responder: str, verifiers: str = ""
) -> Site:
    """A chapter whose config names a responder moderator, a responder and verifiers; it
    pages at once (no hold: tests/node/test_responder_notices.py tests the hold)."""
    data = base / f"r-{uuid.uuid4().hex[:6]}"
    init_chapter(data, "Chapter R")
    pin_wire_scoring(data)
    user = hs.user_id(f"bot-{data.name}")
    await setup_matrix(data, hs.base_url, user, registration_secret=hs.registration_secret)
    set_values(
        data / "vecinos.toml",
        {
            ("matrix", "responder_moderators"): moderator,
            ("matrix", "responders"): responder,
            ("web", "public_url"): PUBLIC_URL,
            ("chapter", "default_language"): "en",
            ("matrix", "verifiers"): verifiers,
            ("responders", "hold_minutes"): 0,
        },
    )
    node = await open_node(data, clock=clock)
    fed = ChapterFederation(node)
    site = Site("r", data, node, fed)
    await fed.start()
    assert fed.connected.is_set()
    return site


async def seat(person: Person, site: Site) -> None:
    """The person joins on the bot's invite (sent at the bot's start, from the config)."""
    client = person.chapter.bot.client
    assert client is not None
    person.room_id = site.fed.responders.room_id
    person.bot_user = site.user_id
    person.chapter.bot.add_room_handler(person.on_message, (RoomMessageText, RoomMessageNotice))
    await person.chapter.bot.wait_until(lambda: person.room_id in client.invited_rooms, WAIT)
    await person.chapter.bot.join(person.room_id)
    await site.fed.bot.wait_for_member(person.room_id, person.user_id, WAIT)


@dataclass
class Room:
    site: Site
    mod: Person
    res: Person


@pytest.fixture
async def room(homeserver: Homeserver, tmp_path: Path, clock) -> AsyncIterator[Room]:
    people = [
        Person(await make_chapter(homeserver, tmp_path / "people", name)) for name in ("mod", "res")
    ]
    site = await responders_site(homeserver, tmp_path, clock, people[0].user_id, people[1].user_id)
    try:
        for person in people:
            await seat(person, site)
        yield Room(site, *people)
    finally:
        for person in people:
            await person.chapter.bot.close()
        await site.close()


def in_thread(post: dict[str, Any], root: str) -> bool:
    relates = post.get("m.relates_to", {})
    return relates.get("rel_type") == "m.thread" and relates.get("event_id") == root


async def test_an_alert_its_updates_and_its_all_clear_share_a_thread(room: Room, clock) -> None:
    site, res = room.site, room.res
    ids = await site.corroborate(clock, reports=3, description=None)  # "likely": responders
    opening = await res.next_post()
    assert "m.relates_to" not in opening and opening["msgtype"] == "m.text"
    body = opening["body"]
    assert body.startswith("🚨 raid at Chula Vista: likely (66%), 3 independent report(s)")
    assert "just reported" in body and f"{PUBLIC_URL}/map#i-" in body
    assert any(i in body for i in ids) and "!confirm ID" in body
    assert await site.node.pending_alerts() == []  # below the neighbours' share threshold

    ids += await site.corroborate(clock, reports=1)
    update = await res.next_post()
    assert in_thread(update, opening["event_id"])
    assert update["body"].startswith("Update: raid at Chula Vista: now likely")
    assert "4 independent" in update["body"]

    for report_id in ids:
        await site.node.moderate(report_id, ModeratorAction.DEBUNK)
    while True:  # the level falls report by report, then the all-clear
        post = await res.next_post()
        assert in_thread(post, opening["event_id"])
        if post["body"].startswith("✅"):
            break
    assert (
        post["body"]
        == translate("responders_all_clear_debunked", "en").format(type="raid", area="Chula Vista")
        + f"\n{PUBLIC_URL}/map#i-{post['body'].rsplit('#i-', 1)[1]}"
    )
    assert await site.node.pending_notices("matrix") == []


async def test_a_neighbours_alert_arrives_marked(
    room: Room, homeserver: Homeserver, tmp_path: Path, clock
) -> None:
    site, res = room.site, room.res
    neighbour = await make_site(homeserver, tmp_path, "n", clock)
    try:
        await connect(site, neighbour)
        await neighbour.corroborate(clock, area="Oceanside")  # the 4th report: an alert
        post = await res.next_post()
        assert post["body"].startswith("🚨 raid at Oceanside: likely")
        assert f"From a neighbouring chapter: {neighbour.chapter_id}" in post["body"]
        assert "!confirm" not in post["body"]  # not ours to moderate
        assert post["body"].endswith(f"{PUBLIC_URL}/map#alerts-title")
        [report] = [r for r in await neighbour.node.live_reports() if r.area == "Oceanside"][:1]
        for r in await neighbour.node.live_reports():
            await neighbour.node.moderate(r.id, ModeratorAction.DEBUNK)
        while True:  # a withdrawal: the neighbour's all-clear, in the thread
            later = await res.next_post()
            assert in_thread(later, post["event_id"])
            if later["body"].startswith("✅"):
                break
        assert "withdrew its alert" in later["body"] and report.id not in later["body"]
    finally:
        await neighbour.close()


async def test_moderators_confirm_debunk_and_archive_others_are_refused(room: Room, clock) -> None:
    site, mod, res = room.site, room.mod, room.res
    room_id = site.fed.responders.room_id
    assert site.fed.bot.power_level(room_id, mod.user_id) == 50  # from the config
    assert site.fed.bot.power_level(room_id, res.user_id) == 0
    ids = await site.corroborate(clock, reports=3)
    opening = await mod.next_post()
    await res.next_post()

    answer = await res.command(f"!debunk {ids[0]}")
    assert answer["body"] == translate("responders_not_allowed", "en")
    report = await site.node.get_report(ids[0])
    assert report is not None and report.status != "debunked"

    answer = await mod.command(f"!confirm {ids[0]}", thread=opening["event_id"])
    assert in_thread(answer, opening["event_id"]) and answer["msgtype"] == "m.notice"
    assert answer["body"] == f"Done: report {ids[0]} (raid at Chula Vista) is now confirmed."
    report = await site.node.get_report(ids[0])
    assert report is not None and report.status == "confirmed"  # as from the web

    answer = await mod.command(f"!archive {ids[1]}")
    assert answer["body"].endswith("is now archived.")
    answer = await mod.command("!debunk nosuchreport1")
    assert answer["body"] == translate("responders_unknown_id", "en", id="nosuchreport1")
    answer = await mod.command("!confirm")
    assert answer["body"] == translate("responders_usage", "en")


async def test_notices_wait_while_the_bot_is_away(room: Room, clock) -> None:
    site, res = room.site, room.res
    await site.fed.stop()
    await site.corroborate(clock, reports=3)  # queued in the node's database meanwhile
    assert [n.kind for n in await site.node.pending_notices("matrix")] == ["new"]
    site.fed = ChapterFederation(site.node)
    await site.fed.start()
    post = await res.next_post()
    assert post["body"].startswith("🚨 raid at Chula Vista: likely")
    # The room can show the post before the bot has noted it done (right after Synapse
    # answers its send); a reply wakes the bot's sync, which re-checks.
    await res.say("👍")
    await site.fed.bot.wait_until(lambda: site.fed.responders.posted >= 1, WAIT)
    assert await site.node.pending_notices("matrix") == []


async def test_edits_and_odd_commands_are_never_run_nor_crash_the_bot(room: Room, clock) -> None:
    site, mod = room.site, room.mod
    ids = await site.corroborate(clock, reports=3)
    await mod.next_post()
    command = await mod.say(f"!confirm {ids[0]}")
    edit = await mod.chapter.bot.send_alert(  # a moderator edits it into a debunk
        mod.room_id,
        {
            "msgtype": "m.text",
            "body": f"!debunk {ids[0]}",  # some clients send the new text without "* "
            "m.new_content": {"msgtype": "m.text", "body": f"!debunk {ids[0]}"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": command},
        },
        "m.room.message",
    )
    for body in ("!", "!!!", "!confirm", "!debunk @room", "!archive " + "x" * 5000, "!ConFirm"):
        await mod.say(body)
    answer = await mod.command(f"!archive\n{ids[1]}")  # a line break, not a space
    assert answer["body"].endswith("is now archived.")
    report = await site.node.get_report(ids[0])
    assert report is not None and report.status == "confirmed"  # the edit was not run
    posts = await mod.answers_until(await mod.say("!help"))
    assert edit not in {replied_to(post) for post in posts}
    assert "@room" not in str(posts) and "xxxxx" not in str(posts)  # only IDs are repeated
    assert site.fed.bot.stats.handler_errors == 0


async def test_a_crash_between_the_post_and_its_note_posts_nothing_twice(room: Room, clock) -> None:
    """The txn id is stable: after a restart, Synapse answers the repeat with the first event."""
    site, res = room.site, room.res
    node = site.node
    posted = asyncio.Event()

    async def crash(outbox_id: int) -> None:  # the process dies before the node notes it
        posted.set()
        await asyncio.Event().wait()

    node.notice_done = crash  # type: ignore[method-assign]
    await site.corroborate(clock, reports=3)
    opening = await res.next_post()
    await asyncio.wait_for(posted.wait(), WAIT)
    await site.fed.stop()
    del node.notice_done  # the node's own method again
    assert [n.kind for n in await node.pending_notices("matrix")] == ["new"]  # still queued
    site.fed = ChapterFederation(node)
    await site.fed.start()
    await site.corroborate(clock, reports=1)
    post = await res.next_post()  # a second opening would come first
    assert post["body"].startswith("Update:") and in_thread(post, opening["event_id"])
    assert await node.pending_notices("matrix") == []


async def test_a_moderator_taken_off_the_list_loses_the_commands(room: Room, clock) -> None:
    site, mod = room.site, room.mod
    room_id = site.fed.responders.room_id
    ids = await site.corroborate(clock, reports=3)
    await mod.next_post()
    set_values(site.data / "vecinos.toml", {("matrix", "responder_moderators"): ""})
    await site.fed.reconcile()  # what SIGHUP does: the list is read again
    assert await site.fed.bot.current_power_level(room_id, mod.user_id) == 0
    # nio's synced view merges users maps: it still shows the old level, which must not count.
    assert site.fed.bot.power_level(room_id, mod.user_id) == 50
    answer = await mod.command(f"!debunk {ids[0]}")
    assert answer["body"] == translate("responders_not_allowed", "en")
    report = await site.node.get_report(ids[0])
    assert report is not None and report.status != "debunked"
    set_values(site.data / "vecinos.toml", {("matrix", "responder_moderators"): mod.user_id})
    await site.fed.reconcile()  # back on the list: the bot (the room's creator) raises it again
    answer = await mod.command(f"!confirm {ids[0]}")
    assert answer["body"].endswith("is now confirmed.")
