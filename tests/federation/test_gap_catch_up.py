"""A receiver that missed events asks for a catch-up, on a real Synapse; both sides rate-limit.

Two real chapters on the session's Synapse. B's bot loses what it is handed
for a while (as a bot that was away or could not decrypt would): an update
of A's alert X and a new alert Y. A's next update of X shows B a gap in X's
seqs, so B asks the room for a catch-up, A answers with its active alerts,
and B holds all of them at their latest seq. A second gap soon after asks
nothing (B asked that room moments ago); a request B's bot sends again is
not answered (A answered that room moments ago); a request naming another
chapter, or carrying anything else, is refused and counted. An event from
A's bot that B cannot decrypt makes B ask too, and A answers under a new
megolm session. Every wait is an awaited event.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from network import WAIT, Site, connect, make_site
from test_region import areas_of, confirmed_alerts, holds

from federation.homeserver import Homeserver
from federation.wire import ALERT_EVENT_TYPE, CATCH_UP_EVENT_TYPE

pytestmark = pytest.mark.synapse


@contextlib.asynccontextmanager
async def linked_pair(
    homeserver: Homeserver, tmp_path: Path, clock: Any
) -> AsyncIterator[tuple[Site, Site, str]]:
    """Chapters A and B, neighbours (their room's id last); closed at the end."""
    sites: list[Site] = []
    try:
        for name in ("a", "b"):
            sites.append(await make_site(homeserver, tmp_path, name, clock))
        a, b = sites
        yield a, b, await connect(a, b)
    finally:
        for site in sites:
            await site.close()


def lossy(site: Site) -> tuple[asyncio.Event, asyncio.Queue[int]]:
    """While the returned event is set, the site's bot loses every alert it is handed."""
    losing = asyncio.Event()
    lost: asyncio.Queue[int] = asyncio.Queue()
    handle = site.fed.bot.on_alert
    assert handle is not None

    async def maybe(room_id: str, sender: str, event_type: str, content: Any) -> None:
        if losing.is_set() and event_type == ALERT_EVENT_TYPE:
            lost.put_nowait(int(content.get("seq", 0)))
            return
        await handle(room_id, sender, event_type, content)  # type: ignore[misc]

    site.fed.bot.on_alert = maybe
    return losing, lost


async def test_a_gap_brings_the_active_alerts_once_and_requests_are_rate_limited(
    homeserver: Homeserver, tmp_path: Path, clock: Any
) -> None:
    async with linked_pair(homeserver, tmp_path, clock) as (a, b, room):
        losing, lost = lossy(b)
        x, y = areas_of(a, 2)

        await confirmed_alerts(a, [x])
        await b.wait_received(lambda got: any(r.area == x for r in got))

        losing.set()  # B misses X's update and the new alert Y
        await confirmed_alerts(a, [x])
        await confirmed_alerts(a, [y])
        assert [await asyncio.wait_for(lost.get(), WAIT) for _ in range(2)] == [2, 1]
        losing.clear()
        held = {r.alert_id: r.seq for r in await b.node.received_alerts()}
        assert len(held) == 1 and set(held.values()) == {1}

        await confirmed_alerts(a, [x])  # X's seq 3: B sees the gap and asks
        latest = {r.alert_id: r.seq for r in await a.node.active_alerts()}
        assert sorted(latest.values()) == [1, 3]
        await b.wait_received(holds(a, latest))
        await b.wait_counter("rejected_replayed", 1)  # the catch-up's copy of X: kept once
        counters = await b.node.counters()
        assert (counters["gaps_seen"], counters["catch_up_asked"]) == (1, 1)
        assert (await a.node.counters())["catch_up_requests_answered"] == 1

        # Another gap at once: counted, not asked (B asked this room moments ago).
        losing.set()
        await confirmed_alerts(a, [x])
        assert await asyncio.wait_for(lost.get(), WAIT) == 4
        losing.clear()
        await confirmed_alerts(a, [x])
        counters = await b.wait_counter("gaps_seen", 2)
        assert counters["catch_up_asked"] == 1

        # Asked again at once: not answered; another chapter's name or more fields: refused.
        await b.fed.bot.send_alert(room, {"chapter": b.chapter_id}, CATCH_UP_EVENT_TYPE)
        await a.wait_counter("catch_up_requests_limited", 1)
        await b.fed.bot.send_alert(room, {"chapter": "someone-else"}, CATCH_UP_EVENT_TYPE)
        await a.wait_counter("rejected_wrong_sender", 1)
        note = {"chapter": b.chapter_id, "note": "please"}
        await b.fed.bot.send_alert(room, note, CATCH_UP_EVENT_TYPE)
        counters = await a.wait_counter("rejected_malformed", 1)
        assert counters["catch_up_requests_answered"] == 1
        assert counters["alerts_caught_up"] == 2


async def put_undecryptable(hs: Homeserver, site: Site, room: str) -> None:
    """An `m.room.encrypted` event from the site's bot that no one can decrypt (no such session)."""
    creds = json.loads((site.data / "matrix" / "matrix-credentials.json").read_text())
    content = {
        "algorithm": "m.megolm.v1.aes-sha2",
        "ciphertext": "AwgAEnBhbm90IGEgcmVhbCBtZWdvbG0gbWVzc2FnZQ",
        "sender_key": "c2VuZGVyIGtleSBvZiBub2JvZHkgYXQgYWxsIGhlcmU",
        "session_id": "bm8gc3VjaCBzZXNzaW9uIGFueXdoZXJlIGF0IGFsbA",
        "device_id": creds["device_id"],
    }
    url = f"{hs.base_url}/_matrix/client/v3/rooms/{room}/send/m.room.encrypted/{uuid.uuid4().hex}"
    headers = {"Authorization": f"Bearer {creds['access_token']}"}
    async with aiohttp.ClientSession() as http, http.put(url, json=content, headers=headers) as r:
        assert r.status == 200, await r.text()


async def test_an_undecryptable_event_from_a_neighbour_brings_the_active_alerts(
    homeserver: Homeserver, tmp_path: Path, clock: Any
) -> None:
    async with linked_pair(homeserver, tmp_path, clock) as (a, b, room):
        losing, lost = lossy(b)
        losing.set()  # B misses A's alert (as if it could not read it)...
        [x] = areas_of(a, 1)
        await confirmed_alerts(a, [x])
        assert await asyncio.wait_for(lost.get(), WAIT) == 1
        losing.clear()
        assert await b.node.received_alerts() == []

        undecryptable = b.fed.bot.stats.undecryptable
        await put_undecryptable(homeserver, a, room)  # ...and gets an event it cannot decrypt
        latest = {r.alert_id: r.seq for r in await a.node.active_alerts()}
        await b.wait_received(holds(a, latest))  # asked, answered under a new session
        assert b.fed.bot.stats.undecryptable == undecryptable + 1
        counters = await b.node.counters()
        assert (counters["gaps_seen"], counters["catch_up_asked"]) == (1, 1)
        assert (await a.node.counters())["catch_up_requests_answered"] == 1
