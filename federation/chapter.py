"""ChapterFederation: one chapter's Matrix side, built and started by `vecinos run`.

It owns the bot (login restored from DATA/matrix, the bot lock held while it
runs), the receiver, the delivery loop, the relayer, the member room
intake (federation.members) and the responders room (federation.responders:
alerts in threads, moderators' commands, its members), and it keeps the
neighbours' federation rooms in step with the neighbours the node has
pinned (`reconcile`, at start, on SIGHUP from `vecinos neighbors ...`, and
on an invite):

- a neighbour with no room yet: the chapter whose id sorts first creates an
  encrypted, invite-only room (neutral name, no topic, retention as the
  node's) and invites the other's bot; the other joins an invite from a
  pinned neighbour's bot, and each records the room with the neighbour;
- an invite from anyone else waits, unanswered (the inviter may become a
  neighbour later); rooms of removed neighbours are left;
- when a neighbour's bot joins its room (new, or back after leaving), and
  when this bot joins a neighbour's room, the delivery loop sends that room
  the chapter's active alerts (Delivery.catch_up): a bot cannot read what
  was sent before it joined. So it does when a neighbour in the room asks
  (the receiver saw a gap in an alert's seqs: federation.receiver);
- region rooms (federation.regions) are created, joined, invited into and
  removed from as their records say, and carry the neighbours whose bots
  are in them; a member's bot that leaves a hosted region room on its own
  is not invited again until an operator invites it again;
- a reconcile that could not do everything (a join, invite or removal
  refused or timed out: a remote homeserver busy or away) runs again after
  1 s, 2 s, 4 s ... up to 5 minutes, until one does it all: nothing else
  would bring it back while an invite stays pending.

If the homeserver is away at start, the node runs anyway and the bot keeps
trying (backoff); the outbox waits in the node's database meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
from typing import Any

from nio import RoomMemberEvent

from federation.bot import BotError, ChapterBot
from federation.delivery import Delivery
from federation.members import MemberRoom
from federation.neighbourhood import NeighbourCache
from federation.receiver import Receiver
from federation.regions import (
    Region,
    departed,
    is_region_room_name,
    load_regions,
    set_region,
    use_room,
)
from federation.relay import Relayer
from federation.responders import ResponderRoom
from federation.state import BotLock, load_rooms, matrix_dir, save_rooms
from federation.wire import CATCH_UP_EVENT_TYPE, build_catch_up_request
from node.service import Node

log = logging.getLogger("vecinos.federation")

# Bot counters worth keeping in the node's counters (for `vecinos status`).
KEPT_BOT_COUNTERS = {
    "undecryptable": "undecryptable",
    "unencrypted_dropped": "rejected_unencrypted",
    "handler_errors": "handler_errors",
    "send_failures": "send_failures",
    "devices_trusted": "devices_trusted",
    "membership_corrections": "membership_corrections",
}
START_RETRY_MAX = 30.0
# stop(): how long a cancelled task may take before it is cancelled again.
STOP_RECANCEL_S = 0.5
# A responders-room post waits at most this long for the alerts queued before it.
ALERTS_FIRST_S = 1.0
# A reconcile that could not do everything (a join refused or timed out, say while a
# remote homeserver is busy or away) is run again after this long, doubling up to the max.
RECONCILE_RETRY_S = 1.0
RECONCILE_RETRY_MAX_S = 300.0


class FederationError(RuntimeError):
    """Matrix is configured but cannot be used as it is (worded for the operator)."""


def neutral_room_name() -> str:
    """A room name that says nothing of the chapter's place or purpose."""
    return f"room-{secrets.token_hex(3)}"


class ChapterFederation:
    """The chapter's bot, receiver, delivery loop and relayer. start() / stop()."""

    def __init__(
        self,
        node: Node,
        *,
        relay: bool | None = None,
        send_timeout: float = 10.0,
        max_backoff: float = 30.0,
    ) -> None:
        self.node = node
        self.settings = settings = node.matrix_settings()  # read once, handed to its parts
        self.data_dir = settings.data_dir
        self.chapter_id = settings.chapter_id
        self.homeserver = settings.homeserver
        self.user_id = settings.user_id
        if not self.homeserver or not self.user_id:
            raise FederationError("[matrix] homeserver and user_id are not set")
        self.dir = matrix_dir(self.data_dir)
        self.lock = BotLock(self.data_dir)
        signing_key = node.signing_key()
        self.bot = ChapterBot(
            self.homeserver,
            self.user_id,
            self.dir,
            send_timeout=send_timeout,
            on_count=self._on_count,
            on_invite=self._on_invite,
        )
        enabled = settings.relay if relay is None else relay
        self.neighbours = NeighbourCache(node)
        self.relayer = Relayer(
            node,
            self.bot,
            self.chapter_id,
            signing_key,
            enabled=enabled,
            max_backoff=max_backoff,
            neighbours=self.neighbours,
        )
        self.receiver = Receiver(node, self.chapter_id, self.relayer, self.neighbours)
        self.bot.on_alert = self.receiver.handle
        self.delivery = Delivery(
            node, self.bot, signing_key, max_backoff=max_backoff, neighbours=self.neighbours
        )
        self.receiver.answer = lambda room: self._spawn(self._answer_catch_up(room), "catch-up")
        self.bot.on_undecryptable = self.receiver.undecryptable
        self.receiver.ask = lambda room: self._spawn(self._ask_catch_up(room), "ask catch-up")
        self.members = MemberRoom(node, self.bot, settings)
        self.responders = ResponderRoom(
            node,
            self.bot,
            settings,
            max_backoff=max_backoff,
            before_post=lambda: self.delivery.drained(ALERTS_FIRST_S),
        )
        self.members.attach()
        self.responders.attach()
        self.bot.add_room_handler(self._on_member, (RoomMemberEvent,))
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reconcile_lock = asyncio.Lock()
        self._incomplete = False  # the reconcile in progress could not do everything
        self._retry_delay = RECONCILE_RETRY_S
        self._retry_task: asyncio.Task[Any] | None = None
        self._refreshing: set[str] = set()  # region rooms whose membership is being read
        self._refresh_again: set[str] = set()  # ... and changed again meanwhile
        self.connected = asyncio.Event()

    @property
    def relay(self) -> bool:
        return self.relayer.enabled

    @relay.setter
    def relay(self, on: bool) -> None:
        self.relayer.enabled = on

    # -- lifecycle ------------------------------------------------------------

    async def start(self) -> None:
        """Take the bot lock, restore the login, connect (or keep trying in the background)."""
        self.lock.acquire()
        try:
            if not self.bot.credentials_path.exists():
                raise FederationError(
                    f"the bot has no login in {self.dir}: run `vecinos matrix setup --data "
                    f"{self.data_dir} ...` first"
                )
            try:
                await self.bot.login()
            except BotError as exc:
                raise FederationError(str(exc)) from exc
            await self.receiver.seed()
        except BaseException:
            await self.bot.close()
            self.lock.release()
            raise
        if not await self._connect_once():
            log.warning("homeserver %s unreachable; the bot keeps trying", self.homeserver)
            self._spawn(self._connect_forever(), "connect")

    async def stop(self) -> None:
        tasks, self._tasks = list(self._tasks), set()
        for task in tasks:
            task.cancel()
        for task in tasks:
            # Python 3.11's asyncio.wait_for swallows a cancellation that lands as its
            # inner future completes (a loop waiting in Delivery.drained, say): cancel
            # again until the task has really ended, or stop() would wait forever.
            while not task.done():
                await asyncio.wait({task}, timeout=STOP_RECANCEL_S)
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.bot.close()
        self.lock.release()

    async def __aenter__(self) -> ChapterFederation:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=f"{name} {self.chapter_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _connect_once(self) -> bool:
        try:
            await self.bot.start()
        except Exception as exc:
            log.debug("first sync failed: %s", type(exc).__name__)
            return False
        try:
            await self.reconcile()
        except Exception as exc:  # rooms are set up again at the next reconcile
            log.warning("room set-up incomplete: %s", type(exc).__name__)
        self._spawn(self.delivery.run(), "delivery")
        self._spawn(self.relayer.run(), "relay")
        self._spawn(self.members.run(), "members")
        self._spawn(self.responders.run(), "responders")
        self._spawn(self.responders.run_commands(), "responder commands")
        self.connected.set()
        log.info("Matrix: %s connected", self.user_id)
        return True

    async def _connect_forever(self) -> None:
        delay = 0.5
        while not await self._connect_once():
            await asyncio.sleep(delay)  # nothing to await: the homeserver is away
            delay = min(delay * 2, START_RETRY_MAX)

    # -- counters ---------------------------------------------------------------

    def _on_count(self, name: str, n: int) -> None:
        kept = KEPT_BOT_COUNTERS.get(name)
        if kept is not None:
            self._spawn(self._count(kept, n), "count")

    async def _count(self, name: str, n: int) -> None:
        try:
            await self.node.count(name, n)
        except Exception as exc:
            log.error("counter %s not kept: %s", name, type(exc).__name__)

    # -- rooms ------------------------------------------------------------------

    async def _answer_catch_up(self, room_id: str) -> None:
        """A neighbour asked: the active alerts, under a new megolm session (it may have
        missed the current one: what it could not decrypt is why it asks)."""
        await self.bot.new_session(room_id)
        self.delivery.catch_up(room_id)

    async def _ask_catch_up(self, room_id: str) -> None:
        """Ask a room's chapters for their active alerts (the receiver saw a gap there)."""
        try:
            await self.bot.send_alert(
                room_id,
                build_catch_up_request(self.chapter_id),
                CATCH_UP_EVENT_TYPE,
                txn_id=f"catchup-ask.{secrets.token_hex(4)}",
            )
        except Exception as exc:  # the next gap asks again
            log.warning("catch-up request not sent: %s", type(exc).__name__)

    def request_reconcile(self) -> None:
        """Reconcile soon (the SIGHUP handler of `vecinos run`)."""
        if self.connected.is_set():
            self._spawn(self._reconcile_logged(), "reconcile")

    async def _reconcile_logged(self) -> None:
        try:
            await self.reconcile()
        except Exception as exc:  # tried again later (_plan_retry)
            log.warning("room set-up incomplete: %s: %s", type(exc).__name__, exc)

    async def _on_member(self, room_id: str, event: RoomMemberEvent) -> None:
        """A neighbour's bot joined its room: send it the active alerts (it cannot read back)."""
        changed = event.membership != event.prev_membership  # not a profile change
        if (
            changed
            and event.membership == "leave"
            and event.sender == event.state_key != self.user_id
        ):
            await self._left_on_their_own(room_id, event.state_key)
        if (
            changed
            and event.state_key != self.user_id
            and any(r.room_id == room_id for r in load_regions(self.data_dir))
        ):
            # Someone joined or left a region room: which neighbours it carries may change.
            self._spawn(self._refresh_then_reconcile(room_id), "region")
            if event.membership in ("leave", "ban"):
                # A stranger's leave may open the room again: what is active goes there
                # then (a no-op while the room still holds a bot this chapter has not pinned).
                self.delivery.catch_up(room_id)
        if event.membership != "join" or event.prev_membership not in ("invite", "leave"):
            return  # not a join, a profile change, or the room creator's own first join
        if (room_id, event.state_key) in (await self.neighbours.get()).by_room_sender:
            await self.bot.new_session(room_id)  # so that the joiner reads what follows
            self.delivery.catch_up(room_id)

    async def _left_on_their_own(self, room_id: str, user_id: str) -> None:
        """A member's bot left a region room this chapter hosts, on its own (not removed):
        it is not invited again until an operator says so. Seen in the leave event, or
        earlier in the homeserver's state (refresh_members), whichever comes first."""
        chapter = next(
            (
                n.chapter_id
                for n in (await self.neighbours.get()).neighbours
                if n.bot_user_id == user_id
            ),
            None,
        )
        if chapter is not None and departed(self.data_dir, room_id, chapter):
            log.info("a chapter left a region room on its own: not invited again")

    async def _refresh_then_reconcile(self, room_id: str) -> None:
        """A region room's membership changed: read it from the homeserver (what the syncs
        said may be stale: ChapterBot.refresh_members), then reconcile. Changes that come
        meanwhile are taken together by one more round (a room forming brings many)."""
        if room_id in self._refreshing:
            self._refresh_again.add(room_id)
            return
        self._refreshing.add(room_id)
        try:
            while True:
                self._refresh_again.discard(room_id)
                try:
                    await self.bot.refresh_members(
                        room_id,
                        left_on_their_own=lambda user: self._left_on_their_own(room_id, user),
                    )
                except (BotError, TimeoutError) as exc:  # the syncs' view stands meanwhile
                    log.warning(
                        "a region room's membership was not read: %s", exc or type(exc).__name__
                    )
                await self._reconcile_logged()
                if room_id not in self._refresh_again:
                    return
        finally:
            self._refreshing.discard(room_id)

    def _on_invite(self, room_id: str, inviter: str) -> None:
        # Runs inside a sync: joining waits for later syncs, so do it in a task.
        self._spawn(self._reconcile_logged(), "invite")

    async def reconcile(self) -> None:
        """Create, join or invite so that every pinned neighbour shares a room with us."""
        async with self._reconcile_lock:
            self._incomplete = False
            self.neighbours.invalidate()
            try:
                await self._reconcile()
            except Exception:
                self._incomplete = True
                raise
            finally:
                self.neighbours.invalidate()
                self._plan_retry()
            await self.responders.reconcile()

    def _plan_retry(self) -> None:
        """After a reconcile that could not do everything, another one later (backoff).

        Nothing else would run it: a join refused while its invite stays pending
        brings no new event (issue 16: a region member stayed invited for ever).
        """
        if not self._incomplete:
            self._retry_delay = RECONCILE_RETRY_S
            return
        if self._retry_task is not None and not self._retry_task.done():
            return
        delay, self._retry_delay = (
            self._retry_delay,
            min(self._retry_delay * 2, RECONCILE_RETRY_MAX_S),
        )
        self._retry_task = self._spawn(self._retry_later(delay), "reconcile again")

    async def _retry_later(self, delay: float) -> None:
        await asyncio.sleep(delay)  # a backoff: nothing to await for a refused join
        self._retry_task = None
        await self._reconcile_logged()

    async def _reconcile(self) -> None:
        client = self.bot.client
        if client is None:
            return
        regional = await self._reconcile_regions()
        neighbours = await self.node.neighbours()
        invites = {
            room: who
            for room, who in self.bot.pending_invites().items()
            if not is_region_room_name(self.bot.invite_name(room))  # never taken as pairwise
        }
        for n in neighbours:
            room = n.room_id
            if room in regional:
                continue  # a region room: _reconcile_regions keeps it
            if room and room in client.rooms:
                if n.bot_user_id not in client.rooms[room].users:
                    await self._invite(room, n.bot_user_id)
                continue
            if room and room in invites:
                await self.bot.join(room)
                self.delivery.catch_up(room)
                continue
            offered = next((r for r, who in invites.items() if who == n.bot_user_id), None)
            if offered is not None:
                await self.bot.join(offered)
                await self.node.save_neighbour(dataclasses.replace(n, room_id=offered))
                self.neighbours.invalidate()
                self.delivery.catch_up(offered)
                log.info("joined the federation room of neighbour %s", n.chapter_id)
            elif self.chapter_id < n.chapter_id:
                made = await self.bot.create_room(
                    name=neutral_room_name(),
                    topic="",
                    invite=[n.bot_user_id],
                    retention_ms=self.settings.retention_ms,
                )
                await self.node.save_neighbour(dataclasses.replace(n, room_id=made))
                log.info("created the federation room of neighbour %s", n.chapter_id)
        await self._leave_removed()

    async def _reconcile_regions(self) -> set[str]:
        """Create, join, invite into and remove from region rooms; returns their room ids.

        The host creates the room and keeps its members as its operator listed
        them (invites the missing, removes everyone else); a member joins the
        room its region's host invited it to under the region's name. Then
        every pinned neighbour whose bot is in a region room this bot is in
        has that room as its room (federation.regions).
        """
        pins = {n.chapter_id: n for n in await self.node.neighbours()}
        invites = self.bot.pending_invites()
        for region in load_regions(self.data_dir):
            if region.left:
                continue
            try:
                await self._reconcile_region(region, pins, invites)
            except (BotError, TimeoutError) as exc:  # one region's trouble holds no other room up
                self._incomplete = True  # tried again later (_plan_retry)
                log.warning("a region room was not set up: %s", exc or type(exc).__name__)
        return {r.room_id for r in load_regions(self.data_dir) if r.room_id}

    async def _reconcile_region(
        self, region: Region, pins: dict[str, Any], invites: dict[str, str | None]
    ) -> None:
        """One region: the host creates the room and keeps its members; a member joins it."""
        room = region.room_id
        if region.host == self.chapter_id:
            if not room:
                room = await self.bot.create_room(
                    name=region.room_name, topic="", retention_ms=self.settings.retention_ms
                )
                set_region(self.data_dir, region.name, room_id=room)
                log.info("created a region room")
            await self._keep_members(room, region, pins)
        else:
            host = pins.get(region.host)
            if host is None:
                return
            if not room or not self.bot.is_joined(room, self.user_id):
                offered = next(
                    (
                        r
                        for r, who in invites.items()
                        if who == host.bot_user_id
                        and (r == room or self.bot.invite_name(r) == region.room_name)
                    ),
                    None,
                )
                if offered is None:
                    return
                await self.bot.join(offered)
                if offered != room:
                    set_region(self.data_dir, region.name, room_id=offered)
                room = offered
                log.info("joined a region room")
        if self.bot.is_joined(room, self.user_id):
            await self._share_region(room)

    async def _keep_members(self, room: str, region: Region, pins: dict[str, Any]) -> None:
        """The host: the room holds exactly the bots of the chapters its operator invited."""
        client = self.bot.client
        if client is None or room not in client.rooms:
            return

        def wanted() -> set[str]:
            # read again at each use: a member's leave may be recorded (departed) while
            # this reconcile waits on the homeserver, and must not be invited back
            now = next((r for r in load_regions(self.data_dir) if r.name == region.name), region)
            return {pins[m].bot_user_id for m in now.members if m in pins and m not in now.departed}

        present = set(client.rooms[room].users)  # joined and invited
        for user in sorted(present - wanted() - {self.user_id}):
            try:
                await self.bot.kick(room, user)
                log.info("removed a bot from a region room")
            except (BotError, TimeoutError) as exc:
                self._incomplete = True
                log.warning("removal from a region room failed: %s", exc or type(exc).__name__)
        still = client.rooms.get(room)
        if still is None:
            return
        for user in sorted(wanted() - set(still.users)):
            if user in wanted():  # an invite before it may have waited on the homeserver
                await self._invite(room, user)

    async def _share_region(self, room: str) -> None:
        """Pinned neighbours whose bots are in this region room: it becomes their room."""
        pins = {n.chapter_id: n for n in await self.node.neighbours()}
        regional = {r.room_id for r in load_regions(self.data_dir) if r.room_id and not r.left}
        moved = {
            n.chapter_id
            for n in pins.values()
            if n.room_id != room
            and self.bot.is_joined(room, n.bot_user_id)
            # already sharing another region room with us: keep that one
            and not (
                n.room_id in regional
                and self.bot.is_joined(n.room_id, n.bot_user_id)
                and self.bot.is_joined(n.room_id, self.user_id)
            )
        }
        if not moved:
            return
        await use_room(self.node, moved, room)
        self.neighbours.invalidate()
        await self.bot.new_session(room)  # so that the new members read what follows
        self.delivery.catch_up(room)
        log.info("a region room now carries %d more neighbours", len(moved))

    async def _invite(self, room_id: str, user_id: str) -> None:
        try:
            await self.bot.invite(room_id, user_id)
        except (BotError, TimeoutError) as exc:
            self._incomplete = True  # tried again later (_plan_retry)
            log.warning("invite failed: %s", exc or type(exc).__name__)

    async def _leave_removed(self) -> None:
        rooms = load_rooms(self.data_dir)
        if not rooms.to_leave:
            return
        client = self.bot.client
        left = []
        for room_id in rooms.to_leave:
            if client is not None and (room_id in client.rooms or room_id in client.invited_rooms):
                try:
                    await self.bot.leave(room_id)
                except (BotError, TimeoutError) as exc:
                    log.warning("leaving a removed neighbour's room failed: %s", exc)
                    continue
            left.append(room_id)
        fresh = load_rooms(self.data_dir)
        remaining = tuple(r for r in fresh.to_leave if r not in left)
        save_rooms(self.data_dir, dataclasses.replace(fresh, to_leave=remaining))
