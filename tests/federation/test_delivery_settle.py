"""A row that settles while the delivery loop reads the outbox is sent once, counted once.

The race, made deterministic: a lane's send wakes the loop (as a new row
would), the loop's read of the outbox begins before the lane marks the row
delivered and returns after the lane is done with it, so it still lists the
row. The loop must not
send that stale row again. The node is real (SQLite); the bot is a stand-in
that records sends, because the point is the order of the loop's own steps,
which a homeserver cannot be made to reproduce. With a real Synapse the same
count is checked in test_outage and test_fault_homeserver.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from signedjson.key import generate_signing_key

from federation.delivery import Delivery
from node.outcome import Accepted, Neighbour, OutgoingAlert, ReportDraft, SourceRef
from node.service import Node
from scoring.model import Channel

ROOM = "!pair:loopback"


class RecordingBot:
    """What Delivery asks of a ChapterBot, with every send recorded."""

    sync_count = 0

    def __init__(self, on_send: Any) -> None:
        self.sends: list[tuple[str, str]] = []
        self.on_send = on_send

    def is_joined(self, room_id: str, user_id: str) -> bool:
        return room_id == ROOM

    async def send_alert(self, room_id: str, content: dict, event_type: str, txn_id: str) -> None:
        self.sends.append((room_id, txn_id))
        await self.on_send()


async def test_a_row_settled_during_a_read_is_not_sent_again(node: Node, clock) -> None:
    await node.save_neighbour(
        Neighbour("north", "@north:loopback", "ed25519:1", "k", "f", ROOM, share_threshold=0.5)
    )
    for n in range(1, 4):  # two members and a witness: shared
        raw = f"@member{n}:loopback".encode() if n < 3 else f"127.0.0.{n}".encode()
        source = SourceRef(Channel.MEMBER if n < 3 else Channel.WEB, raw)
        assert isinstance(
            await node.submit(ReportDraft(type="raid", area="Vista"), source), Accepted
        )
        clock.advance(minutes=4)
    [row] = await node.pending_alerts()

    stale_read_done = asyncio.Event()
    settled = asyncio.Event()
    real_read, real_delivered = node.pending_alerts, node.alert_delivered
    reads: list[list[int]] = []

    async def read(limit: int = 100) -> list[OutgoingAlert]:
        rows = await real_read(limit)
        reads.append([r.outbox_id for r in rows])
        if len(reads) == 2:  # the read the send woke: its rows are already taken
            stale_read_done.set()
            # ...and it returns once the row is settled and its lane has woken the loop
            await settled.wait()
            await node.outbox_ready.wait()
        return rows

    async def delivered(outbox_id: int) -> None:
        await real_delivered(outbox_id)
        settled.set()

    async def first_send() -> None:
        if len(bot.sends) == 1:
            node.outbox_ready.set()  # something else wakes the loop mid-send
            await stale_read_done.wait()

    bot = RecordingBot(first_send)
    node.pending_alerts = read  # type: ignore[method-assign]
    node.alert_delivered = delivered  # type: ignore[method-assign]
    delivery = Delivery(node, bot, generate_signing_key("1"))  # type: ignore[arg-type]
    loop = asyncio.ensure_future(delivery.run())
    try:
        await asyncio.wait_for(settled.wait(), 10)
        # Let the loop act on its stale read, then on the read that follows it.
        await asyncio.wait_for(delivery.quiet.wait(), 10)
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
    assert reads[1] == [row.outbox_id]  # the stale read did list the settled row
    assert bot.sends == [(ROOM, f"{row.alert_id}.{row.seq}")]
    assert (await node.counters())["alerts_sent"] == 1
    assert await real_read() == []
