"""Web Push subscriptions: validated once, stored sealed, found by endpoint, expired.

A subscription is what the browser's PushManager gave (endpoint, p256dh,
auth) plus what the person picked (areas, optional types, language). It is
kept only as needed to send: no address, no User-Agent, no time finer than
the hour (its expiry hour). The whole of it is sealed with push.key
(node.push.keys) and bound to its row id; the row id is an HMAC of the
endpoint, so the same browser subscribing again replaces its row, and an
unsubscribe finds it, without the endpoint ever being stored in clear.
Rows have no order at rest (SQLite WITHOUT ROWID, random-looking ids).

Validation is one pydantic model (PushSubscriptionIn) that also documents
the API (its JSON schema goes into the OpenAPI document); its errors become
per-field message ids of the catalogs.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlmodel import Session, col, delete, select

from node.outcome import FieldError
from node.push.endpoints import EndpointRefused, PushHosts
from node.push.keys import PushKeys
from node.store import PushSubscriptionRow

MAX_AREAS = 50
P256_POINT_BYTES = 65  # an uncompressed P-256 public key: 0x04 || X || Y
AUTH_SECRET_BYTES = 16


class PushKeysIn(BaseModel):
    """The subscription's keys, as PushSubscription.toJSON() gives them (base64url)."""

    model_config = ConfigDict(extra="forbid")
    p256dh: str = Field(max_length=200, description="The browser's P-256 public key.")
    auth: str = Field(max_length=100, description="The browser's 16-byte auth secret.")


class PushSubscriptionBody(BaseModel):
    model_config = ConfigDict(extra="ignore")  # browsers add expirationTime
    endpoint: str = Field(max_length=1024, description="The push service URL of the browser.")
    keys: PushKeysIn


class PushSubscriptionIn(BaseModel):
    """POST /api/v1/push/subscriptions: subscribe a browser to alerts for some areas."""

    model_config = ConfigDict(extra="forbid")
    subscription: PushSubscriptionBody
    areas: list[str] = Field(
        min_length=1, max_length=MAX_AREAS, description="Gazetteer area ids (GET /api/v1/areas)."
    )
    types: list[Literal["checkpoint", "raid", "vehicle", "patrol"]] | None = Field(
        default=None, description="Report types to be told about; all when left out."
    )
    lang: Literal["en", "es"] = Field(default="en", description="Language of the pushes.")


class PushUnsubscribeIn(BaseModel):
    """DELETE /api/v1/push/subscriptions: forget a browser's subscription."""

    model_config = ConfigDict(extra="forbid")
    endpoint: str = Field(max_length=1024)


@dataclass(frozen=True)
class Subscription:
    """A stored subscription, unsealed (memory only, while sending)."""

    id: str
    endpoint: str
    p256dh: str
    auth: str
    areas: tuple[str, ...]
    types: tuple[str, ...]  # empty: every type
    lang: str

    def wants(self, area_id: str, report_type: str) -> bool:
        return area_id in self.areas and (not self.types or report_type in self.types)

    def info(self) -> dict[str, object]:
        """The subscription_info shape pywebpush takes."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


def _b64url_bytes(text: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


_PYDANTIC_CODE = {"missing": "push_field_missing", "extra_forbidden": "unknown_field"}


def _errors_of(exc: ValidationError) -> list[FieldError]:
    found: list[FieldError] = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"] if not isinstance(part, int)]
        field = "endpoint" if loc[:2] == ["subscription", "endpoint"] else (loc or ["body"])[0]
        if loc[:2] == ["subscription", "keys"]:
            field = "keys"
        code = _PYDANTIC_CODE.get(error["type"], f"push_invalid_{field}")
        known = field in ("subscription", "endpoint", "keys", "areas", "types", "lang")
        if not known and error["type"] != "extra_forbidden":
            field, code = "subscription", "push_invalid_subscription"
        found.append(FieldError(field, code))
    return found


def parse_subscription(
    body: object, hosts: PushHosts, area_ids: Iterable[str], keys: PushKeys
) -> Subscription | tuple[FieldError, ...]:
    """A valid Subscription, or the per-field reasons (message ids) it was refused."""
    try:
        given = PushSubscriptionIn.model_validate(body)
    except ValidationError as exc:
        return tuple(dict.fromkeys(_errors_of(exc)))
    errors: list[FieldError] = []
    try:
        endpoint = hosts.check(given.subscription.endpoint)
    except EndpointRefused as exc:
        errors.append(FieldError("endpoint", exc.code))
        endpoint = ""
    p256dh = _b64url_bytes(given.subscription.keys.p256dh)
    auth = _b64url_bytes(given.subscription.keys.auth)
    if (
        p256dh is None
        or len(p256dh) != P256_POINT_BYTES
        or p256dh[0] != 4
        or auth is None
        or len(auth) != AUTH_SECRET_BYTES
    ):
        errors.append(FieldError("keys", "push_invalid_keys"))
    known = set(area_ids)
    areas = tuple(dict.fromkeys(given.areas))
    if any(a not in known for a in areas):
        errors.append(FieldError("areas", "push_unknown_area"))
    if errors:
        return tuple(errors)
    return Subscription(
        id=keys.lookup_id(endpoint),
        endpoint=endpoint,
        p256dh=given.subscription.keys.p256dh,
        auth=given.subscription.keys.auth,
        areas=areas,
        types=tuple(dict.fromkeys(given.types or ())),
        lang=given.lang,
    )


def save(session: Session, keys: PushKeys, sub: Subscription, expires_hour: int) -> None:
    """Add or replace (same endpoint) a subscription, renewing its expiry."""
    fields = asdict(sub)
    del fields["id"]
    sealed = keys.seal(json.dumps(fields, separators=(",", ":")).encode(), sub.id)
    session.merge(PushSubscriptionRow(id=sub.id, sealed=sealed, expires_hour=expires_hour))


def remove(session: Session, keys: PushKeys, endpoint: str) -> bool:
    row = session.get(PushSubscriptionRow, keys.lookup_id(endpoint))
    if row is None:
        return False
    session.delete(row)
    return True


def remove_ids(session: Session, ids: Sequence[str]) -> int:
    if not ids:
        return 0
    result = session.exec(delete(PushSubscriptionRow).where(col(PushSubscriptionRow.id).in_(ids)))
    return result.rowcount or 0  # type: ignore[attr-defined]


def purge_expired(session: Session, now_hour: int) -> int:
    result = session.exec(
        delete(PushSubscriptionRow).where(col(PushSubscriptionRow.expires_hour) <= now_hour)
    )
    return result.rowcount or 0  # type: ignore[attr-defined]


def load_all(session: Session, keys: PushKeys, now_hour: int) -> list[Subscription]:
    """Every live subscription, unsealed (one that does not open is skipped)."""
    found = []
    rows = session.exec(
        select(PushSubscriptionRow).where(col(PushSubscriptionRow.expires_hour) > now_hour)
    )
    for row in rows:
        plain = keys.open(row.sealed, row.id)
        if plain is None:
            continue
        fields = json.loads(plain)
        found.append(
            Subscription(
                id=row.id,
                endpoint=fields["endpoint"],
                p256dh=fields["p256dh"],
                auth=fields["auth"],
                areas=tuple(fields["areas"]),
                types=tuple(fields["types"]),
                lang=fields["lang"],
            )
        )
    return found


def count(session: Session, now_hour: int) -> int:
    rows = session.exec(
        select(PushSubscriptionRow.id).where(col(PushSubscriptionRow.expires_hour) > now_hour)
    )
    return len(rows.all())
