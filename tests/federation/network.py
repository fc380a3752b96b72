"""Helpers for the chapter-network tests: real nodes with their federation on a real Synapse.

A Site is one chapter: a data dir made by init_chapter, its bot set up with
`vecinos matrix setup`'s own code (shared-secret registration, member and
responders rooms), its Node (the tests' Clock) and its ChapterFederation.
Neighbours are connected with the token exchange the CLI uses. Every wait is
an awaited event (the receiver's handled events, the bot's syncs) bounded by
WAIT: nothing sleeps.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from federation.chapter import ChapterFederation
from federation.homeserver import Homeserver
from federation.neighbours import link
from federation.setup import setup_matrix
from node.outcome import Accepted, ReceivedAlert, ReportDraft, SourceRef
from node.service import Node, open_node
from node.setup import init_chapter
from scoring.model import Channel
from tests.support import pin_wire_scoring

WAIT = 30.0  # upper bound for one awaited delivery (normally well under a second)


@dataclass
class Site:
    name: str
    data: Path
    node: Node
    fed: ChapterFederation
    handled: asyncio.Queue[tuple[str, str, str, Any]] = field(default_factory=asyncio.Queue)
    sources: int = 0

    @property
    def chapter_id(self) -> str:
        return self.node.config.chapter_id

    @property
    def user_id(self) -> str:
        return self.fed.user_id

    async def close(self) -> None:
        await self.fed.stop()
        await self.node.close()

    async def wait_received(
        self, check: Callable[[list[ReceivedAlert]], bool], timeout: float = WAIT
    ) -> list[ReceivedAlert]:
        """Wait until the node's received alerts satisfy `check` (re-checked per handled event)."""

        async def until() -> list[ReceivedAlert]:
            while True:
                found = await self.node.received_alerts()
                if check(found):
                    return found
                await self.handled.get()

        return await asyncio.wait_for(until(), timeout)

    async def wait_counter(self, name: str, value: int, timeout: float = WAIT) -> dict[str, int]:
        """Wait until the node's counter `name` reaches `value` (re-checked per handled event)."""

        async def until() -> dict[str, int]:
            while True:
                counters = await self.node.counters()
                if counters.get(name, 0) >= value:
                    return counters
                await self.handled.get()

        return await asyncio.wait_for(until(), timeout)

    async def wait_handled(self, n: int, timeout: float = WAIT) -> None:
        """Wait until the receiver has handled (accepted or refused) n more events."""

        async def until() -> None:
            for _ in range(n):
                await self.handled.get()

        await asyncio.wait_for(until(), timeout)

    async def corroborate(
        self,
        clock: Any,
        area: str = "Chula Vista",
        kind: str = "raid",
        reports: int = 4,
        description: str | None = None,
    ) -> list[str]:
        """Independent web reports minutes apart: the 4th crosses the share threshold."""
        ids = []
        for _ in range(reports):
            self.sources += 1
            source = SourceRef(Channel.WEB, f"{self.name}-{self.sources}".encode())
            outcome = await self.node.submit(
                ReportDraft(type=kind, area=area, description=description), source
            )
            assert isinstance(outcome, Accepted), outcome
            ids.append(outcome.report.id)
            clock.advance(minutes=4)
        return ids


async def make_site(
    hs: Homeserver,
    base: Path,
    name: str,
    clock: Any,
    *,
    relay: bool = False,
    password: str | None = None,
    **kw: Any,
) -> Site:
    """A chapter whose bot is registered by setup, or made first and logged in by password."""
    data = base / f"{name}-{uuid.uuid4().hex[:6]}"
    init_chapter(data, f"Chapter {name}")
    pin_wire_scoring(data)
    localpart = f"bot-{data.name}"
    user = hs.user_id(localpart)
    if password is None:
        await setup_matrix(data, hs.base_url, user, registration_secret=hs.registration_secret)
    else:
        await hs.register(localpart, password)
        await setup_matrix(data, hs.base_url, user, password=password)
    node = await open_node(data, clock=clock)
    fed = ChapterFederation(node, relay=relay, **kw)
    site = Site(name, data, node, fed)
    handle = fed.bot.on_alert
    assert handle is not None

    async def observed(room_id: str, sender: str, event_type: str, content: Any) -> None:
        await handle(room_id, sender, event_type, content)  # type: ignore[misc]
        site.handled.put_nowait((room_id, sender, event_type, content))

    fed.bot.on_alert = observed
    await fed.start()
    assert fed.connected.is_set()
    return site


async def connect(x: Site, y: Site) -> str:
    """Exchange tokens both ways, let the nodes set up their room; returns its id."""
    room = await link(x.fed, y.fed, WAIT)
    for me, other in ((x, y), (y, x)):
        [n] = [n for n in await me.node.neighbours() if n.chapter_id == other.chapter_id]
        assert n.room_id == room
    return room


def send_failure_seen(site: Site) -> asyncio.Event:
    """An event set at the site's first failed send (its bot still counts as before)."""
    seen = asyncio.Event()
    counted = site.fed.bot.on_count
    assert counted is not None

    def observe(name: str, n: int) -> None:
        counted(name, n)
        if name == "send_failures":
            seen.set()

    site.fed.bot.on_count = observe
    return seen
