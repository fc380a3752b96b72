"""The alert wire format between chapters: build, sign, parse and verify. No I/O.

An alert is an aggregate, never a raw report and never a description. It
travels as the content of a custom timeline event (`org.vecinos.alert.v1`)
in an end-to-end encrypted room, signed by the chapter's Ed25519 key with
signedjson (a signature over canonical JSON, as Matrix signs its own
objects). A bridging chapter may wrap a neighbour's signed alert in a relay
(`org.vecinos.relay.v1`) signed with its own key.

Alert content (every field required, nothing else allowed):

    type         checkpoint | raid | vehicle | patrol
    area         coarse area name (1..80 printable characters)
    lat_e2       coarse centroid in hundredths of a degree (integers; 3256 is
    lon_e2       32.56), or both null
    highway      road name (1..32 printable characters) or null
    hour         "YYYY-MM-DDTHH:00:00Z", UTC, truncated to the hour
    level        unverified | possible | likely | confirmed | debunked
    confidence_pct  0..100 (confidence 0..1 in whole percent)
    reports      number of independent reports, 0..100000
    still_active bool
    expires      "YYYY-MM-DDTHH:MM:SSZ", UTC; `build_alert` rounds it up to the
                 hour so it never reveals the minute of a report
    chapter      the sender's chapter id (also the signature's name)
    alert_id     8..64 characters [A-Za-z0-9_-], stable across updates
    seq          0..2**53-1; an update or withdrawal of an alert has a higher seq
    signatures   {chapter: {"ed25519:<version>": base64}} (signedjson)

Relay content: {relayer, hop, origin, origin_key, signatures}, where origin is
the origin chapter's signed alert, unchanged, and origin_key is
{"key_id", "key"}: the origin's public key as the relayer pinned it.

Trust for relays (decided here): the receiver trusts its neighbours only.
A relay is accepted when the relayer is a pinned neighbour and its
signature over the whole relay verifies; the origin alert must then verify
with the origin's key. If the receiver has pinned the origin chapter
itself, that pinned key is used and a different carried key is refused
(`key_mismatch`); otherwise the key carried in the relay is used, because
the relayer vouched for it by signing the relay. Trust is thus transitive
exactly once, matching the hop limit of 1. Receivers de-duplicate by
(origin chapter, alert_id, seq) in one seen store shared by direct alerts
and relays, so the same evidence is never counted twice.

A catch-up request (`org.vecinos.catch_up.v1`, content exactly
{"chapter": the asking chapter's id}) asks the chapters of the room it is
sent in for their active alerts: a receiver sends it when it sees a gap in
an alert's seqs. It carries no signature and nothing else: the receiver
of it checks the Matrix sender against the chapter pinned for that bot in
that room, and answers at most once per room per few minutes.

No floats on the wire: Matrix canonical JSON has none (Synapse refuses
them in plain events), and their text differs between JSON libraries
(1.0 vs 1), which would break signatures across implementations. So the
wire carries integers; `Alert` gives lat, lon and confidence back as floats.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from canonicaljson import encode_canonical_json
from nacl.signing import SigningKey, VerifyKey
from signedjson.key import decode_verify_key_base64, encode_verify_key_base64
from signedjson.sign import SignatureVerifyException, sign_json, verify_signed_json

from scoring.model import Level, ReportType

__all__ = [
    "ALERT_EVENT_TYPE",
    "ALERT_LEVELS",
    "CATCH_UP_EVENT_TYPE",
    "CLOCK_SKEW",
    "MAX_ALERT_BYTES",
    "MAX_HOPS",
    "MAX_LIFETIME",
    "MAX_RELAY_BYTES",
    "RELAY_EVENT_TYPE",
    "Accepted",
    "Alert",
    "MemorySeenStore",
    "NeighbourInvite",
    "RejectReason",
    "Rejected",
    "SeenStore",
    "Verdict",
    "build_alert",
    "build_catch_up_request",
    "build_relay",
    "canonical_size",
    "key_fingerprint",
    "key_id",
    "make_invite_token",
    "new_alert_id",
    "parse_catch_up_request",
    "parse_invite_token",
    "readable_fingerprint",
    "verify_alert",
    "verify_event",
    "verify_relay",
]

ALERT_EVENT_TYPE = "org.vecinos.alert.v1"
RELAY_EVENT_TYPE = "org.vecinos.relay.v1"
CATCH_UP_EVENT_TYPE = "org.vecinos.catch_up.v1"

MAX_ALERT_BYTES = 4096  # canonical JSON size of an alert, signatures included
MAX_RELAY_BYTES = 8192  # a relay carries one alert plus its envelope
CLOCK_SKEW = timedelta(minutes=5)
MAX_LIFETIME = timedelta(days=7)  # expires - hour
MAX_HOPS = 1
MAX_REPORTS = 100_000
MAX_SEQ = 2**53 - 1

DEBUNKED = "debunked"
ALERT_LEVELS: frozenset[str] = frozenset({*(lv.value for lv in Level), DEBUNKED})
_TYPES: frozenset[str] = frozenset(t.value for t in ReportType)

_ALERT_FIELDS = frozenset(
    {
        "type",
        "area",
        "lat_e2",
        "lon_e2",
        "highway",
        "hour",
        "level",
        "confidence_pct",
        "reports",
        "still_active",
        "expires",
        "chapter",
        "alert_id",
        "seq",
        "signatures",
    }
)
_RELAY_FIELDS = frozenset({"relayer", "hop", "origin", "origin_key", "signatures"})

# A chapter id as the wire (and region tokens) accept it.
CHAPTER_ID = re.compile(r"[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?")
_ALERT_ID_RE = re.compile(r"[A-Za-z0-9_-]{8,64}")
_KEY_ID_RE = re.compile(r"ed25519:[A-Za-z0-9_]{1,32}")
_SIG_RE = re.compile(r"[A-Za-z0-9+/]{86}={0,2}")
_KEY_B64_RE = re.compile(r"[A-Za-z0-9+/]{43}=?")
_ISO_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
_MXID_RE = re.compile(r"@[a-z0-9._=/+-]{1,200}:[A-Za-z0-9.:\[\]-]{1,250}")
_TOKEN_PREFIX = "vecinos-neighbour-v1."
_TOKEN_FIELDS = frozenset({"chapter", "bot", "key_id", "key", "fingerprint"})


class RejectReason(StrEnum):
    """Why a received alert or relay was dropped (counted, never raised)."""

    MALFORMED = "malformed"  # not a dict, wrong types, missing or unknown fields
    OVERSIZED = "oversized"  # canonical JSON over the size limit
    NOT_NEIGHBOUR = "not_neighbour"  # sender (or relayer) is not a pinned neighbour
    BAD_SIGNATURE = "bad_signature"  # signature missing, forged, or by another key
    EXPIRED = "expired"
    FROM_FUTURE = "from_future"  # hour later than now + clock skew
    REPLAYED = "replayed"  # (chapter, alert_id) already seen with seq >= this one
    # relay-specific
    HOP_LIMIT = "hop_limit"  # hop > MAX_HOPS
    RELAY_LOOP = "relay_loop"  # a chapter relaying its own alert
    OWN_ALERT = "own_alert"  # our own alert coming back through a relay
    KEY_MISMATCH = "key_mismatch"  # carried origin key differs from the one we pinned
    ORIGIN_BAD_SIGNATURE = "origin_bad_signature"
    DUPLICATE = "duplicate"  # relayed evidence we already have (direct or relayed)


@dataclass(frozen=True)
class Alert:
    """A parsed, typed alert (what a receiver shows; not evidence for local scoring)."""

    type: ReportType
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
    chapter: str
    alert_id: str
    seq: int


@dataclass(frozen=True)
class Accepted:
    alert: Alert
    relayed_by: str | None = None  # the relaying chapter, None for a direct alert
    hop: int = 0


@dataclass(frozen=True)
class Rejected:
    reason: RejectReason
    detail: str = ""  # a field name or a short cause; never content


Verdict = Accepted | Rejected


class SeenStore(Protocol):
    """What a receiver remembers to refuse replays: the highest seq per alert."""

    def highest_seq(self, chapter: str, alert_id: str) -> int | None: ...

    def record(self, chapter: str, alert_id: str, seq: int, expires: datetime) -> None: ...


@dataclass
class MemorySeenStore:
    """An in-memory SeenStore. `forget_expired` keeps it bounded.

    An entry may be forgotten once the latest expiry of every seq seen for
    that alert has passed (plus the clock skew): any replay of it would be
    refused as expired by then.
    """

    _seen: dict[tuple[str, str], tuple[int, datetime]] = field(default_factory=dict)

    def highest_seq(self, chapter: str, alert_id: str) -> int | None:
        entry = self._seen.get((chapter, alert_id))
        return None if entry is None else entry[0]

    def record(self, chapter: str, alert_id: str, seq: int, expires: datetime) -> None:
        old = self._seen.get((chapter, alert_id))
        if old is not None:
            seq, expires = max(seq, old[0]), max(expires, old[1])
        self._seen[(chapter, alert_id)] = (seq, expires)

    def forget_expired(self, now: datetime) -> int:
        cutoff = now - CLOCK_SKEW
        gone = [k for k, (_, exp) in self._seen.items() if exp < cutoff]
        for k in gone:
            del self._seen[k]
        return len(gone)

    def __len__(self) -> int:
        return len(self._seen)


# -- keys ----------------------------------------------------------------


def build_catch_up_request(chapter: str) -> dict[str, Any]:
    """The content of a catch-up request by `chapter` (ValueError if the id is not one)."""
    if not CHAPTER_ID.fullmatch(chapter):
        raise ValueError("invalid chapter id")
    return {"chapter": chapter}


def parse_catch_up_request(content: object) -> str | None:
    """The asking chapter's id, or None if the content is not exactly a catch-up request."""
    if not isinstance(content, Mapping) or set(content) != {"chapter"}:
        return None
    chapter = content["chapter"]
    return chapter if isinstance(chapter, str) and CHAPTER_ID.fullmatch(chapter) else None


def key_id(key: SigningKey | VerifyKey) -> str:
    """The key id, "ed25519:<version>", of a signedjson signing or verify key."""
    return f"{key.alg}:{key.version}"  # type: ignore[union-attr]  # set by signedjson


def key_fingerprint(verify_key: VerifyKey) -> str:
    """A short fingerprint for humans and invite tokens: 128 bits of SHA-256, base64url."""
    digest = hashlib.sha256(bytes(verify_key)).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def readable_fingerprint(fingerprint: str) -> str:
    """The fingerprint as operators read it aloud: 8 groups of 4 digits ("0412 9931 ...").

    The last 32 decimal digits of the 128-bit fingerprint (106 bits, negligible
    bias), grouped by four as Signal's safety numbers group theirs by five:
    digits read the same in any language and need no case. A display of the
    token's fingerprint, so tokens and pinned neighbours are unchanged.
    """
    raw = base64.urlsafe_b64decode(fingerprint + "=" * (-len(fingerprint) % 4))
    digits = f"{int.from_bytes(raw, 'big') % 10**32:032d}"
    return " ".join(digits[i : i + 4] for i in range(0, 32, 4))


def new_alert_id() -> str:
    """A fresh random alert id (128 bits)."""
    return secrets.token_urlsafe(16)


@dataclass(frozen=True)
class NeighbourInvite:
    """What a chapter hands a neighbour out of band to be added."""

    chapter: str
    bot_user_id: str
    verify_key: VerifyKey

    @property
    def fingerprint(self) -> str:
        return key_fingerprint(self.verify_key)


def make_invite_token(chapter: str, bot_user_id: str, verify_key: VerifyKey) -> str:
    """A copy-pasteable token: chapter id, bot Matrix ID, key id, public key, fingerprint.

    The public key travels in the token (32 bytes, as short as a fingerprint);
    the fingerprint is what operators read to each other over a second
    channel, and `parse_invite_token` checks that the key matches it.
    """
    if not CHAPTER_ID.fullmatch(chapter):
        raise ValueError("invalid chapter id")
    if not _MXID_RE.fullmatch(bot_user_id):
        raise ValueError("invalid Matrix user id")
    body = {
        "chapter": chapter,
        "bot": bot_user_id,
        "key_id": key_id(verify_key),
        "key": encode_verify_key_base64(verify_key),
        "fingerprint": key_fingerprint(verify_key),
    }
    blob = base64.urlsafe_b64encode(encode_canonical_json(body)).rstrip(b"=").decode()
    return _TOKEN_PREFIX + blob


def parse_invite_token(token: str) -> NeighbourInvite:
    """Parse and check an invite token; raises ValueError with a short reason."""
    token = token.strip()
    if not token.startswith(_TOKEN_PREFIX) or len(token) > 2048:
        raise ValueError("not a Vecinos neighbour token")
    blob = token[len(_TOKEN_PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(blob + "=" * (-len(blob) % 4))
        body = json.loads(raw)
    except (ValueError, TypeError) as e:
        raise ValueError("token is damaged") from e
    if not isinstance(body, dict) or set(body) != _TOKEN_FIELDS:
        raise ValueError("token is damaged")
    chapter, bot, kid, key, fp = (
        body["chapter"],
        body["bot"],
        body["key_id"],
        body["key"],
        body["fingerprint"],
    )
    if not all(isinstance(v, str) for v in (chapter, bot, kid, key, fp)):
        raise ValueError("token is damaged")
    if not CHAPTER_ID.fullmatch(chapter) or not _MXID_RE.fullmatch(bot):
        raise ValueError("token is damaged")
    vk = _decode_key(kid, key)
    if vk is None:
        raise ValueError("token holds no valid key")
    if not secrets.compare_digest(key_fingerprint(vk), fp):
        raise ValueError("key does not match its fingerprint")
    return NeighbourInvite(chapter, bot, vk)


def _decode_key(kid: object, key: object) -> VerifyKey | None:
    if not isinstance(kid, str) or not isinstance(key, str):
        return None
    if not _KEY_ID_RE.fullmatch(kid) or not _KEY_B64_RE.fullmatch(key):
        return None
    try:
        return decode_verify_key_base64("ed25519", kid.split(":", 1)[1], key)
    except Exception:
        return None


# -- time and numbers ------------------------------------------------------


def _utc(t: datetime, what: str) -> datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")
    return t.astimezone(UTC)


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_iso(v: object) -> datetime | None:
    if not isinstance(v, str) or not _ISO_RE.fullmatch(v):
        return None
    try:
        return datetime.strptime(v, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def _hour_floor(t: datetime) -> datetime:
    return t.replace(minute=0, second=0, microsecond=0)


def _hour_ceil(t: datetime) -> datetime:
    floor = _hour_floor(t)
    return floor if floor == t else floor + timedelta(hours=1)


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _e2(v: float) -> int:
    """Hundredths, rounded half to even (32.5567 -> 3256)."""
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise ValueError("not a finite number")
    return round(v * 100)


def _text(v: object, max_len: int) -> bool:
    return isinstance(v, str) and 0 < len(v) <= max_len and v == v.strip() and v.isprintable()


def canonical_size(content: object) -> int | None:
    """Size of the canonical JSON encoding, or None if it is not JSON at all."""
    try:
        return len(encode_canonical_json(content))
    except Exception:  # RecursionError, TypeError, ValueError (NaN), ...
        return None


# -- schema ----------------------------------------------------------------


class _Bad(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def _signature_block(sigs: object, signer: str) -> str:
    """Check {signer: {key_id: sig}} and return key_id."""
    if not isinstance(sigs, dict) or set(sigs) != {signer}:
        raise _Bad("signatures")
    inner = sigs[signer]
    if not isinstance(inner, dict) or len(inner) != 1:
        raise _Bad("signatures")
    ((kid, sig),) = inner.items()
    if not isinstance(kid, str) or not _KEY_ID_RE.fullmatch(kid):
        raise _Bad("signatures")
    if not isinstance(sig, str) or not _SIG_RE.fullmatch(sig):
        raise _Bad("signatures")
    return kid


def _parse_alert(c: Mapping[str, Any]) -> Alert:
    """Strict schema check of a (signed) alert dict; raises _Bad(field)."""
    keys = set(c)
    if keys != _ALERT_FIELDS:
        # Never echo an unknown key: it is attacker-chosen text.
        missing = sorted(_ALERT_FIELDS - keys)
        raise _Bad("unknown field" if keys - _ALERT_FIELDS else f"missing {missing[0]}")
    t = c["type"]
    if not isinstance(t, str) or t not in _TYPES:
        raise _Bad("type")
    if not _text(c["area"], 80):
        raise _Bad("area")
    lat_e2, lon_e2 = c["lat_e2"], c["lon_e2"]
    lat: float | None = None
    lon: float | None = None
    if lat_e2 is None and lon_e2 is None:
        pass
    elif (
        _is_int(lat_e2)
        and _is_int(lon_e2)
        and -9000 <= lat_e2 <= 9000
        and -18000 <= lon_e2 <= 18000
    ):
        lat, lon = lat_e2 / 100, lon_e2 / 100
    else:
        raise _Bad("lat_e2/lon_e2")
    hw = c["highway"]
    if hw is not None and not _text(hw, 32):
        raise _Bad("highway")
    hour = _parse_iso(c["hour"])
    if hour is None or hour != _hour_floor(hour):
        raise _Bad("hour")
    level = c["level"]
    if not isinstance(level, str) or level not in ALERT_LEVELS:
        raise _Bad("level")
    conf = c["confidence_pct"]
    if not _is_int(conf) or not 0 <= conf <= 100:
        raise _Bad("confidence_pct")
    reports = c["reports"]
    if not _is_int(reports) or not 0 <= reports <= MAX_REPORTS:
        raise _Bad("reports")
    if not isinstance(c["still_active"], bool):
        raise _Bad("still_active")
    expires = _parse_iso(c["expires"])
    if expires is None or not hour < expires <= hour + MAX_LIFETIME:
        raise _Bad("expires")
    chapter = c["chapter"]
    if not isinstance(chapter, str) or not CHAPTER_ID.fullmatch(chapter):
        raise _Bad("chapter")
    aid = c["alert_id"]
    if not isinstance(aid, str) or not _ALERT_ID_RE.fullmatch(aid):
        raise _Bad("alert_id")
    seq = c["seq"]
    if not _is_int(seq) or not 0 <= seq <= MAX_SEQ:
        raise _Bad("seq")
    _signature_block(c["signatures"], chapter)
    return Alert(
        type=ReportType(t),
        area=c["area"],
        lat=lat,
        lon=lon,
        highway=hw,
        hour=hour,
        level=level,
        confidence=conf / 100,
        reports=reports,
        still_active=c["still_active"],
        expires=expires,
        chapter=chapter,
        alert_id=aid,
        seq=seq,
    )


def _verify_sig(content: Mapping[str, Any], signer: str, key: VerifyKey) -> bool:
    kid = next(iter(content["signatures"][signer]))
    if kid != key_id(key):
        return False  # signed by a key we have not pinned
    try:
        verify_signed_json(dict(content), signer, key)
    except SignatureVerifyException:
        return False
    except Exception:  # anything odd inside the crypto or encoding layer
        return False
    return True


def _check_time(alert: Alert, now: datetime) -> Rejected | None:
    if alert.hour > now + CLOCK_SKEW:
        return Rejected(RejectReason.FROM_FUTURE)
    if alert.expires + CLOCK_SKEW <= now:
        return Rejected(RejectReason.EXPIRED)
    return None


# -- building --------------------------------------------------------------


def build_alert(
    *,
    chapter: str,
    signing_key: SigningKey,
    alert_id: str,
    seq: int,
    type: ReportType | str,
    area: str,
    hour: datetime,
    level: Level | str,
    confidence: float,
    reports: int,
    still_active: bool,
    expires: datetime,
    lat: float | None = None,
    lon: float | None = None,
    highway: str | None = None,
) -> dict[str, Any]:
    """A signed alert content dict. Truncates hour, rounds coordinates, confidence
    and the expiry (up to the hour). Raises ValueError for anything a receiver
    would refuse, so nothing invalid is ever sent."""
    hour = _hour_floor(_utc(hour, "hour"))
    expires = _hour_ceil(_utc(expires, "expires"))
    content: dict[str, Any] = {
        "type": str(type),
        "area": area,
        "lat_e2": None if lat is None else _e2(lat),
        "lon_e2": None if lon is None else _e2(lon),
        "highway": highway,
        "hour": _iso(hour),
        "level": str(level),
        "confidence_pct": _e2(confidence),
        "reports": reports,
        "still_active": still_active,
        "expires": _iso(expires),
        "chapter": chapter,
        "alert_id": alert_id,
        "seq": seq,
    }
    sign_json(content, chapter, signing_key)
    try:
        _parse_alert(content)
    except _Bad as e:
        raise ValueError(f"invalid alert: {e.detail}") from None
    size = canonical_size(content)
    if size is None or size > MAX_ALERT_BYTES:
        raise ValueError("alert too large")
    return content


def build_relay(
    original_signed_alert: Mapping[str, Any],
    relaying_chapter: str,
    key: SigningKey,
    hop: int = 1,
    *,
    origin_key: VerifyKey,
) -> dict[str, Any]:
    """Wrap a neighbour's signed alert, vouching for the origin key, and sign it.

    The origin alert is checked first (schema and signature with
    `origin_key`): a chapter never vouches for what it cannot verify.
    Receivers refuse hop > MAX_HOPS; building one is allowed for tests.
    """
    origin = dict(original_signed_alert)
    try:
        alert = _parse_alert(origin)
    except _Bad as e:
        raise ValueError(f"origin alert is invalid: {e.detail}") from None
    if not _verify_sig(origin, alert.chapter, origin_key):
        raise ValueError("origin alert does not verify with origin_key")
    if alert.chapter == relaying_chapter:
        raise ValueError("a chapter does not relay its own alert")
    if not _is_int(hop) or hop < 1:
        raise ValueError("hop must be >= 1")
    content: dict[str, Any] = {
        "relayer": relaying_chapter,
        "hop": hop,
        "origin": origin,
        "origin_key": {
            "key_id": key_id(origin_key),
            "key": encode_verify_key_base64(origin_key),
        },
    }
    return sign_json(content, relaying_chapter, key)


# -- verifying -------------------------------------------------------------


def verify_alert(
    content: object,
    pinned_keys: Mapping[str, VerifyKey],
    now: datetime,
    seen: SeenStore,
    *,
    record: bool = True,
    self_chapter: str | None = None,
) -> Verdict:
    """Check a received alert. Never raises on content; `now` must be aware.

    Order: shape, size, schema, neighbour, signature, time, replay. Only an
    accepted alert is recorded in `seen` (unless record=False, for a caller
    that records in its own transaction).
    """
    now = _utc(now, "now")
    if not isinstance(content, dict):
        return Rejected(RejectReason.MALFORMED, "not an object")
    size = canonical_size(content)
    if size is None:
        return Rejected(RejectReason.MALFORMED, "not JSON")
    if size > MAX_ALERT_BYTES:
        return Rejected(RejectReason.OVERSIZED)
    try:
        alert = _parse_alert(content)
    except _Bad as e:
        return Rejected(RejectReason.MALFORMED, e.detail)
    if self_chapter is not None and alert.chapter == self_chapter:
        return Rejected(RejectReason.OWN_ALERT)
    key = pinned_keys.get(alert.chapter)
    if key is None:
        return Rejected(RejectReason.NOT_NEIGHBOUR)
    if not _verify_sig(content, alert.chapter, key):
        return Rejected(RejectReason.BAD_SIGNATURE)
    late = _check_time(alert, now)
    if late is not None:
        return late
    highest = seen.highest_seq(alert.chapter, alert.alert_id)
    if highest is not None and alert.seq <= highest:
        return Rejected(RejectReason.REPLAYED)
    if record:
        seen.record(alert.chapter, alert.alert_id, alert.seq, alert.expires)
    return Accepted(alert)


def verify_relay(
    content: object,
    pinned_keys: Mapping[str, VerifyKey],
    now: datetime,
    seen: SeenStore,
    *,
    record: bool = True,
    self_chapter: str | None = None,
) -> Verdict:
    """Check a received relay (see the module docstring for the trust rule)."""
    now = _utc(now, "now")
    if not isinstance(content, dict):
        return Rejected(RejectReason.MALFORMED, "not an object")
    size = canonical_size(content)
    if size is None:
        return Rejected(RejectReason.MALFORMED, "not JSON")
    if size > MAX_RELAY_BYTES:
        return Rejected(RejectReason.OVERSIZED)
    if set(content) != _RELAY_FIELDS:
        return Rejected(RejectReason.MALFORMED, "relay fields")
    relayer, hop, origin = content["relayer"], content["hop"], content["origin"]
    if not isinstance(relayer, str) or not CHAPTER_ID.fullmatch(relayer):
        return Rejected(RejectReason.MALFORMED, "relayer")
    if not _is_int(hop) or hop < 1:
        return Rejected(RejectReason.MALFORMED, "hop")
    ok = content["origin_key"]
    if not isinstance(ok, dict) or set(ok) != {"key_id", "key"}:
        return Rejected(RejectReason.MALFORMED, "origin_key")
    carried = _decode_key(ok["key_id"], ok["key"])
    if carried is None:
        return Rejected(RejectReason.MALFORMED, "origin_key")
    try:
        _signature_block(content["signatures"], relayer)
    except _Bad as e:
        return Rejected(RejectReason.MALFORMED, e.detail)
    if not isinstance(origin, dict):
        return Rejected(RejectReason.MALFORMED, "origin")
    osize = canonical_size(origin)
    if osize is None or osize > MAX_ALERT_BYTES:
        return Rejected(RejectReason.OVERSIZED, "origin")
    try:
        alert = _parse_alert(origin)
    except _Bad as e:
        return Rejected(RejectReason.MALFORMED, f"origin {e.detail}"[:80])

    relayer_key = pinned_keys.get(relayer)
    if relayer_key is None:
        return Rejected(RejectReason.NOT_NEIGHBOUR)
    if not _verify_sig(content, relayer, relayer_key):
        return Rejected(RejectReason.BAD_SIGNATURE)
    if hop > MAX_HOPS:
        return Rejected(RejectReason.HOP_LIMIT)
    if alert.chapter == relayer:
        return Rejected(RejectReason.RELAY_LOOP)
    if self_chapter is not None and alert.chapter == self_chapter:
        return Rejected(RejectReason.OWN_ALERT)
    pinned_origin = pinned_keys.get(alert.chapter)
    if pinned_origin is not None and (
        key_id(pinned_origin) != key_id(carried) or bytes(pinned_origin) != bytes(carried)
    ):
        return Rejected(RejectReason.KEY_MISMATCH)
    if not _verify_sig(origin, alert.chapter, pinned_origin or carried):
        return Rejected(RejectReason.ORIGIN_BAD_SIGNATURE)
    late = _check_time(alert, now)
    if late is not None:
        return late
    highest = seen.highest_seq(alert.chapter, alert.alert_id)
    if highest is not None and alert.seq <= highest:
        return Rejected(RejectReason.DUPLICATE)
    if record:
        seen.record(alert.chapter, alert.alert_id, alert.seq, alert.expires)
    return Accepted(alert, relayed_by=relayer, hop=hop)


def verify_event(
    event_type: str,
    content: object,
    pinned_keys: Mapping[str, VerifyKey],
    now: datetime,
    seen: SeenStore,
    *,
    record: bool = True,
    self_chapter: str | None = None,
) -> Verdict:
    """Dispatch on the Matrix event type; an unknown type is malformed."""
    if event_type == ALERT_EVENT_TYPE:
        fn = verify_alert
    elif event_type == RELAY_EVENT_TYPE:
        fn = verify_relay
    else:
        return Rejected(RejectReason.MALFORMED, "event type")
    return fn(content, pinned_keys, now, seen, record=record, self_chapter=self_chapter)
