"""Moderators' tools beyond one verdict: corrections of type or area, batches, near-copies.

Rules kept here:
- Writer jobs (correct_report, apply_verdicts) run on the writer thread and
  leave the re-scoring of neighbours and the alerts to intake.settle(), like
  every other change, so a correction commits with the alert it changes.
- A correction re-scores the report as if it had arrived where it now is,
  and its old neighbours as if it had never been there.
- Nothing here records who moderated: no moderator name reaches a report.
- Near-copies use the NEAR_DUPLICATE rule of intake (bottom-k sketches of
  scoring.text fingerprints of descriptions of MIN_FINGERPRINT_WORDS words or
  more, compared with scoring's near_duplicate_similarity). Sketches are kept
  in memory only, and only for the current candidates (undecided reports of
  the last NEAR_COPY_HOURS): each look-up forgets the others.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from node.gazetteer import AreaMatch
from node.intake import (
    FINGERPRINT_SKETCH,
    MIN_FINGERPRINT_WORDS,
    IntakeContext,
    apply_verdict,
    description_of,
    mark_unsettled,
)
from node.keys import KeyId, KeyRing
from node.reports import (
    Pool,
    count_history,
    evidence_of,
    history_for,
    neighbourhood,
    window_hours,
)
from node.rescoring import apply_assessment
from node.store import Report, to_hour
from scoring.model import ReportType, Verdict
from scoring.moderation import moderate
from scoring.review import review_reasons
from scoring.score import match_similarity
from scoring.text import fingerprint, similarity

MAX_BATCH = 200  # reports one batch action may decide
NEAR_COPY_HOURS = 48  # near-copies are looked for among undecided reports this recent
MAX_NEAR_COPY_CANDIDATES = 2000  # ... the most recent ones
SKETCH_CACHE = 10_000  # descriptions' sketches kept in memory (they never change)

Sketch = frozenset[int]


@dataclass(frozen=True)
class Correction:
    """A moderator's fix of a report's type and/or area (a known gazetteer area)."""

    report_type: ReportType | None = None
    area: AreaMatch | None = None


def correct_report(
    session: Session, ctx: IntakeContext, report_id: str, fix: Correction, now: datetime
) -> Report | None:
    """Move a report to its corrected type/area and re-score both places. None: no report."""
    report = session.get(Report, report_id)
    if report is None:
        return None
    new_type = fix.report_type.value if fix.report_type is not None else report.type
    area = fix.area if fix.area is not None and fix.area.area is not None else None
    if new_type == report.type and (area is None or area.id == report.area_id):
        return report
    old = Report(**report.model_dump())  # detached: where the report was, for its old neighbours
    if area is not None and area.id != report.area_id:
        confirmed = 1 if report.verdict == Verdict.CONFIRMED else 0
        if report.area_known:
            count_history(session, report.area_id, report.hour, reports=-1, confirmed=-confirmed)
        count_history(session, area.id, report.hour, reports=1, confirmed=confirmed)
        assert area.area is not None
        report.area_id, report.area_name, report.area_known = area.id, area.name, True
        report.area_ct = None  # the reporter's free text is not needed once mapped
        report.lat, report.lon = area.area.place.lat, area.area.place.lon
    report.type = new_type
    session.add(report)
    session.flush()
    # Its old neighbours lose it as evidence; the old cluster's alert needs a look.
    _rescore_without(session, ctx, old, now)
    mark_unsettled(session, old, now, rescore=False)
    # The report itself, scored where it now is, and its review reasons again.
    pool = Pool(
        neighbourhood(
            session,
            ctx.nearby(report.area_id),
            report.hour,
            ctx.config,
            ctx.bounds.max_neighbours,
        ),
        ctx.memory,
        now,
    )
    history = history_for(session, report.area_id, report.hour)
    assessment = apply_assessment(report, pool, now, ctx.config, history)
    if report.verdict == Verdict.NONE:  # a decided report stays decided
        text = description_of(report, ctx.keys) or ""
        reasons = review_reasons(assessment, len(text), moderate(text), ctx.config)
        report.review_reasons = ",".join(reasons)
        report.in_review = bool(reasons)
    session.add(report)
    mark_unsettled(session, report, now)
    return report


def _rescore_without(session: Session, ctx: IntakeContext, gone: Report, now: datetime) -> None:
    """Re-score the reports `gone` was evidence for, now that it is elsewhere.

    The same neighbours as node.rescoring.rescore_around would pick (same area
    and type first, then the most recent, at most bounds.max_rescored), but
    `gone` itself is no longer among the evidence.
    """
    rows = neighbourhood(
        session, ctx.nearby(gone.area_id), gone.hour, ctx.config, ctx.bounds.max_neighbours
    )
    pool = Pool(rows, ctx.memory, now)
    me = evidence_of(gone, ctx.memory, now)
    window = window_hours(ctx.config)
    near = [
        row
        for row in rows
        if row.id != gone.id
        and pool.of(row).sources  # a report whose source was forgotten keeps its score
        and abs(row.hour - gone.hour) <= window
        and match_similarity(me, pool.of(row), ctx.config) > 0
    ]
    near.sort(key=lambda r: (r.area_id != gone.area_id or r.type != gone.type, -r.hour))
    for row in near[: ctx.bounds.max_rescored]:
        apply_assessment(row, pool, now, ctx.config, history_for(session, row.area_id, row.hour))
        session.add(row)


def apply_verdicts(
    session: Session, ctx: IntakeContext, report_ids: Iterable[str], verdict: Verdict, now: datetime
) -> int:
    """One verdict for many reports, in one transaction; how many reports existed."""
    ids = list(dict.fromkeys(report_ids))[:MAX_BATCH]
    return sum(apply_verdict(session, ctx, report_id, verdict, now) for report_id in ids)


# -- near-copies -------------------------------------------------------------


def sketch_of(description: str | None) -> Sketch | None:
    """The intake's sketch of a description; None when it is too short to be a copy."""
    if description is None or len(description.split()) < MIN_FINGERPRINT_WORDS:
        return None
    return frozenset(sorted(fingerprint(description))[:FINGERPRINT_SKETCH])


class SketchCache:
    """report id -> sketch of its description, bounded, thread-safe (readers run in threads)."""

    def __init__(self, size: int = SKETCH_CACHE) -> None:
        self._size = size
        self._items: OrderedDict[str, Sketch | None] = OrderedDict()
        self._lock = threading.Lock()

    def known(self, report_ids: Iterable[str]) -> dict[str, Sketch | None]:
        """The cached sketches among these ids (None: cached as too short to be a copy)."""
        with self._lock:
            found = {i: self._items[i] for i in report_ids if i in self._items}
            for report_id in found:
                self._items.move_to_end(report_id)
        return found

    def keep_only(self, report_ids: Iterable[str]) -> None:
        """Forget every sketch but these (reports decided, purged or too old are not kept)."""
        wanted = set(report_ids)
        with self._lock:
            for report_id in [i for i in self._items if i not in wanted]:
                del self._items[report_id]

    def add(self, report_id: str, sketch: Sketch | None) -> None:
        with self._lock:
            self._items[report_id] = sketch
            while len(self._items) > self._size:
                self._items.popitem(last=False)


def candidate_sketches(
    session: Session, keys: KeyRing, cache: SketchCache, now: datetime
) -> dict[str, Sketch]:
    """Sketches of the undecided reports of the last NEAR_COPY_HOURS (most recent first).

    Only the ids are read for every candidate; a description is read and
    decrypted once per report, then its sketch comes from the cache.
    """
    ids = session.exec(
        select(Report.id)
        .where(
            col(Report.verdict) == Verdict.NONE.value,
            col(Report.hour) >= to_hour(now) - NEAR_COPY_HOURS,
            col(Report.description_ct).is_not(None),
        )
        .order_by(col(Report.hour).desc(), col(Report.id).desc())
        .limit(MAX_NEAR_COPY_CANDIDATES)
    ).all()
    cache.keep_only(ids)
    known = cache.known(ids)
    missing = [i for i in ids if i not in known]
    for start in range(0, len(missing), 500):
        rows = session.exec(
            select(Report.id, Report.description_ct, Report.description_key).where(
                col(Report.id).in_(missing[start : start + 500])
            )
        ).all()
        for report_id, blob, label in rows:
            text = None
            if blob is not None and label is not None:
                text = keys.decrypt(KeyId.parse(label), blob, report_id)
            known[report_id] = sketch_of(text)
            cache.add(report_id, known[report_id])
    return {i: sketch for i in ids if (sketch := known.get(i)) is not None}


def near_copies(target: str, sketches: Mapping[str, Sketch], threshold: float) -> list[str]:
    """The other reports whose sketch is at least `threshold` similar to the target's."""
    mine = sketches.get(target)
    if mine is None:
        return []
    return [
        other
        for other, sketch in sketches.items()
        if other != target and similarity(mine, sketch) >= threshold
    ]


def near_copy_counts(
    targets: Sequence[str], sketches: Mapping[str, Sketch], threshold: float
) -> dict[str, int]:
    """For each target, how many other reports are near-copies of it.

    Identical sketches (plain copy-paste) are compared once, and only
    sketches sharing a hash are compared at all, so a flood of copies costs
    about as much as one report.
    """
    groups: dict[Sketch, int] = {}
    for sketch in sketches.values():
        groups[sketch] = groups.get(sketch, 0) + 1
    index: dict[int, list[Sketch]] = {}
    for sketch in groups:
        for value in sketch:
            index.setdefault(value, []).append(sketch)
    memo: dict[Sketch, int] = {}
    counts: dict[str, int] = {}
    for target in targets:
        mine = sketches.get(target)
        if mine is None:
            counts[target] = 0
            continue
        if mine not in memo:
            near = {s for value in mine for s in index.get(value, ())}
            memo[mine] = sum(groups[s] for s in near if similarity(mine, s) >= threshold)
        counts[target] = memo[mine] - 1  # not itself
    return counts
