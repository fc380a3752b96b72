"""Responder notices: what the responders room and the text channels are told, queued durably.

Rules kept here:
- A notice is an aggregate of one active cluster (area x type) of this
  chapter, or of one neighbour's alert: type, area, highway, level,
  confidence, independent reports, hour, expiry, and (local clusters only)
  up to three report ids for the moderators' `!confirm ID`. Never a
  description, a source, a reporter or a moderator.
- Whether responders are told is scoring.defaults.tell_responders (pure, one
  threshold: [scoring] responder_level). A local notice opens only when the
  level HOLDS: the cluster stays at or above it for [responders] hold_minutes
  (no transient page from a peak the next report of a burst undoes). While
  it holds, the notice is a row with an empty level ("held", never sent);
  the minute the hold began lives in memory only (ResponderSettings.held),
  so after a restart the hold starts again (fail safe: later, never a
  transient page). Node.check_responders (scheduled every minute) opens the
  held ones whose hold has passed; a report confirmed by a moderator or a
  verifier opens at once, as does a neighbour's alert (already held and
  shared by its chapter). A peak that falls back before the hold ends is
  forgotten without a word.
- An open notice is updated when its level or its count of independent
  reports changes; it is closed by an all-clear when nothing of the cluster
  is active any more (gone, debunked, past its time) or the neighbour
  withdraws or lets its alert expire. It is closed too (not downgraded) when
  it falls below the responders' level because the report that carried it
  (the first it names) ended (past its time, or "gone") while a weaker later
  one is still active: what the responders were told about has run its
  course; the weaker report stays on the map, and a new notice opens if it
  rises and holds. A fall from evidence against it (a corroborating report
  debunked, a flood read as one source) is a downgrade.
- Every consumer that got the opening gets every change of level, up AND
  down (a downgrade is an explicit "level_down" update for the room, SMS,
  Signal and Telegram alike), and the all-clear; texts skip count-only updates.
- A local notice of a type in [responders] verify_types whose incident needs
  verification (anonymous evidence only, or vouched below the share threshold:
  one member's word; nothing confirmed) opens as "needs verification"
  (node.verification: the dispatch of a verifier); its request is withdrawn
  when the incident becomes corroborated (trusted evidence, shared).
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
  its incident's list item (/map#i-ID, node.incident_store), a neighbour's to
  the map's list of neighbours' alerts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from sqlmodel import Session, col, delete, select

from node.i18n import translate
from node.localtime import clock_time
from node.reports import new_id
from node.store import (
    Report,
    ResponderNotice,
    ResponderOutbox,
    VerificationRow,
    from_hour,
    to_hour,
)
from node.verification import close_request, open_request
from scoring.decay import age_label
from scoring.defaults import LEVEL_FLOORS, ScoringConfig, level_for, tell_responders
from scoring.model import FollowUp, FollowUpKind, Verdict

MATRIX = "matrix"
RESPONDERS_WRITTEN = "vecinos_responders_written"  # session.info flag: a notice was queued
MAX_IDS = 3  # report ids a notice names
SHORT_MAX = 159  # a short text stays under 160 characters
KEEP_CLOSED_HOURS = 24  # a closed notice (and what is still queued for it) goes this long after
INCIDENT_PATH = "/map#i-{id}"  # one incident on the public map, after [web] public_url
NEIGHBOUR_PATH = "/map#alerts-title"  # the map's list of neighbours' alerts
MIN_PLACE = 12  # a short text shortens its place to this many characters before dropping the link
_RANK = {level.value: i for i, (_, level) in enumerate(reversed(LEVEL_FLOORS))}


@dataclass(frozen=True)
class Consumer:
    """Who drains notices: the Matrix room (every kind) or a text channel (short)."""

    name: str
    types: frozenset[str] | None = None  # report types it wants; None: all
    short: bool = False  # a text channel: new, a change of level and the all-clear only


@dataclass(frozen=True)
class ResponderSettings:
    consumers: tuple[Consumer, ...] = ()
    threshold: float = 1.0  # the floor of [scoring] responder_level (settle's watch)
    hold: timedelta = timedelta(0)  # [responders] hold_minutes
    verify_types: frozenset[str] = frozenset()  # [responders] verify_types
    # source_key -> when the held level was first seen: memory only (minutes never at rest)
    held: dict[str, datetime] = field(default_factory=dict, compare=False, hash=False)


def _open(session: Session, origin: str, source_key: str) -> ResponderNotice | None:
    return session.exec(
        select(ResponderNotice).where(
            ResponderNotice.origin == origin,
            ResponderNotice.source_key == source_key,
            col(ResponderNotice.closed).is_(False),
        )
    ).first()


def open_notice_clusters(session: Session) -> set[tuple[str, str]]:
    """(area_id, type) of this chapter's clusters whose notice is still open (or held)."""
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


def held_clusters(session: Session) -> list[tuple[str, str]]:
    """(area_id, type) of the local clusters whose notice is held (not yet sent)."""
    keys = session.exec(
        select(ResponderNotice.source_key).where(
            ResponderNotice.origin == "",
            ResponderNotice.level == "",
            col(ResponderNotice.closed).is_(False),
        )
    ).all()
    return sorted((key.rpartition("|")[0], key.rpartition("|")[2]) for key in keys)


def _holds(
    key: str, live: Sequence[tuple[Report, Any]], now: datetime, s: ResponderSettings
) -> bool:
    """Whether a cluster at the responders' level has held it long enough to page."""
    if s.hold <= timedelta(0) or any(r.verdict == Verdict.CONFIRMED for r, _ in live):
        s.held.pop(key, None)
        return True
    since = s.held.setdefault(key, now)
    if now - since < s.hold:
        return False
    s.held.pop(key, None)
    return True


def refresh_notice(
    session: Session,
    area_id: str,
    report_type: str,
    rows: Sequence[Report],
    live: Sequence[tuple[Report, Any]],
    now: datetime,
    config: ScoringConfig,
    settings: ResponderSettings,
    needs_verifier: bool = False,
    incident_id: str | None = None,
    corroborated: bool = False,
    follow_ups: Mapping[str, Sequence[FollowUp]] | None = None,
) -> None:
    """Bring the notice of one local cluster up to date (called by node.alerts.refresh_alert).

    rows: the cluster's recent reports; live: those still active, with their decay;
    needs_verifier: the incident's stage is "needs verification" (scoring.incident:
    anonymous evidence only, or vouched below the share threshold, none confirmed);
    incident_id: the cluster's open incident (node.incident_store), which the notice then
    names; corroborated: its stage is "corroborated" (trusted evidence, shared), so an
    open verification request is withdrawn: nobody needs to go and look any more;
    follow_ups: the rows' follow-ups (an all-clear after "gone" says so).
    """
    if not settings.consumers:
        return
    key = f"{area_id}|{report_type}"
    notice = _open(session, "", key)
    best = max((r.confidence for r, _ in live), default=0.0)
    if notice is None or not notice.level:  # never sent: none yet, or held
        if not live or not tell_responders(best, config):
            settings.held.pop(key, None)
            if notice is not None:  # a peak that did not hold: forgotten, never sent
                session.delete(notice)
            return
        if notice is None:
            first = min((r for r, _ in live), key=lambda r: r.hour)
            notice = ResponderNotice(
                notice_id=new_id(9),
                incident_id=incident_id,
                source_key=key,
                type=report_type,
                area_name=first.area_name,
                highway=first.highway,
                hour=first.hour,
                level="",
                confidence=0.0,
                reports=0,
                expires_hour=0,
            )
        if not _holds(key, live, now, settings):
            notice.expires_hour = max(to_hour(shown.active_until) for _, shown in live)
            session.add(notice)  # held: a row with no level, so the check finds it
            return
    ended = _carrier_ended(notice, live, rows, follow_ups, config) if live else None
    if live and ended is None:
        level = level_for(best).value
        count = max(r.independent_sources for r, _ in live)
        changed = (notice.level, notice.reports) != (level, count)
        raised = bool(notice.level) and _RANK[level] > _RANK.get(notice.level, 0)
        lowered = bool(notice.level) and _RANK[level] < _RANK.get(notice.level, 0)
        kind = "update" if notice.level else "new"
        notice.level, notice.reports, notice.confidence = level, count, best
        notice.expires_hour = max(to_hour(shown.active_until) for _, shown in live)
        ranked = sorted(live, key=lambda pair: (-pair[0].confidence, pair[0].id))
        notice.report_ids = ",".join(r.id for r, _ in ranked[:MAX_IDS])
        notice.incident_id = incident_id or notice.incident_id
        session.add(notice)
        verify = kind == "new" and report_type in settings.verify_types and needs_verifier
        if verify:
            open_request(session, notice)
        elif any(r.verdict == Verdict.CONFIRMED for r, _ in live):
            close_request(session, notice.notice_id, "confirmed")  # a moderator confirmed
        elif corroborated:
            close_request(session, notice.notice_id)  # members' reports made it shareable
        if not changed:
            return
        _queue(session, notice, kind, settings, level_up=raised, level_down=lowered, verify=verify)
        return
    notice.closed = True
    session.add(notice)
    close_request(session, notice.notice_id)
    if ended is not None:
        reason = ended
    elif to_hour(now) >= notice.expires_hour:
        reason = "expired"
    elif any(r.verdict == Verdict.DEBUNKED and r.hour >= notice.hour for r in rows):
        reason = "debunked"
    else:
        reason = "gone"
    _queue(session, notice, "all_clear", settings, reason=reason)


def _carrier_ended(
    notice: ResponderNotice,
    live: Sequence[tuple[Report, Any]],
    rows: Sequence[Report],
    follow_ups: Mapping[str, Sequence[FollowUp]] | None,
    config: ScoringConfig,
) -> str | None:
    """ "gone" or "expired" when a sent notice fell below the responders' level because the
    report that carried it (the first it names: the most confident at its last change)
    ended, past its active time or "gone", not because evidence went against it: its
    all-clear is then due, whatever weaker report is still active (that one stays on the
    map, and a new notice opens if it rises again and holds). None when the notice stays
    open: still at the level, or its carrier is still active and was re-scored down (a
    corroborating report debunked, a flood read as one source), or was itself debunked or
    set aside: a downgrade, sent."""
    best = max((r.confidence for r, _ in live), default=0.0)
    if not notice.level or tell_responders(best, config):
        return None
    carrier_id = notice.report_ids.split(",")[0]
    if not carrier_id or any(r.id == carrier_id for r, _ in live):
        return None
    carrier = next((r for r in rows if r.id == carrier_id), None)
    if carrier is None or carrier.verdict in (Verdict.DEBUNKED, Verdict.ARCHIVED):
        return None
    said = (follow_ups or {}).get(carrier_id, ())
    return "gone" if any(f.kind is FollowUpKind.GONE for f in said) else "expired"


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
    lowered = bool(notice.level) and _RANK.get(alert.level, 0) < _RANK.get(notice.level, 0)
    kind = "update" if notice.level else "new"
    notice.level, notice.reports, notice.confidence = alert.level, alert.reports, alert.confidence
    notice.expires_hour = expires
    session.add(notice)
    if changed:
        _queue(session, notice, kind, settings, level_up=raised, level_down=lowered)


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
        session.exec(delete(VerificationRow).where(col(VerificationRow.notice_id).in_(chunk)))
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
    level_down: bool = False,
    verify: bool = False,
    matrix_only: bool = False,
) -> None:
    notice.seq += 1
    body = json.dumps(
        {
            "kind": kind,
            "reason": reason,
            "level_up": level_up,
            "level_down": level_down,
            "verify": verify,
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
            "incident_id": notice.incident_id,  # node.incident_store (None: a neighbour's)
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    for consumer in settings.consumers:
        if consumer.types is not None and notice.type not in consumer.types:
            continue
        if matrix_only and consumer.name != MATRIX:
            continue
        if consumer.short and kind == "update" and not (level_up or level_down):
            continue
        session.add(
            ResponderOutbox(
                consumer=consumer.name, notice_id=notice.notice_id, seq=notice.seq, body=body
            )
        )
        session.info[RESPONDERS_WRITTEN] = True


def queue_reoffer(session: Session, notice_id: str, settings: ResponderSettings) -> bool:
    """Offer an open notice's verification again, in its thread (the room only)."""
    notice = session.get(ResponderNotice, notice_id)
    if notice is None or notice.closed or not notice.level:
        return False
    _queue(session, notice, "verify", settings, verify=True, matrix_only=True)
    return True


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
    if body["kind"] == "update" and body.get("level_down"):
        return "responders_downgrade"
    if body["kind"] == "verify":
        return "verify_again"
    return f"responders_{body['kind']}"


def link(body: dict[str, Any], public_url: str) -> str:
    """The node's page for a notice ('' without [web] public_url)."""
    base = public_url.rstrip("/")
    if not base:
        return ""
    if body.get("origin"):
        return base + NEIGHBOUR_PATH
    incident_id = body.get("incident_id")
    return base + INCIDENT_PATH.format(id=incident_id) if incident_id else f"{base}/map"


def room_text(
    body: dict[str, Any], lang: str, now: datetime, public_url: str = "", zone: tzinfo = UTC
) -> str:
    """The responders room's post: headline, neighbour mark, report ids, link; times on
    the chapter's clock (`zone`, Node.timezone)."""
    params = _params(body, lang, now, zone)
    lines = [translate(_headline(body), lang, **params)]
    if body.get("verify"):
        lines.append(translate("verify_needed", lang, id=body["notice_id"], **params))
    if body.get("origin"):
        lines.append(translate("responders_from_neighbour", lang, **params))
    ids = body.get("report_ids") or []
    if ids and body["kind"] not in ("all_clear", "verify"):
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
    if body["kind"] == "update" and body.get("level_down"):
        key = "short_downgrade"
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
