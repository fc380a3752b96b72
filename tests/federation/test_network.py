"""Chapters end to end on a real Synapse: reports at one node become verified alerts at another.

Real nodes (init_chapter + open_node with the tests' Clock), their bots set
up by `vecinos matrix setup`'s code, neighbours connected by the token
exchange, alerts produced by the one intake path (Node.submit) and by
moderation. A and B share a room, B and C another. Every wait is an awaited
event bounded by wait_for.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from network import Site, connect, make_site

from federation.homeserver import Homeserver
from node.service import ModeratorAction

pytestmark = pytest.mark.synapse


@dataclass
class Net:
    a: Site
    b: Site
    c: Site
    ab: str
    bc: str


@pytest.fixture
async def net(homeserver: Homeserver, tmp_path: Path, clock) -> AsyncIterator[Net]:
    sites: list[Site] = []
    try:
        for name in ("a", "b", "c"):
            sites.append(await make_site(homeserver, tmp_path, name, clock))
        a, b, c = sites
        ab = await connect(a, b)
        bc = await connect(b, c)
        yield Net(a, b, c, ab, bc)
    finally:
        for site in sites:
            await site.close()


def of(site: Site, alerts: list) -> list:
    return [r for r in alerts if r.chapter == site.chapter_id]


async def test_corroborated_reports_become_an_alert_at_the_neighbour_only(net: Net, clock) -> None:
    a, b, c = net.a, net.b, net.c
    await a.corroborate(clock)  # the 4th report crosses the share threshold at A

    got = await b.wait_received(lambda found: bool(of(a, found)))
    [alert] = of(a, got)
    assert (alert.type, alert.area, alert.level) == ("raid", "Chula Vista", "likely")
    assert alert.still_active and alert.relayed_by is None and alert.reports >= 4
    assert alert.confidence >= 0.7

    # C is B's neighbour, not A's: without relaying it never sees A's alert.
    # B's own alert, sent after, is the marker that C's room has caught up.
    await b.corroborate(clock, area="National City", kind="checkpoint")
    seen_by_c = await c.wait_received(lambda found: bool(of(b, found)))
    assert of(a, seen_by_c) == []
    assert (await b.node.counters()).get("alerts_relayed", 0) == 0

    # Relay on at B: A's next alert reaches C, once, relayed by B.
    b.fed.relay = True
    await a.corroborate(clock, area="San Ysidro", kind="checkpoint")
    seen_by_c = await c.wait_received(lambda found: bool(of(a, found)))
    [relayed] = of(a, seen_by_c)
    assert relayed.area == "San Ysidro" and relayed.relayed_by == b.chapter_id
    # An update of it follows the same path; the first relay arrived exactly once.
    first_seq = relayed.seq
    await a.corroborate(clock, area="San Ysidro", kind="checkpoint", reports=1)
    seen_by_c = await c.wait_received(lambda found: any(r.seq > first_seq for r in of(a, found)))
    counters = await c.node.counters()
    assert counters.get("relays_received") == 2
    assert not [k for k in counters if k.startswith("rejected_")]
    assert len(of(a, seen_by_c)) == 1
    # A never gets its own alert back from B.
    assert not [k for k in await a.node.counters() if k.startswith("rejected_")]


async def test_a_debunk_at_the_origin_withdraws_the_alert_at_the_neighbour(net: Net, clock) -> None:
    a, b = net.a, net.b
    ids = await a.corroborate(clock)
    await b.wait_received(lambda found: bool(of(a, found)))
    for report_id in ids:
        await a.node.moderate(report_id, ModeratorAction.DEBUNK)
    got = await b.wait_received(lambda found: not of(a, found)[0].still_active)
    [withdrawn] = of(a, got)
    assert withdrawn.area == "Chula Vista" and withdrawn.seq > 1
