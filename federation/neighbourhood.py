"""The pinned neighbours as federation uses them on every alert: read from the node, cached.

Delivery, the receiver and the relayer ask for the neighbours on every
alert; reading the database each time would add a round trip to the
latency of every alert. The cache is refreshed at most TTL seconds after a
change made by another process (`vecinos neighbors accept/remove`, which
also SIGHUPs the node: its reconcile refreshes the cache at once), and at
once after a change made here. It also knows which rooms are region rooms
(DATA/matrix/regions.json), re-read with the neighbours.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from nacl.signing import VerifyKey
from signedjson.key import decode_verify_key_base64

from federation.regions import load_regions
from node.outcome import Neighbour
from node.service import Node

TTL = 10.0


def pinned_key(n: Neighbour) -> VerifyKey | None:
    """The neighbour's pinned Ed25519 key, or None if the stored one is unusable."""
    try:
        alg, version = n.key_id.split(":", 1)
        return decode_verify_key_base64(alg, version, n.verify_key)
    except Exception:
        return None


@dataclass(frozen=True)
class Neighbourhood:
    """The pinned neighbours, by room: a pairwise room has one, a region room several."""

    neighbours: tuple[Neighbour, ...] = ()
    in_room: Mapping[str, tuple[Neighbour, ...]] = field(default_factory=dict)
    # (room id, bot's Matrix ID) -> the neighbour whose bot that is, pinned in that room
    by_room_sender: Mapping[tuple[str, str], Neighbour] = field(default_factory=dict)
    keys: Mapping[str, VerifyKey] = field(default_factory=dict)  # chapter id -> pinned key
    regional: frozenset[str] = frozenset()  # the rooms of regions (federation.regions)

    @classmethod
    def of(
        cls, neighbours: list[Neighbour], regional: frozenset[str] = frozenset()
    ) -> Neighbourhood:
        keys = {}
        for n in neighbours:
            key = pinned_key(n)
            if key is not None:
                keys[n.chapter_id] = key
        in_room: dict[str, list[Neighbour]] = {}
        for n in neighbours:
            if n.room_id:
                in_room.setdefault(n.room_id, []).append(n)
        return cls(
            tuple(neighbours),
            {room: tuple(members) for room, members in in_room.items()},
            {(n.room_id, n.bot_user_id): n for n in neighbours if n.room_id},
            keys,
            regional,
        )


class NeighbourCache:
    def __init__(self, node: Node, ttl: float = TTL) -> None:
        self.node = node
        self.ttl = ttl
        self._value: Neighbourhood | None = None
        self._read_at = 0.0

    async def get(self) -> Neighbourhood:
        if self._value is None or time.monotonic() - self._read_at > self.ttl:
            self._read_at = time.monotonic()
            regions = load_regions(self.node.matrix_settings().data_dir)
            self._value = Neighbourhood.of(
                await self.node.neighbours(), frozenset(r.room_id for r in regions if r.room_id)
            )
        return self._value

    def invalidate(self) -> None:
        self._value = None
