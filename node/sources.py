"""Who sent what, kept in memory only and only as long as it is needed.

- SourceKeys turns a source (an address, a Matrix ID) into keyed hashes:
  HMAC-SHA256 with random keys that exist only in this process and rotate
  daily. The previous key is kept for one corroboration window after a
  rotation so that a source is still recognised across midnight.
- RateLimiter counts submissions per source in a sliding window, with a hard
  bound on how many sources it remembers (a flood of distinct sources evicts
  the oldest, it never grows memory without bound).
- RecentMemory keeps, per recent report id, its source hashes, the text
  fingerprint of its description and when it arrived (to the second, memory
  only), for the same-source, near-duplicate and burst rules.

Rule: nothing in this file is ever written to disk or logged.
"""

from __future__ import annotations

import hmac
import secrets
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from hashlib import sha256

ROTATE_EVERY = timedelta(days=1)


class SourceKeys:
    def __init__(self, now: datetime, keep_previous_for: timedelta) -> None:
        self._keep_previous_for = keep_previous_for
        self._current = secrets.token_bytes(32)
        self._rotated_at = now
        self._previous: bytes | None = None

    def _rotate_if_due(self, now: datetime) -> None:
        if now - self._rotated_at >= ROTATE_EVERY:
            self._previous, self._current = self._current, secrets.token_bytes(32)
            self._rotated_at = now
        elif self._previous is not None and now - self._rotated_at > self._keep_previous_for:
            self._previous = None

    def tags(self, identity: bytes, now: datetime) -> frozenset[bytes]:
        """The source's keyed hashes under every live key (current first in .primary)."""
        self._rotate_if_due(now)
        keys = [self._current] if self._previous is None else [self._current, self._previous]
        return frozenset(hmac.new(k, identity, sha256).digest()[:16] for k in keys)

    def primary(self, identity: bytes, now: datetime) -> bytes:
        """The hash under the current key only (for the rate limiter)."""
        self._rotate_if_due(now)
        return hmac.new(self._current, identity, sha256).digest()[:16]


class RateLimiter:
    """At most `limit` hits per `window` per source; remembers at most `max_sources`."""

    def __init__(self, limit: int, window: timedelta, max_sources: int) -> None:
        self.limit = limit
        self.window = window
        self.max_sources = max_sources
        self._hits: OrderedDict[bytes, deque[datetime]] = OrderedDict()

    def hit(self, tag: bytes, now: datetime) -> int:
        """Record a hit; 0 when allowed, else the seconds until the next is allowed."""
        hits = self._hits.get(tag)
        if hits is None:
            hits = self._hits[tag] = deque()
            while len(self._hits) > self.max_sources:
                self._hits.popitem(last=False)
        else:
            self._hits.move_to_end(tag)
        while hits and now - hits[0] >= self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return max(1, int((hits[0] + self.window - now).total_seconds()) + 1)
        hits.append(now)
        return 0

    def __len__(self) -> int:
        return len(self._hits)


@dataclass
class Recent:
    sources: frozenset[bytes]
    fingerprint: frozenset[int] | None
    seen_at: datetime


class RecentMemory:
    """Per recent report: its sources, fingerprint, arrival; forgotten after `keep`."""

    def __init__(self, keep: timedelta, max_reports: int = 50_000) -> None:
        self.keep = keep
        self.max_reports = max_reports
        self._items: OrderedDict[str, Recent] = OrderedDict()
        # Who already followed a report up: also for reports whose Recent is gone.
        self._follow_ups: OrderedDict[str, tuple[datetime, set[bytes]]] = OrderedDict()

    def remember(self, report_id: str, recent: Recent) -> None:
        self._items[report_id] = recent
        while len(self._items) > self.max_reports:
            self._items.popitem(last=False)

    def get(self, report_id: str, now: datetime) -> Recent | None:
        self.forget_old(now)
        return self._items.get(report_id)

    def peek(self, report_id: str) -> Recent | None:
        """get() without forgetting first: for many lookups after one forget_old(now)."""
        return self._items.get(report_id)

    def follow_up_sources(self, report_id: str, now: datetime) -> set[bytes]:
        """The (mutable) set of sources that followed this report up so far."""
        self.forget_old(now)
        found = self._follow_ups.get(report_id)
        if found is None:
            found = self._follow_ups[report_id] = (now, set())
            while len(self._follow_ups) > self.max_reports:
                self._follow_ups.popitem(last=False)
        return found[1]

    def forget_old(self, now: datetime) -> None:
        while self._items:
            first = next(iter(self._items.values()))
            if now - first.seen_at <= self.keep:
                break
            self._items.popitem(last=False)
        while self._follow_ups:
            since, _ = next(iter(self._follow_ups.values()))
            if now - since <= self.keep:
                break
            self._follow_ups.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)
