"""How a report ages: its age label, its fading, and whether it is still active.

Rules kept here:
- Times are hour buckets: a report at hour H may have been seen as late as
  H:59, so every duration is counted from the end of the bucket (H + 1 h).
- A follow-up cannot act before it happened: follow-ups later than "now"
  are ignored, so the function answers "how did it look at `now`".
- A DEBUNKED or ARCHIVED verdict is never active; a moderator's "gone" ends
  a report on its own; anonymous "gone"s need a quorum that grows with the
  evidence for the report (gone_quorum); a vetted member's counts
  member_gone_weight of them.
- Anonymous "still there" extends a report at most max_anonymous_extension
  past its own hour, a member's at most max_member_extension; a moderator's
  is not limited.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from scoring.defaults import AGE_LABELS, ScoringConfig
from scoring.model import Decay, FollowUp, FollowUpKind, ReportType, Verdict

HOUR = timedelta(hours=1)  # the bucket width of every report time


def _bucket(t: datetime) -> datetime:
    return t.replace(minute=0, second=0, microsecond=0)


def age_label(age: timedelta) -> str:
    """The AGE_LABELS key for an age (a negative age is "just reported")."""
    for bound, label in AGE_LABELS:
        if bound is None or age < bound:
            return label
    return AGE_LABELS[-1][1]


def _fade(age: timedelta, minimum: float, config: ScoringConfig) -> float:
    if config.fade_over <= timedelta(0):
        fraction = 1.0 if age > timedelta(0) else 0.0
    else:
        fraction = min(1.0, max(0.0, age / config.fade_over))
    return 1.0 - (1.0 - minimum) * fraction


def gone_quorum(sources: int, config: ScoringConfig) -> int:
    """Anonymous "gone"s that end a report backed by `sources` independent sources."""
    extra = max(0.0, config.gone_per_source) * max(0, sources - 1)
    return max(1, config.gone_to_end + math.ceil(extra - 1e-9))


def _extended(hour: datetime, still_there: FollowUp, config: ScoringConfig) -> datetime:
    """The hour a "still there" carries a report to, capped by its sender's tier."""
    said = _bucket(still_there.hour)
    if still_there.by_moderator:
        return said
    cap = config.max_member_extension if still_there.by_member else config.max_anonymous_extension
    return min(hour + cap, said)


def decay(
    report_type: ReportType,
    hour: datetime,
    follow_ups: Sequence[FollowUp],
    verdict: Verdict,
    now: datetime,
    config: ScoringConfig,
    sources: int = 1,
) -> Decay:
    """How a report is shown at `now`; `sources`: the report's independent sources."""
    hour = _bucket(hour)
    past = [f for f in follow_ups if f.hour <= now]
    anchor = max(
        [hour, *(_extended(hour, f, config) for f in past if f.kind == FollowUpKind.STILL_THERE)]
    )
    active_until = anchor + HOUR + config.expiry(report_type)

    gones = [f for f in past if f.kind == FollowUpKind.GONE and _bucket(f.hour) >= anchor]
    weight = sum(max(0.0, config.member_gone_weight) if f.by_member else 1.0 for f in gones)
    ended_by_gone = weight >= gone_quorum(sources, config) - 1e-9 or any(
        f.by_moderator for f in gones
    )

    active = (
        now < active_until
        and not ended_by_gone
        and verdict not in (Verdict.DEBUNKED, Verdict.ARCHIVED)
    )
    age = now - hour
    if active:
        opacity = _fade(age, config.min_opacity, config)
        scale = _fade(age, config.min_scale, config)
    else:
        opacity, scale = config.min_opacity, config.min_scale
    return Decay(
        age_label=age_label(age),
        opacity=opacity,
        scale=scale,
        active=active,
        active_until=active_until,
        ended_by_gone=ended_by_gone,
    )


def visible(
    report_type: ReportType,
    hour: datetime,
    follow_ups: Sequence[FollowUp],
    verdict: Verdict,
    now: datetime,
    config: ScoringConfig,
    sources: int = 1,
) -> bool:
    """Shown on the map: active, or a debunk still shown as a debunk."""
    if verdict == Verdict.DEBUNKED:
        return now - _bucket(hour) < config.debunk_visible
    return decay(report_type, hour, follow_ups, verdict, now, config, sources).active
