"""review_reasons() and priority(): what goes to the moderators, in what order."""

from __future__ import annotations

from dataclasses import replace

import pytest
from _scoring_helpers import H0, ev
from hypothesis import given
from hypothesis import strategies as st

from scoring.defaults import ScoringConfig, level_for
from scoring.model import Assessment, Flag, History, Level, ReportType, ReviewReason
from scoring.moderation import moderate
from scoring.review import priority, review_reasons
from scoring.score import assess

CFG = ScoringConfig()
CLEAN = moderate("")
R = ReviewReason


def assessment(confidence=0.3, flags=()):
    return Assessment(confidence, level_for(confidence), 1, (), frozenset(flags))


def reasons(a=None, chars=0, moderation=CLEAN):
    return review_reasons(a or assessment(), chars, moderation, CFG)


def test_a_plain_lone_report_in_a_young_chapter_needs_no_review():
    a = assess(ev("c"), [], History(), H0, CFG)
    assert Flag.NO_HISTORY in a.flags
    assert review_reasons(a, 100, moderate("2 vans at the Home Depot"), CFG) == ()


@pytest.mark.parametrize(
    ("confidence", "chars", "expected"),
    [
        (0.3, 280, True),
        (0.3, 279, False),
        (0.1, 1000, True),
        (0.3001, 1000, False),
    ],
)
def test_low_confidence_long_text(confidence, chars, expected):
    got = R.LOW_CONFIDENCE_LONG_TEXT in reasons(assessment(confidence), chars)
    assert got == expected


@pytest.mark.parametrize(
    ("confidence", "flags", "anomaly"),
    [
        (0.3, {Flag.UNKNOWN_AREA}, True),
        (0.3, {Flag.UNUSUAL_HOUR}, True),
        (0.3, {Flag.NO_HISTORY}, False),
        (0.59, {Flag.NO_HISTORY}, False),
        (0.6, {Flag.NO_HISTORY}, True),
        (0.9, {Flag.NO_HISTORY}, True),
        (0.9, set(), False),
        (0.3, {Flag.SAME_SOURCE}, False),
    ],
)
def test_anomaly(confidence, flags, anomaly):
    assert (R.ANOMALY in reasons(assessment(confidence, flags))) == anomaly


def test_flags_and_moderation_reasons():
    a = assessment(0.5, {Flag.NEAR_DUPLICATE, Flag.BURST})
    assert reasons(a) == (R.NEAR_DUPLICATE, R.BURST)
    assert reasons(moderation=moderate("bloqueen la calle")) == (R.BORDERLINE_MODERATION,)
    assert reasons(moderation=moderate("they blocked the road")) == ()


def test_all_reasons_at_once_in_a_stable_order():
    a = assessment(0.2, {Flag.UNKNOWN_AREA, Flag.NEAR_DUPLICATE, Flag.BURST})
    assert reasons(a, 300, moderate("let's surround them")) == tuple(ReviewReason)


# --- priority ---------------------------------------------------------------------


def test_type_impact_order():
    ps = [
        priority(t, True, 0.45, (), CFG)
        for t in (ReportType.RAID, ReportType.CHECKPOINT, ReportType.PATROL, ReportType.VEHICLE)
    ]
    assert ps == sorted(ps, reverse=True)
    assert len(set(ps)) == 4


def test_near_a_threshold_is_higher_especially_likely_and_confirmed():
    def p(c):
        return priority(ReportType.PATROL, True, c, (), CFG)

    assert p(0.6) > p(0.45)
    assert p(0.8) > p(0.7)
    assert p(0.58) > p(0.45)
    assert p(0.6) > p(0.3) > p(0.45)
    assert p(0.8) == p(0.6)


def test_more_reasons_rank_higher():
    one = priority(ReportType.VEHICLE, False, 0.45, (R.ANOMALY,), CFG)
    two = priority(ReportType.VEHICLE, False, 0.45, (R.ANOMALY, R.BURST), CFG)
    assert two > one > priority(ReportType.VEHICLE, False, 0.45, (), CFG)


def test_a_queue_sorts_as_moderators_expect():
    items = {
        "old raid": (ReportType.RAID, False, 0.79, (R.ANOMALY,)),
        "active vehicle": (ReportType.VEHICLE, True, 0.1, ()),
        "active raid near likely": (ReportType.RAID, True, 0.59, ()),
        "active raid far": (ReportType.RAID, True, 0.45, ()),
        "active checkpoint": (ReportType.CHECKPOINT, True, 0.45, ()),
    }
    order = sorted(items, key=lambda k: priority(*items[k], CFG), reverse=True)
    assert order == [
        "active raid near likely",
        "active raid far",
        "active checkpoint",
        "active vehicle",
        "old raid",
    ]


def test_impact_weights_are_configurable():
    cfg = replace(CFG, impact_vehicle=3.0)
    assert priority(ReportType.VEHICLE, True, 0.5, (), cfg) > priority(
        ReportType.RAID, True, 0.5, (), cfg
    )


@given(
    st.sampled_from(list(ReportType)),
    st.sampled_from(list(ReportType)),
    st.floats(0, 1),
    st.floats(0, 1),
    st.lists(st.sampled_from(list(ReviewReason)), max_size=5),
    st.lists(st.sampled_from(list(ReviewReason)), max_size=5),
)
def test_active_always_comes_first(t1, t2, c1, c2, r1, r2):
    assert priority(t1, True, c1, r1, CFG) > priority(t2, False, c2, r2, CFG)


def test_levels_are_what_review_reads():
    assert assessment(0.6).level == Level.LIKELY
