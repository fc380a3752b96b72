"""An incident's stage: every transition and its reason, in one place.

An incident is one (area, type) cluster of reports. This module is its state
machine, pure: `advance(evidence, now, config)` takes what is known about the
incident at `now` and returns its stage, the reason for it, and what the stage
allows (shown, told to responders, shared with neighbours). The node feeds it
the incident's evidence and stores or publishes what it returns; no DB, no
clock, no I/O here.

Stages (in the order an incident usually goes through them):

    reported            active, below the responders' level (one report, or weak
                        corroboration)
    corroborated        at the share threshold from independent sources that
                        include a vetted member or a moderator: shared
    needs_verification  at the responders' level from anonymous sources only, or
                        vouched but below the share threshold (one member's word:
                        scoring.defaults.single_member_max_confidence): shown (as
                        "needs verification") and sent to responders, who are
                        asked to look; not shared by default: no number of
                        anonymous sources is a verification
                        (scoring.defaults.anonymous_max_confidence)
    verified            a moderator or verifier confirmed it: shared
    false_alarm         a verifier or moderator found nothing there (a debunk):
                        not shown as active, withdrawn everywhere
    unable              a verifier went and could not tell: stays at the level
                        its evidence gives, may be asked again
    ended               gone (a moderator's "gone", or the anonymous quorum of
                        scoring.decay), expired, or debunked

Transitions, checked in this order (the first that applies wins):

    1. every report debunked / false alarm answered  -> false_alarm (then ended)
    2. no report active any more                     -> ended (gone | expired)
    3. confirmed by a moderator or verifier          -> verified
    4. below the responders' level                   -> reported
    5. verifier answered "unable"                    -> unable
    6. anonymous sources only                        -> needs_verification
    7. vouched, below the share threshold            -> needs_verification
    8. otherwise                                     -> corroborated

Shared: verified, or at the share threshold. Anonymous-only evidence never
gets there with the defaults (the scorer caps it at anonymous_max_confidence,
below share_threshold); a chapter that raises that cap to its share threshold
chooses to share anonymous evidence, and this module does not overrule it.

Rules kept: pure (arguments in, a value out); every threshold comes from a
ScoringConfig or the share threshold the caller passes; the reason strings are
stable ids (translated by the node's catalogs, logged without content).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from scoring.defaults import ScoringConfig, level_floor


class Stage(StrEnum):
    REPORTED = "reported"
    CORROBORATED = "corroborated"
    NEEDS_VERIFICATION = "needs_verification"
    VERIFIED = "verified"
    FALSE_ALARM = "false_alarm"
    UNABLE = "unable"
    ENDED = "ended"


class Reason(StrEnum):
    ONE_SOURCE = "one_source"  # reported: not (yet) corroborated to the responders' level
    VOUCHED = "vouched"  # corroborated with a member's or moderator's report among them
    ANONYMOUS_ONLY = "anonymous_only"  # needs verification: anonymous sources only
    BELOW_SHARING = "below_sharing"  # needs verification: vouched but below sharing (one member)
    CONFIRMED = "confirmed"  # verified by a moderator or verifier
    DEBUNKED = "debunked"  # every report debunked, or a verifier's false alarm
    VERIFIER_UNABLE = "verifier_unable"  # a verifier could not tell
    GONE = "gone"  # ended by "gone" (a moderator's, or the anonymous quorum)
    EXPIRED = "expired"  # ended: its last report's active time ran out


@dataclass(frozen=True)
class Evidence:
    """What the node knows about one incident at `now` (from its reports' rows)."""

    confidence: float  # the best active report's confidence (0 when none is active)
    sources: int  # independent sources of that report
    vouched: bool  # a member's, moderator's or confirmed report of the type is active
    active: bool  # at least one report still active (scoring.decay)
    ended_by_gone: bool  # the last active report was ended by "gone"
    confirmed: bool = False  # a moderator or verifier confirmed a report of it
    debunked: bool = False  # every report debunked (a moderator or a verifier's false alarm)
    unable: bool = False  # the latest verifier answer was "unable"


@dataclass(frozen=True)
class Transition:
    stage: Stage
    reason: Reason
    shown: bool  # on the public map as active
    responders: bool  # the responders are told (and asked to verify when anonymous)
    shared: bool  # sent to neighbouring chapters


def advance(
    evidence: Evidence, now: datetime, config: ScoringConfig, share_threshold: float
) -> Transition:
    """The incident's stage at `now` and why (see the module's transition table).

    `now` is part of the contract (stages are "at now"); the evidence the node
    passes is already computed at `now` (scoring.decay), so nothing here reads it.
    """
    del now  # the evidence is as of now; kept so callers cannot forget to say when
    told = level_floor(config.responder_level)
    if evidence.debunked:
        return Transition(Stage.FALSE_ALARM, Reason.DEBUNKED, False, False, False)
    if not evidence.active:
        reason = Reason.GONE if evidence.ended_by_gone else Reason.EXPIRED
        return Transition(Stage.ENDED, reason, False, False, False)
    if evidence.confirmed:
        return Transition(Stage.VERIFIED, Reason.CONFIRMED, True, True, True)
    if evidence.confidence < told:
        return Transition(Stage.REPORTED, Reason.ONE_SOURCE, True, False, False)
    shared = evidence.confidence >= share_threshold
    if evidence.unable:
        return Transition(Stage.UNABLE, Reason.VERIFIER_UNABLE, True, True, shared)
    if not evidence.vouched:
        return Transition(Stage.NEEDS_VERIFICATION, Reason.ANONYMOUS_ONLY, True, True, shared)
    if not shared:
        return Transition(Stage.NEEDS_VERIFICATION, Reason.BELOW_SHARING, True, True, False)
    return Transition(Stage.CORROBORATED, Reason.VOUCHED, True, True, shared)
