"""Neighbours' alerts go before responders-room posts of the same commit (Delivery.drained).

No homeserver is needed: drained() only watches the delivery loop's `quiet`
event and the node's `outbox_ready`, which is what these tests drive.
"""

from __future__ import annotations

import asyncio

from federation.delivery import Delivery
from node.service import Node


async def test_drained_returns_at_once_when_the_outbox_is_idle(node: Node) -> None:
    delivery = Delivery(node, bot=None, signing_key=None)  # type: ignore[arg-type]
    delivery.quiet.set()
    await asyncio.wait_for(delivery.drained(limit=60), 5)


async def test_a_post_waits_for_the_alert_queued_in_the_same_commit(node: Node) -> None:
    delivery = Delivery(node, bot=None, signing_key=None)  # type: ignore[arg-type]
    delivery.quiet.set()  # the loop waits on an empty outbox...
    node.outbox_ready.set()  # ...when a commit queues an alert and a notice together
    waiting = asyncio.ensure_future(delivery.drained(limit=60))
    for _ in range(20):
        await asyncio.sleep(0)  # let it run: it must keep yielding, not return
    assert not waiting.done()
    delivery.quiet.clear()  # run() woke and took the row
    node.outbox_ready.clear()
    for _ in range(5):
        await asyncio.sleep(0)
    assert not waiting.done()  # still sending
    delivery.quiet.set()  # sent; the outbox is empty again
    await asyncio.wait_for(waiting, 5)


async def test_a_stuck_delivery_holds_posts_up_only_for_the_limit(node: Node) -> None:
    delivery = Delivery(node, bot=None, signing_key=None)  # type: ignore[arg-type]
    # Never quiet (as in a long backoff): drained gives up after its limit.
    await asyncio.wait_for(delivery.drained(limit=0.05), 5)
    assert not delivery.quiet.is_set()
