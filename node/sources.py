"""Who sent what, kept in memory only and only as long as it is needed.

- SourceKeys turns a source (an address, a Matrix ID) into keyed hashes:
  HMAC-SHA256 with random keys that exist only in this process and rotate
  daily. The previous key is kept for one corroboration window after a
  rotation so that a source is still recognised across midnight.
- RateLimiter counts accepted submissions per source in a sliding window,
  with a hard bound on how many sources it remembers (a flood of distinct
  sources evicts the oldest, it never grows memory without bound). Only what
  intake accepted is counted (a refused or invalid submission neither counts
  nor learns anything), and a refusal always says "retry after the whole
  window": a value that depended on the oldest hit would date another
  reporter's report on a shared address.
- Tickets (shared sources: a Tor onion service, a big NAT, where one address
  is many reporters): beyond its bucket a source may still send, one
  submission per ticket. A refusal hands out a ticket; it is redeemed with a
  proof of work (a nonce such that SHA-256(ticket ":" nonce) starts with
  `bits` zero bits; the form's JavaScript solves it in about a second) or,
  without JavaScript, by sending again once the ticket is `wait_s` old. Both
  double every `step` tickets the source redeemed within the window, so a
  flooder pays exponentially while a reporter behind the same address always
  gets through (see docs/web.md, "Shared addresses").
- RecentMemory keeps, per recent report id, its source hashes, the text
  fingerprint of its description and when it arrived (to the second, memory
  only), for the same-source, near-duplicate and burst rules.

Rule: nothing in this file is ever written to disk or logged.
"""

from __future__ import annotations

import hmac
import math
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


@dataclass(frozen=True)
class Ticket:
    """What a source beyond its bucket is told: a ticket and how to redeem it."""

    token: str
    bits: int  # a proof of work of this many leading zero bits redeems it at once
    wait_s: int  # ... or, without one, sending again once it is this old


@dataclass(frozen=True)
class TicketRules:
    """How shared sources get beyond their bucket ([intake] ticket_*)."""

    bits: int = 16  # about 65,000 SHA-256: a second of a phone's JavaScript
    wait_s: int = 60  # without JavaScript: send again after a minute
    step: int = 5  # both double every `step` tickets a source redeemed in the window
    max_bits: int = 26  # past this the wait alone counts (a phone would take minutes)
    max_tickets: int = 50_000  # tickets outstanding at once (oldest forgotten first)


@dataclass
class _Issued:
    source: bytes
    issued: datetime
    used: bool = False


def leading_zero_bits(digest: bytes) -> int:
    value = int.from_bytes(digest, "big")
    return len(digest) * 8 - value.bit_length()


def proof_bits(token: str, nonce: str) -> int:
    """The leading zero bits of SHA-256(token ":" nonce): the work a nonce proves."""
    return leading_zero_bits(sha256(f"{token}:{nonce}".encode()).digest())


class RateLimiter:
    """At most `limit` accepted hits per `window` per source, plus one per redeemed ticket;
    remembers at most `max_sources` sources (and `rules.max_tickets` tickets)."""

    def __init__(
        self,
        limit: int,
        window: timedelta,
        max_sources: int,
        rules: TicketRules | None = None,
    ) -> None:
        self.limit = limit
        self.window = window
        self.max_sources = max_sources
        self.rules = rules or TicketRules()
        self._hits: OrderedDict[bytes, deque[datetime]] = OrderedDict()
        self._redeemed: OrderedDict[bytes, deque[datetime]] = OrderedDict()
        self._tickets: OrderedDict[str, _Issued] = OrderedDict()

    @property
    def retry_after_s(self) -> int:
        """What every refusal says: the whole window, never a time that dates a hit."""
        return math.ceil(self.window.total_seconds())

    def _recent(
        self, table: OrderedDict[bytes, deque[datetime]], tag: bytes, now: datetime
    ) -> deque[datetime]:
        found = table.get(tag)
        if found is None:
            found = table[tag] = deque()
            while len(table) > self.max_sources:
                table.popitem(last=False)
        else:
            table.move_to_end(tag)
        while found and now - found[0] >= self.window:
            found.popleft()
        return found

    def cost(self, tag: bytes, now: datetime) -> tuple[int, int]:
        """(bits, wait_s) a ticket of this source needs now."""
        doublings = len(self._recent(self._redeemed, tag, now)) // self.rules.step
        bits = self.rules.bits + doublings
        wait = self.rules.wait_s * 2**doublings
        return (bits if bits <= self.rules.max_bits else 0), wait

    def hit(self, tag: bytes, now: datetime) -> int:
        """Record an accepted hit; 0 when allowed, else the seconds to wait (the window)."""
        hits = self._recent(self._hits, tag, now)
        if len(hits) >= self.limit:
            return self.retry_after_s
        hits.append(now)
        return 0

    def release(self, tag: bytes, now: datetime) -> None:
        """Take back the latest hit (what it was for was not stored after all)."""
        hits = self._hits.get(tag)
        if hits:
            hits.pop()

    def ticket(self, tag: bytes, now: datetime) -> Ticket:
        """A new ticket for a source past its bucket."""
        token = secrets.token_urlsafe(18)
        self._tickets[token] = _Issued(tag, now)
        while len(self._tickets) > self.rules.max_tickets:
            self._tickets.popitem(last=False)
        bits, wait = self.cost(tag, now)
        return Ticket(token, bits, wait)

    def redeem(self, tag: bytes, proof: str, now: datetime) -> bool:
        """Whether `proof` ("ticket" or "ticket:nonce") lets this source past its bucket now.

        A ticket is the source's own, used once, no older than two windows, and
        either aged `wait_s` or carries a nonce of `bits` of work (at today's
        cost). Redeeming counts towards the doubling; take it back with
        unredeem() when the submission is not stored.
        """
        token, _, nonce = proof.partition(":")
        issued = self._tickets.get(token)
        if issued is None or issued.used or issued.source != tag:
            return False
        age = now - issued.issued
        if age > 2 * self.window:
            return False
        bits, wait = self.cost(tag, now)
        worked = bool(nonce) and bits > 0 and len(nonce) <= 64 and proof_bits(token, nonce) >= bits
        if not worked and age < timedelta(seconds=wait):
            return False
        issued.used = True
        self._recent(self._redeemed, tag, now).append(now)
        return True

    def unredeem(self, tag: bytes, proof: str, now: datetime) -> None:
        issued = self._tickets.get(proof.partition(":")[0])
        if issued is not None and issued.source == tag and issued.used:
            issued.used = False
            redeemed = self._redeemed.get(tag)
            if redeemed:
                redeemed.pop()

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
