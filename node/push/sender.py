"""The Web Push fan-out: each queued alert change to the subscribers of its area.

Rules kept here:
- Drains node.push_queue (written in the transaction of the alert change,
  so a crash loses nothing queued); a row goes once its fan-out is done.
  Delivery is at most once per subscriber and change: a push service that
  fails twice is given up on (the next change will try again).
- Payloads are encrypted per subscriber (RFC 8291, aes128gcm, pywebpush's
  WebPusher.encode) in a worker thread, a chunk at a time, so the event
  loop that serves reporters never waits for 10,000 encryptions.
- Requests go only to allowed push services (node.push.endpoints), with no
  redirects, a timeout, VAPID (RFC 8292), TTL (until the alert expires: a
  late push would mislead), Urgency (high for raids and checkpoints) and a
  Topic (the alert id: an undelivered older push about it is replaced).
- 404/410 from the push service: the subscription is gone; it is deleted.
- A subscriber gets at most `max_per_hour` alert pushes an hour (memory
  only); an all-clear goes to those who were pushed the alert (after a
  restart, which forgets them, to every subscriber of the area).
- Logs hold counts only: never an endpoint, a key or a payload.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from pywebpush import WebPusher

from node.push.endpoints import PublicOnlyResolver, PushHosts
from node.push.keys import PushKeys
from node.push.messages import ALL_CLEAR, Change, payload, push_kind
from node.push.subscriptions import Subscription

log = logging.getLogger("vecinos.push")

ENCRYPT_CHUNK = 250  # subscribers encrypted per worker-thread call
MAX_TTL = timedelta(hours=24)
MIN_TTL = timedelta(minutes=5)
ALL_CLEAR_TTL = timedelta(hours=6)
URGENT_TYPES = frozenset({"raid", "checkpoint"})
RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})
GONE = frozenset({404, 410})


@dataclass
class FanOut:
    """What one change's fan-out did (counts only)."""

    kind: str | None = None
    sent: int = 0
    gone: int = 0  # subscriptions the push service no longer knows: deleted
    failed: int = 0
    limited: int = 0  # skipped: the subscriber had max_per_hour pushes this hour


@dataclass
class _Pushed:
    level: str
    to: set[str] = field(default_factory=set)


class PushSender:
    """run() until cancelled; fan_out() one change (tests and the bench call it)."""

    def __init__(
        self,
        node: Any,  # node.service.Node (typed loosely: it imports this module's package)
        keys: PushKeys,
        hosts: PushHosts,
        *,
        max_per_hour: int = 6,
        concurrency: int = 64,
        timeout: float = 10.0,
        retry_delay: float = 2.0,
    ) -> None:
        self.node = node
        self.keys = keys
        self.hosts = hosts
        self.max_per_hour = max_per_hour
        self.concurrency = concurrency
        self.timeout = timeout
        self.retry_delay = retry_delay
        self._pushed: dict[str, _Pushed] = {}
        self._recent: dict[str, deque[float]] = {}
        self._session: aiohttp.ClientSession | None = None
        self.done = 0  # changes handled (tests await it)
        self._done = asyncio.Condition()

    async def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                resolver=PublicOnlyResolver(self.hosts), limit=self.concurrency, ttl_dns_cache=300
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                trust_env=False,  # never through a proxy taken from the environment
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def run(self) -> None:
        ready = self.node.push_ready
        try:
            while True:
                ready.clear()
                handled = await self.drain()
                if not handled:
                    await ready.wait()
        finally:
            await self.close()

    async def drain(self) -> int:
        """Fan out every queued change, oldest first; how many were handled."""
        handled = 0
        while True:
            rows = await self.node.pending_pushes(20)
            if not rows:
                return handled
            for row_id, change in rows:
                try:
                    result = await self.fan_out(change)
                    log.info(
                        "push %s: %d sent, %d gone, %d failed, %d limited",
                        result.kind or "none",
                        result.sent,
                        result.gone,
                        result.failed,
                        result.limited,
                    )
                except Exception as exc:  # one bad change never stops the fan-out
                    log.error("push fan-out failed: %s", type(exc).__name__)
                await self.node.push_done(row_id)
                handled += 1
                async with self._done:
                    self.done += 1
                    self._done.notify_all()

    async def wait_done(self, n: int, timeout: float) -> None:
        """Wait until `n` changes in all have been handled."""
        async with asyncio.timeout(timeout), self._done:
            await self._done.wait_for(lambda: self.done >= n)

    # -- one change -------------------------------------------------------------

    def _under_limit(self, sub_id: str, now: float) -> bool:
        times = self._recent.setdefault(sub_id, deque())
        while times and now - times[0] >= 3600:
            times.popleft()
        if len(times) >= self.max_per_hour:
            return False
        times.append(now)
        return True

    def _recipients(
        self, change: Change, kind: str, subs: Sequence[Subscription], result: FanOut
    ) -> list[Subscription]:
        matching = [s for s in subs if s.wants(change.area_id, change.type)]
        if kind == ALL_CLEAR:
            pushed = self._pushed.pop(change.alert_id, None)
            return matching if pushed is None else [s for s in matching if s.id in pushed.to]
        pushed = self._pushed.setdefault(change.alert_id, _Pushed(change.level))
        pushed.level = change.level
        now = time.monotonic()
        chosen = []
        for sub in matching:
            if self._under_limit(sub.id, now):
                chosen.append(sub)
                pushed.to.add(sub.id)
            else:
                result.limited += 1
        return chosen

    async def fan_out(self, change: Change) -> FanOut:
        pushed = self._pushed.get(change.alert_id)
        kind = push_kind(change, pushed.level if pushed else None)
        result = FanOut(kind)
        if kind is None:
            if pushed is not None:
                pushed.level = change.level
            return result
        subs = await self.node.push_subscriptions()
        recipients = self._recipients(change, kind, subs, result)
        if not recipients:
            return result
        now = self.node.clock()
        texts = {lang: payload(change, kind, lang, now) for lang in {s.lang for s in recipients}}
        headers = self._headers(change, kind, now)
        client = await self._client()
        limit = asyncio.Semaphore(self.concurrency)
        gone: list[str] = []

        async def send(sub: Subscription, body: bytes) -> None:
            async with limit:
                status = await self._post(client, sub, body, headers)
            if status is not None and status < 300:
                result.sent += 1
            elif status in GONE:
                result.gone += 1
                gone.append(sub.id)
            else:
                result.failed += 1

        for start in range(0, len(recipients), ENCRYPT_CHUNK):
            chunk = recipients[start : start + ENCRYPT_CHUNK]
            bodies = await asyncio.to_thread(_encrypt_all, chunk, texts)
            pairs = zip(chunk, bodies, strict=True)
            await asyncio.gather(*(send(sub, body) for sub, body in pairs))
        if gone:
            await self.node.drop_push_subscriptions(gone)
        return result

    def _headers(self, change: Change, kind: str, now: datetime) -> dict[str, str]:
        ttl = ALL_CLEAR_TTL if kind == ALL_CLEAR else change.expires - now
        ttl = max(MIN_TTL, min(MAX_TTL, ttl))
        urgent = kind != ALL_CLEAR and change.type in URGENT_TYPES
        return {
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "TTL": str(int(ttl.total_seconds())),
            "Urgency": "high" if urgent else "normal",
            "Topic": change.alert_id[:32],
        }

    async def _post(
        self,
        client: aiohttp.ClientSession,
        sub: Subscription,
        body: bytes,
        headers: dict[str, str],
    ) -> int | None:
        """The push service's status (after one retry of a retryable one), None: no answer."""
        parts = urlsplit(sub.endpoint)
        audience = f"{parts.scheme}://{parts.netloc}"
        status = None
        for attempt in range(2):
            auth = self.keys.authorization(audience, datetime.now(UTC))  # real time: checked
            try:
                async with client.post(
                    sub.endpoint, data=body, headers={**headers, **auth}, allow_redirects=False
                ) as response:
                    status = response.status
                    with contextlib.suppress(aiohttp.ClientError):
                        await response.read()
            except (aiohttp.ClientError, TimeoutError, OSError):
                status = None
            if status is not None and status not in RETRYABLE:
                return status
            if attempt == 0:
                await asyncio.sleep(self.retry_delay)
        return status


def _encrypt_all(subs: Sequence[Subscription], texts: dict[str, bytes]) -> list[bytes]:
    """Each subscriber's payload, encrypted to its keys (a worker thread)."""
    return [WebPusher(s.info()).encode(texts[s.lang], "aes128gcm")["body"] for s in subs]
