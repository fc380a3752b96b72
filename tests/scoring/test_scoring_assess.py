"""assess(): priors, corroboration per independent source, history, bursts."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta

import pytest
from _scoring_helpers import CHULA_VISTA, H0, SAN_YSIDRO, ev, hours, src
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.defaults import LEVEL_FLOORS, ScoringConfig, level_for
from scoring.model import Channel, Flag, History, Level, Place, ReportType, Verdict
from scoring.score import assess, overridden_confidence, status_for
from scoring.text import fingerprint

CFG = ScoringConfig()
NONE = History()
LEVEL_RANK = {Level.UNVERIFIED: 0, Level.POSSIBLE: 1, Level.LIKELY: 2, Level.CONFIRMED: 3}


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def conf(*neighbours, candidate=None, history=NONE, config=CFG, now=H0):
    return assess(candidate or ev("c"), list(neighbours), history, now, config)


# --- priors and the defaults' ladder -------------------------------------------------


def test_lone_web_report_is_possible_at_the_prior():
    a = conf()
    assert a.confidence == 0.3
    assert a.level == Level.POSSIBLE
    assert a.independent_sources == 1
    assert a.corroborated_by == ()
    assert a.flags == {Flag.NO_HISTORY}


@pytest.mark.parametrize(
    ("channel", "expected"),
    [(Channel.WEB, 0.3), (Channel.MEMBER, 0.35), (Channel.MODERATOR, 0.65)],
)
def test_prior_by_channel(channel, expected):
    assert conf(candidate=ev("c", channel=channel)).confidence == expected


# What the defaults give for n independent web reports at the same place and
# hour, no history, no burst (documented in docs/incidents.md; change both together).
LADDER = [  # two witnesses reach 'likely'; anonymous evidence alone stops at its ceiling
    (1, 0.3, Level.POSSIBLE),
    (2, 0.6348, Level.LIKELY),
    (3, 0.65, Level.LIKELY),  # anonymous_max_confidence: below the share threshold (0.7)
    (4, 0.65, Level.LIKELY),
    (5, 0.65, Level.LIKELY),
    (7, 0.65, Level.LIKELY),
]


@pytest.mark.parametrize(("n", "expected", "level"), LADDER)
def test_defaults_ladder_of_independent_web_reports(n, expected, level):
    a = conf(*[ev(f"n{i}") for i in range(1, n)])
    assert a.confidence == expected
    assert a.level == level
    assert a.independent_sources == n
    assert a.corroborated_by == tuple(sorted(f"n{i}" for i in range(1, n)))


def test_corroboration_is_llr_per_source_in_log_odds():
    open_cfg = replace(CFG, anonymous_max_confidence=1.0, max_corroboration_llr=10.0)
    a = conf(ev("n1"), ev("n2"), config=open_cfg)
    assert a.confidence == round(sigmoid(logit(0.3) + 2 * CFG.corroboration_llr), 4)


# --- trust tiers ---------------------------------------------------------------------


def test_no_number_of_anonymous_sources_reaches_the_share_threshold():
    for n in (3, 10, 50):
        a = conf(*[ev(f"n{i}") for i in range(1, n)])
        assert a.confidence == CFG.anonymous_max_confidence < 0.7
        assert a.level == Level.LIKELY


def test_one_members_word_with_any_number_of_anonymous_witnesses_stays_below_sharing():
    member = ev("c", channel=Channel.MEMBER)
    one = conf(ev("n1"), candidate=member)
    assert one.confidence == round(sigmoid(logit(0.35) + CFG.corroboration_llr), 4)
    assert one.level == Level.LIKELY and one.confidence < 0.7
    for n in (2, 3, 10):
        many = conf(*[ev(f"n{i}") for i in range(1, n + 1)], candidate=member)
        assert many.confidence == CFG.single_member_max_confidence < 0.7
        assert many.level == Level.LIKELY
    # the same from an anonymous report's side: one member among its neighbours
    web = conf(ev("n1", channel=Channel.MEMBER), ev("n2"))
    assert CFG.anonymous_max_confidence < web.confidence == CFG.single_member_max_confidence
    # a chapter that shares on one member's word turns the ceiling off
    open_cfg = replace(CFG, single_member_max_confidence=1.0)
    assert conf(ev("n1"), ev("n2"), candidate=member, config=open_cfg).confidence >= 0.7
    # a lone member stays possible
    assert conf(candidate=member).level == Level.POSSIBLE


def test_two_independent_members_and_a_witness_share():
    member = ev("c", channel=Channel.MEMBER)
    two = conf(ev("m1", channel=Channel.MEMBER), ev("n1"), candidate=member)
    assert two.confidence >= 0.7
    # one member who reports twice is one member (same source)
    again = ev("m1", channel=Channel.MEMBER, sources=member.sources)
    assert conf(again, ev("n1"), candidate=member).confidence < 0.7


def test_many_more_sources_naming_another_type_hold_a_report_below_sharing():
    member = ev("c", channel=Channel.MEMBER)
    witnesses = [ev("n1", channel=Channel.MEMBER), ev("n2")]
    assert conf(*witnesses, candidate=member).confidence >= 0.7
    crowd = [ev(f"k{i}", type=ReportType.RAID) for i in range(9)]
    held = conf(*witnesses, *crowd, candidate=member)
    assert held.confidence == CFG.anonymous_max_confidence  # probably the raid misnamed
    off = replace(CFG, other_type_dominance=0.0)
    assert conf(*witnesses, *crowd, candidate=member, config=off).confidence >= 0.7


def test_a_moderator_or_confirmed_report_lifts_the_anonymous_ceiling():
    assert conf(ev("n1", channel=Channel.MODERATOR), ev("n2")).confidence > 0.7
    assert conf(ev("n1", verdict=Verdict.CONFIRMED)).confidence > 0.7


def test_a_member_of_another_type_does_not_vouch():
    a = conf(ev("n1", type=ReportType.PATROL, channel=Channel.MEMBER), ev("n2"), ev("n3"))
    assert a.confidence == CFG.anonymous_max_confidence


def test_other_type_evidence_is_capped_per_incident():
    nine = conf(*[ev(f"n{i}", type=ReportType.VEHICLE) for i in range(1, 10)])
    assert nine.confidence == round(sigmoid(logit(0.3) + CFG.max_other_type_llr), 4)
    assert nine.level == Level.POSSIBLE


# --- what counts as a neighbour ----------------------------------------------------


def test_the_candidate_itself_is_not_its_own_neighbour():
    c = ev("c")
    assert conf(c, c, candidate=c).confidence == 0.3


def test_a_repeated_neighbour_key_counts_once():
    assert conf(ev("n1"), ev("n1")).confidence == conf(ev("n1")).confidence


def test_debunked_neighbours_are_ignored():
    a = conf(ev("n1", verdict=Verdict.DEBUNKED))
    assert a.confidence == 0.3
    assert a.corroborated_by == ()


def test_distance_kernel_falls_to_zero_at_the_radius():
    near = Place(SAN_YSIDRO.lat + 0.01, SAN_YSIDRO.lon)  # ~1.1 km
    mid = Place(SAN_YSIDRO.lat + 0.03, SAN_YSIDRO.lon)  # ~3.3 km
    c_same = conf(ev("n")).confidence
    c_near = conf(ev("n", place=near)).confidence
    c_mid = conf(ev("n", place=mid)).confidence
    c_far = conf(ev("n", place=CHULA_VISTA, area="chula-vista")).confidence
    assert c_same > c_near > c_mid > 0.3
    assert c_far == 0.3


def test_unknown_places_match_only_the_same_area_key():
    c = ev("c", place=None, area="la esquina del oxxo")
    same = ev("n1", place=None, area="la esquina del oxxo")
    other = ev("n2", place=None, area="otra esquina")
    known_same_area = ev("n3", area="la esquina del oxxo")
    assert conf(same, candidate=c).independent_sources == 2
    assert conf(other, candidate=c).independent_sources == 1
    assert conf(known_same_area, candidate=c).independent_sources == 2


def test_time_kernel_counts_up_to_the_window_and_not_beyond():
    c0 = conf(ev("n")).confidence
    c1 = conf(ev("n", hour=H0 - hours(1))).confidence
    c2 = conf(ev("n", hour=H0 + CFG.window)).confidence
    c3 = conf(ev("n", hour=H0 - CFG.window - hours(1))).confidence
    assert c0 > c1 > c2 > 0.3
    assert c3 == 0.3


def test_hours_are_compared_as_buckets():
    # 13:59 is the 13:00 bucket: one hour from 14:00, like 13:00 itself
    late = ev("n", hour=H0 - timedelta(minutes=1))
    assert conf(late).confidence == conf(ev("n", hour=H0 - hours(1))).confidence


def test_another_type_counts_less():
    same = conf(ev("n")).confidence
    other = conf(ev("n", type=ReportType.PATROL)).confidence
    assert same > other > 0.3
    no_cross = replace(CFG, other_type_weight=0.0)
    assert conf(ev("n", type=ReportType.PATROL), config=no_cross).confidence == 0.3


# --- sources -------------------------------------------------------------------------


def test_same_source_never_corroborates_and_is_flagged():
    a = conf(ev("n1", source="c"))
    assert a.confidence == 0.3
    assert Flag.SAME_SOURCE in a.flags
    assert a.independent_sources == 1


def test_two_neighbours_sharing_a_source_count_once_by_their_best_report():
    far = Place(SAN_YSIDRO.lat + 0.03, SAN_YSIDRO.lon)
    a = conf(ev("n1", source="x", place=far), ev("n2", source="x"))
    assert a.independent_sources == 2
    assert a.corroborated_by == ("n2",)
    assert a.confidence == conf(ev("n2")).confidence
    assert Flag.SAME_SOURCE not in a.flags


def test_rotated_keys_link_sources_transitively():
    # the node holds hashes under yesterday's and today's key
    a = ev("n1", sources=src("k1"))
    b = ev("n2", sources=src("k1", "k2"))
    c = ev("n3", sources=src("k2"))
    assert conf(a, b, c).independent_sources == 2


def test_a_neighbour_linked_to_the_candidate_through_another_is_the_candidate():
    cand = ev("c", sources=src("k1"))
    bridge = ev("n1", sources=src("k1", "k2"))
    other = ev("n2", sources=src("k2"))
    a = conf(bridge, other, candidate=cand)
    assert a.independent_sources == 1
    assert Flag.SAME_SOURCE in a.flags


def test_unknown_sources_count_together_as_one_source():
    # After a restart the node no longer knows who sent what: fail closed.
    unknown = [ev(f"n{i}", sources=frozenset()) for i in range(1, 5)]
    known = conf(*unknown, candidate=ev("c"))
    assert known.independent_sources == 2
    assert known.confidence == conf(ev("n1"), candidate=ev("c")).confidence
    forgotten = conf(*unknown[:2], candidate=ev("c", sources=frozenset()))
    assert forgotten.independent_sources == 1
    assert forgotten.confidence == conf(candidate=ev("c")).confidence


# --- near-duplicates ------------------------------------------------------------------

TEXT = "Retén de la migra en la 805 sur antes de la salida de Palomar, revisan papeles"
COPY = "Retén de la migra en la 805 sur antes de la salida de Palomar revisan papeles!!"
OTHER = "Two white vans and agents in vests at the trolley station, asking people for ID"


def test_near_duplicate_text_does_not_corroborate_and_is_flagged():
    cand = ev("c", fingerprint=fingerprint(TEXT))
    a = conf(ev("n1", fingerprint=fingerprint(COPY)), candidate=cand)
    assert a.confidence == 0.3
    assert Flag.NEAR_DUPLICATE in a.flags
    b = conf(ev("n1", fingerprint=fingerprint(OTHER)), candidate=cand)
    assert b.independent_sources == 2
    assert Flag.NEAR_DUPLICATE not in b.flags


def test_copies_among_neighbours_count_as_one():
    cand = ev("c", fingerprint=fingerprint(OTHER))
    a = conf(
        ev("n1", fingerprint=fingerprint(TEXT)),
        ev("n2", fingerprint=fingerprint(COPY)),
        candidate=cand,
    )
    assert a.independent_sources == 2
    assert Flag.NEAR_DUPLICATE not in a.flags


# --- confirmed neighbours, history, anomalies ---------------------------------------


def test_a_confirmed_neighbour_counts_double():
    one_confirmed = conf(ev("n1", verdict=Verdict.CONFIRMED)).confidence
    uncapped = replace(CFG, anonymous_max_confidence=1.0)
    two_plain = conf(ev("n1"), ev("n2"), config=uncapped).confidence
    assert one_confirmed == two_plain
    assert conf(ev("n1", verdict=Verdict.ARCHIVED)).confidence == conf(ev("n1")).confidence


@pytest.mark.parametrize(("matches", "fraction"), [(0, 0), (1, 1 / 3), (3, 1), (10, 1)])
def test_history_saturates(matches, fraction):
    h = History(confirmed_same_hour_of_week=matches, confirmed_in_area=max(1, matches))
    expected = round(sigmoid(logit(0.3) + CFG.history_llr * fraction), 4)
    assert conf(history=h).confidence == expected


def test_unknown_area_is_an_anomaly_and_not_no_history():
    a = conf(candidate=ev("c", place=None, area="somewhere"))
    assert a.flags == {Flag.UNKNOWN_AREA}
    assert a.confidence == round(sigmoid(logit(0.3) + CFG.anomaly_llr), 4)


def test_unusual_hour_needs_enough_reports_in_the_area():
    quiet = History(confirmed_in_area=2, reports_in_area=9, reports_same_hour_of_day=0)
    busy = History(confirmed_in_area=2, reports_in_area=10, reports_same_hour_of_day=0)
    usual = History(confirmed_in_area=2, reports_in_area=10, reports_same_hour_of_day=1)
    assert conf(history=quiet).flags == frozenset()
    assert conf(history=busy).flags == {Flag.UNUSUAL_HOUR}
    assert conf(history=usual).flags == frozenset()
    assert conf(history=busy).confidence < 0.3


def test_anomaly_counts_once():
    h = History(reports_in_area=50, reports_same_hour_of_day=0)
    a = conf(candidate=ev("c", place=None), history=h)
    assert a.flags == {Flag.UNKNOWN_AREA, Flag.UNUSUAL_HOUR}
    assert a.confidence == round(sigmoid(logit(0.3) + CFG.anomaly_llr), 4)


# --- bursts --------------------------------------------------------------------------


def burst(n, *, area="san-ysidro", minutes_ago=2, source=None):
    seen = H0 + timedelta(minutes=30)
    return seen, [
        ev(
            f"n{i}",
            source=source or f"s{i}",
            area=area,
            seen_at=seen - timedelta(minutes=minutes_ago),
        )
        for i in range(1, n)
    ]


def test_burst_caps_corroboration():
    now, ns = burst(CFG.burst_sources)
    cand = ev("c", seen_at=now)
    a = conf(*ns, candidate=cand, now=now)
    assert Flag.BURST in a.flags
    uncapped = replace(CFG, anonymous_max_confidence=1.0)
    b = conf(*ns, candidate=cand, now=now, config=uncapped)
    assert b.confidence == round(sigmoid(logit(0.3) + CFG.burst_llr_cap), 4)
    assert a.confidence == min(b.confidence, CFG.anonymous_max_confidence)
    assert a.level == Level.LIKELY  # true raids start as bursts: they still reach 'likely'
    assert a.independent_sources == CFG.burst_sources  # still that many sources, just not trusted


def test_a_burst_is_a_state_of_the_incident_not_of_now():
    # the same arrivals scored two hours later, after a report of another type: still a burst
    now, ns = burst(CFG.burst_sources)
    cand = ev("c", seen_at=now)
    later = now + hours(2)
    van = ev("v", type=ReportType.VEHICLE, seen_at=later)
    assert Flag.BURST in conf(*ns, van, candidate=cand, now=later).flags


def test_a_burst_is_per_type():
    now, ns = burst(CFG.burst_sources)
    ns = [replace(n, type=ReportType.PATROL) for n in ns]
    assert Flag.BURST not in conf(*ns, candidate=ev("c", seen_at=now), now=now).flags


def test_no_burst_with_history_or_outside_the_window_or_from_one_source():
    now, ns = burst(CFG.burst_sources)
    cand = ev("c", seen_at=now)
    assert Flag.BURST not in conf(*ns, candidate=cand, now=now, history=History(1, 1)).flags
    now, ns = burst(CFG.burst_sources, minutes_ago=11)
    assert Flag.BURST not in conf(*ns, candidate=ev("c", seen_at=now), now=now).flags
    now, ns = burst(CFG.burst_sources, source="same")
    assert Flag.BURST not in conf(*ns, candidate=ev("c", seen_at=now), now=now).flags
    now, ns = burst(CFG.burst_sources, area="elsewhere")
    assert Flag.BURST not in conf(*ns, candidate=ev("c", seen_at=now), now=now).flags
    now, ns = burst(CFG.burst_sources - 1)
    assert Flag.BURST not in conf(*ns, candidate=ev("c", seen_at=now), now=now).flags


# --- verdict overrides ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "verdict", "status"),
    [
        (Level.POSSIBLE, Verdict.NONE, "possible"),
        (Level.UNVERIFIED, Verdict.NONE, "unverified"),
        (Level.LIKELY, Verdict.NONE, "likely"),
        (Level.CONFIRMED, Verdict.NONE, "confirmed"),
        (Level.POSSIBLE, Verdict.CONFIRMED, "confirmed"),
        (Level.CONFIRMED, Verdict.DEBUNKED, "debunked"),
        (Level.LIKELY, Verdict.ARCHIVED, "archived"),
    ],
)
def test_status_for(level, verdict, status):
    assert status_for(level, verdict) == status


@pytest.mark.parametrize(
    ("verdict", "expected"),
    [
        (Verdict.NONE, 0.42),
        (Verdict.ARCHIVED, 0.42),
        (Verdict.CONFIRMED, 1.0),
        (Verdict.DEBUNKED, 0.0),
    ],
)
def test_overridden_confidence(verdict, expected):
    assert overridden_confidence(0.42, verdict) == expected


# --- properties -------------------------------------------------------------------------

types = st.sampled_from(list(ReportType))
verdicts = st.sampled_from(list(Verdict))
source_sets = st.frozensets(st.sampled_from([b"a", b"b", b"c", b"d", b"e"]), max_size=2)
texts = st.sampled_from([None, TEXT, COPY, OTHER, "vans", ""])


@st.composite
def neighbour(draw, i):
    lat = draw(st.floats(-0.06, 0.06))
    lon = draw(st.floats(-0.06, 0.06))
    known = draw(st.booleans())
    text = draw(texts)
    return ev(
        f"n{i}",
        sources=draw(source_sets),
        type=draw(types),
        area=draw(st.sampled_from(["san-ysidro", "otay"])),
        place=Place(SAN_YSIDRO.lat + lat, SAN_YSIDRO.lon + lon) if known else None,
        hour=H0 + hours(draw(st.integers(-4, 4))),
        fingerprint=None if text is None else fingerprint(text),
        verdict=draw(verdicts),
        seen_at=draw(st.one_of(st.none(), st.just(H0 + timedelta(minutes=5)))),
    )


@st.composite
def scenarios(draw, bursts=True):
    n = draw(st.integers(0, 8))
    ns = [draw(neighbour(i)) for i in range(n)]
    if not bursts:
        ns = [replace(x, seen_at=None) for x in ns]
    text = draw(texts)
    cand = ev(
        "c",
        sources=draw(source_sets),
        type=draw(types),
        place=draw(st.sampled_from([SAN_YSIDRO, None])),
        channel=draw(st.sampled_from(list(Channel))),
        fingerprint=None if text is None else fingerprint(text),
        seen_at=H0 + timedelta(minutes=5) if bursts else None,
    )
    history = History(*(draw(st.integers(0, 12)) for _ in range(4)))
    config = replace(
        CFG,
        prior_web=draw(st.floats(0.05, 0.9)),
        corroboration_llr=draw(st.floats(0.2, 1.5)),
        max_corroboration_llr=draw(st.floats(0.5, 3.0)),
        history_llr=draw(st.floats(0.0, 0.5)),
    )
    return cand, ns, history, config


@given(scenarios())
@settings(max_examples=300)
def test_confidence_is_a_probability_and_level_matches(sc):
    cand, ns, history, config = sc
    a = assess(cand, ns, history, H0 + timedelta(minutes=6), config)
    assert 0.0 <= a.confidence <= 1.0
    assert a.level == level_for(a.confidence)
    assert a.independent_sources == 1 + len(a.corroborated_by)
    assert list(a.corroborated_by) == sorted(a.corroborated_by)
    assert "c" not in a.corroborated_by


@given(scenarios(), st.randoms(use_true_random=False))
def test_order_of_neighbours_does_not_matter(sc, rnd):
    cand, ns, history, config = sc
    shuffled = list(ns)
    rnd.shuffle(shuffled)
    assert assess(cand, ns, history, H0, config) == assess(cand, shuffled, history, H0, config)


@given(scenarios(bursts=False))
@settings(max_examples=300)
def test_an_independent_corroborating_report_raises_confidence_until_the_cap(sc):
    cand, ns, history, config = sc
    before = assess(cand, ns, history, H0, config)
    fresh = replace(
        cand,
        key="fresh",
        sources=src("fresh"),
        fingerprint=None,
        channel=Channel.WEB,
        verdict=Verdict.NONE,
        seen_at=None,
    )
    after = assess(cand, [*ns, fresh], history, H0, config)
    assert after.confidence >= before.confidence
    most_so_far = (before.independent_sources - 1) * config.corroboration_llr * 2.0
    room = after.confidence < config.anonymous_max_confidence  # below the anonymous ceiling
    if room and most_so_far + config.corroboration_llr <= config.max_corroboration_llr:
        assert after.confidence > before.confidence
        assert "fresh" in after.corroborated_by


@given(scenarios(bursts=False), st.integers(0, 7))
def test_a_same_source_repeat_never_raises_confidence(sc, which):
    cand, ns, history, config = sc
    cand = replace(cand, sources=cand.sources | src("me"))
    before = assess(cand, ns, history, H0, config)
    base = ns[which % len(ns)] if ns else replace(cand, key="x")
    repeat = replace(base, key="repeat", sources=src("me"), verdict=Verdict.CONFIRMED)
    after = assess(cand, [*ns, repeat], history, H0, config)
    assert after.confidence <= before.confidence
    assert "repeat" not in after.corroborated_by


@given(scenarios(bursts=False), st.integers(0, 7), st.integers(0, 7))
def test_sharing_a_neighbours_source_with_another_never_raises_confidence(sc, i, j):
    cand, ns, history, config = sc
    if len(ns) < 2:
        return
    a, b = ns[i % len(ns)], ns[j % len(ns)]
    if not a.sources or not b.sources:
        return  # an unknown source (one shared group) becoming known may rightly count
    shared = a.sources | src(f"own-{a.key}")  # a's source, now also carried by b
    merged = [replace(x, sources=x.sources | shared) if x in (a, b) else x for x in ns]
    before = assess(cand, ns, history, H0, config)
    after = assess(cand, merged, history, H0, config)
    assert after.confidence <= before.confidence


@given(st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_level_table_is_total_and_monotone(x, y):
    lo, hi = min(x, y), max(x, y)
    assert LEVEL_RANK[level_for(lo)] <= LEVEL_RANK[level_for(hi)]


def test_level_floors_are_the_designed_ones():
    assert [(f, lvl) for f, lvl in LEVEL_FLOORS] == [
        (0.8, Level.CONFIRMED),
        (0.6, Level.LIKELY),
        (0.3, Level.POSSIBLE),
        (0.0, Level.UNVERIFIED),
    ]
    assert level_for(0.0) == Level.UNVERIFIED
    assert level_for(0.2999) == Level.UNVERIFIED
    assert level_for(0.3) == Level.POSSIBLE
    assert level_for(0.6) == Level.LIKELY
    assert level_for(0.8) == Level.CONFIRMED
    assert level_for(1.0) == Level.CONFIRMED


# --- templates -------------------------------------------------------------------------

BOT = "URGENT: RAID in San Ysidro right now. {} agents and {} {}. Share with everyone!"


def test_templated_neighbours_are_one_source_and_not_the_candidates_corroboration():
    bots = [
        ev(f"n{i}", fingerprint=fingerprint(BOT.format(3 + i, 2 + i % 4, veh)))
        for i, veh in enumerate(["vans", "trucks", "SUVs", "vans", "trucks"])
    ]
    honest = ev("c", fingerprint=fingerprint(OTHER))
    assert conf(*bots, candidate=honest).independent_sources == 2  # the template counts once
    bot = ev("c", fingerprint=fingerprint(BOT.format(9, 4, "unmarked cars")))
    assert conf(*bots, candidate=bot).independent_sources == 1  # its own template: no one


def test_a_second_member_counts_only_when_their_report_matches_this_one():
    """Two members are two pairs of eyes on one sighting only when their reports match: a
    member two areas away (3.5 km) or hours apart does not lift one member's ceiling."""
    member = ev("c", channel=Channel.MEMBER)
    witness = ev("n1")
    near = ev("m1", channel=Channel.MEMBER)  # the same place and hour
    assert conf(near, witness, candidate=member).confidence >= 0.7
    away = Place(SAN_YSIDRO.lat + 0.0315, SAN_YSIDRO.lon)  # about 3.5 km north
    far = ev("m1", channel=Channel.MEMBER, area="otay", place=away)
    assert conf(far, witness, candidate=member).confidence == CFG.single_member_max_confidence
    later = ev("m1", channel=Channel.MEMBER, hour=H0 + hours(2))
    assert conf(later, witness, candidate=member).confidence == CFG.single_member_max_confidence
    # the rule's knob: 0 counts every member in range, as before it
    loose = replace(CFG, second_member_similarity=0.0)
    assert conf(far, witness, candidate=member, config=loose).confidence >= 0.7
