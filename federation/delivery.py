"""The delivery loop: the node's outbox, signed, into the neighbours' federation rooms.

Rows are taken oldest first. A row's body becomes a signed wire alert
(federation.wire.build_alert) for every neighbour's room whose share
threshold its confidence meets, or that got an earlier seq of the same
alert, with txn_id "alert_id.seq" so that a retry is not stored twice. Each
room has its own lane: a queue worked in order, one send at a time (so the
seqs of an alert arrive in order there), retried with exponential backoff
(capped) while that room's send fails, and at once when the bot's sync
succeeds again. Lanes run concurrently, at most MAX_CONCURRENT_SENDS sends
at once, so the last neighbour does not wait for all the others and one
failing room never holds the others up. A row is marked delivered only once
every one of its rooms accepted it (nothing lost; receivers de-duplicate by
alert id and seq, so a re-send after a restart is never counted twice).
With nothing to send the loop awaits `node.outbox_ready`; it never polls.

A room is a target only once the neighbour's bot has joined it: a bot that
joins later cannot read what was sent before (history is visible to joined
members only). So when a neighbour's bot joins (a new neighbour, or one
coming back), catch_up(room) sends it the chapter's alerts still active, at
their current seq (federation.chapter calls it); it then gets their later
seqs like any room that was sent one.

Neighbours' alerts go first: the responders room's poster calls drained()
before each post, so a notice written in the same transaction as an alert
waits for that alert's send instead of competing with it (bounded: a stuck
delivery never holds the responders room up for long).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from federation.bot import ChapterBot
from federation.neighbourhood import NeighbourCache, Neighbourhood
from federation.retry import FIRST_BACKOFF, MAX_BACKOFF, Backoff
from federation.wire import ALERT_EVENT_TYPE, CLOCK_SKEW, build_alert
from node.outcome import Neighbour, OutgoingAlert
from node.service import Node

log = logging.getLogger("vecinos.federation.delivery")

# Sends in flight at once, over all rooms: enough for a region's neighbours
# to be sent an alert together, few enough not to flood the homeserver.
MAX_CONCURRENT_SENDS = 16


def _time(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def room_threshold(members: Sequence[Neighbour]) -> float:
    """The lowest confidence a room is sent: every neighbour in it reads what is sent there."""
    return max(n.share_threshold for n in members)


def readers_pinned(
    bot: ChapterBot, room: str, members: Sequence[Neighbour], regional: frozenset[str]
) -> bool:
    """Whether a room may be sent to: in a region room, every bot that can read it (joined,
    or invited: a room's keys are shared with invited members too) is one pinned there.

    A region room's members are its host's choice; a chapter shares there
    only while everyone who can read it is a chapter it pinned itself.
    (A pairwise room is kept by its two chapters: a stranger there cannot
    read what was sent before it joined, and is refused as a sender.)
    """
    if room not in regional:
        return True
    allowed = {bot.user_id, *(n.bot_user_id for n in members)}
    return bot.readers(room) <= allowed


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


class RoomNotOpen(Exception):
    """A region room holds a bot this chapter has not pinned: nothing is sent there."""


@dataclass
class _Send:
    """One event for one room's lane."""

    room_id: str
    content: dict[str, Any]
    txn_id: str
    alert_id: str
    expires: datetime | None
    record: bool  # remember the room for the alert's later seqs
    sent: Callable[[str], Awaitable[None]]  # called with the room once it accepted
    catch_up: tuple[str, str, int] | None = None  # (room, alert id, seq) of a catch-up send


class Delivery:
    """Sends the node's outbox rows (and catch-ups); run() until cancelled."""

    def __init__(
        self,
        node: Node,
        bot: ChapterBot,
        signing_key: Any,
        *,
        first_backoff: float = FIRST_BACKOFF,
        max_backoff: float = MAX_BACKOFF,
        neighbours: NeighbourCache | None = None,
        max_concurrent: int = MAX_CONCURRENT_SENDS,
    ) -> None:
        self.node = node
        self.neighbours = neighbours or NeighbourCache(node)
        self.bot = bot
        self.signing_key = signing_key
        self.first_backoff = first_backoff
        self.max_backoff = max_backoff
        self._slots = asyncio.Semaphore(max_concurrent)
        self._sent_to: dict[int, set[str]] = {}  # outbox_id -> rooms that accepted it
        self._waiting: dict[int, set[str]] = {}  # outbox_id -> rooms still to accept it
        # Rows marked delivered that a read begun before that commit may still list.
        self._settled: set[int] = set()
        self._lanes: dict[str, tuple[asyncio.Queue[_Send], asyncio.Task[None]]] = {}
        self._catch_up_rooms: list[str] = []
        # Catch-up sends not yet begun: a later join in that room will read them too.
        self._unsent_catch_ups: set[tuple[str, str, int]] = set()
        # (alert id, room) -> its sends queued there (the database learns the room as they go)
        self._queued: dict[tuple[str, str], int] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
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

    def catch_up(self, room_id: str) -> None:
        """Send the chapter's active alerts to this room (its neighbour's bot just joined)."""
        if room_id not in self._catch_up_rooms:
            self._catch_up_rooms.append(room_id)
        self.node.outbox_ready.set()

    async def run(self) -> None:
        """Deliver the outbox, oldest first, and the catch-ups asked for; until cancelled."""
        backoff = Backoff(self.bot, self.first_backoff, self.max_backoff)
        ready = self.node.outbox_ready
        try:
            while True:
                try:
                    ready.clear()
                    rooms, self._catch_up_rooms = self._catch_up_rooms, []
                    for room_id in rooms:
                        self._spawn(self._catch_up(room_id), "catch-up")
                    batch = await self.node.pending_alerts()
                    # A row settled while this read ran is still in it: never send it twice.
                    self._settled &= {item.outbox_id for item in batch}
                    for item in batch:
                        if (
                            item.outbox_id not in self._waiting
                            and item.outbox_id not in self._settled
                        ):
                            await self._dispatch(item)
                    backoff.reset()
                    if not batch:
                        self.quiet.set()
                    await ready.wait()  # a new row, a catch-up, or a row fully sent
                    self.quiet.clear()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the node's DB: the next pass retries
                    await backoff.after(exc, "alert delivery", log)
        finally:
            tasks = [*self._tasks, *(task for _, task in self._lanes.values())]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)  # ended before the bot closes
            self._lanes.clear()
            self._waiting.clear()
            self._settled.clear()
            self._queued.clear()
            self._unsent_catch_ups.clear()

    def _spawn(self, coro: Awaitable[None], name: str) -> None:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _targets(
        self,
        item: OutgoingAlert,
        known: Neighbourhood,
        earlier: frozenset[str],
    ) -> list[str]:
        confidence = float(item.body.get("confidence") or 0.0)  # type: ignore[arg-type]
        rooms = [
            room
            for room, members in known.in_room.items()
            if (room in earlier or confidence >= room_threshold(members))
            and any(self.bot.is_joined(room, n.bot_user_id) for n in members)
        ]
        return [r for r in rooms if self._open(r, known)]

    def _open(self, room: str, known: Neighbourhood) -> bool:
        if readers_pinned(self.bot, room, known.in_room.get(room, ()), known.regional):
            return True
        log.warning("a region room holds a bot this chapter has not pinned: not sent there")
        return False

    def _wire(self, item: OutgoingAlert) -> dict[str, Any] | None:
        try:
            return to_wire(item.body, self.signing_key)
        except (ValueError, KeyError, TypeError) as exc:
            log.error("alert seq %d cannot be sent (%s): dropped", item.seq, type(exc).__name__)
            return None

    def _expired(self, expires: datetime | None) -> bool:
        return expires is not None and expires + CLOCK_SKEW <= self.node.clock()

    async def _dispatch(self, item: OutgoingAlert) -> None:
        """Queue one row on its rooms' lanes (or settle it at once if it goes nowhere)."""
        content = self._wire(item)
        if content is None:
            await self.node.count("alerts_unsendable")
            await self.node.alert_delivered(item.outbox_id)
            return
        if self._expired(_time(item.body.get("expires"))):
            # Receivers refuse an expired alert; sending it would only count rejections.
            await self.node.count("alerts_expired_unsent")
            await self.node.alert_delivered(item.outbox_id)
            self._sent_to.pop(item.outbox_id, None)
            return
        known = await self.neighbours.get()
        # The first seq of an alert has no earlier room: skip the read.
        earlier = await self.node.alert_rooms(item.alert_id) if item.seq > 1 else frozenset()
        earlier |= {room for (alert_id, room) in self._queued if alert_id == item.alert_id}
        done = self._sent_to.setdefault(item.outbox_id, set())
        rooms = [r for r in self._targets(item, known, earlier) if r not in done]
        if not rooms:
            await self._settle(item.outbox_id)
            return
        self._waiting[item.outbox_id] = set(rooms)
        outbox_id = item.outbox_id

        async def sent(room_id: str) -> None:
            self._sent_to.setdefault(outbox_id, set()).add(room_id)
            waiting = self._waiting.get(outbox_id)
            if waiting is None:
                return
            waiting.discard(room_id)
            if not waiting:
                try:
                    await self._settle(outbox_id)
                finally:
                    self._waiting.pop(outbox_id, None)
                    self.node.outbox_ready.set()  # the loop takes the next rows

        for room_id in rooms:
            self._enqueue(
                _Send(
                    room_id,
                    content,
                    f"{item.alert_id}.{item.seq}",
                    item.alert_id,
                    _time(item.body.get("expires")),
                    room_id not in earlier,
                    sent,
                )
            )

    async def _settle(self, outbox_id: int) -> None:
        """Every room of the row accepted it: mark it delivered."""
        done = self._sent_to.get(outbox_id, set())
        await asyncio.gather(
            self.node.alert_delivered(outbox_id),
            self.node.count("alerts_sent", len(done)) if done else asyncio.sleep(0),
        )
        self._sent_to.pop(outbox_id, None)
        self._settled.add(outbox_id)

    def _enqueue(self, send: _Send) -> None:
        lane = self._lanes.get(send.room_id)
        if lane is None or lane[1].done():
            queue: asyncio.Queue[_Send] = asyncio.Queue()
            task = asyncio.ensure_future(self._work(send.room_id, queue))
            task.set_name(f"lane {send.room_id}")
            lane = self._lanes[send.room_id] = (queue, task)
        key = (send.alert_id, send.room_id)
        self._queued[key] = self._queued.get(key, 0) + 1
        lane[0].put_nowait(send)

    async def _work(self, room_id: str, queue: asyncio.Queue[_Send]) -> None:
        """One room's lane: its sends in order, each retried until the room accepts it."""
        backoff = Backoff(self.bot, self.first_backoff, self.max_backoff)
        while True:
            send = await queue.get()
            self._unsent_catch_ups.discard(send.catch_up)  # type: ignore[arg-type]
            while True:
                if self._expired(send.expires):
                    await self._quietly(self.node.count("alerts_expired_unsent"))
                    break
                try:
                    await self._send(send)
                    backoff.reset()
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # SendFailed, or the node's DB
                    await backoff.after(exc, "alert delivery", log)
                    if not await self._still_a_target(room_id):
                        break  # the neighbour was removed, or the bot left the room
            key = (send.alert_id, room_id)
            self._queued[key] = self._queued.get(key, 1) - 1
            if self._queued[key] <= 0:
                del self._queued[key]  # the room is in the database by now
            await self._quietly(send.sent(room_id))

    async def _still_a_target(self, room_id: str) -> bool:
        try:
            known = await self.neighbours.get()
        except Exception:
            return True
        client = self.bot.client
        return room_id in known.in_room and client is not None and room_id in client.rooms

    async def _send(self, send: _Send) -> None:
        # Checked again as it goes (a stranger may have been invited since it was queued):
        # a closed room raises, and the lane retries with backoff until it opens again.
        if not self._open(send.room_id, await self.neighbours.get()):
            raise RoomNotOpen(send.room_id)
        async with self._slots:
            # Remember the room (for the alert's later seqs) while the send is on its way.
            record = None
            if send.record:
                record = asyncio.ensure_future(
                    self.node.add_alert_room(send.alert_id, send.room_id)
                )
            try:
                await self.bot.send_alert(
                    send.room_id, send.content, ALERT_EVENT_TYPE, txn_id=send.txn_id
                )
            finally:
                if record is not None:
                    await record

    async def _quietly(self, job: Awaitable[None]) -> None:
        try:
            await job
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the node's DB: the row stays pending and is re-sent
            log.error("delivery bookkeeping failed: %s", type(exc).__name__)

    async def _catch_up(self, room_id: str) -> None:
        """Queue the chapter's active alerts for one room, behind what its lane holds."""
        known = await self.neighbours.get()
        members = known.in_room.get(room_id)
        if not members or not self._open(room_id, known):
            return
        active = await self.node.active_alerts()
        earlier = {a.alert_id: await self.node.alert_rooms(a.alert_id) for a in active}
        threshold = room_threshold(members)
        chosen = [
            a
            for a in active
            # not when a catch-up of it there has yet to begin: it will be read after this join
            if (room_id, a.alert_id, a.seq) not in self._unsent_catch_ups
            and (
                room_id in earlier[a.alert_id]
                or float(a.body.get("confidence") or 0.0) >= threshold  # type: ignore[arg-type]
            )
        ]
        if not chosen:
            return
        # A fresh txn id: the homeserver must not answer a rejoined room with an old event.
        nonce = secrets.token_hex(4)
        left = {a.alert_id for a in chosen}

        async def sent(room: str, alert_id: str) -> None:
            await self.node.count("alerts_caught_up")
            left.discard(alert_id)
            if not left:
                log.info("caught up a neighbour's room with %d active alerts", len(chosen))

        for a in chosen:
            content = self._wire(a)
            if content is None:
                left.discard(a.alert_id)
                continue
            self._enqueue(
                _Send(
                    room_id,
                    content,
                    f"catchup.{nonce}.{a.alert_id}.{a.seq}",
                    a.alert_id,
                    _time(a.body.get("expires")),
                    room_id not in earlier[a.alert_id],
                    lambda room, alert_id=a.alert_id: sent(room, alert_id),  # type: ignore[misc]
                    (room_id, a.alert_id, a.seq),
                )
            )
            self._unsent_catch_ups.add((room_id, a.alert_id, a.seq))
