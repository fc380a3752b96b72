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

Everything else is dropped and counted as `rejected_<reason>` in the node's
counters. Nothing here raises into the bot and nothing logs content: a
stranger's event costs a counter increment.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from federation.neighbourhood import NeighbourCache
from federation.relay import Relayer
from federation.wire import (
    CLOCK_SKEW,
    MAX_LIFETIME,
    Accepted,
    Alert,
    MemorySeenStore,
    Rejected,
    verify_event,
)
from node.outcome import ReceivedAlert
from node.service import Node

log = logging.getLogger("vecinos.federation.receiver")

WRONG_SENDER = "wrong_sender"  # a neighbour's bot posting an alert signed by someone else
PRUNE_EVERY = 256


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
        if not await self.node.receive_alert(received(alert, verdict.relayed_by)):
            self.seen.record(alert.chapter, alert.alert_id, alert.seq, alert.expires)
            return "replayed"
        self.seen.record(alert.chapter, alert.alert_id, alert.seq, alert.expires)
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
