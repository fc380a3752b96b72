"""Bridging: relay a neighbour's accepted alert to this chapter's other federation rooms.

Off by default ([federation] relay = true turns it on). Only a direct alert
accepted from a neighbour is relayed, once (the receiver's seen store
accepts each (origin, alert id, seq) once), hop 1, wrapped and signed by
this chapter (federation.wire.build_relay), never to the room it came from
nor to a room the origin chapter is pinned in (a region room holds several
chapters), and only to a room whose neighbours' share thresholds the alert
meets or that was relayed an earlier seq of it. A
relayed alert is never relayed again (hop limit 1), so there are no loops,
and receivers de-duplicate by origin, so nobody counts the same evidence twice.

Relays wait in memory (a queue worked in order, retried with backoff while
the homeserver is away): a relay not yet sent when the node stops is lost,
which costs the far side one alert, never a duplicate.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nacl.signing import VerifyKey

from federation.bot import ChapterBot
from federation.delivery import readers_pinned, room_threshold
from federation.neighbourhood import NeighbourCache
from federation.retry import MAX_BACKOFF, Backoff
from federation.wire import CLOCK_SKEW, RELAY_EVENT_TYPE, Alert, build_relay
from node.service import Node

log = logging.getLogger("vecinos.federation.relay")


@dataclass
class RelayJob:
    content: dict[str, Any]  # the origin's signed alert, unchanged
    alert: Alert
    from_room: str
    origin_key: VerifyKey
    done: set[str] = field(default_factory=set)  # rooms that accepted it (for retries)


class Relayer:
    """Relays accepted direct alerts onward; run() until cancelled."""

    def __init__(
        self,
        node: Node,
        bot: ChapterBot,
        chapter_id: str,
        signing_key: Any,
        *,
        enabled: bool = False,
        max_backoff: float = MAX_BACKOFF,
        neighbours: NeighbourCache | None = None,
    ) -> None:
        self.node = node
        self.neighbours = neighbours or NeighbourCache(node)
        self.bot = bot
        self.chapter_id = chapter_id
        self.signing_key = signing_key
        self.enabled = enabled
        self.max_backoff = max_backoff
        self._queue: asyncio.Queue[RelayJob] = asyncio.Queue()
        # (origin, alert id) -> (rooms relayed some seq of it, latest expiry)
        self._relayed: dict[tuple[str, str], tuple[set[str], datetime]] = {}

    def offer(self, content: dict[str, Any], alert: Alert, from_room: str, key: VerifyKey) -> None:
        if self.enabled:
            self._queue.put_nowait(RelayJob(dict(content), alert, from_room, key))

    async def run(self) -> None:
        backoff = Backoff(self.bot, cap=self.max_backoff)
        while True:
            job = await self._queue.get()
            while True:
                try:
                    await self._relay(job)
                    backoff.reset()
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    await backoff.after(exc, "relay", log)

    async def _relay(self, job: RelayJob) -> None:
        alert = job.alert
        now = self.node.clock()
        self._prune(now)
        if alert.expires + CLOCK_SKEW <= now:
            return
        key = (alert.chapter, alert.alert_id)
        rooms, _ = self._relayed.setdefault(key, (set(), alert.expires))
        self._relayed[key] = (rooms, max(alert.expires, self._relayed[key][1]))
        content = build_relay(
            job.content, self.chapter_id, self.signing_key, hop=1, origin_key=job.origin_key
        )
        known = await self.neighbours.get()
        for room, members in known.in_room.items():
            if room in job.done or room == job.from_room:
                continue
            if any(n.chapter_id == alert.chapter for n in members):
                continue  # the origin is there: it has its alert
            if room not in rooms and alert.confidence < room_threshold(members):
                continue
            if not any(self.bot.is_joined(room, n.bot_user_id) for n in members):
                continue
            if not readers_pinned(self.bot, room, members, known.regional):
                continue
            txn = f"relay.{alert.chapter}.{alert.alert_id}.{alert.seq}"
            await self.bot.send_alert(room, content, RELAY_EVENT_TYPE, txn_id=txn)
            rooms.add(room)
            job.done.add(room)
            await self.node.count("alerts_relayed")

    def _prune(self, now: datetime) -> None:
        gone = [k for k, (_, exp) in self._relayed.items() if exp + CLOCK_SKEW <= now]
        for k in gone:
            del self._relayed[k]
