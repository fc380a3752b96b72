"""Every threshold and default of the scoring model, in one table.

Rule: no other module of scoring/ hard-codes a number that a chapter might
want to tune; it takes a ScoringConfig. The node builds one from its config
file ([scoring] section), where every field below may be overridden.

Base rates are low (a large hotline confirmed 2 sightings out of thousands of
calls in early 2025): the defaults err towards "possible", not "confirmed".
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import timedelta

from scoring.model import Channel, Level, ReportType

# Lower bound of each level; the table is total over [0, 1].
LEVEL_FLOORS: tuple[tuple[float, Level], ...] = (
    (0.8, Level.CONFIRMED),
    (0.6, Level.LIKELY),
    (0.3, Level.POSSIBLE),
    (0.0, Level.UNVERIFIED),
)

# Age labels, by the age of the report's hour bucket (upper bound, exclusive).
# Keys are message ids, translated by the node's catalogs.
AGE_LABELS: tuple[tuple[timedelta | None, str], ...] = (
    (timedelta(hours=1), "just_reported"),
    (timedelta(hours=3), "one_two_hours_ago"),
    (timedelta(hours=7), "few_hours_ago"),
    (timedelta(hours=24), "earlier_today"),
    (None, "yesterday_or_older"),
)


@dataclass(frozen=True)
class ScoringConfig:
    # Prior probability that a report is true, by channel.
    prior_web: float = 0.3
    # 0.35: a member's report and one anonymous witness reach 'likely' (0.69), below sharing;
    # with more witnesses it is held at single_member_max_confidence: one person's mistake
    # and passers-by are not a verification. Two members and a witness (0.80), or a
    # moderator's report with a witness, are shared.
    prior_member: float = 0.35
    prior_moderator: float = 0.65

    # Corroboration: each independent nearby report adds this much log-odds,
    # times its similarity (type match x distance kernel x time kernel).
    # 1.4: two independent witnesses minutes apart reach 'likely' (0.3 -> 0.63), as the
    # Waze-like two-source rule alerts, and a member plus one witness reach 0.69.
    corroboration_llr: float = 1.4
    max_corroboration_llr: float = 2.0  # cap: corroboration alone stops below confirmed
    radius_km: float = 5.0
    window: timedelta = timedelta(hours=2)
    other_type_weight: float = 0.3  # similarity of a different type (raid vs patrol...)
    # Other-type evidence, summed over the incident, counts at most one such report's worth:
    # nine vans nearby do not make a lone raid report likely (0.3 -> 0.39 at most).
    max_other_type_llr: float = 0.42

    # Trust tiers: anonymous (web) < vetted member < moderator / verifier. Evidence made only
    # of anonymous reports (no member, moderator or confirmed report of the type) stops at this
    # confidence, whatever its number: 'likely' (shown, sent to responders as "needs
    # verification"), below the federation share_threshold (0.7): never shared by itself.
    anonymous_max_confidence: float = 0.65
    # One vetted member's word, with any number of anonymous witnesses, stops here: 'likely'
    # (shown, told to responders, a verifier asked), below the share threshold (0.7). Members
    # are vetted against fakes, not against mistakes: in the simulator the false alerts still
    # shared were honest false alarms (a tow truck) that one member and two passers-by saw.
    # Two independent members with a witness, a moderator's report with a witness, or a
    # verifier's confirm are shared. 1.0 turns it off (a chapter that shares on one
    # member's word).
    single_member_max_confidence: float = 0.69
    # A second member's report lifts that ceiling only when it matches the first this much
    # (type x distance x time kernels): 0.5 is within about 2.7 km at the same time, or the
    # same place up to 1.5 h apart. A member two areas away (3.5 km: 0.27) saw something
    # else, or the same thing elsewhere: not a second pair of eyes on this sighting.
    second_member_similarity: float = 0.5
    # A report whose place has this many times as many independent sources naming another
    # type is probably that event misnamed: held at anonymous_max_confidence (0 turns it off).
    other_type_dominance: float = 3.0
    confirmed_neighbour_weight: float = 2.0  # a neighbour a moderator confirmed counts 2x

    # Near-duplicate descriptions (copy-paste floods): Jaccard over shingles.
    near_duplicate_similarity: float = 0.8
    # Templates (one skeleton, swapped words and numbers: botnets) are one source from this
    # similarity on. Measured on the simulator's texts: every pair of one botnet template
    # is >= 0.5 (median 0.71), 0.26 % of pairs of honest texts of one type and language are.
    template_similarity: float = 0.5

    # History: confirmed past activity at this area and hour of week.
    history_llr: float = 0.4
    history_saturation: int = 3  # confirmed matches for the full history_llr
    anomaly_llr: float = -0.2  # unknown area or unusual hour
    unusual_hour_min_reports: int = 10  # an hour is "unusual" only once the area has this many

    # Burst: many new sources in one area within minutes, with no history.
    # A burst is a state of the incident, per type (arrival minutes in memory only).
    burst_sources: int = 4
    burst_window: timedelta = timedelta(minutes=10)
    # Anonymous corroboration in a burst counts at most one witness: enough for 'likely'
    # (true raids start as bursts), never enough to lift a member's report much further.
    burst_llr_cap: float = 1.4

    # Review queue.
    long_description_chars: int = 280
    low_confidence: float = 0.3
    # Queue priority (scoring.review.priority): active reports first, then by
    # type impact, then by nearness to a level floor, then by number of reasons.
    priority_active: float = 4.0  # > largest impact + 1 + all reasons, so active sorts first
    impact_raid: float = 2.0
    impact_checkpoint: float = 1.5
    impact_patrol: float = 1.0
    impact_vehicle: float = 0.5
    priority_threshold_band: float = 0.1  # confidence within this of a floor is "near" it
    priority_possible_floor_weight: float = 0.5  # nearness to 0.3 counts less than to 0.6/0.8
    priority_per_reason: float = 0.1

    # Decay: how long a report stays active after its (last "still there") hour
    # bucket ends, by type. "gone" from this many independent sources ends it.
    expiry_vehicle: timedelta = timedelta(hours=1)
    expiry_patrol: timedelta = timedelta(hours=2)
    expiry_checkpoint: timedelta = timedelta(hours=4)
    expiry_raid: timedelta = timedelta(hours=6)
    gone_to_end: int = 2
    # Anonymous "gone" quorum grows with the evidence for the report: gone_to_end plus this
    # many per independent source beyond the first (2: a raid five people reported takes ten
    # anonymous "gone"s; a sweep of two fresh addresses every 10-20 min keeps 0.90 of the
    # alert's time on the simulator, 0.70-0.83 with 1). A moderator's (verifier's) "gone"
    # ends it alone; otherwise a well-reported incident lasts until it expires.
    gone_per_source: float = 2.0
    # Anonymous "still there" extends a report at most this far beyond its own hour; a
    # moderator's has no limit (fakes do not live 10 h on anonymous "still there").
    max_anonymous_extension: timedelta = timedelta(hours=2)
    # Follow-ups by tier: a vetted member's "gone" counts as this many anonymous ones (2, i.e.
    # gone_to_end: one member ends what one person reported; a crowd's report needs several
    # members, or a moderator), and a member's "still there" extends a report up to
    # max_member_extension past its hour (6 h: a long checkpoint, 1.5-5 h, stays on by one
    # member's word; a compromised member account still cannot keep a fake on for a day).
    member_gone_weight: float = 2.0
    max_member_extension: timedelta = timedelta(hours=6)
    min_opacity: float = 0.35
    min_scale: float = 0.5
    fade_over: timedelta = timedelta(hours=24)

    # Moderation: debunked reports stay visible as debunks this long.
    debunk_visible: timedelta = timedelta(hours=12)

    # Rapid response: an active cluster at this level or above is posted to the
    # responders room (and the configured SMS/Signal/Telegram channels).
    responder_level: str = Level.LIKELY.value

    extra: dict[str, float] = field(default_factory=dict, compare=False, repr=False)

    def prior(self, channel: Channel) -> float:
        return {
            Channel.WEB: self.prior_web,
            Channel.MEMBER: self.prior_member,
            Channel.MODERATOR: self.prior_moderator,
        }[channel]

    def expiry(self, report_type: ReportType) -> timedelta:
        return {
            ReportType.VEHICLE: self.expiry_vehicle,
            ReportType.PATROL: self.expiry_patrol,
            ReportType.CHECKPOINT: self.expiry_checkpoint,
            ReportType.RAID: self.expiry_raid,
        }[report_type]


def level_for(confidence: float) -> Level:
    """The level of a confidence in [0, 1] (LEVEL_FLOORS is total)."""
    for floor, level in LEVEL_FLOORS:
        if confidence >= floor:
            return level
    return Level.UNVERIFIED


def tell_responders(confidence: float, config: ScoringConfig) -> bool:
    """Whether an active cluster with this confidence reaches the responders' level."""
    return confidence >= level_floor(config.responder_level)


def level_floor(level: str) -> float:
    """The lowest confidence of a level (ValueError for an unknown level)."""
    for floor, named in LEVEL_FLOORS:
        if named.value == level:
            return floor
    raise ValueError(f"unknown level {level!r}")


def tunable_fields() -> dict[str, type]:
    """Field name -> type, for the node's config file and its validation."""
    return {f.name: f.type for f in fields(ScoringConfig) if f.name != "extra"}
