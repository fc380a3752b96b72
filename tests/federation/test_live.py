"""Chapter bots against a real Synapse: encrypted delivery, privacy, restarts, outages.

Two bots (two accounts on one loopback homeserver) share an encrypted room.
Every wait is an awaited event bounded by asyncio.wait_for, never a sleep.
"""

from __future__ import annotations

import logging
import stat
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from federation_harness import MEASURED, WAIT, Chapter, Pair, make_pair

from federation.bot import ChapterBot, SendFailed
from federation.homeserver import Homeserver
from federation.wire import (
    ALERT_EVENT_TYPE,
    Accepted,
    MemorySeenStore,
    build_alert,
    new_alert_id,
    verify_alert,
)

pytestmark = pytest.mark.synapse


def signed_alert(ch: Chapter, area: str = "Otay Mesa", seq: int = 1, **over: Any) -> dict:
    now = datetime.now(UTC)
    fields: dict[str, Any] = {
        "type": "checkpoint",
        "area": area,
        "lat": 32.55,
        "lon": -116.94,
        "highway": "I-905",
        "hour": now,
        "level": "likely",
        "confidence": 0.71,
        "reports": 3,
        "still_active": True,
        "expires": now + timedelta(hours=4),
        "alert_id": new_alert_id(),
        "seq": seq,
    }
    fields.update(over)
    return build_alert(chapter=ch.name, signing_key=ch.signing_key, **fields)


def files_containing(root: Path, needle: bytes) -> list[str]:
    hits = []
    for p in root.rglob("*"):
        if p.is_file() and needle in p.read_bytes():
            hits.append(p.name)
    return hits


async def test_alert_arrives_decrypted_and_verified_and_never_in_clear(
    pair: Pair, homeserver: Homeserver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="vecinos")
    caplog.set_level(logging.INFO)
    area = f"Barrio Zanahoria {uuid.uuid4().hex[:12]}"
    content = signed_alert(pair.a, area)

    event_id = await pair.a.bot.send_alert(pair.room_id, content)
    got = await pair.b.next_alert()

    assert event_id.startswith("$")
    assert (got.room_id, got.sender, got.event_type) == (
        pair.room_id,
        pair.a.bot.user_id,
        ALERT_EVENT_TYPE,
    )
    verdict = verify_alert(
        got.content, {"north": pair.a.verify_key}, datetime.now(UTC), MemorySeenStore()
    )
    assert isinstance(verdict, Accepted), verdict
    assert verdict.alert.area == area and verdict.alert.chapter == "north"

    # The homeserver's DB, WAL and logs hold neither the alert nor its type...
    assert files_containing(homeserver.data_dir, area.encode()) == []
    assert files_containing(homeserver.data_dir, b"org.vecinos.alert") == []
    # ...while the scan does see what the homeserver keeps in clear (control).
    assert files_containing(homeserver.data_dir, pair.room_name.encode())
    # Nothing we log carries content.
    assert area not in caplog.text
    assert pair.b.bot.stats.received == 1 and pair.b.bot.stats.undecryptable == 0
    assert pair.a.bot.stats.devices_trusted >= 1  # b's device, trusted on first use


async def test_room_is_encrypted_invite_only_with_retention(
    pair: Pair, homeserver: Homeserver
) -> None:
    client = pair.a.bot.client
    assert client is not None
    url = f"{homeserver.base_url}/_matrix/client/v3/rooms/{pair.room_id}/state"
    headers = {"Authorization": f"Bearer {client.access_token}"}
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as resp:
        assert resp.status == 200
        events = await resp.json()
    state = {e["type"]: e["content"] for e in events if e.get("state_key") == ""}
    assert state["m.room.encryption"]["algorithm"] == "m.megolm.v1.aes-sha2"
    assert state["m.room.join_rules"]["join_rule"] == "invite"
    assert state["m.room.history_visibility"]["history_visibility"] == "joined"
    assert state["m.room.guest_access"]["guest_access"] == "forbidden"
    assert state["m.room.retention"]["max_lifetime"] == 7 * 86_400_000
    assert not any(t.startswith("org.vecinos") for t in state)  # alerts are never state


async def test_latency_one_homeserver(pair: Pair) -> None:
    latencies = []
    for i in range(20):
        content = signed_alert(pair.a, seq=i)
        t0 = time.perf_counter()
        await pair.a.bot.send_alert(pair.room_id, content)
        got = await pair.b.next_alert()
        latencies.append((got.at - t0) * 1000)
        assert got.content["seq"] == i
    median = statistics.median(latencies)
    MEASURED["one homeserver, send -> decrypted callback, 20 alerts"] = (
        f"median {median:.0f} ms, max {max(latencies):.0f} ms"
    )
    assert median < 1000


async def test_unencrypted_alert_event_is_dropped(pair: Pair, homeserver: Homeserver) -> None:
    """A plain event of the alert type (as a hostile homeserver could inject) never
    reaches on_alert; the encrypted one sent after it does."""
    client = pair.a.bot.client
    assert client is not None
    url = (
        f"{homeserver.base_url}/_matrix/client/v3/rooms/{pair.room_id}"
        f"/send/{ALERT_EVENT_TYPE}/plain-{uuid.uuid4().hex}"
    )
    headers = {"Authorization": f"Bearer {client.access_token}"}
    async with (
        aiohttp.ClientSession() as http,
        http.put(url, json=signed_alert(pair.a, "Plain Text Area"), headers=headers) as resp,
    ):
        assert resp.status == 200
    await pair.a.bot.send_alert(pair.room_id, signed_alert(pair.a, "Encrypted Area"))

    got = await pair.b.next_alert()
    assert got.content["area"] == "Encrypted Area"
    assert pair.b.inbox.empty()
    assert pair.b.bot.stats.unencrypted_dropped == 1


async def test_restart_restores_login_same_device_and_receives(
    pair: Pair, homeserver: Homeserver
) -> None:
    b = pair.b
    device = b.bot.device_id
    creds = b.bot.credentials_path
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    assert stat.S_IMODE(b.bot.store_path.stat().st_mode) == 0o700
    await b.bot.close()

    # A sends while B is away.
    await pair.a.bot.send_alert(pair.room_id, signed_alert(pair.a, "While Away"))

    b.bot = b.new_bot(homeserver)
    assert await b.bot.login() == device  # no password: restored from the 0600 file
    await b.bot.start()
    assert b.bot.client is not None and pair.room_id in b.bot.client.rooms

    # What was sent while it was away arrives after the restart (sync token), decrypted.
    assert (await b.next_alert()).content["area"] == "While Away"
    await pair.a.bot.send_alert(pair.room_id, signed_alert(pair.a, "After Restart"))
    assert (await b.next_alert()).content["area"] == "After Restart"
    assert b.bot.stats.undecryptable == 0


async def test_password_login_once_then_restore(homeserver: Homeserver, tmp_path: Path) -> None:
    reg = await homeserver.register(f"pw-{uuid.uuid4().hex[:8]}", "s3cret-password")
    bot = ChapterBot(homeserver.base_url, reg.user_id, tmp_path / "bot")
    device = await bot.login("s3cret-password")
    assert device != reg.device_id  # a password login is a new device...
    await bot.close()
    again = ChapterBot(homeserver.base_url, reg.user_id, tmp_path / "bot")
    assert await again.login("s3cret-password") == device  # ...made only once
    await again.close()
    other = ChapterBot(homeserver.base_url, "@someone:else", tmp_path / "bot")
    with pytest.raises(Exception, match="another account"):
        await other.login()


async def test_homeserver_outage_send_raises_then_recovers(tmp_path: Path) -> None:
    hs = Homeserver(tmp_path / "synapse")
    await hs.start()
    try:
        p = await make_pair(hs, tmp_path)
        try:
            await p.a.bot.send_alert(p.room_id, signed_alert(p.a, "Before"))
            assert (await p.b.next_alert()).content["area"] == "Before"

            await hs.stop()
            t0 = time.monotonic()
            with pytest.raises(SendFailed):
                await p.a.bot.send_alert(p.room_id, signed_alert(p.a, "During"), timeout=5)
            assert time.monotonic() - t0 < 6

            await hs.start()
            await p.a.bot.send_alert(p.room_id, signed_alert(p.a, "After"))
            got = await p.b.next_alert(WAIT)
            assert got.content["area"] == "After"
            assert p.b.bot.stats.undecryptable == 0
            assert p.a.bot.stats.send_failures == 1
            assert p.b.bot.stats.sync_errors >= 1
        finally:
            await p.a.bot.close()
            await p.b.bot.close()
    finally:
        await hs.stop()
    assert not hs.running


async def test_send_refuses_unknown_and_unencrypted_rooms(pair: Pair) -> None:
    bot = pair.a.bot
    assert bot.client is not None
    with pytest.raises(SendFailed, match="unknown room"):
        await bot.send_alert("!nowhere:localhost", signed_alert(pair.a))
    resp = await bot.client.room_create(name="plain")  # no m.room.encryption
    client = bot.client
    await bot.wait_until(lambda: resp.room_id in client.rooms)
    with pytest.raises(SendFailed, match="not encrypted"):
        await bot.send_alert(resp.room_id, signed_alert(pair.a))


async def test_handler_errors_are_counted_not_fatal(pair: Pair) -> None:
    b = pair.b
    calls = 0

    def flaky(room_id: str, sender: str, event_type: str, content: dict) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("handler bug")
        b.on_alert(room_id, sender, event_type, content)

    b.bot.on_alert = flaky
    await pair.a.bot.send_alert(pair.room_id, signed_alert(pair.a, "First"))
    await pair.a.bot.send_alert(pair.room_id, signed_alert(pair.a, "Second"))
    assert (await b.next_alert()).content["area"] == "Second"
    assert b.bot.stats.handler_errors == 1 and b.bot.stats.received == 2


async def test_a_restart_after_many_events_misses_none(pair: Pair, homeserver: Homeserver) -> None:
    """More events than one sync hands over (a "limited" timeline): the gap is fetched,
    and every event arrives once, in order."""
    b = pair.b
    await b.bot.close()
    for i in range(130):  # the sync filter's timeline limit is 100
        await pair.a.bot.send_alert(pair.room_id, signed_alert(pair.a, seq=i))
    b.bot = b.new_bot(homeserver)
    await b.bot.login()
    await b.bot.start()
    seqs = [(await b.next_alert()).content["seq"] for _ in range(130)]
    assert seqs == list(range(130))
    assert b.inbox.empty() and b.bot.stats.undecryptable == 0
