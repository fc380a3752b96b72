"""The write side of reports: the one intake path, follow-ups, verdicts, settling.

validate -> moderate -> score -> store -> flag -> alert:

- validate() is pure: it checks a ReportDraft against the gazetteer and the
  config, runs the moderation rules on every free-text field, and returns a
  ValidReport or the per-field errors. Nothing of a request's text is kept in
  memory beyond the request (no cache of areas, ids or moderation results).
- store_report(), store_follow_up() and apply_verdict() run on the writer
  thread: they score and store, with the free text encrypted under its
  retention class's key (file_under), and mark the cluster unsettled.

Free text (the rule for every free-text field, now and later): it is stored
only encrypted under the day keys (node.keys), re-encrypted and shredded with
its retention class, never in plaintext (not in a report row, not in area_hour
or the aggregates, where a place not in the gazetteer counts as "unknown"),
never public unreviewed, never in an alert, a responder notice or an SMS. A
place not in the gazetteer is such a field: the report gets an area id of its
own (UNLISTED + its id, so it corroborates nothing and makes no alert), an
empty area name (pages say "a place not on our list (awaiting review)"), and
its text in `area_ct`, which only moderators read (area_text_of) until one of
them maps the report to a gazetteer area (node.moderation) or it is purged.
- settle() runs once per batch before its commit: it re-scores the
  neighbours and brings the cluster's incident (node.incident_store) and
  alert (and outbox) up to date, in the same transaction as the reports that
  caused it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlmodel import Session

from node.alerts import AlertSettings, open_alert_clusters, open_alerts, refresh_alert
from node.gazetteer import AreaMatch, Gazetteer
from node.keys import KeyId, KeyRing
from node.outcome import FieldError, ReportDraft
from node.recent import Entry, RecentIndex
from node.reports import (
    RETENTION_CLASS,
    Bounds,
    Pool,
    count_history,
    history_for,
    hour_of_week,
    new_id,
    recent_neighbourhood,
)
from node.rescoring import apply_assessment, near_to_rescore, rescore_around, rescored_values
from node.sources import Recent, RecentMemory
from node.store import UNLISTED, FollowUpRow, Report, to_hour
from scoring.defaults import ScoringConfig
from scoring.model import Channel, FollowUpKind, History, ReportType, Verdict
from scoring.moderation import REASON_CODE, Moderation, moderate
from scoring.review import review_reasons
from scoring.text import fingerprint

# Words a reporter may use for a type, in every language we ship.
TYPE_WORDS: dict[str, ReportType] = {
    "checkpoint": ReportType.CHECKPOINT,
    "reten": ReportType.CHECKPOINT,
    "retén": ReportType.CHECKPOINT,
    "punto de control": ReportType.CHECKPOINT,
    "raid": ReportType.RAID,
    "redada": ReportType.RAID,
    "vehicle": ReportType.VEHICLE,
    "vehiculo": ReportType.VEHICLE,
    "vehículo": ReportType.VEHICLE,
    "patrol": ReportType.PATROL,
    "patrulla": ReportType.PATROL,
}
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


# Shorter descriptions get no fingerprint: two people may well write
# "checkpoint on the 805" independently; only longer copies are floods.
MIN_FINGERPRINT_WORDS = 6


# A fingerprint is kept as its smallest hashes only (a bottom-k sketch): near
# copies share them, and memory per remembered report stays bounded.
FINGERPRINT_SKETCH = 64


def _fingerprint(description: str | None) -> frozenset[int] | None:
    if description is None or len(description.split()) < MIN_FINGERPRINT_WORDS:
        return None
    return frozenset(sorted(fingerprint(description))[:FINGERPRINT_SKETCH])


@dataclass(frozen=True)
class IntakeLimits:
    max_area_chars: int
    max_description_chars: int


@dataclass(frozen=True)
class ValidReport:
    type: ReportType
    area: AreaMatch
    highway: str | None
    description: str | None
    still_active: bool
    moderation: Moderation


def _clean(value: Any) -> str | None:
    """Text as typed, without control characters; None when empty."""
    text = CONTROL_CHARS.sub("", value).strip()
    return text or None


def ambiguous_area(found: AreaMatch) -> FieldError:
    """ "Which one do you mean?": the candidates' ids (space-separated) and names (", ")."""
    ids = " ".join(area.id for area in found.candidates)
    names = ", ".join(area.name for area in found.candidates)
    return FieldError("area", "ambiguous_area", (("choices", names), ("ids", ids)))


def validate(
    draft: ReportDraft, gazetteer: Gazetteer, limits: IntakeLimits
) -> ValidReport | tuple[FieldError, ...]:
    errors: list[FieldError] = []
    fields: dict[str, str | None] = {}
    for name in ("type", "area", "highway", "description"):
        value = getattr(draft, name)
        if value is not None and not isinstance(value, str):
            errors.append(FieldError(name, "not_text"))
            fields[name] = None
        else:
            fields[name] = _clean(value) if value is not None else None

    report_type = None
    if fields["type"] is None:
        if not any(e.field == "type" for e in errors):
            errors.append(FieldError("type", "missing_type"))
    else:
        report_type = TYPE_WORDS.get(fields["type"].casefold())
        if report_type is None:
            errors.append(FieldError("type", "invalid_type"))

    area_text = fields["area"]
    area_match: AreaMatch | None = None
    chosen = gazetteer.by_id.get(draft.area_id) if isinstance(draft.area_id, str) else None
    if chosen is not None:  # picked from the choices offered: no need to read the text again
        area_match = AreaMatch(chosen.id, chosen.name, chosen)
        area_text = area_text or chosen.name
    elif area_text is None:
        if not any(e.field == "area" for e in errors):
            errors.append(FieldError("area", "missing_area"))
    elif len(area_text) > limits.max_area_chars:
        errors.append(FieldError("area", "area_too_long", (("max", str(limits.max_area_chars)),)))
    else:
        refusals = () if gazetteer.names_a_place(area_text) else moderate(area_text).refusals
        errors += [FieldError("area", REASON_CODE[f.kind]) for f in refusals]
        if not refusals:
            area_match = gazetteer.match(area_text)
            if area_match.ambiguous:  # unsure: the reporter chooses (ids, then names)
                errors.append(ambiguous_area(area_match))

    highway = None
    if fields["highway"] is not None:
        highway = gazetteer.highway(fields["highway"])
        if highway is None:
            errors.append(FieldError("highway", "invalid_highway"))

    description = fields["description"]
    moderation = moderate(description or "")
    if description is not None and len(description) > limits.max_description_chars:
        errors.append(
            FieldError(
                "description", "description_too_long", (("max", str(limits.max_description_chars)),)
            )
        )
    else:
        seen: set[str] = set()
        for finding in moderation.refusals:
            code = REASON_CODE[finding.kind]
            if code not in seen:
                seen.add(code)
                errors.append(FieldError("description", code))

    if draft.still_active is not None and not isinstance(draft.still_active, bool):
        errors.append(FieldError("still_active", "invalid_still_active"))

    if errors:
        return tuple(errors)
    assert report_type is not None and area_match is not None
    return ValidReport(
        type=report_type,
        area=area_match,
        highway=highway,
        description=description,
        still_active=True if draft.still_active is None else draft.still_active,
        moderation=moderation,
    )


@dataclass(frozen=True)
class IntakeContext:
    """What the writer-thread jobs need besides the session."""

    config: ScoringConfig
    keys: KeyRing
    memory: RecentMemory
    alerts: AlertSettings
    retention: dict[str, timedelta]
    bounds: Bounds
    nearby: Callable[[str], Sequence[str]]  # an area and its gazetteer neighbours, nearest first
    # The recent window in memory (node.recent); without one, every read goes to the store.
    recent: RecentIndex = field(default_factory=RecentIndex.disabled)


@dataclass(frozen=True)
class Stored:
    report: Report | Entry  # the stored report's values (an index entry, not an ORM object)
    review: tuple[str, ...]


INSERT_REPORT = insert(Report.__table__)  # type: ignore[arg-type]
# Re-scored reports: SET confidence, status, independent_sources, flags (executemany).
UPDATE_SCORE = update(Report.__table__).where(  # type: ignore[arg-type]
    Report.__table__.c.id == bindparam("_id")  # type: ignore[attr-defined]
)
NEW_REPORT = {  # the columns a new report starts with, besides those store_report sets
    "verdict": Verdict.NONE.value,
    "status": "unverified",
    "confidence": 0.0,
    "independent_sources": 1,
    "flags": "",
    "review_reasons": "",
    "in_review": False,
    "description_ct": None,
    "description_key": None,
    "area_ct": None,
    "incident_id": None,  # set by settle (node.incident_store)
}


def store_report(
    session: Session,
    ctx: IntakeContext,
    valid: ValidReport,
    channel: Channel,
    sources: frozenset[bytes],
    now: datetime,
) -> Stored:
    """Score a new report against the recent window, insert it, index it."""
    hour = to_hour(now)
    area = valid.area
    place = area.area.place if area.area else None
    report_id = new_id()
    report = Entry(
        **NEW_REPORT,
        id=report_id,
        type=valid.type.value,
        area_id=area.id if area.known else UNLISTED + report_id,  # free text: never an id
        area_name=area.name if area.known else "",
        area_known=area.known,
        lat=place.lat if place else None,
        lon=place.lon if place else None,
        highway=valid.highway,
        hour=hour,
        channel=channel.value,
        still_active_claimed=valid.still_active,
        retention_class=RETENTION_CLASS[Verdict.NONE],
        purge_after_hour=hour,
    )
    ctx.memory.remember(
        report.id,
        Recent(sources=sources, fingerprint=_fingerprint(valid.description), seen_at=now),
    )
    rows = recent_neighbourhood(
        session, ctx.recent, ctx.nearby(area.id), hour, ctx.config, ctx.bounds.max_neighbours
    )
    pool = Pool(rows, ctx.memory, now)
    history = history_for(session, area.id, hour)
    assessment = apply_assessment(report, pool, now, ctx.config, history)
    reasons = review_reasons(assessment, len(valid.description or ""), valid.moderation, ctx.config)
    report.review_reasons = ",".join(reasons)
    report.in_review = bool(reasons)
    unlisted = None if area.known else area.name
    file_under(report, Verdict.NONE, valid.description, now, ctx, area_text=unlisted)
    index = ctx.recent
    index.put(report)
    if index.staging(session):  # a writer session: one INSERT per batch (node.recent)
        if area.known:  # a free-text area is never kept beyond its report
            index.count(area.id, hour_of_week(hour), 1, 0)
        index.stage(report, (area.id, hour_of_week(hour)) if area.known else None)
    else:
        session.connection().execute(INSERT_REPORT, report.params())
        if area.known:
            count_history(session, area.id, hour, reports=1)
    mark_unsettled(session, report, now)
    return Stored(report, tuple(reasons))


def file_under(
    report: Report | Entry,
    verdict: Verdict,
    description: str | None,
    now: datetime,
    ctx: IntakeContext,
    area_text: str | None = None,
) -> None:
    """Put a report in the retention class of its verdict, from `now`.

    Sets its purge hour and encrypts its free text (description, and the text
    of a place not in the gazetteer) under that class's key of today, so the
    key is destroyed when the class's retention has passed.
    """
    report.verdict = verdict.value
    report.retention_class = RETENTION_CLASS[verdict]
    keep = ctx.retention[report.retention_class]
    report.purge_after_hour = to_hour(now) + int(keep / timedelta(hours=1))
    key_id = KeyId(report.retention_class, now.date())
    report.description_ct = report.area_ct = report.description_key = None
    if description is not None:
        report.description_ct = ctx.keys.encrypt(key_id, description, report.id)
    if area_text is not None:
        report.area_ct = ctx.keys.encrypt(key_id, area_text, report.id + AREA_BINDING)
    if description is not None or area_text is not None:
        report.description_key = key_id.label()


AREA_BINDING = "|area"  # associated data of an area text: never swappable with a description


def description_of(report: Report | Entry, keys: KeyRing) -> str | None:
    """The report's description, or None when it has none or its key was destroyed."""
    if report.description_ct is None or report.description_key is None:
        return None
    return keys.decrypt(KeyId.parse(report.description_key), report.description_ct, report.id)


def area_text_of(report: Report | Entry, keys: KeyRing) -> str | None:
    """The text of a place not in the gazetteer (for moderators only), or None when the
    report names a gazetteer area or the key was destroyed."""
    if report.area_ct is None or report.description_key is None:
        return None
    key_id = KeyId.parse(report.description_key)
    return keys.decrypt(key_id, report.area_ct, report.id + AREA_BINDING)


def apply_verdict(
    session: Session, ctx: IntakeContext, report_id: str, verdict: Verdict, now: datetime
) -> bool:
    """A moderator's confirm, debunk or archive: it overrides the score. False: no report."""
    report = session.get(Report, report_id)
    if report is None:
        return False
    old = Verdict(report.verdict)
    if old != verdict:
        if Verdict.CONFIRMED in (old, verdict) and report.area_known:
            count_history(
                session,
                report.area_id,
                report.hour,
                confirmed=1 if verdict == Verdict.CONFIRMED else -1,
            )
        file_under(
            report,
            verdict,
            description_of(report, ctx.keys),
            now,
            ctx,
            area_text=area_text_of(report, ctx.keys),
        )
        report.confidence = {Verdict.CONFIRMED: 1.0, Verdict.DEBUNKED: 0.0}.get(
            verdict, report.confidence
        )
        report.status = verdict.value
    report.in_review = False
    session.add(report)
    mark_unsettled(session, report, now)
    return True


def store_follow_up(
    session: Session,
    ctx: IntakeContext,
    report_id: str,
    kind: FollowUpKind,
    sources: frozenset[bytes],
    by_moderator: bool,
    now: datetime,
    by_member: bool = False,
) -> Report | None:
    """Record a follow-up from an independent source; repeats and the reporter's own are ignored.

    by_member: it came from a vetted member (the member room), which scoring.decay weighs
    above an anonymous one."""
    report = session.get(Report, report_id)
    if report is None:
        return None
    recent = ctx.memory.get(report_id, now)
    followed = ctx.memory.follow_up_sources(report_id, now)
    # A follow-up counts once per source, never from the report's own source.
    # After a restart the report's own source is unknown: its reporter may
    # count once, like anyone else, but never twice.
    own = recent.sources if recent is not None else frozenset()
    independent = by_moderator or not (sources & own or sources & followed)
    if independent:
        followed.update(sources)
        session.add(
            FollowUpRow(
                report_id=report_id,
                kind=kind.value,
                hour=to_hour(now),
                by_moderator=by_moderator,
                by_member=by_member and not by_moderator,
            )
        )
        mark_unsettled(session, report, now, rescore=False)
    return report


UNSETTLED = "vecinos_unsettled"  # session.info: clusters whose neighbours and alert need a look


@dataclass
class Unsettled:
    """What a batch changed in one cluster (area x type), for settle()."""

    now: datetime
    rescore_around: list[str] = field(default_factory=list)  # report ids, in arrival order
    follow_up: bool = False  # a follow-up changed activity: the alert needs a look


def mark_unsettled(
    session: Session, report: Report | Entry, now: datetime, rescore: bool = True
) -> None:
    """Leave the cluster's re-scoring and alert to settle(), once per committed batch."""
    pending: dict[tuple[str, str], Unsettled] = session.info.setdefault(UNSETTLED, {})
    entry = pending.setdefault((report.area_id, report.type), Unsettled(now))
    entry.now = max(entry.now, now)
    if rescore:
        entry.rescore_around.append(report.id)
    else:
        entry.follow_up = True


def settle(session: Session, ctx: IntakeContext) -> None:
    """Before a batch commits: re-score around what changed and bring alerts up to date.

    Runs once per batch, inside the batch's transaction, so an alert row
    commits together with the reports that caused it. Around at most
    bounds.max_rescored changed reports per cluster (the latest ones).
    Re-scoring reads the recent window from the index and writes the changed
    scores with one UPDATE per batch; a center older than the index is
    re-scored through the ORM (rescore_around) instead.
    """
    pending: dict[tuple[str, str], Unsettled] = session.info.pop(UNSETTLED, {})
    if not pending:
        return
    session.flush()
    index = ctx.recent
    histories: dict[tuple[str, int], History] = {}

    def history(area_id: str, hour: int) -> History:
        key = (area_id, hour)
        found = histories.get(key)
        if found is None:
            found = histories[key] = history_for(session, area_id, hour)
        return found

    # Neighbourhoods by (area, hour): only scores change in the index until evict() below.
    neighbourhoods: dict[tuple[str, int], list[Entry]] = {}

    def neighbourhood(row: Entry) -> list[Entry]:
        key = (row.area_id, row.hour)
        found = neighbourhoods.get(key)
        if found is None:
            found = neighbourhoods[key] = _neighbourhood_of(session, ctx, row)
        return found

    updates: dict[str, dict[str, object]] = {}
    to_rescore: dict[str, tuple[Entry, datetime]] = {}  # each re-scored once per batch
    # Every changed cluster gets its incident's stage (node.incident_store). Another cluster's
    # alert, notice or stage can change only if it has one open (or an incident past
    # "reported"), or a re-scored report of it reached the threshold.
    open_clusters = open_alert_clusters(session)
    threshold = ctx.alerts.watch_threshold  # alerts and responder notices
    to_refresh: dict[tuple[str, str], datetime] = {}
    for key, entry in sorted(pending.items()):
        to_refresh[key] = entry.now
        for report_id in entry.rescore_around[-ctx.bounds.max_rescored :]:
            center = index.get(report_id)
            if center is None:  # older than the index: through the ORM
                _write_scores(session, updates)
                changed = _rescore_stored(session, ctx, report_id, entry.now, histories)
                if changed is None:  # its job was rolled back
                    continue
                center_row, rows = changed
                if center_row.confidence >= threshold or center_row.verdict != Verdict.NONE:
                    to_refresh[key] = entry.now
                for row in rows:
                    cluster = (row.area_id, row.type)
                    if cluster in open_clusters or row.confidence >= threshold:
                        to_refresh.setdefault(cluster, entry.now)
                continue
            if center.confidence >= threshold or center.verdict != Verdict.NONE:
                to_refresh[key] = entry.now
            rows = neighbourhood(center)
            for row in near_to_rescore(center, rows, ctx.memory, entry.now, ctx.config, ctx.bounds):
                to_rescore[row.id] = (
                    row,
                    max(entry.now, to_rescore.get(row.id, (row, entry.now))[1]),
                )
    # Each chosen report is scored against its own neighbourhood, as when it arrived.
    pools: dict[tuple[str, int, datetime], Pool] = {}
    for row, now in to_rescore.values():
        pool = pools.get((row.area_id, row.hour, now))
        if pool is None:
            pool = pools[(row.area_id, row.hour, now)] = Pool(neighbourhood(row), ctx.memory, now)
        values = rescored_values(row, pool, now, ctx.config, history(row.area_id, row.hour))
        if values is None:
            continue
        if index.get(row.id) is row:
            index.update(row, values)
        else:  # older than the index: a copy, written to the store only
            for name, value in values.items():
                setattr(row, name, value)
        updates[row.id] = values
        cluster = (row.area_id, row.type)
        if cluster in open_clusters or row.confidence >= threshold:
            to_refresh.setdefault(cluster, now)
    _write_scores(session, updates)
    index.evict(to_hour(max(entry.now for entry in pending.values())))
    alerts = open_alerts(session, (area_id for area_id, _ in to_refresh))  # one read for all
    for (area_id, report_type), now in sorted(to_refresh.items()):
        refresh_alert(session, area_id, report_type, now, ctx.config, ctx.alerts, alerts)


def _neighbourhood_of(session: Session, ctx: IntakeContext, row: Entry) -> list[Entry]:
    return recent_neighbourhood(
        session,
        ctx.recent,
        ctx.nearby(row.area_id),
        row.hour,
        ctx.config,
        ctx.bounds.max_neighbours,
    )


def _rescore_stored(
    session: Session,
    ctx: IntakeContext,
    report_id: str,
    now: datetime,
    histories: dict[tuple[str, int], History],
) -> tuple[Report, list[Report]] | None:
    """Re-score around a report the index does not hold, through the ORM."""
    center = session.get(Report, report_id)
    if center is None:
        return None
    changed = rescore_around(
        session, center, ctx.memory, now, ctx.config, ctx.bounds, ctx.nearby, histories
    )
    return center, changed


def _write_scores(session: Session, updates: dict[str, dict[str, object]]) -> None:
    """Store re-scored values: on the session's own object when it holds the report
    (so the ORM never writes back a stale score), else with one UPDATE for all."""
    if not updates:
        return
    params = []
    for report_id, values in updates.items():
        loaded = session.identity_map.get(Session.identity_key(Report, report_id))
        if loaded is not None:
            for name, value in values.items():
                setattr(loaded, name, value)
            session.add(loaded)
        else:
            params.append({"_id": report_id, **values})
    if params:
        session.connection().execute(UPDATE_SCORE, params)
    updates.clear()
