"""Federation at region scale: concurrent delivery to neighbours, and catch-up of a new neighbour.

Real nodes on the session's real Synapse (tests/federation/network.py).
Delivery: A has three neighbours; every seq of every alert reaches each of
them once and in order, and a room whose sends fail does not hold the others
up (its send is refused until the test lets it through, as a homeserver
refusing one room would; the alert then arrives there once). Catch-up: a
chapter with active alerts gets a new neighbour, which holds every one of
them (both ways: the room's creator and the joiner each send theirs), and
so does a neighbour that was removed and pinned again (a new room). Region
room: four chapters share one room; each alert goes into it once, and a
pinned neighbour's bot posting an alert signed by another chapter is refused
(the sender is checked per event, not per room). Every wait is an awaited
event.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from network import WAIT, Site, connect, make_site
from test_outage import far_apart

from federation.bot import SendFailed
from federation.delivery import to_wire
from federation.homeserver import Homeserver
from federation.neighbours import form_region, remove
from federation.wire import ALERT_EVENT_TYPE
from node.keys import load_signing_key
from node.outcome import Accepted, ReportDraft, SourceRef
from node.service import ModeratorAction
from node.setup import KEYS_DIR
from scoring.model import Channel

pytestmark = pytest.mark.synapse


async def confirmed_alerts(site: Site, areas: list[str], kind: str = "checkpoint") -> None:
    """One confirmed report per area: one alert each (moderation confirms it at once)."""
    for area in areas:
        site.sources += 1
        source = SourceRef(Channel.WEB, f"{site.name}-{site.sources}".encode())
        outcome = await site.node.submit(ReportDraft(type=kind, area=area), source)
        assert isinstance(outcome, Accepted), outcome
        await site.node.moderate(outcome.report.id, ModeratorAction.CONFIRM)


def areas_of(site: Site, n: int, skip: int = 0) -> list[str]:
    chosen = far_apart(list(site.node.gazetteer.areas), 6.0)[skip : skip + n]
    assert len(chosen) == n
    return [a.name for a in chosen]


def recorded(site: Site) -> list[tuple[str, int]]:
    """(alert id, seq) of every event the site's bot hands its receiver, in order, from now."""
    seen: list[tuple[str, int]] = []
    handle = site.fed.bot.on_alert
    assert handle is not None

    async def observed(room_id: str, sender: str, event_type: str, content: Any) -> None:
        seen.append((str(content.get("alert_id")), int(content.get("seq", 0))))
        await handle(room_id, sender, event_type, content)  # type: ignore[misc]

    site.fed.bot.on_alert = observed
    return seen


def holds(origin: Site, latest: dict[str, int]) -> Any:
    """A check for wait_received: the origin's alerts are exactly these, at these seqs."""
    return lambda got: {r.alert_id: r.seq for r in got if r.chapter == origin.chapter_id} == latest


async def alerts_and_an_update(origin: Site, receivers: list[Site]) -> int:
    """Two alerts from `origin` and an update of one, held by every receiver and sent; the
    number of seqs sent (each once per room)."""
    areas = areas_of(origin, 2)
    await confirmed_alerts(origin, areas)
    await confirmed_alerts(origin, areas[:1])
    latest = {x.alert_id: x.seq for x in await origin.node.active_alerts()}
    for site in receivers:
        await site.wait_received(holds(origin, latest))
    await origin.fed.delivery.drained(WAIT)
    return sum(latest.values())


async def test_every_neighbour_gets_every_seq_once_in_order_and_a_failing_room_holds_none(
    homeserver: Homeserver, tmp_path: Path, clock: Any
) -> None:
    sites: list[Site] = []
    try:
        for name in ("a", "b", "c", "d"):
            sites.append(await make_site(homeserver, tmp_path, name, clock))
        a, *others = sites
        rooms = {site.name: await connect(a, site) for site in others}
        seen = {site.name: recorded(site) for site in others}

        # Alerts, and updates of them (a second confirmed report raises the alert's seq).
        areas = areas_of(a, 4)
        await confirmed_alerts(a, areas)
        await confirmed_alerts(a, areas[:2])
        latest = {x.alert_id: x.seq for x in await a.node.active_alerts()}
        assert len(latest) == 4 and max(latest.values()) > 1
        for site in others:
            await site.wait_received(holds(a, latest))
        await a.fed.delivery.drained(WAIT)
        assert await a.node.pending_alerts() == []
        rows = sum(latest.values())  # every seq of every alert was queued once
        assert (await a.node.counters())["alerts_sent"] == 3 * rows
        for site in others:
            counters = await site.node.counters()
            assert counters["alerts_received"] == rows  # every seq once at each...
            assert not [k for k in counters if k.startswith("rejected_")]  # ...and no copy
            got = seen[site.name]
            assert len(got) == rows
            for alert_id, last in latest.items():  # in order
                assert [seq for i, seq in got if i == alert_id] == list(range(1, last + 1))
            assert site.fed.bot.stats.undecryptable == 0

        # D's room refuses sends until released: B and C get the next alert meanwhile.
        d = others[2]
        release = asyncio.Event()
        refused = asyncio.Event()
        real_send = a.fed.bot.send_alert

        async def send_alert(room_id: str, *args: Any, **kw: Any) -> str:
            if room_id == rooms["d"] and not release.is_set():
                refused.set()
                raise SendFailed("homeserver refused: 500")
            return await real_send(room_id, *args, **kw)

        a.fed.bot.send_alert = send_alert  # type: ignore[method-assign]
        [late] = areas_of(a, 1, skip=4)
        await confirmed_alerts(a, [late])
        for site in others[:2]:
            await site.wait_received(lambda got: any(r.area == late for r in got))
        await asyncio.wait_for(refused.wait(), WAIT)
        assert not any(r.area == late for r in await d.node.received_alerts())
        assert await a.node.pending_alerts() != []  # not delivered until D has it too
        release.set()
        await d.wait_received(lambda got: any(r.area == late for r in got))
        await a.fed.delivery.drained(WAIT)
        assert await a.node.pending_alerts() == []
        counters = await d.node.counters()
        assert not [k for k in counters if k.startswith("rejected_")]
        assert [r.seq for r in await d.node.received_alerts() if r.area == late] == [1]
    finally:
        for site in sites:
            await site.close()


async def test_a_new_neighbour_is_sent_every_active_alert(
    homeserver: Homeserver, tmp_path: Path, clock: Any
) -> None:
    sites: list[Site] = []
    try:
        for name in ("a", "b"):
            sites.append(await make_site(homeserver, tmp_path, name, clock))
        a, b = sites
        await confirmed_alerts(a, areas_of(a, 6))
        await confirmed_alerts(b, areas_of(b, 3, skip=6), kind="raid")
        await confirmed_alerts(a, areas_of(a, 1))  # an update: the latest seq is sent
        active_a = {x.alert_id: x.seq for x in await a.node.active_alerts()}
        active_b = {x.alert_id: x.seq for x in await b.node.active_alerts()}
        assert (len(active_a), len(active_b)) == (6, 3) and max(active_a.values()) == 2

        await connect(a, b)  # the room's creator sends on the other's join; the joiner on its own

        await b.wait_received(holds(a, active_a))
        await a.wait_received(holds(b, active_b))
        for site, n in ((a, 3), (b, 6)):
            counters = await site.node.counters()
            assert counters["alerts_received"] == n
            assert not [k for k in counters if k.startswith("rejected_")]
        assert (await a.node.counters())["alerts_caught_up"] == 6
        assert (await b.node.counters())["alerts_caught_up"] == 3

        # The caught-up alerts' later seqs follow like any other's.
        first = next(iter(active_a))
        [withdrawn] = [x for x in await a.node.active_alerts() if x.alert_id == first]
        await confirmed_alerts(a, [str(withdrawn.body["area"])])
        await b.wait_received(
            lambda got: any(r.alert_id == first and r.seq > withdrawn.seq for r in got)
        )
    finally:
        for site in sites:
            await site.close()


async def test_a_returning_neighbour_is_sent_the_active_alerts_again(
    homeserver: Homeserver, tmp_path: Path, clock: Any
) -> None:
    sites: list[Site] = []
    try:
        for name in ("a", "b"):
            sites.append(await make_site(homeserver, tmp_path, name, clock))
        a, b = sites
        await connect(a, b)
        await confirmed_alerts(a, areas_of(a, 2))
        first = {x.alert_id: x.seq for x in await a.node.active_alerts()}
        await b.wait_received(holds(a, first))

        # Both operators remove each other (the bots leave the room), then pin again.
        for me, other in ((a, b), (b, a)):
            assert await remove(me.node, other.chapter_id)
            await me.fed.reconcile()
        await confirmed_alerts(a, areas_of(a, 1, skip=2))  # sent to no one: no neighbour
        active = {x.alert_id: x.seq for x in await a.node.active_alerts()}
        assert len(active) == 3
        caught_up = (await a.node.counters()).get("alerts_caught_up", 0)

        await connect(a, b)  # a new room: B's bot joins it and is sent all three
        await b.wait_received(holds(a, active))
        await b.wait_counter("rejected_replayed", 2)  # the two it held: kept, not counted twice
        counters = await b.node.counters()
        assert counters["alerts_received"] == 3
        assert (await a.node.counters())["alerts_caught_up"] == caught_up + 3
    finally:
        for site in sites:
            await site.close()


async def test_a_region_room_carries_each_alert_once_and_checks_every_sender(
    homeserver: Homeserver, tmp_path: Path, clock: Any
) -> None:
    sites: list[Site] = []
    try:
        for name in ("a", "b", "c", "d"):
            sites.append(await make_site(homeserver, tmp_path, name, clock))
        a, b, c, d = sites
        room = await form_region([s.fed for s in sites], WAIT)
        for site in sites:  # every other chapter is pinned, all in the one room
            assert {n.room_id for n in await site.node.neighbours()} == {room}

        rows = await alerts_and_an_update(a, [b, c, d])
        assert (await a.node.counters())["alerts_sent"] == rows  # once into the room, not 3x
        for site in (b, c, d):
            counters = await site.node.counters()
            assert counters["alerts_received"] == rows
            assert not [k for k in counters if k.startswith("rejected_")]

        # B's bot posts an alert signed with C's key: pinned sender, wrong signer, per event.
        await confirmed_alerts(c, areas_of(c, 1, skip=2), kind="raid")
        [theirs] = await c.node.active_alerts()
        body = dict(theirs.body, alert_id="forgedbyb123", seq=1)
        forged = to_wire(body, load_signing_key(c.data / KEYS_DIR))
        await b.fed.bot.send_alert(room, forged, ALERT_EVENT_TYPE, txn_id="forged.1")
        await d.wait_counter("rejected_wrong_sender", 1)
        assert not any(r.alert_id == "forgedbyb123" for r in await d.node.received_alerts())
    finally:
        for site in sites:
            await site.close()
