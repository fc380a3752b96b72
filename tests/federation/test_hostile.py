"""Hostile events in a federation room: none stored, each counted by reason, the bot alive.

The attacker is a raw matrix-nio client logged in to chapter A's bot
account as a second device (a leaked bot password): B's bot trusts that
device on first use, decrypts everything it sends, and must still refuse
every alert that is not authentic, current and new. A stranger account,
invited into the room by that device, is the non-neighbour. Afterwards A's
real node sends a good alert, and B stores it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from network import WAIT, Site, connect, make_site
from nio import AsyncClient, AsyncClientConfig, LoginResponse, SyncResponse
from signedjson.key import generate_signing_key

from federation.homeserver import Homeserver
from federation.wire import ALERT_EVENT_TYPE, RELAY_EVENT_TYPE, build_alert, new_alert_id
from node.keys import load_signing_key
from node.setup import KEYS_DIR

pytestmark = pytest.mark.synapse
PASSWORD = "a leaked bot password"


class Attacker:
    """A raw nio client: encrypted sends to every device in the room, trusted or not."""

    def __init__(self, hs: Homeserver, user_id: str, store: Path) -> None:
        store.mkdir(parents=True)
        config = AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False)
        self.client = AsyncClient(hs.base_url, user_id, store_path=str(store), config=config)

    async def login(self, password: str) -> None:
        assert isinstance(await self.client.login(password), LoginResponse)
        await self.sync()

    async def sync(self) -> None:
        assert isinstance(await self.client.sync(timeout=0, full_state=True), SyncResponse)
        if self.client.should_upload_keys:
            await self.client.keys_upload()
        if self.client.should_query_keys:
            await self.client.keys_query()

    async def send(self, room_id: str, content: dict, event_type: str = ALERT_EVENT_TYPE) -> None:
        await self.sync()
        resp = await self.client.room_send(
            room_id, event_type, content, ignore_unverified_devices=True
        )
        assert getattr(resp, "event_id", None), resp

    async def send_plain(self, room_id: str, content: dict) -> None:
        """An unencrypted event of the alert type (what a hostile homeserver could inject)."""
        url = (
            f"{self.client.homeserver}/_matrix/client/v3/rooms/{room_id}/send/"
            f"{ALERT_EVENT_TYPE}/{uuid.uuid4().hex}"
        )
        headers = {"Authorization": f"Bearer {self.client.access_token}"}
        async with (
            aiohttp.ClientSession() as http,
            http.put(url, json=content, headers=headers) as r,
        ):
            assert r.status == 200


def alert(chapter: str, key: Any, now, **over: Any) -> dict:
    fields: dict[str, Any] = {
        "type": "raid",
        "area": "Otay Mesa",
        "hour": now,
        "level": "likely",
        "confidence": 0.75,
        "reports": 4,
        "still_active": True,
        "expires": now + timedelta(hours=4),
        "alert_id": new_alert_id(),
        "seq": 1,
        "lat": 32.57,
        "lon": -116.97,
        "highway": None,
    }
    fields.update(over)
    return build_alert(chapter=chapter, signing_key=key, **fields)


@pytest.fixture
async def dirty_homeserver(tmp_path: Path) -> AsyncIterator[Homeserver]:
    """A homeserver of its own: the plain-text event below stays in its database."""
    hs = Homeserver(tmp_path / "synapse")
    await hs.start()
    try:
        yield hs
    finally:
        await hs.stop()


async def test_hostile_events_are_refused_counted_and_the_bot_survives(
    dirty_homeserver: Homeserver, tmp_path: Path, clock
) -> None:
    homeserver = dirty_homeserver
    a = await make_site(homeserver, tmp_path, "a", clock, password=PASSWORD)
    b = await make_site(homeserver, tmp_path, "b", clock)
    mallory = Attacker(homeserver, a.user_id, tmp_path / "mallory")
    stranger_reg = await homeserver.register(f"stranger-{uuid.uuid4().hex[:6]}", PASSWORD)
    stranger = Attacker(homeserver, stranger_reg.user_id, tmp_path / "stranger")
    try:
        room = await connect(a, b)
        await mallory.login(PASSWORD)
        now = clock()
        a_key = load_signing_key(a.data / KEYS_DIR)
        own = a.chapter_id

        good = alert(own, a_key, now)
        tampered = dict(alert(own, a_key, now), area="Chula Vista")
        oversized = dict(alert(own, a_key, now), padding="x" * 5000)
        malformed = {k: v for k, v in alert(own, a_key, now).items() if k != "expires"}
        sends: list[tuple[dict, str]] = [
            (alert(own, generate_signing_key("forged"), now), ALERT_EVENT_TYPE),  # forged
            (tampered, ALERT_EVENT_TYPE),
            (good, ALERT_EVENT_TYPE),  # authentic: accepted (B cannot tell who pressed send)
            (good, ALERT_EVENT_TYPE),  # ...so its copy is a replay
            (
                alert(own, a_key, now - timedelta(days=2), expires=now - timedelta(days=1)),
                ALERT_EVENT_TYPE,
            ),  # expired
            (alert(own, a_key, now + timedelta(days=1)), ALERT_EVENT_TYPE),  # from the future
            (oversized, ALERT_EVENT_TYPE),
            (malformed, ALERT_EVENT_TYPE),
            ({"nested": [[[[[]]]]], "seq": "1"}, ALERT_EVENT_TYPE),  # malformed
            ({"relayer": own, "hop": 2}, RELAY_EVENT_TYPE),  # malformed relay
        ]
        for content, event_type in sends:
            await mallory.send(room, content, event_type)
        await mallory.send_plain(room, alert(own, a_key, now))  # unencrypted: dropped
        await b.wait_handled(len(sends))

        # A non-neighbour in the room: a stranger invited by the leaked account.
        invite = await mallory.client.room_invite(room, stranger_reg.user_id)
        assert not hasattr(invite, "status_code"), invite
        await stranger.login(PASSWORD)
        assert not hasattr(await stranger.client.join(room), "status_code")
        await stranger.send(room, alert("stranger-chapter", generate_signing_key("s"), now))
        await stranger.send(room, alert(own, a_key, now))  # A's authentic alert, wrong sender
        await b.wait_handled(2)

        # The bot is alive: A's real node still gets through.
        await a.corroborate(clock, area="San Ysidro", kind="checkpoint")
        got = await b.wait_received(lambda found: any(r.area == "San Ysidro" for r in found))
        assert sorted(r.area for r in got) == ["Otay Mesa", "San Ysidro"]  # `good`, and this

        counters = await b.node.counters()
        rejected = {k: v for k, v in counters.items() if k.startswith("rejected_")}
        assert rejected == {
            "rejected_bad_signature": 2,
            "rejected_replayed": 1,
            "rejected_expired": 1,
            "rejected_from_future": 1,
            "rejected_oversized": 1,
            "rejected_malformed": 3,
            "rejected_unencrypted": 1,
            "rejected_not_neighbour": 2,
        }
        assert counters["alerts_received"] == 2
        assert b.fed.bot.stats.handler_errors == 0 and b.fed.bot.stats.undecryptable == 0
        assert b.fed.bot.stats.devices_trusted >= 2  # mallory's device was trusted: not enough
    finally:
        await mallory.client.close()
        await stranger.client.close()
        await a.close()
        await b.close()


async def test_restart_keeps_replay_protection(homeserver: Homeserver, tmp_path: Path, clock):
    """After a restart the seen store is seeded from the node: an old seq is still a replay."""
    a = await make_site(homeserver, tmp_path, "a", clock, password=PASSWORD)
    b = await make_site(homeserver, tmp_path, "b", clock)
    mallory = Attacker(homeserver, a.user_id, tmp_path / "mallory")
    try:
        room = await connect(a, b)
        await mallory.login(PASSWORD)
        a_key = load_signing_key(a.data / KEYS_DIR)
        first = alert(a.chapter_id, a_key, clock(), seq=3)
        await mallory.send(room, first)
        await b.wait_received(lambda found: len(found) == 1)

        await b.fed.stop()
        b = await restart(b)
        await mallory.send(room, first)
        await b.wait_handled(1)
        assert (await b.node.counters()).get("rejected_replayed") == 1
    finally:
        await mallory.client.close()
        await a.close()
        await b.close()


async def restart(site: Site) -> Site:
    """The same node with a fresh ChapterFederation (its bot restores its login)."""
    from federation.chapter import ChapterFederation

    fresh = Site(site.name, site.data, site.node, ChapterFederation(site.node))
    handle = fresh.fed.bot.on_alert
    assert handle is not None

    async def observed(*event: Any) -> None:
        await handle(*event)  # type: ignore[misc]
        fresh.handled.put_nowait(event)

    fresh.fed.bot.on_alert = observed
    await fresh.fed.start()
    assert fresh.fed.connected.is_set()
    return fresh


__all__ = ["WAIT"]
