"""Confidence of one report: a Bayesian update in log-odds from its neighbours.

Rules kept here:
- "now" is an argument; every tunable comes from a ScoringConfig.
- Evidence is counted per independent source, never per report: reports
  whose source sets intersect are one source (transitively, since the keyed
  hash rotates daily and a source may carry several hashes), and a source
  contributes once, through its best-matching report.
- Near-duplicate and templated descriptions are one piece of evidence at
  most: a copy or a template of the candidate's own text never corroborates
  it (a near copy flags it), and alike texts among the neighbours are merged
  into one source, like a shared source (config.template_similarity on
  fingerprints with numbers masked: same skeleton, swapped words/numbers).
- A neighbour a moderator CONFIRMED weighs config.confirmed_neighbour_weight
  times an ordinary one (default 2x): a human checked it. DEBUNKED neighbours
  are ignored altogether.

The model, in log-odds:

    total = logit(prior(channel))
          + min(cap, sum over independent sources of
                corroboration_llr * weight * type * k_dist * k_time)
          + history_llr * min(1, confirmed_same_hour_of_week / history_saturation)
          + anomaly_llr   (once, if the area is unknown or the hour unusual)

with the smooth kernel k(x) = (1 - x^2)^2 on [0, 1], 0 beyond:
k_dist = k(d / radius_km) and k_time = k(|dh| / (window + 1 h)), so a
neighbour at the edge of the window (|dh| = window) still counts a little,
and one bucket further counts nothing. cap is max_corroboration_llr, or
burst_llr_cap during a burst.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from scoring.defaults import ScoringConfig, level_for
from scoring.geo import distance_km
from scoring.model import (
    Assessment,
    Channel,
    Evidence,
    Flag,
    History,
    Level,
    Place,
    Verdict,
)
from scoring.text import similarity as text_similarity

HOUR = timedelta(hours=1)  # the bucket width of every report time (see scoring.model)
MINUTE = timedelta(minutes=1)  # the precision of an arrival time (memory only)
_PRIOR_EPS = 1e-6  # keeps logit() finite for a prior configured at 0 or 1


def _logit(p: float) -> float:
    p = min(1.0 - _PRIOR_EPS, max(_PRIOR_EPS, p))
    return math.log(p / (1.0 - p))


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _kernel(x: float) -> float:
    """1 at 0, smooth and non-increasing, 0 from 1 on."""
    if x >= 1.0:
        return 0.0
    x = max(0.0, x)
    return (1.0 - x * x) ** 2


def _bucket(t: datetime) -> datetime:
    if t.minute or t.second or t.microsecond:
        return t.replace(minute=0, second=0, microsecond=0)
    return t


# The kernels depend on a handful of values (area centroids, whole-hour gaps):
# they are memoised, which keeps the scorer pure (same arguments, same numbers).
@lru_cache(maxsize=1 << 16)
def _distance_kernel(lat1: float, lon1: float, lat2: float, lon2: float, radius_km: float) -> float:
    """k_dist between two centroids; 0 beyond the radius."""
    d = distance_km(Place(lat1, lon1), Place(lat2, lon2))
    if d > radius_km:
        return 0.0
    # d <= radius here, so a zero radius means the very same centroid
    return _kernel(d / radius_km) if radius_km > 0 else 1.0


@lru_cache(maxsize=1 << 12)
def _time_kernel(dt: timedelta, window: timedelta) -> float:
    """k_time for a gap between two hour buckets (or two arrival minutes); 0 beyond the window."""
    if dt > window:
        return 0.0
    return _kernel(dt / (window + HOUR))


def _gap(candidate: Evidence, other: Evidence) -> timedelta:
    """Time between two reports: their hour buckets, or their arrival minutes when the
    node remembers both (memory only) and they are closer. After a restart the minutes
    are forgotten: reports only ever look further apart, never closer (fail safe)."""
    buckets = abs(_bucket(candidate.hour) - _bucket(other.hour))
    if candidate.seen_at is not None and other.seen_at is not None:
        minutes = timedelta(minutes=round(abs(candidate.seen_at - other.seen_at) / MINUTE))
        return min(buckets, minutes)  # so a forgotten arrival never brings reports closer
    return buckets


def match_similarity(candidate: Evidence, other: Evidence, config: ScoringConfig) -> float:
    """type factor x distance kernel x time kernel, in [0, 1]; 0 when out of range."""
    a, b = candidate.place, other.place
    if a is None or b is None:
        if candidate.area != other.area:
            return 0.0
        k_dist = 1.0  # the same unknown area: distance 0
    else:
        k_dist = _distance_kernel(a.lat, a.lon, b.lat, b.lon, config.radius_km)
        if k_dist == 0.0:
            return 0.0
    k_time = _time_kernel(_gap(candidate, other), config.window)
    if k_time == 0.0:
        return 0.0
    type_factor = 1.0 if other.type == candidate.type else config.other_type_weight
    return max(0.0, min(1.0, type_factor)) * k_dist * k_time


class _Groups:
    """Union-find over indices: reports that are one source end up in one group."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        ri, rj = self.find(i), self.find(j)
        if ri != rj:
            # the smaller index wins, so the candidate (index 0) stays a root
            if rj < ri:
                ri, rj = rj, ri
            self.parent[rj] = ri


def _source_groups(reports: list[Evidence], groups: _Groups) -> None:
    """Union reports whose source sets intersect.

    An empty set means the source is unknown (the node forgot it, e.g. after a
    restart): every such report may be the same person, so together they form
    one source. Failing closed: unknown sources never add up to a crowd.
    """
    owner: dict[bytes, int] = {}
    unknown: int | None = None
    for i, report in enumerate(reports):
        if not report.sources:
            if unknown is None:
                unknown = i
            else:
                groups.union(unknown, i)
            continue
        for s in report.sources:
            if s in owner:
                groups.union(owner[s], i)
            else:
                owner[s] = i


def _count_sources(reports: list[Evidence]) -> int:
    groups = _Groups(len(reports))
    _source_groups(reports, groups)
    return len({groups.find(i) for i in range(len(reports))})


@dataclass(frozen=True)
class _Scored:
    report: Evidence
    contribution: float
    similarity: float  # match_similarity to the candidate, in (0, 1]


def vouched(report: Evidence) -> bool:
    """Evidence above the anonymous tier: a vetted member's or a moderator's (verifier's)
    report, or any report a moderator confirmed."""
    return report.channel != Channel.WEB or report.verdict == Verdict.CONFIRMED


def in_burst(
    candidate: Evidence, neighbours: Iterable[Evidence], history: History, config: ScoringConfig
) -> bool:
    """Whether the candidate's (area, type) had a burst: burst_sources distinct sources
    arriving within burst_window of each other, where nothing was ever confirmed.

    A state of the incident, per type, not of "now": a later report, of any type, does
    not lift it. Arrival minutes live in the node's memory only; after a restart they
    are gone and no burst is seen, but then the forgotten sources are one source
    (_source_groups), so there is no crowd to hold back either.
    """
    if history.confirmed_in_area > 0:
        return False
    arrived = sorted(
        (
            r
            for r in [candidate, *neighbours]
            if r.area == candidate.area and r.type == candidate.type and r.seen_at is not None
        ),
        key=lambda r: (r.seen_at, r.key),
    )
    need = max(1, config.burst_sources)
    start = 0
    for end, last in enumerate(arrived):
        assert last.seen_at is not None
        while arrived[start].seen_at < last.seen_at - config.burst_window:  # type: ignore[operator]
            start += 1
        window = arrived[start : end + 1]
        if len(window) >= need and _count_sources(window) >= need:
            return True
    return False


def assess(
    candidate: Evidence,
    neighbours: Iterable[Evidence],
    history: History,
    now: datetime,
    config: ScoringConfig,
) -> Assessment:
    """Score one report against its neighbours and the area's history."""
    flags: set[Flag] = set()

    # Distinct, not debunked, not the candidate itself.
    seen_keys = {candidate.key}
    pool: list[Evidence] = []
    for n in neighbours:
        if n.key in seen_keys or n.verdict == Verdict.DEBUNKED:
            continue
        seen_keys.add(n.key)
        pool.append(n)
    pool.sort(key=lambda r: r.key)  # deterministic whatever order the node passes

    # Neighbours in range (radius and window), with their contribution.
    in_range: list[_Scored] = []
    for n in pool:
        sim = match_similarity(candidate, n, config)
        if sim <= 0.0:
            continue
        weight = config.confirmed_neighbour_weight if n.verdict == Verdict.CONFIRMED else 1.0
        in_range.append(_Scored(n, config.corroboration_llr * weight * sim, sim))

    # Group by source: index 0 is the candidate, i + 1 is in_range[i].
    reports = [candidate, *(s.report for s in in_range)]
    groups = _Groups(len(reports))
    _source_groups(reports, groups)
    if any(candidate.sources & s.report.sources for s in in_range):
        flags.add(Flag.SAME_SOURCE)
    # Copies and templates: a text like the candidate's is the candidate's own source
    # (flagged when a near copy), and alike texts among neighbours are one source. Alike
    # means template_similarity on fingerprints whose numbers are masked
    # (scoring.text): a botnet's one skeleton with swapped words and numbers.
    alike = min(config.template_similarity, config.near_duplicate_similarity)
    representatives: list[int] = []
    for i, s in enumerate(in_range, start=1):
        fp = s.report.fingerprint
        if not fp:
            continue
        if candidate.fingerprint:
            sim = text_similarity(candidate.fingerprint, fp)
            if sim >= config.near_duplicate_similarity:
                flags.add(Flag.NEAR_DUPLICATE)
            if sim >= alike:
                groups.union(0, i)
                continue
        for r in representatives:
            rfp = reports[r].fingerprint
            if rfp and text_similarity(rfp, fp) >= alike:
                groups.union(r, i)
                break
        else:
            representatives.append(i)

    # Best report of each independent group; the candidate's own group counts nothing.
    own = groups.find(0)
    best: dict[int, _Scored] = {}
    for i, s in enumerate(in_range, start=1):
        g = groups.find(i)
        if g == own or s.contribution <= 0.0:
            continue
        current = best.get(g)
        if current is None or s.contribution > current.contribution:
            best[g] = s  # in_range is in key order: ties keep the smallest key
    counted = list(best.values())

    # Tiers: anonymous corroboration of the candidate's type, vouched corroboration of
    # its type, and other-type evidence (capped per incident, whatever its number).
    anonymous = sum(
        s.contribution for s in counted if s.report.type == candidate.type and not vouched(s.report)
    )
    vouching = sum(
        s.contribution for s in counted if s.report.type == candidate.type and vouched(s.report)
    )
    other_type = min(
        max(0.0, config.max_other_type_llr),
        sum(s.contribution for s in counted if s.report.type != candidate.type),
    )
    if in_burst(candidate, pool, history, config):
        flags.add(Flag.BURST)
        anonymous = min(anonymous, max(0.0, config.burst_llr_cap))
    corroboration = min(max(0.0, config.max_corroboration_llr), anonymous + vouching + other_type)
    anonymous_only = not vouched(candidate) and not any(
        vouched(s.report) for s in counted if s.report.type == candidate.type
    )
    # Type dominance: where many times more independent sources name another type, this
    # report is probably that event misnamed (a checkpoint's witness who says "patrol"):
    # it stays below sharing, like anonymous evidence, until a human looks.
    same_groups = 1 + sum(1 for s in counted if s.report.type == candidate.type)
    other_groups = len(counted) + 1 - same_groups
    if config.other_type_dominance > 0 and other_groups >= (
        config.other_type_dominance * same_groups
    ):
        anonymous_only = True

    # One member's word: vouched, but by one independent member only (no moderator's report,
    # nothing confirmed): held below sharing until a second member or a verifier. A second
    # member counts when their report matches this one at least second_member_similarity
    # (a member two areas away, or hours apart, saw something else, or saw it elsewhere).
    backing = [s for s in counted if s.report.type == candidate.type and vouched(s.report)]
    backers = [s.report for s in backing]
    if vouched(candidate):
        backers.append(candidate)
    strong = any(r.channel == Channel.MODERATOR or r.verdict == Verdict.CONFIRMED for r in backers)
    members = int(vouched(candidate)) + sum(
        1 for s in backing if s.similarity >= config.second_member_similarity
    )
    one_member = not anonymous_only and not strong and members < 2

    # History and anomalies.
    saturation = max(1, config.history_saturation)
    history_llr = config.history_llr * min(
        1.0, max(0, history.confirmed_same_hour_of_week) / saturation
    )
    if candidate.place is None:
        flags.add(Flag.UNKNOWN_AREA)
    elif history.confirmed_in_area == 0:
        flags.add(Flag.NO_HISTORY)
    if (
        history.reports_in_area >= config.unusual_hour_min_reports
        and history.reports_same_hour_of_day == 0
    ):
        flags.add(Flag.UNUSUAL_HOUR)
    anomaly = config.anomaly_llr if flags & {Flag.UNKNOWN_AREA, Flag.UNUSUAL_HOUR} else 0.0

    total = _logit(config.prior(candidate.channel)) + corroboration + history_llr + anomaly
    if anonymous_only:
        ceiling = config.anonymous_max_confidence
    elif one_member:
        ceiling = config.single_member_max_confidence
    else:
        ceiling = 1.0
    confidence = round(min(ceiling, 1.0, max(0.0, _sigmoid(total))), 4)
    return Assessment(
        confidence=confidence,
        level=level_for(confidence),
        independent_sources=1 + len(counted),
        corroborated_by=tuple(sorted(s.report.key for s in counted)),
        flags=frozenset(flags),
    )


def status_for(level: Level, verdict: Verdict) -> str:
    """The public status: a moderator's verdict wins over the score's level."""
    if verdict == Verdict.CONFIRMED:
        return "confirmed"
    if verdict == Verdict.DEBUNKED:
        return "debunked"
    if verdict == Verdict.ARCHIVED:
        return "archived"
    return level.value


def overridden_confidence(confidence: float, verdict: Verdict) -> float:
    """A moderator's confirm sets 1.0, a debunk 0.0; otherwise the score stands."""
    if verdict == Verdict.CONFIRMED:
        return 1.0
    if verdict == Verdict.DEBUNKED:
        return 0.0
    return confidence
