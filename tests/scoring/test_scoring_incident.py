"""scoring.incident: the incident's stages, one transition each, and what each allows."""

from __future__ import annotations

import pytest
from _scoring_helpers import H0

from scoring.defaults import ScoringConfig
from scoring.incident import Evidence, Reason, Stage, advance

CFG = ScoringConfig()
SHARE = 0.7  # [federation] share_threshold's default


def at(**kw: object):
    base = dict(confidence=0.3, sources=1, vouched=False, active=True, ended_by_gone=False)
    return advance(Evidence(**{**base, **kw}), H0, CFG, SHARE)  # type: ignore[arg-type]


def test_one_report_is_reported_and_shown_only():
    t = at()
    assert (t.stage, t.reason, t.shown, t.responders, t.shared) == (
        Stage.REPORTED,
        Reason.ONE_SOURCE,
        True,
        False,
        False,
    )


def test_anonymous_corroboration_needs_verification_and_is_not_shared():
    t = at(confidence=CFG.anonymous_max_confidence, sources=9)
    assert (t.stage, t.reason) == (Stage.NEEDS_VERIFICATION, Reason.ANONYMOUS_ONLY)
    assert t.shown and t.responders and not t.shared


def test_a_member_among_the_sources_corroborates_and_shares_at_the_threshold():
    t = at(confidence=0.77, sources=2, vouched=True)
    assert (t.stage, t.reason, t.shared) == (Stage.CORROBORATED, Reason.VOUCHED, True)
    below = at(confidence=0.69, sources=3, vouched=True)  # one member's word
    assert (below.stage, below.reason) == (Stage.NEEDS_VERIFICATION, Reason.BELOW_SHARING)
    assert below.shown and below.responders and not below.shared


def test_a_confirmation_verifies_and_shares():
    t = at(confidence=1.0, confirmed=True)
    assert (t.stage, t.shared) == (Stage.VERIFIED, True)


def test_unable_keeps_the_incident_at_its_level():
    t = at(confidence=0.65, sources=3, unable=True)
    assert (t.stage, t.reason, t.responders, t.shared) == (
        Stage.UNABLE,
        Reason.VERIFIER_UNABLE,
        True,
        False,
    )


@pytest.mark.parametrize(
    ("kw", "stage", "reason"),
    [
        ({"debunked": True}, Stage.FALSE_ALARM, Reason.DEBUNKED),
        ({"active": False, "ended_by_gone": True}, Stage.ENDED, Reason.GONE),
        ({"active": False}, Stage.ENDED, Reason.EXPIRED),
        ({"active": False, "confirmed": True}, Stage.ENDED, Reason.EXPIRED),
    ],
)
def test_endings_are_neither_shown_nor_shared(kw, stage, reason):
    t = at(confidence=0.9, vouched=True, **kw)
    assert (t.stage, t.reason, t.shown, t.responders, t.shared) == (
        stage,
        reason,
        False,
        False,
        False,
    )
