"""Retrying Matrix sends: one backoff policy, and one loop that drains a node queue.

Used by the federation outbox (delivery.py), the responders room
(responders.py) and relays (relay.py). Rule kept here: a failure never ends
a loop. It waits, doubling the wait up to a cap, and wakes early as soon as
the bot's sync succeeds again (the homeserver is back). Logs name the
failure's class or the bot's short reason, never content.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from federation.bot import ChapterBot, SendFailed

FIRST_BACKOFF = 0.5
MAX_BACKOFF = 30.0

T = TypeVar("T")


class Backoff:
    """The wait after a failed send: doubles up to `cap`, cut short by a successful sync."""

    def __init__(self, bot: ChapterBot, first: float = FIRST_BACKOFF, cap: float = MAX_BACKOFF):
        self.bot = bot
        self.first = first
        self.cap = cap
        self.delay = first

    def reset(self) -> None:
        self.delay = self.first

    async def after(self, exc: Exception, what: str, log: logging.Logger) -> None:
        """Log the failure (SendFailed: a warning; anything else: its class) and wait."""
        if isinstance(exc, SendFailed):
            log.warning("%s failed (%s); retrying in up to %.1f s", what, exc, self.delay)
        else:  # the node's DB, most likely
            log.error("%s error: %s", what, type(exc).__name__)
        seen = self.bot.sync_count
        with contextlib.suppress(TimeoutError):
            await self.bot.wait_until(lambda: self.bot.sync_count > seen, self.delay)
        self.delay = min(self.delay * 2, self.cap)


async def drain_forever(
    ready: asyncio.Event,
    take: Callable[[], Awaitable[Sequence[T]]],
    handle: Callable[[T], Awaitable[None]],
    backoff: Backoff,
    what: str,
    log: logging.Logger,
    *,
    idle: asyncio.Event | None = None,
) -> None:
    """Handle what take() returns, oldest first; with nothing, await `ready`. Until cancelled.

    `idle`, when given, is set exactly while the queue was found empty and the
    loop waits for `ready`.
    """
    while True:
        try:
            ready.clear()
            batch = await take()
            if not batch:
                if idle is not None:
                    idle.set()
                await ready.wait()
                if idle is not None:
                    idle.clear()
                continue
            for item in batch:
                await handle(item)
            backoff.reset()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # never give up: the next pass retries what is still queued
            await backoff.after(exc, what, log)
