"""What a channel hands to intake, and what it gets back.

Every channel (web form, JSON API, member room) translates its input into a
ReportDraft and a SourceRef, calls Node.submit(), and translates the Outcome
into its own reply. Rule: nothing in a SourceRef is ever stored or logged;
intake turns it into in-memory keyed hashes at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from scoring.model import Channel


@dataclass(frozen=True)
class ReportDraft:
    """A report exactly as the channel received it, before validation."""

    type: str | None = None
    area: str | None = None
    highway: str | None = None
    description: str | None = None
    still_active: bool | None = None
    area_id: str | None = None  # a gazetteer id the reporter chose when asked "which one?"


@dataclass(frozen=True)
class SourceRef:
    """Who sent something, for the rate limit and the same-source rule only.

    identity: the client's address for the web, the Matrix ID for a member.
    It is hashed with an in-memory key and then forgotten.
    """

    channel: Channel
    identity: bytes = field(repr=False)


@dataclass(frozen=True)
class FieldError:
    """A reason a field was refused: a message id of the catalogs and its params."""

    field: str
    code: str
    params: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class PublicReport:
    """The public view of a stored report (no source, no minute, no moderator).

    `area` is "" for a place not in the gazetteer (area_known False): its text is
    never public; pages say "a place not on our list (awaiting review)".
    `confidence` and `independent_sources` are for vetted readers: public JSON
    gives the level and a coarse count (coarse_count) instead.
    """

    id: str
    type: str
    area: str
    area_known: bool
    lat: float | None
    lon: float | None
    highway: str | None
    hour: datetime
    status: str  # unverified, possible, likely, confirmed, debunked, archived
    level: str  # the score's level (or the moderator's verdict)
    confidence: float
    independent_sources: int
    age_label: str
    opacity: float
    scale: float
    still_active: bool
    active_until: datetime
    debunked: bool
    description: str | None = None  # only where the chapter's config allows it


@dataclass(frozen=True)
class PublicIncident:
    """An incident (the reports of one type in one area and time window) as the
    public sees it: a level and a coarse count, never a raw confidence, a source
    count, a description, a minute or an arrival order.

    Produced by Node.public_incidents() / Node.get_incident() (scoring.incident
    decides its stage); consumed by the public pages, the feeds and Web Push.
    `area_name` is None for a place not in the gazetteer: its free text is never
    public, and pages say "a place not on our list (awaiting review)".
    Public only once published (node.publication.Snapshot.published).
    """

    id: str
    type: str  # scoring.model.ReportType value
    area_id: str  # gazetteer id; "" for a place not on the list
    area_name: str | None
    lat: float | None  # the area's coarse centroid, None off the list
    lon: float | None
    highway: str | None
    level: str  # scoring.model.Level value, after any verdict
    stage: str  # scoring.incident stage: reported, corroborated, needs_verification, ...
    verified: bool  # a verifier or moderator confirmed it
    ended: str | None  # None while open; "gone", "expired", "debunked", "false_alarm"
    reports: str  # a coarse count of independent reports: "1", "2-3", "4-9", "10+"
    first_hour: datetime  # UTC hour of the earliest report
    last_hour: datetime  # UTC hour of the latest report or "still there"
    age_label: str  # scoring.defaults.AGE_LABELS key, true for hour precision
    opacity: float  # 0..1, fades with age
    active: bool
    active_until: datetime


@dataclass(frozen=True)
class Accepted:
    report: PublicReport
    review_reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Refused:
    """Bad input or refused content: the reporter's draft comes back to be fixed."""

    errors: tuple[FieldError, ...]
    draft: ReportDraft


@dataclass(frozen=True)
class RateLimited:
    """Over the source's rate limit: retry after the whole window, or redeem the ticket
    (node.sources: a proof of work of `bits`, or sending again once it is `wait_s` old)."""

    retry_after_s: int
    ticket: str | None = None
    bits: int = 0
    wait_s: int = 0


@dataclass(frozen=True)
class Unavailable:
    """The node could not store it (database locked, disk full): nothing was kept."""

    retry_after_s: int
    code: str = "unavailable"


Outcome = Accepted | Refused | RateLimited | Unavailable


@dataclass(frozen=True)
class QueueItem:
    """One report in the moderators' review queue."""

    report: PublicReport
    reasons: tuple[str, ...]
    description: str | None
    priority: float
    area_text: str | None = None  # a place not in the gazetteer, as typed (moderators only)
    # The incident the report is part of (node.incident_store), when one holds it: the queue
    # lists an incident's reports together, and the page says its stage and links to it.
    incident_id: str | None = None
    incident_stage: str | None = None  # scoring.incident.Stage


@dataclass(frozen=True)
class AreaView:
    id: str
    name: str
    aliases: tuple[str, ...]
    lat: float
    lon: float


# -- between chapters (federation/ uses these through Node) -----------------


@dataclass(frozen=True)
class OutgoingAlert:
    """An outbox row: one seq of one of this chapter's alerts, waiting to be sent.

    body: kind (alert, update, withdrawal), type, area, lat, lon, highway,
    hour and expires (ISO 8601, whole hours, UTC), level, confidence,
    reports, still_active, chapter, alert_id, seq. Never a description.
    """

    outbox_id: int
    alert_id: str
    seq: int
    body: dict[str, object]


@dataclass(frozen=True)
class Neighbour:
    """A neighbouring chapter whose alerts this node accepts, and where to reach it."""

    chapter_id: str
    bot_user_id: str
    key_id: str  # e.g. "ed25519:a1b2c3d4"
    verify_key: str  # unpadded base64 of the Ed25519 public key, pinned at accept time
    fingerprint: str
    room_id: str  # the federation room shared with it
    share_threshold: float  # the lowest confidence this neighbour is sent


@dataclass(frozen=True)
class ReceivedAlert:
    """A neighbour's alert as accepted (verified) by federation; shown, never evidence."""

    chapter: str  # the origin chapter
    alert_id: str
    seq: int
    relayed_by: str | None
    type: str
    area: str
    lat: float | None
    lon: float | None
    highway: str | None
    hour: datetime
    level: str
    confidence: float
    reports: int
    still_active: bool
    expires: datetime


@dataclass(frozen=True)
class PublicAlert:
    """One of the chapter's own alerts as the public feeds show it: an aggregate of a
    gazetteer area at the chapter's sharing level, or its end. No count of sources."""

    alert_id: str
    type: str
    area_id: str
    area_name: str
    highway: str | None
    level: str
    hour: datetime  # UTC hour of the earliest report
    expires: datetime
    ended: bool
    incident_id: str | None = None


COARSE_COUNTS: tuple[tuple[int, str], ...] = ((10, "10+"), (4, "4-9"), (2, "2-3"), (0, "1"))


def coarse_count(n: int) -> str:
    """A count as the public sees it: "1", "2-3", "4-9" or "10+" (PublicIncident.reports)."""
    return next(label for floor, label in COARSE_COUNTS if n >= floor)


@dataclass(frozen=True)
class MatrixSettings:
    """What federation/ reads of the chapter's config, as plain values (Node.matrix_settings):
    federation never opens vecinos.toml itself."""

    data_dir: Path  # the chapter's DATA: federation keeps its own files in DATA/matrix
    chapter_id: str
    homeserver: str  # "" while Matrix is off
    user_id: str
    relay: bool
    share_threshold: float
    retention_ms: int  # the node's retention of unverified reports, for the rooms
    redact_member_messages: bool
    moderator_level: int
    moderators: tuple[str, ...]  # responder_moderators
    responders: tuple[str, ...]
    verifier_level: int
    verifiers: tuple[str, ...]
