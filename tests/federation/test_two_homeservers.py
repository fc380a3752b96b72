"""Two Synapse homeservers federating over loopback TLS carry an encrypted alert.

A chapter bot on server 1 creates an encrypted room and invites a bot on
server 2, which joins on its own (it accepts invites from that neighbour
only). An alert signed by chapter 1 reaches chapter 2 decrypted and
verifies; neither server stores it in clear.
"""

from __future__ import annotations

import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from federation_harness import MEASURED, WAIT, make_chapter

from federation.homeserver import Homeserver
from federation.wire import Accepted, MemorySeenStore, build_alert, new_alert_id, verify_alert

pytestmark = pytest.mark.synapse


def files_containing(root: Path, needle: bytes) -> list[str]:
    return [p.name for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


async def test_alert_crosses_federation_encrypted(
    two_servers: tuple[Homeserver, Homeserver], tmp_path: Path
) -> None:
    hs1, hs2 = two_servers
    assert hs1.server_name != hs2.server_name
    a = await make_chapter(hs1, tmp_path, "north")
    b = await make_chapter(hs2, tmp_path, "south", accept_invites_from={a.bot.user_id})
    try:
        room_id = await a.bot.create_room(name="neighbours", invite=[b.bot.user_id])
        await a.bot.wait_for_member(room_id, b.bot.user_id, WAIT)  # b auto-joined

        area = f"Colonia Remota {uuid.uuid4().hex[:12]}"
        now = datetime.now(UTC)
        content = build_alert(
            chapter="north",
            signing_key=a.signing_key,
            alert_id=new_alert_id(),
            seq=1,
            type="raid",
            area=area,
            hour=now,
            level="possible",
            confidence=0.45,
            reports=2,
            still_active=True,
            expires=now + timedelta(hours=6),
        )
        await a.bot.send_alert(room_id, content)
        got = await b.next_alert(WAIT)
        assert got.sender == a.bot.user_id and got.room_id == room_id
        v = verify_alert(got.content, {"north": a.verify_key}, datetime.now(UTC), MemorySeenStore())
        assert isinstance(v, Accepted) and v.alert.area == area

        latencies = []
        for i in range(20):
            msg = dict(content, seq=i + 2)  # transport timing only: not verified
            t0 = time.perf_counter()
            await a.bot.send_alert(room_id, msg)
            got = await b.next_alert(WAIT)
            latencies.append((got.at - t0) * 1000)
        MEASURED["two homeservers (federation), send -> decrypted callback, 20 alerts"] = (
            f"median {statistics.median(latencies):.0f} ms, max {max(latencies):.0f} ms"
        )

        for hs in (hs1, hs2):
            assert files_containing(hs.data_dir, area.encode()) == []
            assert files_containing(hs.data_dir, b"org.vecinos.alert") == []
        assert b.bot.stats.undecryptable == 0
    finally:
        await a.bot.close()
        await b.bot.close()
