"""decay() and visible(): age labels, per-type expiry, follow-ups, fading."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from _scoring_helpers import H0, hours
from hypothesis import given
from hypothesis import strategies as st

from scoring.decay import decay, gone_quorum, visible
from scoring.defaults import AGE_LABELS, ScoringConfig
from scoring.model import FollowUp, FollowUpKind, ReportType, Verdict

CFG = ScoringConfig()
ST, GONE = FollowUpKind.STILL_THERE, FollowUpKind.GONE
SEC = timedelta(seconds=1)


def d(
    now,
    follow_ups=(),
    verdict=Verdict.NONE,
    type=ReportType.CHECKPOINT,
    hour=H0,
    config=CFG,
    sources=1,
):
    return decay(type, hour, list(follow_ups), verdict, now, config, sources)


@pytest.mark.parametrize(
    ("age", "label"),
    [
        (-hours(1), "just_reported"),
        (timedelta(0), "just_reported"),
        (hours(1) - SEC, "just_reported"),
        (hours(1), "one_two_hours_ago"),
        (hours(3) - SEC, "one_two_hours_ago"),
        (hours(3), "few_hours_ago"),
        (hours(7) - SEC, "few_hours_ago"),
        (hours(7), "earlier_today"),
        (hours(24) - SEC, "earlier_today"),
        (hours(24), "yesterday_or_older"),
        (hours(24 * 30), "yesterday_or_older"),
    ],
)
def test_age_label_boundaries(age, label):
    assert d(H0 + age).age_label == label


def test_age_labels_are_the_catalog_keys():
    assert {label for _, label in AGE_LABELS} == {
        "just_reported",
        "one_two_hours_ago",
        "few_hours_ago",
        "earlier_today",
        "yesterday_or_older",
    }


@pytest.mark.parametrize(
    ("type", "expiry"),
    [
        (ReportType.VEHICLE, hours(1)),
        (ReportType.PATROL, hours(2)),
        (ReportType.CHECKPOINT, hours(4)),
        (ReportType.RAID, hours(6)),
    ],
)
def test_per_type_expiry_counts_from_the_end_of_the_hour_bucket(type, expiry):
    until = H0 + hours(1) + expiry
    assert d(H0, type=type).active_until == until
    assert d(until - SEC, type=type).active
    assert not d(until, type=type).active
    assert not d(until, type=type).ended_by_gone


def test_expiry_is_configurable():
    cfg = replace(CFG, expiry_vehicle=hours(3))
    assert d(H0, type=ReportType.VEHICLE, config=cfg).active_until == H0 + hours(4)


def test_still_there_extends_from_its_own_hour():
    fus = [FollowUp(ST, H0 + hours(1)), FollowUp(ST, H0 + hours(2))]
    r = d(H0 + hours(2), fus, type=ReportType.VEHICLE)
    assert r.active_until == H0 + hours(4)
    assert d(H0 + hours(4) - SEC, fus, type=ReportType.VEHICLE).active
    assert not d(H0 + hours(4), fus, type=ReportType.VEHICLE).active


def test_anonymous_still_there_extends_at_most_max_anonymous_extension():
    fus = [FollowUp(ST, H0 + hours(h)) for h in range(1, 12)]
    r = d(H0 + hours(11), fus, type=ReportType.VEHICLE)
    assert r.active_until == H0 + CFG.max_anonymous_extension + hours(2)
    assert not r.active
    by_moderator = [FollowUp(ST, H0 + hours(11), by_moderator=True)]
    assert d(H0 + hours(11), by_moderator, type=ReportType.VEHICLE).active_until == H0 + hours(13)


def test_the_anonymous_gone_quorum_grows_with_the_evidence():
    two = [FollowUp(GONE, H0 + hours(1))] * 2
    assert not d(H0 + hours(1), two, sources=1).active
    assert d(H0 + hours(1), two, sources=10).active  # two fresh addresses do not end a raid
    quorum = gone_quorum(10, CFG)
    assert quorum == CFG.gone_to_end + 9 * CFG.gone_per_source
    assert d(H0 + hours(1), [FollowUp(GONE, H0 + hours(1))] * (quorum - 1), sources=10).active
    assert not d(H0 + hours(1), [FollowUp(GONE, H0 + hours(1))] * quorum, sources=10).active
    moderator = [FollowUp(GONE, H0 + hours(1), by_moderator=True)]
    assert not d(H0 + hours(1), moderator, sources=10).active


def test_a_members_follow_ups_weigh_between_anonymous_and_moderator():
    member_gone = [FollowUp(GONE, H0 + hours(1), by_member=True)]
    anonymous_gone = [FollowUp(GONE, H0 + hours(1))]
    assert d(H0 + hours(1), anonymous_gone, sources=1).active  # one address is not a quorum
    assert not d(H0 + hours(1), member_gone, sources=1).active  # one member ends a lone report
    assert d(H0 + hours(1), member_gone, sources=3).active  # ...not a crowd's (quorum 6)
    assert not d(H0 + hours(1), member_gone * 3, sources=3).active
    assert not d(H0 + hours(1), member_gone * 2 + anonymous_gone * 2, sources=3).active
    # "still there": a member's goes further than an address's, not as far as a moderator's
    said = H0 + hours(11)
    by = {
        "anonymous": FollowUp(ST, said),
        "member": FollowUp(ST, said, by_member=True),
        "moderator": FollowUp(ST, said, by_moderator=True),
    }
    until = {k: d(said, [f], type=ReportType.VEHICLE).active_until for k, f in by.items()}
    assert until["anonymous"] == H0 + CFG.max_anonymous_extension + hours(2)
    assert until["member"] == H0 + CFG.max_member_extension + hours(2)
    assert until["moderator"] == said + hours(2)
    assert until["anonymous"] < until["member"] < until["moderator"]


def test_a_member_weight_of_zero_counts_nothing():
    config = replace(CFG, member_gone_weight=0.0)
    gone = [FollowUp(GONE, H0 + hours(1), by_member=True)] * 5
    assert d(H0 + hours(1), gone, sources=1, config=config).active


def test_still_there_before_the_report_does_not_shorten_it():
    assert d(H0, [FollowUp(ST, H0 - hours(3))]).active_until == d(H0).active_until


def test_follow_ups_from_the_future_are_ignored():
    fus = [
        FollowUp(ST, H0 + hours(10)),
        FollowUp(GONE, H0 + hours(1)),
        FollowUp(GONE, H0 + hours(1)),
    ]
    r = d(H0 + timedelta(minutes=30), fus)
    assert r.active
    assert r.active_until == H0 + hours(5)


def test_one_gone_is_not_enough_two_are():
    one = d(H0 + hours(1), [FollowUp(GONE, H0 + hours(1))])
    assert one.active and not one.ended_by_gone
    two = d(H0 + hours(1), [FollowUp(GONE, H0 + hours(1)), FollowUp(GONE, H0 + hours(1))])
    assert not two.active and two.ended_by_gone
    assert two.opacity == CFG.min_opacity and two.scale == CFG.min_scale


def test_gone_to_end_is_configurable():
    cfg = replace(CFG, gone_to_end=3)
    fus = [FollowUp(GONE, H0)] * 2
    assert d(H0 + hours(1), fus, config=cfg).active
    assert not d(H0 + hours(1), [*fus, FollowUp(GONE, H0)], config=cfg).active


def test_a_moderators_gone_ends_it_alone():
    r = d(H0 + hours(1), [FollowUp(GONE, H0 + hours(1), by_moderator=True)])
    assert not r.active and r.ended_by_gone


def test_gone_before_the_latest_still_there_does_not_count():
    fus = [FollowUp(GONE, H0), FollowUp(GONE, H0), FollowUp(ST, H0 + hours(1))]
    r = d(H0 + hours(1), fus)
    assert r.active and not r.ended_by_gone
    fus.append(FollowUp(GONE, H0 + hours(1)))
    assert d(H0 + hours(1), fus).active
    fus.append(FollowUp(GONE, H0 + hours(2)))
    assert not d(H0 + hours(2), fus).active


@pytest.mark.parametrize("verdict", [Verdict.DEBUNKED, Verdict.ARCHIVED])
def test_debunked_and_archived_are_never_active(verdict):
    r = d(H0, [FollowUp(ST, H0)], verdict=verdict)
    assert not r.active
    assert r.opacity == CFG.min_opacity


def test_confirmed_fades_like_any_other():
    assert d(H0 + hours(1), verdict=Verdict.CONFIRMED) == d(H0 + hours(1))


def test_debunk_stays_visible_for_a_while_then_not():
    args = (ReportType.RAID, H0, [], Verdict.DEBUNKED)
    assert visible(*args, H0 + hours(1), CFG)
    assert visible(*args, H0 + CFG.debunk_visible - SEC, CFG)
    assert not visible(*args, H0 + CFG.debunk_visible, CFG)


def test_visible_means_active_otherwise():
    assert visible(ReportType.VEHICLE, H0, [], Verdict.NONE, H0 + hours(2) - SEC, CFG)
    assert not visible(ReportType.VEHICLE, H0, [], Verdict.NONE, H0 + hours(2), CFG)
    assert not visible(ReportType.RAID, H0, [], Verdict.ARCHIVED, H0, CFG)
    gone = [FollowUp(GONE, H0, by_moderator=True)]
    assert not visible(ReportType.RAID, H0, gone, Verdict.NONE, H0, CFG)


def test_fading_is_linear_over_fade_over():
    fus = [FollowUp(ST, H0 + hours(12), by_moderator=True)]
    r = d(H0 + hours(12), fus)  # kept active by a (moderator's) still-there
    assert r.active
    assert r.opacity == pytest.approx(1 - (1 - CFG.min_opacity) / 2)
    assert r.scale == pytest.approx(1 - (1 - CFG.min_scale) / 2)
    fresh = d(H0)
    assert fresh.opacity == 1.0 and fresh.scale == 1.0


follow_ups = st.lists(
    st.builds(
        FollowUp,
        st.sampled_from([ST, GONE]),
        st.integers(-2, 30).map(lambda h: H0 + hours(h)),
        st.booleans(),
    ),
    max_size=6,
)


@given(
    st.sampled_from(list(ReportType)),
    st.sampled_from(list(Verdict)),
    follow_ups,
    st.integers(0, 60 * 72),
    st.integers(0, 60 * 72),
)
def test_fading_is_bounded_and_never_increases_with_age(type, verdict, fus, m1, m2):
    latest = max([H0, *(f.hour for f in fus)])
    t1 = latest + timedelta(minutes=min(m1, m2))
    t2 = latest + timedelta(minutes=max(m1, m2))
    a = decay(type, H0, fus, verdict, t1, CFG)
    b = decay(type, H0, fus, verdict, t2, CFG)
    for r in (a, b):
        assert CFG.min_opacity <= r.opacity <= 1.0
        assert CFG.min_scale <= r.scale <= 1.0
        if not r.active:
            assert (r.opacity, r.scale) == (CFG.min_opacity, CFG.min_scale)
    assert b.opacity <= a.opacity
    assert b.scale <= a.scale
    assert b.active <= a.active
