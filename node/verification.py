"""Verifier dispatch: who goes to look at a notice that needs verification, and their answer.

A local responder notice of a type in [responders] verify_types whose
incident needs verification (anonymous evidence only, or one member's word:
scoring.incident) opens as "needs verification" (node.responders calls
open_request in the same transaction). A verifier claims it (with an
ETA), goes, and answers: confirmed (the undecided reports of the notice's
incident are confirmed, as a moderator's confirm: the alert is shared as verified), false
alarm (they are debunked) or unable (offered again at once; the incident's
stage becomes "unable": node.incident_store keeps the verifier_unable flag,
scoring.incident decides). Unclaimed
requests are offered again every [responders] offer_minutes, claims not
answered by their ETA plus [responders] claim_minutes are dropped and offered
again; Node.check_responders runs that check with the time passed in.

Rules kept here:
- At rest (VerificationRow) a request has a state and nothing else: no
  claimer, no Matrix ID, no minute. The claim lives in memory only (Desk): an
  opaque random token per claim and a keyed hash of the claimer (HMAC with a
  key made at start, never written), so the claimer can answer or let go
  without their ID being kept; after a restart every claim is gone and the
  request is offered again (fail safe).
- Time to verification (claim to answer) is kept in memory only, as minutes,
  for the bench (Node.verification_times); at rest only counters of answers.
- A verifier's words ("false alarm: it was a tow truck") are never stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlmodel import Session, col, select

from node.store import ResponderNotice, VerificationRow

MAX_ETA_MINUTES = 240  # an ETA beyond this is read as this
OPENED = "vecinos_verification_opened"  # session.info: requests opened in this transaction
MAX_OFFERS = 12  # an unclaimed request is offered again at most this many times


class Answer(StrEnum):
    CONFIRMED = "confirmed"
    FALSE_ALARM = "false_alarm"
    UNABLE = "unable"


def open_request(session: Session, notice: ResponderNotice) -> None:
    """The notice needs a verifier (called as it opens; offered with its opening, which
    the node notes in its Desk after the commit: session.info[OPENED])."""
    if session.get(VerificationRow, notice.notice_id) is None:
        session.add(VerificationRow(notice_id=notice.notice_id))
        session.info.setdefault(OPENED, []).append(notice.notice_id)


def close_request(session: Session, notice_id: str, state: str = "closed") -> bool:
    """No verifier needed any more (its notice closed, or answered). False: none was open."""
    row = session.get(VerificationRow, notice_id)
    if row is None or row.state != "open":
        return False
    row.state = state
    session.add(row)
    return True


def open_requests(session: Session) -> list[ResponderNotice]:
    """The open notices waiting for a verifier, most serious kinds first, then by area."""
    rows = session.exec(
        select(ResponderNotice)
        .join(VerificationRow, col(VerificationRow.notice_id) == col(ResponderNotice.notice_id))
        .where(VerificationRow.state == "open", col(ResponderNotice.closed).is_(False))
    ).all()
    return sorted(rows, key=lambda n: (n.type, n.area_name, n.notice_id))


@dataclass(frozen=True)
class Claim:
    token: str  # opaque, random per claim: what the moderation page acts on
    who: bytes  # keyed hash of the claimer (memory only)
    eta: int | None  # minutes, as the verifier said
    since: datetime  # memory only
    deadline: datetime


@dataclass(frozen=True)
class ClaimResult:
    claim: Claim
    taken: bool  # someone else holds it: this claim was refused


class Desk:
    """The claims in memory (thread-safe: the bot, the pages and the scheduler share it)."""

    def __init__(self, offer_every: timedelta, claim_grace: timedelta) -> None:
        self.offer_every = offer_every
        self.claim_grace = claim_grace
        self._key = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._claims: dict[str, Claim] = {}
        self._offered: dict[str, tuple[datetime, int]] = {}  # last offer, offers so far
        self._times: list[timedelta] = []

    def who(self, claimer: str) -> bytes:
        return hmac.new(self._key, claimer.encode(), hashlib.sha256).digest()

    def claim(self, notice_id: str, claimer: str, eta: int | None, now: datetime) -> ClaimResult:
        """Claim a request; a second claimer is refused while the first holds it (the same
        claimer again renews it with the new ETA)."""
        who = self.who(claimer)
        with self._lock:
            held = self._claims.get(notice_id)
            if held is not None and held.who != who and now <= held.deadline:
                return ClaimResult(held, taken=True)
            minutes = None if eta is None else max(0, min(eta, MAX_ETA_MINUTES))
            claim = Claim(
                secrets.token_urlsafe(9),
                who,
                minutes,
                now,
                now + timedelta(minutes=minutes or 0) + self.claim_grace,
            )
            self._claims[notice_id] = claim
            return ClaimResult(claim, taken=False)

    def holder(self, notice_id: str) -> Claim | None:
        with self._lock:
            return self._claims.get(notice_id)

    def may_answer(self, notice_id: str, claimer: str) -> bool:
        """The claimer, or anyone while it is unclaimed."""
        held = self.holder(notice_id)
        return held is None or hmac.compare_digest(held.who, self.who(claimer))

    def release(self, notice_id: str) -> Claim | None:
        """Drop the claim (unable, or a moderator's hand); the request is offered again."""
        with self._lock:
            self._offered.pop(notice_id, None)
            return self._claims.pop(notice_id, None)

    def answered(self, notice_id: str, now: datetime) -> timedelta | None:
        """The request is answered: its claim goes; claim-to-answer time, if it was claimed."""
        with self._lock:
            claim = self._claims.pop(notice_id, None)
            self._offered.pop(notice_id, None)
            if claim is None:
                return None
            taken = max(now - claim.since, timedelta(0))
            self._times.append(taken)
            return taken

    def offered(self, notice_id: str, now: datetime) -> None:
        with self._lock:
            _, count = self._offered.get(notice_id, (now, 0))
            self._offered[notice_id] = (now, count + 1)

    def due(self, open_ids: set[str], now: datetime) -> list[str]:
        """Requests to offer again now: claims past their deadline (dropped) and unclaimed
        requests offered offer_every ago or more (a request this desk has not seen, after a
        restart, counts as offered now). Forgets what is no longer open."""
        found = []
        with self._lock:
            for gone in set(self._claims) - open_ids:
                del self._claims[gone]
            for gone in set(self._offered) - open_ids:
                del self._offered[gone]
            for notice_id in sorted(open_ids):
                claim = self._claims.get(notice_id)
                if claim is not None:
                    if now > claim.deadline:
                        del self._claims[notice_id]
                        found.append(notice_id)
                    continue
                last, count = self._offered.setdefault(notice_id, (now, 1))
                if now - last >= self.offer_every and count <= MAX_OFFERS:
                    found.append(notice_id)
        return found

    def times(self) -> tuple[timedelta, ...]:
        with self._lock:
            return tuple(self._times)


class Outcome(StrEnum):
    DONE = "done"
    NOT_OPEN = "not_open"  # no such request, or already answered / closed
    NOT_YOURS = "not_yours"  # someone else holds the claim


@dataclass(frozen=True)
class Request:
    """An open verification request as the room's commands and the moderation page see it."""

    notice_id: str
    type: str
    area: str
    highway: str | None
    hour: datetime
    level: str
    reports: int
    claimed: bool
    eta: int | None
    claimed_since: datetime | None  # memory only, for "claimed N min ago"
    token: str | None  # the claim's opaque token


def request_of(session: Session, notice_id: str) -> ResponderNotice | None:
    """The open notice of an open request with this id (or None)."""
    row = session.get(VerificationRow, notice_id)
    notice = session.get(ResponderNotice, notice_id)
    if row is None or row.state != "open" or notice is None or notice.closed:
        return None
    return notice


def request_by_root(session: Session, event_id: str) -> str | None:
    """The open request whose notice's thread starts at this Matrix event."""
    notice = session.exec(
        select(ResponderNotice).where(
            ResponderNotice.root_event_id == event_id, col(ResponderNotice.closed).is_(False)
        )
    ).first()
    if notice is None or request_of(session, notice.notice_id) is None:
        return None
    return notice.notice_id
