"""What a Web Push says, built from one change of one of the chapter's alerts.

Rules kept here:
- A push is sent when an alert opens ("alert"), when it reaches the
  confirmed level ("verified"), and when it ends ("all_clear": withdrawn,
  debunked, gone or expired). Other updates (a count that grew) send
  nothing: people are told what changes what they should do.
- It carries type, area (a gazetteer name: free text never reaches an
  alert), level, an age true at hour precision and a link to the node's own
  pages; never a description, a count of sources or a minute.
- It is worded in the subscriber's language from the catalogs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from node.i18n import translate
from scoring.defaults import AGE_LABELS

ALERT = "alert"
VERIFIED = "verified"
ALL_CLEAR = "all_clear"
ENDED_KINDS = frozenset({"withdrawal", "expired"})


@dataclass(frozen=True)
class Change:
    """One queued change of an alert, as the fan-out reads it."""

    alert_id: str
    seq: int
    kind: str  # alert, update, withdrawal, expired (node.alerts)
    type: str
    area_id: str
    area: str
    level: str
    hour: datetime
    expires: datetime
    incident_id: str | None

    @classmethod
    def from_body(cls, body: str) -> Change:
        data = json.loads(body)
        return cls(
            alert_id=data["alert_id"],
            seq=int(data["seq"]),
            kind=data["kind"],
            type=data["type"],
            area_id=data.get("area_id", ""),
            area=data["area"],
            level=data["level"],
            hour=datetime.fromisoformat(data["hour"]),
            expires=datetime.fromisoformat(data["expires"]),
            incident_id=data.get("incident_id"),
        )


def push_kind(change: Change, pushed_level: str | None) -> str | None:
    """Which push this change makes, given the level last pushed for the alert (if any)."""
    if change.kind in ENDED_KINDS:
        return ALL_CLEAR
    if change.kind == "alert":
        return VERIFIED if change.level == "confirmed" else ALERT
    if change.level == "confirmed" and pushed_level != "confirmed":
        return VERIFIED
    return None


def age_label(hour: datetime, now: datetime) -> str:
    age = now - hour
    for limit, label in AGE_LABELS:
        if limit is None or age < limit:
            return label
    return AGE_LABELS[-1][1]


def payload(change: Change, kind: str, lang: str, now: datetime) -> bytes:
    """The JSON the service worker shows (encrypted per subscriber before it leaves)."""
    params = {
        "type": translate(change.type, lang),
        "area": change.area,
        "level": translate(change.level, lang),
        "age": translate(age_label(change.hour, now), lang),
    }
    url = f"/incident/{change.incident_id}" if change.incident_id else "/map"
    body = {
        "v": 1,
        "kind": kind,
        "title": translate(f"push_title_{kind}", lang, **params),
        "body": translate(f"push_body_{kind}", lang, **params),
        "url": url,
        "tag": change.alert_id,  # a later push about the same alert replaces the notification
        "lang": lang,
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
