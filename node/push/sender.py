"""The Web Push fan-out: each queued alert change to the subscribers of its area.

Rules kept here:
- Drains node.push_queue (written in the transaction of the alert change,
  so a crash loses nothing queued); a row goes once its fan-out is done.
  Delivery is at most once per subscriber and change: a push service that
  fails twice is given up on (the next change will try again).
- Who gets a push is decided here, in the node's process; encrypting a
  payload per subscriber (RFC 8291, aes128gcm) and the requests are done by
  a child process (node.push.worker), so thousands of them never hold up the
  event loop that serves reporters.
- Requests go only to allowed push services (node.push.endpoints), with no
  redirects, VAPID (RFC 8292), TTL (until the alert expires: a late push
  would mislead), Urgency (high for raids and checkpoints) and a Topic (the
  alert id: an undelivered older push about it is replaced).
- 404/410 from the push service: the subscription is gone; it is deleted.
- A subscriber gets at most `max_per_hour` alert pushes an hour (memory
  only); an all-clear goes to those who were pushed the alert (after a
  restart, which forgets them, to every subscriber of the area).
- Logs hold counts only: never an endpoint, a key or a payload.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import sys
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from node.push.endpoints import PushHosts
from node.push.keys import PushKeys
from node.push.messages import ALL_CLEAR, Change, payload, push_kind
from node.push.subscriptions import Subscription

log = logging.getLogger("vecinos.push")

MAX_TTL = timedelta(hours=24)
MIN_TTL = timedelta(minutes=5)
ALL_CLEAR_TTL = timedelta(hours=6)
URGENT_TYPES = frozenset({"raid", "checkpoint"})
JOB_LIMIT = 64 * 1024 * 1024  # one result line can be long (the ids of gone subscriptions)


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
        concurrency: int = 32,
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
        self._worker: asyncio.subprocess.Process | None = None
        self.done = 0  # changes handled (tests await it)
        self._done = asyncio.Condition()

    async def close(self) -> None:
        """Stop the worker process (it ends when its stdin closes)."""
        worker, self._worker = self._worker, None
        if worker is None:
            return
        if worker.stdin is not None:
            worker.stdin.close()
        try:
            await asyncio.wait_for(worker.wait(), 5)
        except TimeoutError:
            worker.kill()
            await worker.wait()

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
                    await self.close()  # a fresh worker for the next one
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
        langs = {s.lang for s in recipients}
        job = {
            "vapid_pem": str(self.keys.vapid_path),
            "contact": self.keys.contact,
            "allow_hosts": [f"{host}:{port}" for host, port in sorted(self.hosts.extra)],
            "headers": self._headers(change, kind, now),
            "payloads": {
                lang: base64.b64encode(payload(change, kind, lang, now)).decode() for lang in langs
            },
            "concurrency": self.concurrency,
            "timeout": self.timeout,
            "retry_delay": self.retry_delay,
            "subscriptions": [
                {
                    "id": s.id,
                    "endpoint": s.endpoint,
                    "p256dh": s.p256dh,
                    "auth": s.auth,
                    "lang": s.lang,
                }
                for s in recipients
            ],
        }
        answer = await self._ask_worker(job)
        if answer.get("error"):
            result.failed = len(recipients)
            return result
        result.sent, result.failed = int(answer["sent"]), int(answer["failed"])
        result.gone = len(answer["gone"])
        if answer["gone"]:
            await self.node.drop_push_subscriptions(list(answer["gone"]))
        return result

    async def _ask_worker(self, job: dict[str, Any]) -> dict[str, Any]:
        if self._worker is None or self._worker.returncode is not None:
            self._worker = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "node.push.worker",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                limit=JOB_LIMIT,
            )
        worker = self._worker
        assert worker.stdin is not None and worker.stdout is not None
        worker.stdin.write(json.dumps(job).encode() + b"\n")
        await worker.stdin.drain()
        line = await worker.stdout.readline()
        if not line:
            raise RuntimeError("the push worker stopped")
        return json.loads(line)

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
