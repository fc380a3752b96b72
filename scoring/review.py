"""Which reports go to the moderators' queue, and in what order.

Rules kept here:
- A young chapter has no history anywhere, so NO_HISTORY alone never sends a
  report to review; together with a strong level (likely or above) it does:
  a strong claim where nothing ever happened deserves a human look.
- priority() orders the queue, highest first:

      priority = priority_active                  if the report is still active
               + impact(type)                     raid > checkpoint > patrol > vehicle
               + nearness                         in [0, 1]
               + priority_per_reason * len(reasons)

  nearness = max over the level floors f of w(f) * max(0, 1 - |confidence - f| / band),
  with band = priority_threshold_band, w = 1 for the likely and confirmed floors
  (0.6, 0.8: what a moderator's decision would change most) and
  priority_possible_floor_weight for the possible floor (0.3). With the defaults
  the active term (4) outweighs everything else (at most 2 + 1 + 0.5), so every
  active report sorts before every inactive one.
"""

from __future__ import annotations

from collections.abc import Sequence

from scoring.defaults import LEVEL_FLOORS, ScoringConfig
from scoring.model import Assessment, Flag, Level, ReportType, ReviewReason
from scoring.moderation import Moderation


def review_reasons(
    assessment: Assessment,
    description_chars: int,
    moderation: Moderation,
    config: ScoringConfig,
) -> tuple[ReviewReason, ...]:
    """Why a human should look at this report (empty: no review needed)."""
    flags = assessment.flags
    reasons: list[ReviewReason] = []
    if (
        assessment.confidence <= config.low_confidence
        and description_chars >= config.long_description_chars
    ):
        reasons.append(ReviewReason.LOW_CONFIDENCE_LONG_TEXT)
    strong = assessment.level in (Level.LIKELY, Level.CONFIRMED)
    if flags & {Flag.UNKNOWN_AREA, Flag.UNUSUAL_HOUR} or (Flag.NO_HISTORY in flags and strong):
        reasons.append(ReviewReason.ANOMALY)
    if Flag.NEAR_DUPLICATE in flags:
        reasons.append(ReviewReason.NEAR_DUPLICATE)
    if Flag.BURST in flags:
        reasons.append(ReviewReason.BURST)
    if moderation.review:
        reasons.append(ReviewReason.BORDERLINE_MODERATION)
    return tuple(reasons)


def impact(report_type: ReportType, config: ScoringConfig) -> float:
    """How much harm a report of this type may announce (queue order only)."""
    return {
        ReportType.RAID: config.impact_raid,
        ReportType.CHECKPOINT: config.impact_checkpoint,
        ReportType.PATROL: config.impact_patrol,
        ReportType.VEHICLE: config.impact_vehicle,
    }[report_type]


def nearness(confidence: float, config: ScoringConfig) -> float:
    """In [0, 1]: how close a confidence is to a level floor (see the module doc)."""
    band = config.priority_threshold_band
    best = 0.0
    for floor, level in LEVEL_FLOORS:
        if floor <= 0.0:
            continue
        weight = config.priority_possible_floor_weight if level == Level.POSSIBLE else 1.0
        if band > 0:
            close = max(0.0, 1.0 - abs(confidence - floor) / band)
        else:
            close = 1.0 if confidence == floor else 0.0
        best = max(best, weight * close)
    return best


def priority(
    report_type: ReportType,
    active: bool,
    confidence: float,
    reasons: Sequence[ReviewReason],
    config: ScoringConfig,
) -> float:
    """Sort key of the moderators' queue, highest first (formula in the module doc)."""
    return (
        (config.priority_active if active else 0.0)
        + impact(report_type, config)
        + nearness(confidence, config)
        + config.priority_per_reason * len(set(reasons))
    )
