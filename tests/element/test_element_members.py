"""Members and responders on Element's own crypto, "exclude insecure devices" on.

Real chapters (init_chapter, `vecinos matrix setup`'s code, ChapterFederation)
on a real Synapse; each member is a matrix-js-sdk client with its Rust crypto
(tests/element/member.mjs) that logs in with a password, cross-signs its own
device as Element does at login, and runs in OnlySignedDevicesIsolationMode:
it neither decrypts events from a device its owner has not signed
(UNSIGNED_SENDER_DEVICE) nor shares room keys with one. Each test ends with
no undecryptable event on either side. Every wait is an awaited event
bounded by a timeout: nothing sleeps.
"""

from __future__ import annotations

import statistics
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from element_driver import FIGURES, Element
from network import WAIT, Site, make_site
from nio import RoomMessageNotice
from otk_drain import drain_one_time_keys

from federation.bot import ChapterBot
from federation.chapter import ChapterFederation
from federation.cross_signing import IdentityStatus
from federation.homeserver import Homeserver
from federation.setup import setup_matrix
from federation.state import load_rooms
from node.config import set_values
from node.i18n import translate
from node.service import open_node
from node.setup import init_chapter

pytestmark = pytest.mark.synapse

PASSWORD = "una contraseña de miembro"
ROUND_TRIPS: list[float] = []  # member's send -> the bot's answer decrypted, ms
DECRYPTS: list[float] = []  # the bot's message arrived in a sync -> decrypted, ms
COUNTS = {"decrypted": 0, "undecryptable": 0, "failedOnce": 0, "beforeThisDevice": 0}
BOTS_CLEAN: list[str] = []


@dataclass
class JsMember:
    """One device of a member, in the js process."""

    element: Element
    name: str
    user_id: str
    device_id: str
    bot: str = ""  # the chapter bot's user id
    seen: int = -1  # index of the last decrypted event looked at

    async def join(self, site: Site, room_id: str) -> None:
        await self.element.call("join", name=self.name, roomId=room_id)
        await site.fed.bot.wait_for_member(room_id, self.user_id, WAIT)

    async def say(self, room_id: str, body: str, thread: str | None = None) -> str:
        sent = await self.element.call(
            "send",
            name=self.name,
            roomId=room_id,
            body=body,
            **({"thread": thread} if thread else {}),
        )
        return sent["eventId"]

    async def answer_to(self, room_id: str, event_id: str, *, timed: bool = True) -> dict[str, Any]:
        """The bot's answer to our event (`timed`: count its round trip in the figures)."""
        got = await self.element.call(
            "waitFor", name=self.name, roomId=room_id, sender=self.bot, inReplyTo=event_id
        )
        assert_trusted(got)
        if timed and got["roundTripMs"] is not None:
            ROUND_TRIPS.append(got["roundTripMs"])
        return got

    async def report(self, room_id: str, body: str, thread: str | None = None) -> dict[str, Any]:
        return await self.answer_to(room_id, await self.say(room_id, body, thread))

    async def next_post(self, room_id: str, starts: str = "") -> dict[str, Any]:
        """The bot's next decrypted post in the room (after the last one looked at)."""
        got = await self.element.call(
            "waitFor",
            name=self.name,
            roomId=room_id,
            sender=self.bot,
            bodyStartsWith=starts,
            after=self.seen,
        )
        self.seen = got["index"]
        assert_trusted(got)
        return got

    async def clean(self) -> dict[str, Any]:
        """Its counts; asserts nothing it received is, or ever was, undecryptable."""
        stats = await self.element.call("stats", name=self.name)
        for k in COUNTS:
            COUNTS[k] += stats[k]
        assert stats["undecryptable"] == 0 and stats["failedOnce"] == 0, stats
        return stats


def assert_trusted(got: dict[str, Any]) -> None:
    """No shield on the bot's message: its device is signed by its owner (Element's view)."""
    assert (got["shieldColour"], got["shieldReason"]) == ("NONE", None), got
    if got["decryptMs"] is not None:
        DECRYPTS.append(got["decryptMs"])


async def js_member(
    element: Element, hs: Homeserver, name: str, site: Site, *, password: str = PASSWORD
) -> JsMember:
    """A new account; its first device logs in and bootstraps cross-signing, as Element does."""
    reg = await hs.register(f"{name}-{uuid.uuid4().hex[:6]}", password)
    me = await element.call(
        "login",
        name=name,
        baseUrl=hs.base_url,
        user=reg.user_id,
        password=password,
        crossSign="new",
    )
    assert me["signedByOwner"], me
    return JsMember(element, name, reg.user_id, me["deviceId"], site.user_id)


async def second_device(element: Element, hs: Homeserver, first: JsMember) -> JsMember:
    """The member logs in again and enters the recovery key: the new device takes the
    cross-signing keys from secret storage and signs itself (Element's "Verify with Recovery
    Key"); the first device sees it signed."""
    name = first.name + "-2"
    me = await element.call(
        "login",
        name=name,
        baseUrl=hs.base_url,
        user=first.user_id,
        password=PASSWORD,
        crossSign="recovery",
    )
    assert me["signedByOwner"], me
    await element.call(
        "signedByOwner", name=first.name, userId=first.user_id, deviceId=me["deviceId"]
    )
    return JsMember(element, name, first.user_id, me["deviceId"], first.bot)


async def restart(site: Site) -> None:
    """Stop the chapter's Matrix side and start it again on the same data dir (same device)."""
    device = site.fed.bot.device_id
    await site.fed.stop()
    site.fed = ChapterFederation(site.node)
    await site.fed.start()
    assert site.fed.connected.is_set() and site.fed.bot.device_id == device


async def bot_clean(site: Site) -> None:
    """The chapter's bot could decrypt every event (its kept counter, across restarts)."""
    assert site.fed.bot.stats.undecryptable == 0
    assert (await site.node.counters()).get("undecryptable", 0) == 0
    BOTS_CLEAN.append(site.chapter_id)
    FIGURES["chapter bots with 0 undecryptable events"] = str(len(BOTS_CLEAN))


@pytest.fixture
async def site(element_homeserver: Homeserver, tmp_path: Path, clock) -> AsyncIterator[Site]:
    s = await make_site(element_homeserver, tmp_path, "a", clock)
    try:
        yield s
    finally:
        await s.close()


def record_figures() -> None:
    label = "js members' events: decrypted / undecryptable / failed once / before the device"
    FIGURES[label] = " / ".join(str(COUNTS[k]) for k in COUNTS)
    if DECRYPTS:
        FIGURES["decryption of the bot's messages, js member (arrived -> decrypted), ms"] = (
            f"median {statistics.median(DECRYPTS):.0f}, max {max(DECRYPTS):.0f}, n={len(DECRYPTS)}"
        )
    if ROUND_TRIPS:
        FIGURES["answer round trip, js member (send -> decrypted), ms"] = (
            f"median {statistics.median(ROUND_TRIPS):.0f}, max {max(ROUND_TRIPS):.0f}, "
            f"n={len(ROUND_TRIPS)}"
        )


async def test_a_member_reports_in_spanish_from_two_devices_across_a_bot_restart(
    element_homeserver: Homeserver, element: Element, site: Site
) -> None:
    hs = element_homeserver
    room = load_rooms(site.data).member_room
    ana = await js_member(element, hs, "ana", site)
    await site.fed.bot.invite(room, ana.user_id)
    await ana.join(site, room)

    answer = await ana.report(room, "redada en Chula Vista, siguen ahí, tres camionetas")
    content = answer["content"]
    relates = content["m.relates_to"]
    assert relates["rel_type"] == "m.thread" and content["msgtype"] == "m.notice"
    assert content["body"].startswith("Recibido: redada en Chula Vista")
    root = relates["event_id"]
    follow = await ana.report(room, "ya se fueron", thread=root)
    assert follow["content"]["body"] == translate("member_follow_up_gone", "es")
    assert follow["content"]["m.relates_to"]["event_id"] == root

    # A second device, signed by the first: served too, and the first reads its answers.
    ana2 = await second_device(element, hs, ana)
    answer2 = await ana2.report(room, "retén en San Ysidro")
    assert answer2["content"]["body"].startswith("Recibido: retén en San Ysidro")
    on_first = await ana.answer_to(room, answer2["content"]["m.relates_to"]["event_id"])
    assert on_first["eventId"] == answer2["eventId"]

    await restart(site)
    for device, text, area in (
        (ana, "patrulla en Alpine", "Alpine"),
        (ana2, "redada en Encanto", "Encanto"),
    ):
        after = await device.report(room, text)
        assert after["content"]["body"].startswith("Recibido:") and area in after["content"]["body"]

    areas = {r.area for r in await site.node.live_reports()}
    assert {"Chula Vista", "San Ysidro", "Alpine", "Encanto"} <= areas
    for device in (ana, ana2):
        await device.clean()
    await bot_clean(site)
    record_figures()


async def responders_site(hs: Homeserver, base: Path, clock: Any, moderator: str) -> Site:
    """A chapter whose config names `moderator` (a responder who may run commands)."""
    data = base / f"r-{uuid.uuid4().hex[:6]}"
    init_chapter(data, "Chapter R")
    user = hs.user_id(f"bot-{data.name}")
    await setup_matrix(data, hs.base_url, user, registration_secret=hs.registration_secret)
    set_values(
        data / "vecinos.toml",
        {
            ("matrix", "responder_moderators"): moderator,
            ("chapter", "default_language"): "en",
            ("responders", "hold_minutes"): 0,  # page at once (the hold has its own tests)
        },
    )
    node = await open_node(data, clock=clock)
    site = Site("r", data, node, ChapterFederation(node))
    await site.fed.start()
    assert site.fed.connected.is_set()
    return site


async def test_a_responder_decrypts_an_alert_and_confirms_it_across_a_bot_restart(
    element_homeserver: Homeserver, element: Element, tmp_path: Path, clock
) -> None:
    hs = element_homeserver
    reg = await hs.register(f"rosa-{uuid.uuid4().hex[:6]}", PASSWORD)
    site = await responders_site(hs, tmp_path, clock, reg.user_id)
    try:
        me = await element.call(
            "login",
            name="rosa",
            baseUrl=hs.base_url,
            user=reg.user_id,
            password=PASSWORD,
            crossSign="new",
        )
        rosa = JsMember(element, "rosa", reg.user_id, me["deviceId"], site.user_id)
        room = site.fed.responders.room_id
        await rosa.join(site, room)

        ids = await site.corroborate(clock, reports=3)  # "likely": the responders' room
        alert = await rosa.next_post(room, "🚨 raid at Chula Vista: likely")
        assert "!confirm ID" in alert["content"]["body"]
        done = await rosa.report(room, f"!confirm {ids[0]}", thread=alert["eventId"])
        assert done["content"]["body"] == (
            f"Done: report {ids[0]} (raid at Chula Vista) is now confirmed."
        )
        report = await site.node.get_report(ids[0])
        assert report is not None and report.status == "confirmed"

        await restart(site)
        await site.corroborate(clock, reports=1)
        update = await rosa.next_post(room, "Update: raid at Chula Vista")
        assert update["content"]["m.relates_to"]["event_id"] == alert["eventId"]
        archived = await rosa.report(room, f"!archive {ids[1]}", thread=alert["eventId"])
        assert archived["content"]["body"].endswith("is now archived.")

        await rosa.clean()
        await bot_clean(site)
    finally:
        await site.close()
    record_figures()


async def test_new_devices_are_answered_after_the_bots_one_time_keys_are_drained(
    element_homeserver: Homeserver, element: Element, site: Site, tmp_path: Path
) -> None:
    """Another account claims every one-time key while the bot is away: a new js device and a
    new nio device can only get its fallback key, and are still read and answered."""
    hs = element_homeserver
    room = load_rooms(site.data).member_room
    beto = await js_member(element, hs, "beto", site)  # Element claims keys only to send
    cruz = await hs.register(f"cruz-{uuid.uuid4().hex[:6]}", PASSWORD)  # no nio device yet
    for user in (beto.user_id, cruz.user_id):
        await site.fed.bot.invite(room, user)
    await beto.join(site, room)

    device = site.fed.bot.device_id
    assert device is not None
    before = await site.fed.bot.one_time_key_count()
    await site.fed.stop()
    drained = await drain_one_time_keys(hs, site.user_id, device)
    assert drained.one_time == before and drained.fallback

    # Both new devices start their Olm session now, on the only key left: the fallback key.
    sent_js = await beto.say(room, "redada en National City, siguen ahí")
    nio = ChapterBot(hs.base_url, cruz.user_id, tmp_path / "cruz")
    answers: list[Any] = []
    try:
        await nio.login(PASSWORD)  # a new device
        await nio.start()
        nio.add_room_handler(lambda r, e: answers.append(e), (RoomMessageNotice,))
        await nio.wait_until(lambda: room in nio.pending_invites(), WAIT)
        await nio.join(room)
        sent_nio = await nio.send_alert(
            room, {"msgtype": "m.text", "body": "checkpoint in Otay Mesa"}, "m.room.message"
        )

        site.fed = ChapterFederation(site.node)
        await site.fed.start()
        answer = await beto.answer_to(room, sent_js, timed=False)  # sent while the bot was away
        assert answer["content"]["body"].startswith("Recibido: redada en National City")
        await nio.wait_until(lambda: any(replies_to(e, sent_nio) for e in answers), WAIT)
        [nio_answer] = [e for e in answers if replies_to(e, sent_nio)]
        assert nio_answer.body.startswith("Received: checkpoint at Otay Mesa")
        refilled = await site.fed.bot.one_time_key_count()
        assert refilled == before and site.fed.bot.stats.one_time_key_refills == 1
        assert site.fed.bot.stats.fallback_keys_published == 1  # a new one: the old was used
        await beto.clean()
        assert nio.stats.undecryptable == 0
        await bot_clean(site)
    finally:
        await nio.close()
    FIGURES["bot one-time keys: before drain / after / after refill"] = f"{before} / 0 / {refilled}"
    FIGURES["claims served from the pool, then the fallback key"] = f"{drained.one_time}, yes"
    record_figures()


def replies_to(event: Any, event_id: str) -> bool:
    relates = event.source["content"].get("m.relates_to", {})
    return relates.get("m.in_reply_to", {}).get("event_id") == event_id


async def test_an_older_chapter_without_cross_signing_is_upgraded_at_its_next_start(
    element_homeserver: Homeserver, element: Element, tmp_path: Path, clock, monkeypatch
) -> None:
    """A data dir set up before cross-signing (a device signed only by itself): the member
    cannot be read by it; after the next start its device is signed and the member is."""
    hs = element_homeserver

    async def as_before(*args: Any, **kw: Any) -> IdentityStatus:  # no cross-signing at all
        return IdentityStatus(master=None, ours=False, device_signed=False, device_published=True)

    monkeypatch.setattr("federation.bot.ensure_identity", as_before)
    site = await make_site(hs, tmp_path, "old", clock)
    try:
        assert site.fed.bot.identity is not None and not site.fed.bot.identity.ok
        room = load_rooms(site.data).member_room
        dani = await js_member(element, hs, "dani", site)
        await site.fed.bot.invite(room, dani.user_id)
        await dani.join(site, room)
        await dani.say(room, "redada en Chula Vista")
        # Element withholds its room key from the unsigned bot: unreadable to it.
        await site.fed.bot.wait_until(lambda: site.fed.bot.stats.undecryptable >= 1, WAIT)

        monkeypatch.undo()
        await restart(site)
        assert site.fed.bot.identity is not None and site.fed.bot.identity.ok
        # Element learns of the new signature from a device-list update in its sync; it
        # shares its room key with the bot once it sees the bot's device signed.
        await element.call(
            "signedByOwner", name=dani.name, userId=site.user_id, deviceId=site.fed.bot.device_id
        )
        answer = await dani.report(room, "retén en San Ysidro")
        assert answer["content"]["body"].startswith("Recibido: retén en San Ysidro")
        await dani.clean()
    finally:
        await site.close()
    record_figures()
