"""`vecinos neighbors invite | accept | list | remove`: pinning neighbours by token.

The exchange is two tokens, one each way, passed out of band (Signal, in
person), and never needs the bot: these commands only write the node's
database, so they are safe while the node runs (they then SIGHUP it, and it
sets up the room at once; otherwise it does so at its next start).

1. A: `vecinos neighbors invite` prints A's token: chapter id, bot Matrix ID,
   signing key and its fingerprint (federation.wire.make_invite_token).
2. B: `vecinos neighbors accept TOKEN_A` pins A's key and prints B's token.
3. A: `vecinos neighbors accept TOKEN_B` pins B's key.
4. How the federation room comes about: once both have pinned each other,
   the chapter whose id sorts first creates an encrypted, invite-only room
   and invites the other's bot, which joins because the inviter is a
   pinned neighbour's bot. Both record the room with the neighbour. No room
   id travels in a token: the room exists only between pinned neighbours.

Operators read the fingerprints to each other over a second channel (a
phone call): a token alone could have been swapped on the way.

Region rooms: every chapter of a region pins every other, and they share
ONE room instead of a room per pair. A neighbour's room is then that room;
the receiver checks each event's sender against the chapter pinned for that
bot in that room. Operators form them with `vecinos region ...`
(federation.regions); form_region does the same for chapters of one process
(tests, benchmarks). Removing a neighbour never leaves a room that other
neighbours or a region still use.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Sequence
from pathlib import Path

from signedjson.key import encode_verify_key_base64, get_verify_key

from federation.chapter import ChapterFederation
from federation.regions import ROOM_PREFIX, Region, load_regions, update_regions, use_room
from federation.state import load_rooms, notify_running_node, save_rooms
from federation.wire import (
    key_fingerprint,
    key_id,
    make_invite_token,
    parse_invite_token,
    readable_fingerprint,
)
from node.outcome import Neighbour
from node.service import Node, open_node


class NeighbourError(RuntimeError):
    """A neighbour command that cannot be done (worded for the operator)."""


def own_token(node: Node) -> tuple[str, str]:
    """This chapter's invite token and its key fingerprint (as read aloud)."""
    settings = node.matrix_settings()
    if not settings.user_id:
        raise NeighbourError(
            f"the chapter has no Matrix bot yet: run `vecinos matrix setup --data "
            f"{settings.data_dir} ...` first"
        )
    verify_key = get_verify_key(node.signing_key())
    return (
        make_invite_token(settings.chapter_id, settings.user_id, verify_key),
        readable_fingerprint(key_fingerprint(verify_key)),
    )


async def accept(node: Node, token: str, threshold: float | None = None) -> Neighbour:
    """Pin the neighbour a token names (replacing an earlier pin of the same chapter)."""
    try:
        invite = parse_invite_token(token)
    except ValueError as exc:
        raise NeighbourError(f"that token cannot be used: {exc}") from None
    settings = node.matrix_settings()
    if invite.chapter == settings.chapter_id:
        raise NeighbourError("that is this chapter's own token: send it to the neighbour")
    if threshold is None:
        threshold = settings.share_threshold
    if not 0.0 <= threshold <= 1.0:
        raise NeighbourError("--threshold must be between 0 and 1")
    earlier = {n.chapter_id: n for n in await node.neighbours()}.get(invite.chapter)
    same_bot = earlier is not None and earlier.bot_user_id == invite.bot_user_id
    neighbour = Neighbour(
        chapter_id=invite.chapter,
        bot_user_id=invite.bot_user_id,
        key_id=key_id(invite.verify_key),
        verify_key=encode_verify_key_base64(invite.verify_key),
        fingerprint=invite.fingerprint,
        room_id=earlier.room_id if earlier is not None and same_bot else "",
        share_threshold=threshold,
    )
    await node.save_neighbour(neighbour)
    return neighbour


async def remove(node: Node, chapter_id: str) -> bool:
    """Forget a neighbour; its room is left by the bot at its next reconcile."""
    found = {n.chapter_id: n for n in await node.neighbours()}.get(chapter_id)
    if found is None or not await node.remove_neighbour(chapter_id):
        return False
    data_dir = node.matrix_settings().data_dir
    still_used = {n.room_id for n in await node.neighbours()} | {
        r.room_id for r in load_regions(data_dir) if not r.left
    }
    if found.room_id and found.room_id not in still_used:
        rooms = load_rooms(data_dir)
        if found.room_id not in rooms.to_leave:
            save_rooms(
                data_dir,
                dataclasses.replace(rooms, to_leave=(*rooms.to_leave, found.room_id)),
            )
    return True


async def link(x: ChapterFederation, y: ChapterFederation, timeout: float = 30.0) -> str:
    """Make two running chapters of one process neighbours (the demo, tests, benchmarks).

    The same exchange as the commands (each pins the other's token), then
    the rooms are set up at once instead of on SIGHUP. Returns the room id.
    """
    await accept(y.node, own_token(x.node)[0])
    await accept(x.node, own_token(y.node)[0])
    first, second = sorted((x, y), key=lambda f: f.chapter_id)
    await first.reconcile()  # creates the room and invites `second`'s bot
    [mine] = [n for n in await first.node.neighbours() if n.chapter_id == second.chapter_id]
    room = mine.room_id
    client = second.bot.client
    if not room or client is None:
        raise NeighbourError("the federation room was not created")
    # `second` joins on the invite by itself (its on_invite runs a reconcile)...
    await second.bot.wait_until(lambda: room in client.rooms, timeout)
    await first.bot.wait_for_member(room, second.user_id, timeout)
    await second.reconcile()  # ...and this waits for that reconcile to finish
    return room


async def form_region(chapters: Sequence[ChapterFederation], timeout: float = 60.0) -> str:
    """Make running chapters of one process a region: ONE room shared by all (tests, benchmarks).

    What `vecinos region create / invite / join` do, at once: the chapter
    whose id sorts first hosts the region and creates its room; every
    chapter records the region (federation.regions) and pins every other
    (the token exchange of `link`), with that room as its room with each of
    them (a pairwise room it had with them is left at its next reconcile);
    the host's reconcile invites every other's bot, and each joins. Each
    alert then goes once into that room, and each receiver checks every
    event's sender against the chapter pinned for that bot
    (federation.receiver). Returns the room id.
    """
    first, *rest = sorted(chapters, key=lambda f: f.chapter_id)
    code = secrets.token_hex(5)
    name = f"region-{code}"
    room = await first.bot.create_room(
        name=ROOM_PREFIX + code, topic="", retention_ms=first.settings.retention_ms
    )
    for c in chapters:
        members = tuple(x.chapter_id for x in rest) if c is first else ()
        record = Region(name, first.chapter_id, code, room_id=room, members=members)
        update_regions(c.data_dir, lambda regions, record=record: (*regions, record))
    region = {c.chapter_id for c in chapters}
    for x in chapters:
        pinned = {n.chapter_id for n in await x.node.neighbours()}
        for y in chapters:
            if y is not x and y.chapter_id not in pinned:
                await accept(x.node, own_token(y.node)[0])
        await use_room(x.node, region - {x.chapter_id}, room)
        x.neighbours.invalidate()
    await first.reconcile()  # invites every other's bot
    for c in rest:
        # An invite to a bot on another homeserver arrives over federation a moment later.
        bot = c.bot
        await bot.wait_until(
            lambda bot=bot, me=c.user_id: room in bot.pending_invites() or bot.is_joined(room, me),
            timeout,
        )
        await c.reconcile()  # joins: its region's host invited it to the region's room
    for c in chapters:
        for other in chapters:
            try:
                await c.bot.wait_for_member(room, other.user_id, timeout)
            except TimeoutError:
                raise NeighbourError(_unseen(chapters, room)) from None
    return room


def _unseen(chapters: Sequence[ChapterFederation], room: str) -> str:
    """Who sees whom how in a region room that did not form (form_region's error)."""
    lines = ["the region room did not form: who each chapter's bot sees there"]
    for c in chapters:
        client = c.bot.client
        seen = client.rooms.get(room) if client is not None else None
        views = []
        for other in chapters:
            member = seen.users.get(other.user_id) if seen is not None else None
            state = "absent" if member is None else "invited" if member.invited else "joined"
            if state != "joined":
                views.append(f"{other.chapter_id} {state}")
        pending = client is not None and room in client.invited_rooms
        lines.append(
            f"  {c.chapter_id}: "
            + ("not in the room" if seen is None else "in the room")
            + (", invited" if pending else "")
            + (f"; sees {', '.join(views)}" if views else "; sees everyone joined")
        )
    return "\n".join(lines)


def describe(n: Neighbour) -> str:
    room = n.room_id or "no room yet"
    return (
        f"{n.chapter_id}  bot {n.bot_user_id}  key {readable_fingerprint(n.fingerprint)}  "
        f"threshold {n.share_threshold:g}  room {room}"
    )


# -- the commands: each returns the lines to print -----------------------------


def _told_node(data_dir: Path) -> str:
    if notify_running_node(data_dir):
        return "the running node sets up the federation room now"
    return "the node sets up the federation room when it next starts (`vecinos run`)"


async def invite_command(data_dir: Path) -> list[str]:
    node = await open_node(data_dir)
    try:
        token, fingerprint = own_token(node)
    finally:
        await node.close()
    return [
        token,
        "",
        "Send this token to the neighbouring chapter's operator. They run:",
        "  vecinos neighbors accept TOKEN --data THEIR_DATA",
        "which prints their token; run `vecinos neighbors accept THEIR_TOKEN` here.",
        f"Read them this key fingerprint by phone to check it arrived intact: {fingerprint}",
    ]


async def accept_command(data_dir: Path, token: str, threshold: float | None) -> list[str]:
    node = await open_node(data_dir)
    try:
        neighbour = await accept(node, token, threshold)
        mine, fingerprint = own_token(node)
    finally:
        await node.close()
    return [
        f"pinned neighbour {neighbour.chapter_id} (bot {neighbour.bot_user_id})",
        "  check its key fingerprint with its operator by phone: "
        + readable_fingerprint(neighbour.fingerprint),
        f"  it is sent alerts from confidence {neighbour.share_threshold:g}",
        _told_node(data_dir),
        "",
        "If they have not accepted this chapter yet, send them this token:",
        mine,
        f"(this chapter's fingerprint: {fingerprint})",
    ]


async def list_command(data_dir: Path) -> list[str]:
    node = await open_node(data_dir)
    try:
        neighbours = await node.neighbours()
    finally:
        await node.close()
    if not neighbours:
        return ["no neighbours yet: `vecinos neighbors invite` starts an exchange"]
    return [describe(n) for n in sorted(neighbours, key=lambda n: n.chapter_id)]


async def remove_command(data_dir: Path, chapter_id: str) -> list[str]:
    node = await open_node(data_dir)
    try:
        removed = await remove(node, chapter_id)
    finally:
        await node.close()
    if not removed:
        raise NeighbourError(f"no neighbour {chapter_id!r}: see `vecinos neighbors list`")
    notify_running_node(data_dir)
    return [
        f"removed neighbour {chapter_id}: its alerts are refused from now on, and the bot "
        "leaves its room"
    ]
