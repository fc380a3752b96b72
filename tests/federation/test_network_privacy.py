"""What homeservers see of the chapters' alerts, on one homeserver and across two.

(e) After an alert with a described report went from A to B, the
homeserver's database, WAL and logs hold neither the area nor the
description nor the event type in clear (a control finds what it does keep
in clear). Nothing we log carries them either.
(f) Two federating homeservers carry an alert from a chapter on one to a
chapter on the other, and neither stores it in clear.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import pytest
from network import Site, connect, make_site

from federation.homeserver import Homeserver

pytestmark = pytest.mark.synapse

AREA = "Lemon Grove"


def files_containing(root: Path, needle: bytes) -> list[str]:
    return [p.name for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def room_names(site: Site) -> list[str]:
    client = site.fed.bot.client
    assert client is not None
    return [r.name for r in client.rooms.values() if r.name]


async def test_homeserver_never_holds_area_or_description_in_clear(
    tmp_path: Path, clock, caplog: pytest.LogCaptureFixture
) -> None:
    # A homeserver of its own, so that the scan sees only this test's traffic (other
    # tests inject plain-text events on purpose).
    caplog.set_level(logging.DEBUG, logger="vecinos")
    description = f"tres camionetas grises {uuid.uuid4().hex[:10]}"
    homeserver = Homeserver(tmp_path / "synapse")
    await homeserver.start()
    a = await make_site(homeserver, tmp_path, "a", clock)
    b = await make_site(homeserver, tmp_path, "b", clock)
    try:
        await connect(a, b)
        await a.corroborate(clock, area=AREA, description=description)
        got = await b.wait_received(lambda found: any(r.area == AREA for r in found))
        assert [r.area for r in got] == [AREA]
        names = room_names(a)
    finally:
        await a.close()
        await b.close()
        await homeserver.stop()

    for needle in (AREA, description, "camionetas", "org.vecinos"):
        assert files_containing(homeserver.data_dir, needle.encode()) == [], needle
    # The scan does read what the homeserver keeps in clear: the neutral room names.
    assert names and all(n.startswith("room-") for n in names)
    assert files_containing(homeserver.data_dir, names[0].encode())
    assert AREA not in caplog.text and description not in caplog.text


async def test_two_federating_homeservers_carry_an_alert(
    two_servers: tuple[Homeserver, Homeserver], tmp_path: Path, clock
) -> None:
    hs1, hs2 = two_servers
    a = await make_site(hs1, tmp_path, "a", clock)
    b = await make_site(hs2, tmp_path, "b", clock)
    try:
        assert a.user_id.endswith(hs1.server_name) and b.user_id.endswith(hs2.server_name)
        await connect(a, b)
        await a.corroborate(clock, area="El Cajon", kind="patrol")
        got = await b.wait_received(lambda found: bool(found))
        assert [(r.chapter, r.area, r.type) for r in got] == [(a.chapter_id, "El Cajon", "patrol")]
        assert (await b.node.counters())["alerts_received"] == 1
    finally:
        await a.close()
        await b.close()
    for hs in (hs1, hs2):
        assert files_containing(hs.data_dir, b"El Cajon") == []
