"""A region join refused once over federation is tried again (issue 16's "lost join").

Two Synapses federating over loopback TLS; the host's sits behind a proxy
(held_federation) that can refuse the joins it serves. The host's chapter
is on the first server, a member chapter on the second, pinned to each
other (a pairwise room). The host creates a region and invites the member;
the member's operator has run `region join`, so its node joins on the
invite: a remote join, which asks the host's server (make_join). That is
refused once (403, as a busy homeserver that has not yet taken in the
invite would answer). Until the fix nothing tried the join again: the
invite stayed pending, no event came to bring it back, and the member was
never in the room (what the bench reported as "one chapter did not see
another's join within 120 s"). Now the node reconciles again after a
backoff; once the proxy lets joins through, the member joins and the
host's alert reaches it.

The bench's one failure after that (run 5 of 5, 10 neighbours on two
servers) was of another kind: every bot saw every member joined but one,
which held a member of the other server as "invited" while that member and
every other bot had it joined (its syncs never brought it the join; how is
not established). That view is made here by hand; a third chapter's join
then has the host read the room's membership from its homeserver, and the
member is joined again in its view.
Every wait is an awaited event.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from held_federation import FederationProxy
from network import WAIT, Site, connect, make_site
from test_region import areas_of, confirmed_alerts

from federation.bot import BotError
from federation.homeserver import Homeserver, free_port
from federation.regions import create_command, invite_command, join_command, load_regions

pytestmark = pytest.mark.synapse


def failed_joins(site: Site) -> tuple[list[str], asyncio.Event]:
    """Every failed join of the site's bot (its error), from now on; an event set at the first."""
    failed: list[str] = []
    seen = asyncio.Event()
    join = site.fed.bot.join

    async def observed(room_id: str, timeout: float = 30.0) -> None:
        try:
            await join(room_id, timeout)
        except BotError as exc:
            failed.append(str(exc))
            seen.set()
            raise

    site.fed.bot.join = observed  # type: ignore[method-assign]
    return failed, seen


async def test_a_region_join_refused_once_is_tried_again(tmp_path: Path, clock: Any) -> None:
    a_port, b_port = free_port(), free_port()
    proxy = FederationProxy(tmp_path / "proxy", a_port)
    names = [f"127.0.0.1:{proxy.port}", f"127.0.0.1:{b_port}"]
    hs_a = Homeserver(
        tmp_path / "synapse-a",
        server_name=names[0],  # other servers reach it through the proxy
        federating=True,
        federation_port=a_port,
        federation_peers=names,
    )
    hs_b = Homeserver(
        tmp_path / "synapse-b", federating=True, federation_port=b_port, federation_peers=names
    )
    sites: list[Site] = []
    try:
        await proxy.start()
        await hs_a.start()
        await hs_b.start()
        host = await make_site(hs_a, tmp_path, "host", clock)
        sites.append(host)
        member = await make_site(hs_b, tmp_path, "member", clock)
        sites.append(member)
        await connect(host, member)

        await create_command(host.data, "valle")
        await host.fed.reconcile()
        [region] = load_regions(host.data)
        room = region.room_id
        token = (await invite_command(host.data, "valle", member.chapter_id))[0]
        await join_command(member.data, token)  # its node joins when the invite comes

        failed, refused = failed_joins(member)
        proxy.refuse_joins()
        await host.fed.reconcile()  # invites the member's bot; its node joins: refused
        await asyncio.wait_for(proxy.refusal.wait(), WAIT)
        await asyncio.wait_for(refused.wait(), WAIT)
        assert "M_FORBIDDEN" in failed[0] and not member.fed.bot.is_joined(room, member.user_id)
        proxy.refuse_joins(False)

        await host.fed.bot.wait_for_member(room, member.user_id, WAIT)
        await member.fed.bot.wait_for_member(room, host.user_id, WAIT)
        [area] = areas_of(host, 1)
        await confirmed_alerts(host, [area])
        await member.wait_received(lambda got: any(r.area == area for r in got))

        # The view the bench once found (a member's invite synced after its join): the
        # host's bot holds the member as invited. The next membership change in the room
        # (a third chapter joins) has it read the room's membership from its homeserver.
        view = host.fed.bot.client.rooms[room]  # type: ignore[union-attr]
        stale = view.users[member.user_id]
        stale.invited, view.invited_users[member.user_id] = True, stale
        assert not host.fed.bot.is_joined(room, member.user_id)
        third = await make_site(hs_b, tmp_path, "third", clock)
        sites.append(third)
        await connect(host, third)
        token = (await invite_command(host.data, "valle", third.chapter_id))[0]
        await join_command(third.data, token)
        await host.fed.reconcile()
        await host.fed.bot.wait_for_member(room, third.user_id, WAIT)
        await host.fed.bot.wait_for_member(room, member.user_id, WAIT)
        assert host.fed.bot.stats.membership_corrections >= 1
    finally:
        for site in sites:
            await site.close()
        for hs in (hs_a, hs_b):
            await hs.stop()
        await proxy.stop()
