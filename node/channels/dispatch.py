"""Drains the responder notices queued for each text channel, with retries and backoff.

One task per channel, each reading only its own rows (node.Node.pending_notices),
oldest first: a channel that fails waits (exponential backoff, capped) and
never holds up another channel, the Matrix room or the intake. A text that
can never pass (HTTP 4xx other than 408/425/429) is dropped and counted; an
alert or update whose cluster has expired meanwhile is dropped unsent (it
would mislead), and so is the all-clear of a notice of which this channel
sent nothing (remembered while the node runs); any other all-clear is sent.
Delivery is at least once: a crash between a service's answer and the
node's note that the text went can send it again. Counters only in the
logs: never a text, a number or a token.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

import aiohttp

from node.channels.base import ChannelError
from node.responders import short_text
from node.service import Node

log = logging.getLogger("vecinos.channels")

FIRST_BACKOFF = 1.0
MAX_BACKOFF = 300.0
REQUEST_TIMEOUT = 20.0


class ChannelDispatch:
    """run() until cancelled."""

    def __init__(
        self,
        node: Node,
        channels: Sequence[Any],
        *,
        first_backoff: float = FIRST_BACKOFF,
        max_backoff: float = MAX_BACKOFF,
        timeout: float = REQUEST_TIMEOUT,
    ) -> None:
        self.node = node
        self.channels = list(channels)
        self.first_backoff = first_backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self._ready = {ch.name: node.watch_notices() for ch in self.channels}
        # channel -> notices whose every text so far was dropped unsent (their all-clear too)
        self._unsent: dict[str, set[str]] = {ch.name: set() for ch in self.channels}
        self.handled = 0  # notices sent, dropped or refused (tests await it)
        self._handled = asyncio.Condition()

    async def wait_handled(self, n: int, timeout: float) -> None:
        """Wait until `n` notices in all have been handled (sent or dropped)."""

        async def until() -> None:
            async with self._handled:
                await self._handled.wait_for(lambda: self.handled >= n)

        await asyncio.wait_for(until(), timeout)

    async def run(self) -> None:
        if not self.channels:
            return
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            await asyncio.gather(*(self._drain(http, ch) for ch in self.channels))

    async def _drain(self, http: aiohttp.ClientSession, channel: Any) -> None:
        ready = self._ready[channel.name]
        backoff = self.first_backoff
        failing = False
        while True:
            try:
                ready.clear()
                batch = await self.node.pending_notices(channel.name)
                if not batch:
                    await ready.wait()
                    continue
                for notice in batch:
                    await self._send(http, channel, notice)
                backoff = self.first_backoff
                if failing:
                    log.warning("%s: sending again", channel.name)
                failing = False
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # ChannelError(retry) or the node's DB: wait, try again
                log.log(
                    logging.DEBUG if failing else logging.WARNING,
                    "%s: not sent (%s); retrying with backoff",
                    channel.name,
                    exc if isinstance(exc, ChannelError) else type(exc).__name__,
                )
                failing = True
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(ready.wait()), backoff)
                backoff = min(backoff * 2, self.max_backoff)

    async def _send(self, http: aiohttp.ClientSession, channel: Any, notice: Any) -> None:
        now = self.node.clock()
        unsent = self._unsent[channel.name]
        if notice.kind == "all_clear":
            stale = notice.notice_id in unsent
            unsent.discard(notice.notice_id)
        else:
            stale = notice.expires <= now
            if stale and notice.kind == "new":
                unsent.add(notice.notice_id)
        if stale:
            await self.node.count(f"{channel.name}_expired_unsent")
            await self._done(notice)
            return
        node = self.node
        text = short_text(notice.body, node.default_language, now, node.public_url, node.timezone)
        try:
            await channel.send(http, text, f"{notice.notice_id}.{notice.body['seq']}")
        except ChannelError as exc:
            if exc.retry:
                raise
            log.error("%s: refused (%s); this text is dropped", channel.name, exc)
            await self.node.count(f"{channel.name}_refused")
        else:
            unsent.discard(notice.notice_id)
            await self.node.count(f"{channel.name}_sent")
        await self._done(notice)

    async def _done(self, notice: Any) -> None:
        await self.node.notice_done(notice.outbox_id)
        async with self._handled:
            self.handled += 1
            self._handled.notify_all()
