"""Region rooms formed by the operators' commands (`vecinos region ...`), on a real Synapse.

Four real chapters on the session's Synapse: A, B and C are pinned to each
other (pairwise rooms, as after `vecinos neighbors`), D only to B, whose
bridging is on. A's operator creates region "south" and invites B and C
(and cannot invite D, which A has not pinned); B's and C's operators join
with the tokens A's command printed. Each command is followed by the
node's reconcile, as the SIGHUP the command sends would do. Then: the three
share one room (their pairwise rooms are left); an alert goes into it once
and each member receives it once; B relays it to D once (never back into
the region room, nobody counts it twice). B's operator unpins C: B sends
nothing into the room while C's bot is in it (D still gets B's alert). A's
operator removes C: C's bot is out of the room and receives nothing more
from A or B, and C's own alerts reach no one; no pairwise room comes back by
itself. B's operator leaves; A (the host) cannot leave while B is listed, does
not invite B again by itself (its list says B left on its own, and who is
in the room now, as the homeserver has it), and A's next alert goes
nowhere. B's operator joins again: nothing until A's operator invites B
again, then B is back. With A's node stopped, its list says so. Every wait
is an awaited event.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from network import WAIT, Site, connect, make_site
from test_region import alerts_and_an_update, areas_of, confirmed_alerts

from federation.homeserver import Homeserver
from federation.neighbours import remove
from federation.regions import (
    RegionError,
    create_command,
    invite_command,
    join_command,
    leave_command,
    list_command,
    load_regions,
    remove_command,
    room_members,
)
from node.setup import init_chapter

pytestmark = pytest.mark.synapse


def no_rejections(counters: dict[str, int]) -> bool:
    return not [k for k in counters if k.startswith("rejected_")]


async def rooms_of(site: Site, chapters: list[Site]) -> set[str]:
    ids = {c.chapter_id for c in chapters}
    return {n.room_id for n in await site.node.neighbours() if n.chapter_id in ids}


async def test_operators_form_a_region_share_once_relay_once_and_remove_a_chapter(
    homeserver: Homeserver, tmp_path: Path, clock: Any
) -> None:
    sites: list[Site] = []
    try:
        for name in ("a", "b", "c", "d"):
            sites.append(await make_site(homeserver, tmp_path, name, clock, relay=(name == "b")))
        a, b, c, d = sites
        pairwise = {
            "ab": await connect(a, b),
            "ac": await connect(a, c),
            "bc": await connect(b, c),
        }
        bd = await connect(b, d)

        # A's operator hosts "south" and invites B and C; D is not A's neighbour.
        await create_command(a.data, "south")
        await a.fed.reconcile()
        [south] = load_regions(a.data)
        room = south.room_id
        assert room and room not in pairwise.values()
        with pytest.raises(RegionError, match="not a pinned neighbour"):
            await invite_command(a.data, "south", d.chapter_id)
        tokens = {}
        for site in (b, c):
            tokens[site.name] = (await invite_command(a.data, "south", site.chapter_id))[0]
        await a.fed.reconcile()  # invites B's and C's bots

        # B and C hold the invite until their operators join; then their nodes join it.
        for site in (b, c):
            bot = site.fed.bot
            await bot.wait_until(lambda bot=bot: room in bot.pending_invites(), WAIT)
            await site.fed.reconcile()
            assert not bot.is_joined(room, site.user_id)  # not taken for a pairwise room
            with pytest.raises(RegionError, match="hosts that region"):
                await join_command(a.data, tokens[site.name])
            await join_command(site.data, tokens[site.name])
            await site.fed.reconcile()
            assert bot.is_joined(room, site.user_id)
        members = [a, b, c]
        for site in members:
            for other in members:
                await site.fed.bot.wait_for_member(room, other.user_id, WAIT)
        for site in members:
            await site.fed.reconcile()
            assert await rooms_of(site, [m for m in members if m is not site]) == {room}
        assert await rooms_of(b, [d]) == {bd}  # D stays pairwise with B
        olds = list(pairwise.values())
        for site in members:
            bot = site.fed.bot
            await bot.wait_until(
                lambda bot=bot, me=site.user_id: not any(bot.is_joined(r, me) for r in olds),
                WAIT,
            )
        listed = await list_command(a.data)
        assert listed[0].startswith("south  hosted here") and b.chapter_id in listed[0]

        # One alert, and an update of it: into the region room once per seq.
        rows = await alerts_and_an_update(a, [b, c, d])
        assert (await a.node.counters())["alerts_sent"] == rows
        for site in (b, c):
            counters = await site.node.counters()
            assert counters["alerts_received"] == rows and "relays_received" not in counters
            assert no_rejections(counters)
        counters = await d.node.counters()  # D: B's relays, once each
        assert counters["relays_received"] == rows and no_rejections(counters)
        assert (await b.node.counters())["alerts_relayed"] == rows
        assert no_rejections(await a.node.counters())  # no relay came back into the room

        # B's operator unpins C: while C's bot is in the room, B sends nothing there.
        assert await remove(b.node, c.chapter_id)
        await b.fed.reconcile()
        assert b.fed.bot.is_joined(room, b.user_id)  # the room is not left: A still uses it
        sent = (await b.node.counters()).get("alerts_sent", 0)
        [held] = areas_of(b, 1, skip=5)
        await confirmed_alerts(b, [held], kind="raid")
        await d.wait_received(lambda got: any(r.area == held for r in got))  # pairwise: sent
        await b.fed.delivery.drained(WAIT)
        assert (await b.node.counters())["alerts_sent"] == sent + 1  # to D only
        assert not any(r.area == held for r in await a.node.received_alerts())

        # A's operator removes C: its bot leaves the room, and it gets nothing more.
        await remove_command(a.data, "south", c.chapter_id)
        await a.fed.reconcile()
        for site in members:
            bot = site.fed.bot
            await bot.wait_until(lambda bot=bot: not bot.is_joined(room, c.user_id), WAIT)
        await c.fed.reconcile()  # no pairwise room comes back by itself
        assert await rooms_of(c, [a, b]) == {room}
        c_before = {r.alert_id for r in await c.node.received_alerts()}
        [late_a] = areas_of(a, 1, skip=2)
        await confirmed_alerts(a, [late_a])
        [late_b] = areas_of(b, 1, skip=3)
        await confirmed_alerts(b, [late_b], kind="raid")
        await b.wait_received(lambda got: any(r.area == late_a for r in got))
        await a.wait_received(lambda got: any(r.area == late_b for r in got))
        for site in (a, b):
            await site.fed.delivery.drained(WAIT)
        assert {r.alert_id for r in await c.node.received_alerts()} == c_before
        assert (await c.node.counters()).get("alerts_sent", 0) == 0

        # C's own alert reaches no one: it has no room with A or B any more.
        [late_c] = areas_of(c, 1, skip=4)
        await confirmed_alerts(c, [late_c])
        await c.fed.delivery.drained(WAIT)
        assert await c.node.pending_alerts() == []
        assert (await c.node.counters()).get("alerts_sent", 0) == 0

        # B's operator leaves the region; A, its host, cannot leave while B is listed.
        with pytest.raises(RegionError, match="remove its members first"):
            await leave_command(a.data, "south")
        await leave_command(b.data, "south")
        await b.fed.reconcile()
        await a.fed.bot.wait_until(lambda: not a.fed.bot.is_joined(room, b.user_id), WAIT)
        await a.fed.reconcile()  # B left on its own: still listed, but not invited again
        [south] = load_regions(a.data)
        assert south.members == (b.chapter_id,) and south.departed == (b.chapter_id,)
        live = await room_members(a.data, [room])
        assert isinstance(live, dict) and live[room][b.user_id] == "leave"
        listed = "\n".join(await list_command(a.data))
        assert f"left on their own, not invited again: {b.chapter_id}" in listed
        [now] = [line for line in listed.splitlines() if "in the room now:" in line]
        assert now == f"  in the room now: left {', '.join(sorted([b.chapter_id, c.chapter_id]))}"
        assert "NOT running" not in listed
        sent = (await a.node.counters())["alerts_sent"]
        [last] = areas_of(a, 1, skip=6)
        await confirmed_alerts(a, [last])
        await a.fed.delivery.drained(WAIT)
        assert await a.node.pending_alerts() == []
        assert (await a.node.counters())["alerts_sent"] == sent  # nobody left to send to

        # B's operator joins again: nothing happens until A's operator invites B again.
        await join_command(b.data, tokens["b"])
        await b.fed.reconcile()
        assert not b.fed.bot.is_joined(room, b.user_id)
        said = await invite_command(a.data, "south", b.chapter_id)
        assert "again (its bot had left on its own)" in said[2]
        await a.fed.reconcile()  # invites B; B's node joins on the invite
        await a.fed.bot.wait_for_member(room, b.user_id, WAIT)
        await b.fed.bot.wait_for_member(room, b.user_id, WAIT)
        [south] = load_regions(a.data)
        assert south.departed == ()
        listed = "\n".join(await list_command(a.data))
        assert f"in the room now: joined {b.chapter_id}; left {c.chapter_id}" in listed

        # A's node stops: the list says so, and still shows the room as the homeserver has it.
        await a.close()
        sites.remove(a)
        listed = "\n".join(await list_command(a.data))
        assert "the node is NOT running" in listed
        assert f"in the room now: joined {b.chapter_id}; left {c.chapter_id}" in listed
    finally:
        for site in sites:
            await site.close()


def test_the_region_commands_are_wired_and_say_what_is_missing(tmp_path: Path) -> None:
    data = tmp_path / "norte"
    init_chapter(data, "Norte")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "node.cli", "region", *args, "--data", str(data)],
            capture_output=True,
            text=True,
            timeout=120,
        )

    done = cli("list")
    assert done.returncode != 0 and "no Matrix bot yet" in done.stderr
    done = cli("join", "vecinos-neighbour-v1.abc")
    assert done.returncode != 0 and "not a Vecinos region token" in done.stderr
    assert cli("invite", "south").returncode == 2  # a chapter id is needed


async def test_a_leave_the_host_learns_from_its_homeserver_first_is_not_invited_back(
    homeserver: Homeserver, tmp_path: Path, clock: Any
) -> None:
    """The host reads a region room's membership from its homeserver when it changes
    (ChapterBot.refresh_members); a member's own leave seen there before the sync brings
    the event is a departure all the same: the host's reconcile does not invite it back."""
    sites: list[Site] = []
    try:
        for name in ("a", "b"):
            sites.append(await make_site(homeserver, tmp_path, name, clock))
        a, b = sites
        await connect(a, b)
        await create_command(a.data, "south")
        await a.fed.reconcile()
        [south] = load_regions(a.data)
        room = south.room_id
        token = (await invite_command(a.data, "south", b.chapter_id))[0]
        await a.fed.reconcile()
        await b.fed.bot.wait_until(lambda: room in b.fed.bot.pending_invites(), WAIT)
        await join_command(b.data, token)
        await b.fed.reconcile()
        await a.fed.bot.wait_for_member(room, b.user_id, WAIT)

        # A's syncs stop before B leaves: only its homeserver knows.
        task = a.fed.bot._sync_task
        assert task is not None
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        a.fed.bot._sync_task = None
        await leave_command(b.data, "south")
        await b.fed.reconcile()
        assert a.fed.bot.is_joined(room, b.user_id)  # A's view is stale

        await a.fed._refresh_then_reconcile(room)  # what a membership change starts
        [south] = load_regions(a.data)
        assert south.departed == (b.chapter_id,)
        live = await room_members(a.data, [room])
        assert isinstance(live, dict) and live[room][b.user_id] == "leave"  # not invited
    finally:
        for site in sites:
            await site.close()
