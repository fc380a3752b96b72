"""Helpers for the federation tests: chapters (bot + signing key + inbox) and rooms.

Imported by conftest.py and the test modules (tests/federation is on sys.path
under pytest's default import mode). MEASURED collects figures that
conftest.py prints in the terminal summary.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from signedjson.key import generate_signing_key, get_verify_key

from federation.bot import ChapterBot
from federation.homeserver import Homeserver

PASSWORD = "correct horse battery staple"
WAIT = 20.0  # upper bound for any single awaited delivery (normally ~50 ms)

MEASURED: dict[str, str] = {}


def run_blocking(fn: Callable[[], Awaitable[Any]]) -> Any:
    """Run a coroutine to completion in a fresh loop on a worker thread.

    Session-scoped fixtures use it so they never touch the event loops that
    pytest-asyncio gives each test.
    """
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(fn())).result()


@dataclass
class Received:
    room_id: str
    sender: str
    event_type: str
    content: dict[str, Any]
    at: float  # time.perf_counter() when the callback ran


@dataclass
class Chapter:
    """A test chapter: its bot, signing key and an inbox fed by on_alert."""

    name: str
    bot: ChapterBot
    data_dir: Path
    signing_key: Any = field(default_factory=lambda: generate_signing_key("1"))
    inbox: asyncio.Queue[Received] = field(default_factory=asyncio.Queue)

    @property
    def verify_key(self) -> Any:
        return get_verify_key(self.signing_key)

    def on_alert(self, room_id: str, sender: str, event_type: str, content: dict) -> None:
        self.inbox.put_nowait(Received(room_id, sender, event_type, content, time.perf_counter()))

    async def next_alert(self, timeout: float = WAIT) -> Received:
        return await asyncio.wait_for(self.inbox.get(), timeout)

    def new_bot(self, hs: Homeserver, **kw: Any) -> ChapterBot:
        """A fresh bot object on the same data dir (a restart)."""
        return ChapterBot(
            hs.base_url,
            self.bot.user_id,
            self.data_dir,
            on_alert=self.on_alert,
            **kw,
        )


async def make_chapter(hs: Homeserver, base: Path, name: str, **kw: Any) -> Chapter:
    """Register a fresh account, log its bot in with the registration token, start it."""
    localpart = f"{name}-{uuid.uuid4().hex[:8]}"
    reg = await hs.register(localpart, PASSWORD)
    data_dir = base / localpart
    ch = Chapter(name, ChapterBot(hs.base_url, reg.user_id, data_dir), data_dir)
    ch.bot.on_alert = ch.on_alert
    for k, v in kw.items():
        setattr(ch.bot, k, v)
    await ch.bot.login(access_token=reg.access_token, device_id=reg.device_id)
    await ch.bot.start()
    return ch


@dataclass
class Pair:
    a: Chapter
    b: Chapter
    room_id: str
    room_name: str


async def make_pair(hs: Homeserver, base: Path) -> Pair:
    """Two chapters on one homeserver, both joined to a new encrypted room."""
    a = await make_chapter(hs, base, "north")
    b = await make_chapter(hs, base, "south")
    room_name = f"room-{uuid.uuid4().hex}"
    room_id = await a.bot.create_room(
        name=room_name, topic="", invite=[b.bot.user_id], retention_ms=7 * 86_400_000
    )
    assert b.bot.client is not None
    client = b.bot.client
    await b.bot.wait_until(lambda: room_id in client.invited_rooms, WAIT)
    await b.bot.join(room_id)
    await a.bot.wait_for_member(room_id, b.bot.user_id, WAIT)
    return Pair(a, b, room_id, room_name)
