"""`vecinos region create | invite | join | remove | leave | list`: region rooms by operators.

A region is ONE encrypted, invite-only room shared by pinned chapters, so
that an alert is sent once per region instead of once per neighbour. Like
`vecinos neighbors`, these commands only write the node's data dir (the
region records in DATA/matrix/regions.json, 0600) and SIGHUP the running
node, whose reconcile (federation.chapter) does the Matrix side.

1. The host: `vecinos region create NAME` records a region it hosts; its
   node creates the room, named "room-" and the region's random code (a name
   that says nothing of a place or purpose).
2. The host: `vecinos region invite NAME CHAPTER` (CHAPTER must be pinned
   already, `vecinos neighbors accept`): its node invites that chapter's bot,
   and the command prints a region token (region name, host chapter, code:
   no key, no room id) for that chapter's operator.
3. The invited chapter: `vecinos region join TOKEN`: its node joins the room
   the host's pinned bot invited it to whose name carries the code; an
   invite to a region room is never taken for a pairwise room.
4. Every chapter whose bot is in the room uses it as its room with every
   neighbour it has pinned whose bot is in it too (its pairwise room with
   them is left); a member nobody pinned is ignored by that chapter, and the
   receiver checks each event's sender against the chapter pinned for that
   bot in that room (per event, not per room).
5. `vecinos region remove NAME CHAPTER` (the host): its node removes that
   bot from the room. `vecinos region leave NAME` (a member): its bot
   leaves. Either way that chapter is out of the region: its pins stay but
   carry nothing (no pairwise room comes back by itself; to share with it
   again, remove the pin and exchange tokens anew), so a removed chapter
   receives nothing more from the region. A member whose bot leaves on its
   own is marked "departed" in the host's record (by the host's node, which
   sees the leave): it is not invited again until the host's operator runs
   `region invite` for it again, or `region remove`.
6. `vecinos region list`: the records, and who is in each room now, as the
   homeserver has the room's state for this chapter's bot (read-only, with
   its stored login, also while the node is stopped, which it says).
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import fcntl
import json
import os
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import quote

import aiohttp

from federation.bot import CREDENTIALS_FILE
from federation.state import (
    load_rooms,
    matrix_dir,
    notify_running_node,
    running_node_pid,
    save_rooms,
)
from federation.wire import CHAPTER_ID
from node.service import Node, open_node

REGIONS_FILE = "regions.json"
_TOKEN_PREFIX = "vecinos-region-v1."
_NAME_RE = re.compile(r"[a-z0-9](?:[a-z0-9_-]{0,30}[a-z0-9])?")
_CODE_RE = re.compile(r"[0-9a-f]{10}")
ROOM_PREFIX = "room-"
LIVE_TIMEOUT = aiohttp.ClientTimeout(total=5)  # `region list` asking the homeserver


class RegionError(RuntimeError):
    """A region command that cannot be done (worded for the operator)."""


@dataclass(frozen=True)
class Region:
    """One region this chapter hosts or belongs to."""

    name: str  # the operators' label, never sent to the homeserver
    host: str  # the chapter id of the host (who creates, invites and removes)
    code: str  # 10 hex: the room's name is "room-" + code
    room_id: str = ""  # "" until created (host) or joined (member)
    members: tuple[str, ...] = ()  # the host's list of invited chapter ids
    left: bool = False  # this chapter's operator left it (`region leave`)
    # The host: members whose bots left on their own; not invited again until
    # its operator runs `region invite` for them again (or `region remove`).
    departed: tuple[str, ...] = ()

    @property
    def room_name(self) -> str:
        return ROOM_PREFIX + self.code


def is_region_room_name(name: str | None) -> bool:
    """Whether a room name is a region room's (pairwise rooms have 6 hex after the prefix)."""
    return (
        bool(name)
        and name.startswith(ROOM_PREFIX)
        and bool(  # type: ignore[union-attr]
            _CODE_RE.fullmatch(name[len(ROOM_PREFIX) :])  # type: ignore[index]
        )
    )


# -- the records file ------------------------------------------------------------


def _path(data_dir: Path) -> Path:
    return matrix_dir(data_dir) / REGIONS_FILE


def _parse(raw: object) -> tuple[Region, ...]:
    if not isinstance(raw, dict) or not isinstance(raw.get("regions"), list):
        return ()
    regions = []
    for item in raw["regions"]:
        if not isinstance(item, dict):
            continue
        try:
            regions.append(
                Region(
                    name=str(item["name"]),
                    host=str(item["host"]),
                    code=str(item["code"]),
                    room_id=str(item.get("room_id") or ""),
                    members=tuple(str(m) for m in item.get("members") or ()),
                    left=bool(item.get("left")),
                    departed=tuple(str(m) for m in item.get("departed") or ()),
                )
            )
        except KeyError:
            continue
    return tuple(regions)


def load_regions(data_dir: Path) -> tuple[Region, ...]:
    try:
        raw = json.loads(_path(data_dir).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return ()
    return _parse(raw)


@contextlib.contextmanager
def _locked(data_dir: Path) -> Iterator[None]:
    fd = os.open(matrix_dir(data_dir) / (REGIONS_FILE + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def update_regions(
    data_dir: Path, change: Callable[[tuple[Region, ...]], tuple[Region, ...]]
) -> tuple[Region, ...]:
    """Read, change and write the records under a lock (the node and a command may both write)."""
    with _locked(data_dir):
        regions = change(load_regions(data_dir))
        path = _path(data_dir)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"regions": [asdict(r) for r in regions]}, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    return regions


def set_region(data_dir: Path, name: str, **changes: object) -> None:
    """Change one record's fields (the node records the room it created or joined)."""
    update_regions(
        data_dir,
        lambda rs: tuple(dataclasses.replace(r, **changes) if r.name == name else r for r in rs),  # type: ignore[arg-type]
    )


# -- the token --------------------------------------------------------------------


def make_region_token(region: Region) -> str:
    body = {"name": region.name, "host": region.host, "code": region.code}
    blob = base64.urlsafe_b64encode(json.dumps(body, sort_keys=True).encode()).rstrip(b"=")
    return _TOKEN_PREFIX + blob.decode()


def parse_region_token(token: str) -> Region:
    token = token.strip()
    if not token.startswith(_TOKEN_PREFIX) or len(token) > 512:
        raise RegionError("not a Vecinos region token")
    blob = token[len(_TOKEN_PREFIX) :]
    try:
        body = json.loads(base64.urlsafe_b64decode(blob + "=" * (-len(blob) % 4)))
    except (ValueError, TypeError):
        raise RegionError("that region token is damaged") from None
    if not isinstance(body, dict) or set(body) != {"name", "host", "code"}:
        raise RegionError("that region token is damaged")
    name, host, code = (str(body[k]) for k in ("name", "host", "code"))
    if not (_NAME_RE.fullmatch(name) and CHAPTER_ID.fullmatch(host) and _CODE_RE.fullmatch(code)):
        raise RegionError("that region token is damaged")
    return Region(name=name, host=host, code=code)


# -- neighbours' rooms ------------------------------------------------------------


async def use_room(node: Node, chapter_ids: set[str], room: str) -> None:
    """Record `room` as the room of these neighbours; rooms no neighbour uses any more are left."""
    neighbours = await node.neighbours()
    old = {n.room_id for n in neighbours if n.chapter_id in chapter_ids and n.room_id}
    for n in neighbours:
        if n.chapter_id in chapter_ids:
            await node.save_neighbour(dataclasses.replace(n, room_id=room))
    kept = {n.room_id for n in await node.neighbours()}
    data_dir = node.matrix_settings().data_dir
    regional = {r.room_id for r in load_regions(data_dir) if r.room_id}
    unused = sorted(r for r in old if r not in kept and r != room and r not in regional)
    if unused:
        rooms = load_rooms(data_dir)
        leave = tuple(dict.fromkeys((*rooms.to_leave, *unused)))
        save_rooms(data_dir, dataclasses.replace(rooms, to_leave=leave))


# -- the commands: each returns the lines to print ---------------------------------


def _told(data_dir: Path) -> str:
    if notify_running_node(data_dir):
        return "the running node does it now"
    return "the node does it when it next starts (`vecinos run`)"


def _find(regions: tuple[Region, ...], name: str) -> Region:
    found = next((r for r in regions if r.name == name), None)
    if found is None:
        raise RegionError(f"no region {name!r}: see `vecinos region list`")
    return found


async def _chapter_and_pins(data_dir: Path) -> tuple[str, dict[str, str]]:
    """This chapter's id, and its pinned neighbours' chapter id -> room id."""
    node = await open_node(data_dir)
    try:
        settings = node.matrix_settings()
        if not settings.user_id:
            raise RegionError(
                f"the chapter has no Matrix bot yet: run `vecinos matrix setup --data "
                f"{data_dir} ...` first"
            )
        return settings.chapter_id, {n.chapter_id: n.room_id for n in await node.neighbours()}
    finally:
        await node.close()


async def create_command(data_dir: Path, name: str) -> list[str]:
    if not _NAME_RE.fullmatch(name):
        raise RegionError("a region name is 1-32 lowercase letters, digits, '-' or '_'")
    me, _ = await _chapter_and_pins(data_dir)

    def add(regions: tuple[Region, ...]) -> tuple[Region, ...]:
        if any(r.name == name for r in regions):
            raise RegionError(f"there is a region {name!r} already")
        return (*regions, Region(name=name, host=me, code=secrets.token_hex(5)))

    update_regions(data_dir, add)
    return [
        f"region {name}: this chapter hosts it; {_told(data_dir)} (creates its room)",
        f"invite pinned neighbours with `vecinos region invite {name} CHAPTER_ID`",
    ]


async def invite_command(data_dir: Path, name: str, chapter_id: str) -> list[str]:
    me, pins = await _chapter_and_pins(data_dir)
    if chapter_id not in pins:
        raise RegionError(
            f"{chapter_id!r} is not a pinned neighbour: exchange tokens first "
            "(`vecinos neighbors invite` / `accept`)"
        )
    region = _find(load_regions(data_dir), name)
    if region.host != me:
        raise RegionError(f"region {name!r} is hosted by {region.host}: its operator invites")
    again = chapter_id in region.departed
    set_region(
        data_dir,
        name,
        members=tuple(dict.fromkeys((*region.members, chapter_id))),
        departed=tuple(m for m in region.departed if m != chapter_id),
    )
    return [
        make_region_token(region),
        "",
        f"invited {chapter_id} to region {name}"
        + (" again (its bot had left on its own)" if again else "")
        + f": {_told(data_dir)}",
        "Send this token to its operator. They run:",
        "  vecinos region join TOKEN --data THEIR_DATA",
    ]


async def join_command(data_dir: Path, token: str) -> list[str]:
    wanted = parse_region_token(token)
    me, pins = await _chapter_and_pins(data_dir)
    if wanted.host == me:
        raise RegionError("this chapter hosts that region")
    if wanted.host not in pins:
        raise RegionError(
            f"the region's host {wanted.host!r} is not a pinned neighbour: exchange tokens first"
        )

    def add(regions: tuple[Region, ...]) -> tuple[Region, ...]:
        same = next((r for r in regions if r.code == wanted.code), None)
        if same is not None:  # joining again after a leave
            return tuple(dataclasses.replace(r, left=False) if r is same else r for r in regions)
        if any(r.name == wanted.name for r in regions):
            raise RegionError(f"there is another region {wanted.name!r} here already")
        return (*regions, wanted)

    update_regions(data_dir, add)
    rooms = load_rooms(data_dir)
    again = next((r.room_id for r in load_regions(data_dir) if r.code == wanted.code), "")
    if again and again in rooms.to_leave:  # a leave the node has yet to carry out: undone
        kept = tuple(r for r in rooms.to_leave if r != again)
        save_rooms(data_dir, dataclasses.replace(rooms, to_leave=kept))
    return [
        f"joining region {wanted.name} (host {wanted.host}): {_told(data_dir)}",
        "alerts are shared there with the members this chapter has pinned",
    ]


async def remove_command(data_dir: Path, name: str, chapter_id: str) -> list[str]:
    me, _ = await _chapter_and_pins(data_dir)
    region = _find(load_regions(data_dir), name)
    if region.host != me:
        raise RegionError(f"region {name!r} is hosted by {region.host}: its operator removes")
    if chapter_id not in region.members:
        raise RegionError(f"{chapter_id!r} is not a member of region {name!r}")
    set_region(
        data_dir,
        name,
        members=tuple(m for m in region.members if m != chapter_id),
        departed=tuple(m for m in region.departed if m != chapter_id),
    )
    return [
        f"removed {chapter_id} from region {name}: {_told(data_dir)} (its bot leaves the room); "
        "it receives nothing more from the region"
    ]


async def leave_command(data_dir: Path, name: str) -> list[str]:
    me, _ = await _chapter_and_pins(data_dir)
    region = _find(load_regions(data_dir), name)
    if region.host == me and region.members:
        raise RegionError(f"this chapter hosts {name!r}: remove its members first")
    set_region(data_dir, name, left=True, members=())
    if region.room_id:
        rooms = load_rooms(data_dir)
        if region.room_id not in rooms.to_leave:
            save_rooms(
                data_dir,
                dataclasses.replace(rooms, to_leave=(*rooms.to_leave, region.room_id)),
            )
    return [f"leaving region {name}: {_told(data_dir)}"]


def departed(data_dir: Path, room_id: str, chapter_id: str) -> bool:
    """The host: record that a member's bot left its region room on its own; True if new."""
    found = next(
        (r for r in load_regions(data_dir) if r.room_id == room_id and chapter_id in r.members),
        None,
    )
    if found is None or chapter_id in found.departed:
        return False
    set_region(data_dir, found.name, departed=(*found.departed, chapter_id))
    return True


async def room_members(data_dir: Path, room_ids: list[str]) -> dict[str, dict[str, str]] | str:
    """room id -> {user id: membership} as the homeserver has it for this chapter's bot
    (its stored login; read-only), or why it cannot say (worded for the operator)."""
    try:
        creds = json.loads((matrix_dir(data_dir) / CREDENTIALS_FILE).read_text(encoding="utf-8"))
        homeserver, token = str(creds["homeserver"]), str(creds["access_token"])
    except (OSError, ValueError, KeyError, TypeError):
        return "unknown: the bot has no stored login"
    found: dict[str, dict[str, str]] = {}
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with aiohttp.ClientSession(timeout=LIVE_TIMEOUT) as http:
            for room in room_ids:
                url = f"{homeserver}/_matrix/client/v3/rooms/{quote(room, safe='')}/members"
                async with http.get(url, headers=headers) as resp:
                    data = await resp.json(content_type=None)
                    if resp.status != 200 or not isinstance(data, dict):
                        found[room] = {}
                        continue
                members = {}
                for event in data.get("chunk") or ():
                    if isinstance(event, dict) and isinstance(event.get("content"), dict):
                        members[str(event.get("state_key"))] = str(
                            event["content"].get("membership")
                        )
                found[room] = members
    except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
        return f"unknown: the homeserver {homeserver} did not answer ({type(exc).__name__})"
    return found


def _membership_line(members: dict[str, str], bots: dict[str, str], me: str) -> str:
    """'joined a, b; invited c; left d' of one room, chapters by their pinned bots."""
    named: dict[str, list[str]] = {}
    for user, membership in members.items():
        if user == me:
            continue
        who = bots.get(user, f"{user} (not pinned here)")
        named.setdefault({"ban": "leave"}.get(membership, membership), []).append(who)
    parts = [
        f"{label} {', '.join(sorted(named[key]))}"
        for key, label in (("join", "joined"), ("invite", "invited"), ("leave", "left"))
        if named.get(key)
    ]
    return "; ".join(parts) or "no other chapter"


async def list_command(data_dir: Path) -> list[str]:
    me, pins = await _chapter_and_pins(data_dir)
    regions = load_regions(data_dir)
    if not regions:
        return ["no regions: `vecinos region create NAME` hosts one"]
    node = await open_node(data_dir)
    try:
        bots = {n.bot_user_id: n.chapter_id for n in await node.neighbours()}
        my_bot = node.matrix_settings().user_id
    finally:
        await node.close()
    running = running_node_pid(data_dir) is not None
    rooms = [r.room_id for r in regions if r.room_id and not r.left]
    live = await room_members(data_dir, rooms) if rooms else {}
    lines = []
    if not running:
        lines.append(
            "the node is NOT running (`vecinos run`): nothing is created, joined, invited "
            "or sent until it is; the rooms below are as the homeserver has them"
        )
    for r in regions:
        role = "hosted here" if r.host == me else f"host {r.host}"
        state = "left" if r.left else (r.room_id or "no room yet")
        sharing = sorted(c for c, room in pins.items() if r.room_id and room == r.room_id)
        lines.append(
            f"{r.name}  {role}  room {state}  "
            f"the room of neighbours: {', '.join(sharing) or 'none yet'}"
        )
        if r.host == me:
            lines.append(f"  invited: {', '.join(r.members) or 'none'}")
            if r.departed:
                lines.append(
                    f"  left on their own, not invited again: {', '.join(r.departed)} "
                    f"(`vecinos region invite {r.name} CHAPTER_ID` invites one again, "
                    f"`vecinos region remove {r.name} CHAPTER_ID` takes it off the list)"
                )
        if r.room_id and not r.left:
            now = live.get(r.room_id) if isinstance(live, dict) else None
            if isinstance(live, str):
                lines.append(f"  in the room now: {live}")
            elif not now:
                lines.append("  in the room now: unknown (this chapter's bot is not in it)")
            else:
                lines.append(f"  in the room now: {_membership_line(now, bots, my_bot)}")
    return lines
