"""The receiver: what the bot decrypts in a federation room becomes a stored alert, or a count.

An event is accepted only when all of these hold: its Matrix sender is the
bot of a neighbour pinned in that room (checked per event: a region room is
shared by several pinned neighbours); it verifies
(federation.wire.verify_event) against the neighbours' pinned keys, with
this chapter's clock, and is not a replay (one seen store, seeded from the
node's stored seqs, shared by direct alerts and relays); a direct alert is
signed by that same neighbour, and a relay by it as the relayer. Then the
node stores it (node.receive_alert) and, for a direct alert with bridging
on, the relayer sends it onward.

Gaps: when a direct alert's seq is more than one above the highest this
chapter held of that alert, events were missed in that room (the bot was
away, or could not decrypt), so others may have been too; and when the bot
cannot decrypt an event a pinned neighbour's bot sent there, that event is
lost (nio does not try again). Either way the receiver asks
the room for a catch-up (federation.wire's request event; `ask`), at most
once per room per ASK_EVERY_S. A first seq above 1 of an unknown alert is
not a gap: catch-ups and rooms joined late start there. A catch-up request
from a neighbour pinned in that room makes the chapter send the room its
active alerts (`answer`, Delivery.catch_up), at most once per room per
ANSWER_EVERY_S, so no one can make a chapter flood a room.

Everything else is dropped and counted as `rejected_<reason>` in the node's
counters. Nothing here raises into the bot and nothing logs content: a
stranger's event costs a counter increment.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from federation.neighbourhood import NeighbourCache
from federation.relay import Relayer
from federation.wire import (
    CATCH_UP_EVENT_TYPE,
    CLOCK_SKEW,
    MAX_LIFETIME,
    Accepted,
    Alert,
    MemorySeenStore,
    Rejected,
    parse_catch_up_request,
    verify_event,
)
from node.outcome import ReceivedAlert
from node.service import Node

log = logging.getLogger("vecinos.federation.receiver")

WRONG_SENDER = "wrong_sender"  # a neighbour's bot posting an alert signed by someone else
PRUNE_EVERY = 256
ASK_EVERY_S = 300.0  # a room is asked for a catch-up at most this often
ANSWER_EVERY_S = 300.0  # a room's catch-up requests are answered at most this often


def received(alert: Alert, relayed_by: str | None) -> ReceivedAlert:
    return ReceivedAlert(
        chapter=alert.chapter,
        alert_id=alert.alert_id,
        seq=alert.seq,
        relayed_by=relayed_by,
        type=str(alert.type),
        area=alert.area,
        lat=alert.lat,
        lon=alert.lon,
        highway=alert.highway,
        hour=alert.hour,
        level=alert.level,
        confidence=alert.confidence,
        reports=alert.reports,
        still_active=alert.still_active,
        expires=alert.expires,
    )


class Receiver:
    """Handles the bot's on_alert; call seed() once before the bot starts."""

    def __init__(
        self,
        node: Node,
        chapter_id: str,
        relayer: Relayer | None = None,
        neighbours: NeighbourCache | None = None,
    ) -> None:
        self.node = node
        self.neighbours = neighbours or NeighbourCache(node)
        self.chapter_id = chapter_id
        self.relayer = relayer
        self.seen = MemorySeenStore()
        self._accepted = 0
        self.ask: Callable[[str], None] | None = None  # sends a room a catch-up request
        self.answer: Callable[[str], None] | None = None  # sends a room the active alerts
        self._asked: dict[str, float] = {}  # room -> monotonic time of the last ask
        self._answered: dict[str, float] = {}  # room -> ... of the last answer

    async def seed(self) -> None:
        """Remember the seqs already stored, so a replay after a restart is refused too."""
        keep_until = self.node.clock() + MAX_LIFETIME + CLOCK_SKEW
        for (chapter, alert_id), seq in (await self.node.latest_seqs()).items():
            self.seen.record(chapter, alert_id, seq, keep_until)

    async def handle(self, room_id: str, sender: str, event_type: str, content: Any) -> None:
        """The bot's on_alert. Never raises."""
        try:
            reason = await self._handle(room_id, sender, event_type, content)
        except Exception as exc:  # the node's DB, most likely
            log.error("received alert not handled: %s", type(exc).__name__)
            reason = "error"
        if reason is not None:
            await self._count(f"rejected_{reason}")

    async def _count(self, name: str) -> None:
        try:
            await self.node.count(name)
        except Exception as exc:
            log.error("counter %s not kept: %s", name, type(exc).__name__)

    async def _handle(self, room_id: str, sender: str, event_type: str, content: Any) -> str | None:
        """Returns the rejection reason, or None once the alert is stored."""
        known = await self.neighbours.get()
        neighbour = known.by_room_sender.get((room_id, sender))
        if neighbour is None:
            return "not_neighbour"
        if event_type == CATCH_UP_EVENT_TYPE:
            return await self._catch_up_request(room_id, neighbour.chapter_id, content)
        now: datetime = self.node.clock()
        verdict = verify_event(
            event_type,
            content,
            known.keys,
            now,
            self.seen,
            record=False,
            self_chapter=self.chapter_id,
        )
        if isinstance(verdict, Rejected):
            return verdict.reason.value
        assert isinstance(verdict, Accepted)
        alert = verdict.alert
        signer = verdict.relayed_by or alert.chapter
        if signer != neighbour.chapter_id:
            return WRONG_SENDER
        held = self.seen.highest_seq(alert.chapter, alert.alert_id)
        if not await self.node.receive_alert(received(alert, verdict.relayed_by)):
            self.seen.record(alert.chapter, alert.alert_id, alert.seq, alert.expires)
            return "replayed"
        self.seen.record(alert.chapter, alert.alert_id, alert.seq, alert.expires)
        if verdict.relayed_by is None and held is not None and alert.seq > held + 1:
            await self._gap(room_id)
        await self._count("alerts_received" if verdict.relayed_by is None else "relays_received")
        via = f" via {verdict.relayed_by}" if verdict.relayed_by else ""
        log.info("accepted alert seq %d from %s%s", alert.seq, alert.chapter, via)
        self._accepted += 1
        if self._accepted % PRUNE_EVERY == 0:
            self.seen.forget_expired(now)
        if verdict.relayed_by is None and self.relayer is not None:
            key = known.keys.get(alert.chapter)
            if key is not None:
                self.relayer.offer(content, alert, room_id, key)
        return None

    async def undecryptable(self, room_id: str, sender: str) -> None:
        """The bot's on_undecryptable: a pinned neighbour's event there is lost; ask (limited)."""
        try:
            known = await self.neighbours.get()
            if (room_id, sender) in known.by_room_sender:
                await self._gap(room_id)
        except Exception as exc:
            log.error("undecryptable event not handled: %s", type(exc).__name__)

    async def _gap(self, room_id: str) -> None:
        """Seqs were missed in this room: ask it for a catch-up (rate-limited)."""
        await self._count("gaps_seen")
        last = self._asked.get(room_id)
        now = time.monotonic()
        if self.ask is None or (last is not None and now - last < ASK_EVERY_S):
            return
        self._asked[room_id] = now
        await self._count("catch_up_asked")
        self.ask(room_id)

    async def _catch_up_request(self, room_id: str, neighbour: str, content: Any) -> str | None:
        """A pinned neighbour asks this room for the active alerts: answer (rate-limited)."""
        asking = parse_catch_up_request(content)
        if asking is None:
            return "malformed"
        if asking != neighbour:
            return WRONG_SENDER
        last = self._answered.get(room_id)
        now = time.monotonic()
        if last is not None and now - last < ANSWER_EVERY_S:
            await self._count("catch_up_requests_limited")
            return None
        self._answered[room_id] = now
        await self._count("catch_up_requests_answered")
        if self.answer is not None:
            self.answer(room_id)
        return None
