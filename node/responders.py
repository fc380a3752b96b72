"""Responder notices: what the responders room and the text channels are told, queued durably.

Rules kept here:
- A notice is an aggregate of one active cluster (area x type) of this
  chapter, or of one neighbour's alert: type, area, highway, level,
  confidence, independent reports, hour, expiry, and (local clusters only)
  up to three report ids for the moderators' `!confirm ID`. Never a
  description, a source, a reporter or a moderator.
- Whether responders are told is scoring.defaults.tell_responders (pure, one
  threshold: [scoring] responder_level). A notice opens when an active
  cluster (or a neighbour's active alert) reaches it; it is updated when its
  level or its count of independent reports changes; it is closed by an
  all-clear when nothing of the cluster is active any more (gone, debunked,
  past its time) or the neighbour withdraws or lets its alert expire.
- Every change is queued in responder_outbox, one row per consumer that
  wants it, inside the transaction of the change that caused it (the batch
  settle, a received alert, a purge), so an outage of the homeserver or of
  an SMS service loses nothing. Consumers (federation.responders for the
  Matrix room, node.channels for SMS/Signal/Telegram) drain their own rows.
- An all-clear says why, in this order: past its active time ("expired"),
  debunked by a moderator (a report of this notice's span debunked), or no
  longer reported active ("gone"); a neighbour's: "withdrawn" or "expired".
- Texts are built here from the catalogs, in the chapter's language, with
  times on the chapter's clock (node.localtime). Short texts (SMS, Signal,
  Telegram: not end-to-end encrypted by us) carry only type, area, highway,
  level, count, hour and link, under 160 characters: the place is
  shortened before the link is given up.
- Links go to the public map, never to the JSON API: a local cluster's to
  its first report's list item (/map#r-ID), a neighbour's to the map's list
  of neighbours' alerts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

from sqlmodel import Session, col, delete, select

from node.i18n import translate
from node.localtime import clock_time
from node.reports import new_id
from node.store import Report, ResponderNotice, ResponderOutbox, from_hour, to_hour
from scoring.decay import age_label
from scoring.defaults import LEVEL_FLOORS, ScoringConfig, level_for, tell_responders
from scoring.model import Verdict

MATRIX = "matrix"
RESPONDERS_WRITTEN = "vecinos_responders_written"  # session.info flag: a notice was queued
MAX_IDS = 3  # report ids a notice names
SHORT_MAX = 159  # a short text stays under 160 characters
KEEP_CLOSED_HOURS = 24  # a closed notice (and what is still queued for it) goes this long after
REPORT_PATH = "/map#r-{id}"  # one report on the public map, after [web] public_url
NEIGHBOUR_PATH = "/map#alerts-title"  # the map's list of neighbours' alerts
MIN_PLACE = 12  # a short text shortens its place to this many characters before dropping the link
_RANK = {level.value: i for i, (_, level) in enumerate(reversed(LEVEL_FLOORS))}


@dataclass(frozen=True)
class Consumer:
    """Who drains notices: the Matrix room (every kind) or a text channel (short)."""

    name: str
    types: frozenset[str] | None = None  # report types it wants; None: all
    short: bool = False  # a text channel: new, a raised level and the all-clear only


@dataclass(frozen=True)
class ResponderSettings:
    consumers: tuple[Consumer, ...] = ()
    threshold: float = 1.0  # the floor of [scoring] responder_level (settle's watch)


def _open(session: Session, origin: str, source_key: str) -> ResponderNotice | None:
    return session.exec(
        select(ResponderNotice).where(
            ResponderNotice.origin == origin,
            ResponderNotice.source_key == source_key,
            col(ResponderNotice.closed).is_(False),
        )
    ).first()


def open_notice_clusters(session: Session) -> set[tuple[str, str]]:
    """(area_id, type) of this chapter's clusters whose notice is still open."""
    keys = session.exec(
        select(ResponderNotice.source_key).where(
            ResponderNotice.origin == "", col(ResponderNotice.closed).is_(False)
        )
    ).all()
    found = set()
    for key in keys:
        area_id, _, report_type = key.rpartition("|")
        found.add((area_id, report_type))
    return found


def refresh_notice(
    session: Session,
    area_id: str,
    report_type: str,
    rows: Sequence[Report],
    live: Sequence[tuple[Report, Any]],
    now: datetime,
    config: ScoringConfig,
    settings: ResponderSettings,
) -> None:
    """Bring the notice of one local cluster up to date (called by node.alerts.refresh_alert).

    rows: the cluster's recent reports; live: those still active, with their decay.
    """
    if not settings.consumers:
        return
    notice = _open(session, "", f"{area_id}|{report_type}")
    best = max((r.confidence for r, _ in live), default=0.0)
    if notice is None:
        if not live or not tell_responders(best, config):
            return
        first = min((r for r, _ in live), key=lambda r: r.hour)
        notice = ResponderNotice(
            notice_id=new_id(9),
            source_key=f"{area_id}|{report_type}",
            type=report_type,
            area_name=first.area_name,
            highway=first.highway,
            hour=first.hour,
            level="",
            confidence=0.0,
            reports=0,
            expires_hour=0,
        )
    if live:
        level = level_for(best).value
        count = max(r.independent_sources for r, _ in live)
        changed = (notice.level, notice.reports) != (level, count)
        raised = bool(notice.level) and _RANK[level] > _RANK.get(notice.level, 0)
        kind = "update" if notice.level else "new"
        notice.level, notice.reports, notice.confidence = level, count, best
        notice.expires_hour = max(to_hour(shown.active_until) for _, shown in live)
        ranked = sorted(live, key=lambda pair: (-pair[0].confidence, pair[0].id))
        notice.report_ids = ",".join(r.id for r, _ in ranked[:MAX_IDS])
        session.add(notice)
        if not changed:
            return
        _queue(session, notice, kind, settings, level_up=raised)
        return
    notice.closed = True
    session.add(notice)
    if to_hour(now) >= notice.expires_hour:
        reason = "expired"
    elif any(r.verdict == Verdict.DEBUNKED and r.hour >= notice.hour for r in rows):
        reason = "debunked"
    else:
        reason = "gone"
    _queue(session, notice, "all_clear", settings, reason=reason)


def record_received(
    session: Session,
    alert: Any,
    now: datetime,
    config: ScoringConfig,
    settings: ResponderSettings,
) -> None:
    """A neighbour's alert (node.outcome.ReceivedAlert, just stored): its notice, if any."""
    if not settings.consumers:
        return
    notice = _open(session, alert.chapter, alert.alert_id)
    expires = to_hour(alert.expires)
    if notice is None:
        if not alert.still_active or expires <= to_hour(now):
            return
        if not tell_responders(alert.confidence, config):
            return
        notice = ResponderNotice(
            notice_id=new_id(9),
            origin=alert.chapter,
            source_key=alert.alert_id,
            type=alert.type,
            area_name=alert.area,
            highway=alert.highway,
            hour=to_hour(alert.hour),
            level="",
            confidence=0.0,
            reports=0,
            expires_hour=expires,
        )
    if not alert.still_active:
        notice.closed = True
        session.add(notice)
        _queue(session, notice, "all_clear", settings, reason="withdrawn")
        return
    changed = (notice.level, notice.reports) != (alert.level, alert.reports)
    raised = bool(notice.level) and _RANK.get(alert.level, 0) > _RANK.get(notice.level, 0)
    kind = "update" if notice.level else "new"
    notice.level, notice.reports, notice.confidence = alert.level, alert.reports, alert.confidence
    notice.expires_hour = expires
    session.add(notice)
    if changed:
        _queue(session, notice, kind, settings, level_up=raised)


def close_expired_received(session: Session, now: datetime, settings: ResponderSettings) -> int:
    """Neighbours' notices whose alert expired unwithdrawn get their all-clear (retention)."""
    now_hour = to_hour(now)
    stale = session.exec(
        select(ResponderNotice).where(
            ResponderNotice.origin != "",
            col(ResponderNotice.closed).is_(False),
            col(ResponderNotice.expires_hour) <= now_hour,
        )
    ).all()
    for notice in stale:
        notice.closed = True
        session.add(notice)
        _queue(session, notice, "all_clear", settings, reason="expired")
    return len(stale)


def purge_notices(session: Session, now: datetime) -> int:
    """Closed notices a day past their expiry go, with anything still queued for them."""
    horizon = to_hour(now) - KEEP_CLOSED_HOURS
    done = session.exec(
        select(ResponderNotice.notice_id).where(
            col(ResponderNotice.closed).is_(True), col(ResponderNotice.expires_hour) <= horizon
        )
    ).all()
    for start in range(0, len(done), 500):
        chunk = done[start : start + 500]
        session.exec(delete(ResponderOutbox).where(col(ResponderOutbox.notice_id).in_(chunk)))
        session.exec(delete(ResponderNotice).where(col(ResponderNotice.notice_id).in_(chunk)))
    return len(done)


def _queue(
    session: Session,
    notice: ResponderNotice,
    kind: str,
    settings: ResponderSettings,
    *,
    reason: str | None = None,
    level_up: bool = False,
) -> None:
    notice.seq += 1
    body = json.dumps(
        {
            "kind": kind,
            "reason": reason,
            "level_up": level_up,
            "notice_id": notice.notice_id,
            "seq": notice.seq,
            "origin": notice.origin,
            "type": notice.type,
            "area": notice.area_name,
            "highway": notice.highway,
            "level": notice.level,
            "confidence": round(notice.confidence, 2),
            "reports": notice.reports,
            "hour": from_hour(notice.hour).isoformat(),
            "expires": from_hour(notice.expires_hour).isoformat(),
            "report_ids": [i for i in notice.report_ids.split(",") if i],
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    for consumer in settings.consumers:
        if consumer.types is not None and notice.type not in consumer.types:
            continue
        if consumer.short and kind == "update" and not level_up:
            continue
        session.add(
            ResponderOutbox(
                consumer=consumer.name, notice_id=notice.notice_id, seq=notice.seq, body=body
            )
        )
        session.info[RESPONDERS_WRITTEN] = True


# -- what a consumer reads -----------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    """One queued notice seq for one consumer (node.service.Node.pending_notices)."""

    outbox_id: int
    consumer: str
    body: dict[str, Any] = field(repr=False)

    @property
    def notice_id(self) -> str:
        return str(self.body["notice_id"])

    @property
    def kind(self) -> str:
        return str(self.body["kind"])

    @property
    def expires(self) -> datetime:
        return datetime.fromisoformat(self.body["expires"])


def _place(body: dict[str, Any]) -> str:
    return f"{body['area']} ({body['highway']})" if body.get("highway") else str(body["area"])


def _params(
    body: dict[str, Any], lang: str, now: datetime, zone: tzinfo = UTC
) -> dict[str, object]:
    hour = datetime.fromisoformat(body["hour"])
    return {
        "time": clock_time(hour, zone, lang, now),  # the first report's hour, the chapter's clock
        "type": translate(body["type"], lang),
        "area": _place(body),
        "level": translate(body["level"], lang),
        "confidence": round(float(body["confidence"]) * 100),
        "reports": body["reports"],
        "age": translate(age_label(now - hour), lang),
        "chapter": body.get("origin") or "",
    }


def _headline(body: dict[str, Any]) -> str:
    if body["kind"] == "all_clear":
        return f"responders_all_clear_{body.get('reason') or 'gone'}"
    return f"responders_{body['kind']}"


def link(body: dict[str, Any], public_url: str) -> str:
    """The node's page for a notice ('' without [web] public_url)."""
    base = public_url.rstrip("/")
    if not base:
        return ""
    ids = body.get("report_ids") or []
    if body.get("origin") or not ids:
        return base + NEIGHBOUR_PATH if body.get("origin") else f"{base}/map"
    return base + REPORT_PATH.format(id=ids[0])


def room_text(
    body: dict[str, Any], lang: str, now: datetime, public_url: str = "", zone: tzinfo = UTC
) -> str:
    """The responders room's post: headline, neighbour mark, report ids, link; times on
    the chapter's clock (`zone`, Node.timezone)."""
    params = _params(body, lang, now, zone)
    lines = [translate(_headline(body), lang, **params)]
    if body.get("origin"):
        lines.append(translate("responders_from_neighbour", lang, **params))
    ids = body.get("report_ids") or []
    if ids and body["kind"] != "all_clear":
        lines.append(translate("responders_ids", lang, ids=", ".join(ids)))
    url = link(body, public_url)
    if url:
        lines.append(url)
    return "\n".join(lines)


def short_text(
    body: dict[str, Any], lang: str, now: datetime, public_url: str = "", zone: tzinfo = UTC
) -> str:
    """An SMS/Signal/Telegram text under 160 characters: no description, ever.

    A local notice's link (its report on the map, where the full place is)
    is kept by shortening the place, down to MIN_PLACE characters; a
    neighbour's link (the map's list) only comes when the whole text fits.
    """
    params = _params(body, lang, now, zone)
    key = "short_all_clear" if body["kind"] == "all_clear" else f"short_{body['kind']}"
    prefix = f"[{params['chapter']}] " if body.get("origin") else ""
    place = str(params["area"])

    def render(tail: str, shorten: bool) -> str:
        params["area"] = place
        text = prefix + translate(key, lang, **params) + tail
        over = len(text) - SHORT_MAX
        if over > 0 and shorten:
            params["area"] = place[: max(MIN_PLACE, len(place) - over - 1)] + "…"
            text = prefix + translate(key, lang, **params) + tail
        return text

    url = link(body, public_url)
    if url:
        text = render(f" {url}", shorten=not body.get("origin"))
        if len(text) <= SHORT_MAX:
            return text
    return render("", shorten=True)[:SHORT_MAX]
