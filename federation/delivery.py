"""The delivery loop: the node's outbox, signed, into the neighbours' federation rooms.

One row at a time, oldest first (so the seqs of an alert arrive in order):
the row's body becomes a signed wire alert (federation.wire.build_alert), is
sent to every neighbour's room whose share threshold its confidence meets,
or that got an earlier seq of the same alert, with txn_id "alert_id.seq" so
that a retry is not stored twice, and is marked delivered only once every
room accepted it. While the homeserver is away, the loop retries with
exponential backoff (capped), and at once when the bot's sync succeeds
again. With nothing to send it awaits `node.outbox_ready`; it never polls.

A room is a target only once the neighbour's bot has joined it: a bot that
joins later cannot read what was sent before (history is visible to joined
members only), so it gets the alert's later seqs instead.

Neighbours' alerts go first: the responders room's poster calls drained()
before each post, so a notice written in the same transaction as an alert
waits for that alert's send instead of competing with it (bounded: a stuck
delivery never holds the responders room up for long).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from federation.bot import ChapterBot
from federation.neighbourhood import NeighbourCache
from federation.retry import FIRST_BACKOFF, MAX_BACKOFF, Backoff, drain_forever
from federation.wire import ALERT_EVENT_TYPE, CLOCK_SKEW, build_alert
from node.outcome import Neighbour, OutgoingAlert
from node.service import Node

log = logging.getLogger("vecinos.federation.delivery")


def _time(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def to_wire(body: dict[str, Any], signing_key: Any) -> dict[str, Any]:
    """The signed wire content of one outbox body; ValueError if it cannot be sent.

    The kind is implied on the wire: a withdrawal has still_active false and
    the same alert id with a higher seq. Rounding (coordinates to hundredths,
    confidence to whole percent, expiry up to the hour) is build_alert's.
    """
    hour, expires = _time(body.get("hour")), _time(body.get("expires"))
    if hour is None or expires is None:
        raise ValueError("no hour or expiry")
    return build_alert(
        chapter=str(body["chapter"]),
        signing_key=signing_key,
        alert_id=str(body["alert_id"]),
        seq=int(body["seq"]),  # type: ignore[call-overload]
        type=str(body["type"]),
        area=str(body["area"] or "").strip()[:80].strip(),
        hour=hour,
        level=str(body["level"]),
        confidence=float(body["confidence"]),  # type: ignore[arg-type]
        reports=int(body["reports"]),  # type: ignore[call-overload]
        still_active=bool(body["still_active"]),
        expires=expires,
        lat=body.get("lat"),  # type: ignore[arg-type]
        lon=body.get("lon"),  # type: ignore[arg-type]
        highway=body.get("highway") or None,  # type: ignore[arg-type]
    )


class Delivery:
    """Sends the node's outbox rows; run() until cancelled."""

    def __init__(
        self,
        node: Node,
        bot: ChapterBot,
        signing_key: Any,
        *,
        first_backoff: float = FIRST_BACKOFF,
        max_backoff: float = MAX_BACKOFF,
        neighbours: NeighbourCache | None = None,
    ) -> None:
        self.node = node
        self.neighbours = neighbours or NeighbourCache(node)
        self.bot = bot
        self.signing_key = signing_key
        self.first_backoff = first_backoff
        self.max_backoff = max_backoff
        self._sent_to: dict[int, set[str]] = {}  # outbox_id -> rooms that accepted it
        self.quiet = asyncio.Event()  # set while the outbox is empty and the loop waits

    async def drained(self, limit: float) -> None:
        """Return once the outbox is empty and nothing new is queued, or after `limit` s."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while not self.quiet.is_set() or self.node.outbox_ready.is_set():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            if self.quiet.is_set():  # a row was just queued: let run() wake and take it
                await asyncio.sleep(0)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.quiet.wait(), remaining)

    async def run(self) -> None:
        """Deliver the outbox, oldest first; until cancelled."""
        await drain_forever(
            self.node.outbox_ready,
            self.node.pending_alerts,
            self.deliver,
            Backoff(self.bot, self.first_backoff, self.max_backoff),
            "alert delivery",
            log,
            idle=self.quiet,
        )

    def _targets(
        self, item: OutgoingAlert, neighbours: Sequence[Neighbour], earlier: frozenset[str]
    ) -> list[str]:
        confidence = float(item.body.get("confidence") or 0.0)  # type: ignore[arg-type]
        rooms = []
        for n in neighbours:
            if not n.room_id or n.room_id in rooms:
                continue
            if n.room_id not in earlier and confidence < n.share_threshold:
                continue
            if self.bot.is_joined(n.room_id, n.bot_user_id):
                rooms.append(n.room_id)
        return rooms

    async def deliver(self, item: OutgoingAlert) -> None:
        """Send one row to its rooms and mark it delivered; SendFailed leaves it pending."""
        body = item.body
        now = self.node.clock()
        try:
            content = to_wire(body, self.signing_key)
        except (ValueError, KeyError, TypeError) as exc:
            log.error("outbox row %d cannot be sent (%s): dropped", item.outbox_id, exc)
            await self.node.count("alerts_unsendable")
            await self.node.alert_delivered(item.outbox_id)
            return
        expires = _time(body.get("expires"))
        if expires is not None and expires + CLOCK_SKEW <= now:
            # Receivers refuse an expired alert; sending it would only count rejections.
            await self.node.count("alerts_expired_unsent")
            await self.node.alert_delivered(item.outbox_id)
            self._sent_to.pop(item.outbox_id, None)
            return
        neighbours = (await self.neighbours.get()).neighbours
        # The first seq of an alert has no earlier room: skip the read.
        earlier = await self.node.alert_rooms(item.alert_id) if item.seq > 1 else frozenset()
        done = self._sent_to.setdefault(item.outbox_id, set())
        for room_id in self._targets(item, neighbours, earlier):
            if room_id in done:
                continue
            # Remember the room (for the alert's later seqs) while the send is on its way.
            record = None
            if room_id not in earlier:
                record = asyncio.ensure_future(self.node.add_alert_room(item.alert_id, room_id))
            try:
                await self.bot.send_alert(
                    room_id, content, ALERT_EVENT_TYPE, txn_id=f"{item.alert_id}.{item.seq}"
                )
            finally:
                if record is not None:
                    await record
            done.add(room_id)
        await asyncio.gather(
            self.node.alert_delivered(item.outbox_id),
            self.node.count("alerts_sent", len(done)) if done else asyncio.sleep(0),
        )
        self._sent_to.pop(item.outbox_id, None)
