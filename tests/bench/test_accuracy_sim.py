"""The accuracy simulator checked on its own: the baselines and the truth matching on
hand-made streams (their figures are exactly what the rules say), the worlds it
builds (seeded, plausible, every text accepted by the node's moderation), and its
adapter against the node's own facade on a real chapter."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench.accuracy import baselines, metrics, texts
from bench.accuracy.attacks import SCENARIOS, build
from bench.accuracy.baselines import Episode, StreamReport
from bench.accuracy.observe import NoticeChange, ShareChange, open_chapter
from bench.accuracy.run import SimClock, _notice_episodes, _share_episodes
from bench.accuracy.world import NEAR_KM, Event, Fake, Report, gazetteer, witness_class
from node.intake import TYPE_WORDS
from node.outcome import ReportDraft, SourceRef
from scoring.decay import gone_quorum
from scoring.model import Channel, FollowUpKind
from scoring.moderation import moderate

T0 = datetime(2026, 11, 17, 10, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def stream(*rows: tuple[float, str, str, str]) -> list[StreamReport]:
    return [StreamReport(at(m), kind, area, who.encode()) for m, kind, area, who in rows]


def spans(episodes: list[Episode]) -> list[tuple[str, str, datetime, datetime]]:
    return sorted((e.area_id, e.type, e.start, e.end) for e in episodes)


# A van seen by A twice and once by B; a raid reported by five people ten minutes
# apart, and once more by a sixth at 15:00.
STREAM = stream(
    (0, "vehicle", "a", "A"),
    (30, "vehicle", "a", "A"),
    (50, "vehicle", "a", "B"),
    (120, "raid", "a", "R1"),
    (130, "raid", "a", "R2"),
    (140, "raid", "a", "R3"),
    (150, "raid", "a", "R4"),
    (160, "raid", "a", "R5"),
    (300, "raid", "a", "R6"),
)


def test_crowd_map_shows_every_report_for_its_types_active_time() -> None:
    assert spans(baselines.crowd_map(STREAM)) == [
        ("a", "raid", at(120), at(300) + timedelta(hours=6)),
        ("a", "vehicle", at(0), at(50) + timedelta(hours=1)),
    ]


def test_waze_like_needs_two_sources_within_an_hour() -> None:
    # The van: A twice is one source; B's report 50 min after A's first makes two.
    assert spans(baselines.waze_like(STREAM)) == [
        ("a", "raid", at(130), at(300) + timedelta(hours=6)),
        ("a", "vehicle", at(50), at(50) + timedelta(hours=1)),
    ]
    # Two sources 61 minutes apart are never an alert.
    assert baselines.waze_like(stream((0, "raid", "a", "A"), (61, "raid", "a", "B"))) == []


def test_naive_update_takes_five_reports_in_two_hours() -> None:
    assert baselines.naive_reports_needed() == 5  # 0.3 odds x 1.5^4 = 0.684, x 1.5^5 = 0.765
    # From the fifth report until the first leaves the two-hour window.
    assert spans(baselines.naive(STREAM)) == [("a", "raid", at(160), at(120 + 120))]
    # Counting reports, not sources: five from one person are an alert too.
    one = stream(*((m, "patrol", "b", "S") for m in (0, 10, 20, 30, 40)))
    assert spans(baselines.naive(one)) == [("b", "patrol", at(40), at(120))]


def near(area_id: str) -> tuple[str, ...]:
    return {"a": ("a", "b"), "b": ("b", "a"), "c": ("c",)}[area_id]


EVENTS = [
    Event("E1", "raid", "a", at(0), at(60), 7),
    Event("E2", "vehicle", "c", at(0), at(20), 1),
    Event("E3", "checkpoint", "c", at(100), at(200), 2),
]


def ep(kind: str, area: str, start: float, end: float) -> Episode:
    return Episode(f"{kind}{area}{start}", kind, area, at(start), at(end))


def test_truth_matching_by_type_neighbour_area_and_grace() -> None:
    e1 = EVENTS[0]
    assert metrics.matches(ep("raid", "a", 5, 90), e1, near)
    assert metrics.matches(ep("raid", "b", 5, 90), e1, near)  # a gazetteer neighbour
    assert metrics.matches(ep("raid", "a", 90, 99), e1, near)  # within GRACE of its end
    assert not metrics.matches(ep("raid", "a", 91, 99), e1, near)  # 31 min after it ended
    assert not metrics.matches(ep("checkpoint", "a", 5, 90), e1, near)  # the wrong type
    assert not metrics.matches(ep("raid", "c", 5, 90), e1, near)  # too far
    assert not metrics.matches(ep("raid", "a", -1, 90), e1, near)  # before it began


def test_system_figures_on_hand_made_alerts() -> None:
    episodes = [
        ep("raid", "a", 12, 100),  # E1, 12 min late
        ep("raid", "b", 8, 50),  # E1 again, from a neighbour: true, 8 min
        ep("vehicle", "a", 5, 60),  # nothing of the kind there: false
        ep("checkpoint", "c", 130, 200),  # E3, 30 min late
    ]
    fakes = [Fake("F1", "test", "vehicle", "b", at(0), at(30))]
    fig = metrics.system_figures(episodes, EVENTS, fakes, near)
    assert (fig.alerts, fig.true_alerts, fig.false_alerts) == (4, 3, 1)
    assert (fig.precision(), fig.recall()) == (0.75, 2 / 3)
    assert sorted(fig.delays_min) == [8.0, 30.0]
    assert fig.delays_5plus_min == [8.0]
    assert fig.by_class == {"1": [0, 1], "2-3": [1, 1], "5-10": [1, 1], "20+": [0, 0]}
    assert (fig.fakes_hit, fig.fakes) == (1, 1)  # the false vehicle alert sits on the fake
    assert fig.false_minutes == 55.0


def test_coverage_percentile_and_downgrades() -> None:
    assert (
        metrics.covered([(at(0), at(10)), (at(5), at(20)), (at(30), at(40))], at(0), at(40)) == 0.75
    )
    assert metrics.percentile([5, 1, 3, 2, 4], 0.5) == 3
    assert metrics.percentile([5, 1, 3, 2, 4], 0.9) == 5
    assert metrics.percentile([], 0.5) is None
    changes = [
        (at(0), "n1", "new", "likely"),
        (at(1), "n1", "update", "possible"),  # fell below likely while open
        (at(2), "n1", "all_clear", "possible"),
        (at(0), "n2", "new", "likely"),
        (at(1), "n2", "update", "confirmed"),
        (at(2), "n2", "all_clear", "confirmed"),
        (at(3), "n2", "update", "possible"),  # after its all-clear: not counted
    ]
    assert metrics.downgraded(changes, "likely") == (1, 2)
    # Of those, the ones that fell right after a verifier's false alarm nearby.
    located = [(*c, "a") for c in changes]
    assert metrics.downgraded_after_false_alarm(located, [(at(1), "a")], near, "likely") == 1
    assert metrics.downgraded_after_false_alarm(located, [(at(0), "a")], near, "likely") == 0
    assert metrics.downgraded_after_false_alarm(located, [(at(1), "z")], near, "likely") == 0
    late = [(at(0), "n3", "new", "likely", "a"), (at(40), "n3", "update", "possible", "a")]
    assert metrics.downgraded_after_false_alarm(late, [(at(10), "b")], near, "likely") == 0
    assert metrics.downgraded_after_false_alarm(late, [(at(39.5), "b")], near, "likely") == 1
    # A swept event: shown from its first alert (10) to 30 and again 50-60 of its 60 min.
    e = EVENTS[0]
    assert metrics.kept([ep("raid", "a", 10, 30), ep("raid", "a", 50, 70)], e, near) == 0.6


def test_answer_to_share() -> None:
    shared = [ep("raid", "a", 30, 90), ep("raid", "c", 0, 90)]
    asked = [
        metrics.Verification(at(0), "raid", "a", "confirm", at(20)),  # shared 10 min later
        metrics.Verification(at(0), "raid", "c", "confirm", at(20)),  # already shared
        metrics.Verification(at(0), "patrol", "c", "confirm", at(20)),  # never shared
        metrics.Verification(at(0), "raid", "a", "false_alarm", at(20)),  # not a confirm
    ]
    assert metrics.answer_to_share(asked, shared) == ([10.0], 1, 1)


def test_shared_alerts_lapse_at_expiry_and_end_at_withdrawal() -> None:
    def change(kind: str, expires: float, active: bool = True) -> ShareChange:
        return ShareChange("x", kind, "raid", "a", "likely", at(expires), active)

    episodes = _share_episodes(
        [
            (at(0), change("alert", 60)),
            (at(90), change("update", 180)),  # it lapsed from 60 to 90
            (at(120), change("update", 240)),
            (at(150), change("withdrawal", 240, active=False)),
        ],
        at(1000),
    )
    assert [e.spans() for e in episodes] == [((at(0), at(60)), (at(90), at(150)))]
    notices = _notice_episodes(
        [
            (at(0), NoticeChange("n", "new", "raid", "a", "likely")),
            (at(5), NoticeChange("n", "update", "raid", "a", "possible")),
            (at(50), NoticeChange("n", "all_clear", "raid", "a", "possible")),
            (at(60), NoticeChange("m", "new", "patrol", "c", "likely")),
        ],
        at(100),
    )
    assert spans(notices) == [("a", "raid", at(0), at(50)), ("c", "patrol", at(60), at(100))]


# -- the worlds ---------------------------------------------------------------------------


def test_worlds_are_seeded() -> None:
    for scenario in SCENARIOS:
        one, two = build(scenario, 7), build(scenario, 7)
        assert [(a.at, a.about) for a in one.actions] == [(a.at, a.about) for a in two.actions]
        assert one.events == two.events and one.fakes == two.fakes
    assert [a.at for a in build("honest", 7).actions] != [a.at for a in build("honest", 8).actions]


def test_honest_worlds_look_like_the_brief() -> None:
    gaz = gazetteer()
    reports = []
    classes: set[str] = set()
    delays = []
    for seed in range(20):
        world = build("honest", seed)
        classes |= {e.witness_class for e in world.events}
        for action in world.actions:
            if isinstance(action, Report) and action.about.startswith("E"):
                reports.append((world, action))
        for event in world.events:
            mine = [a.at for a in world.actions if isinstance(a, Report) and a.about == event.id]
            assert len(mine) >= event.witnesses  # one report per witness (some report twice)
            if event.type == "raid":
                delays += [(t - event.start) / timedelta(minutes=1) for t in mine]
    assert classes == {"1", "2-3", "5-10", "20+"}
    assert witness_class(4) == "5-10" and witness_class(3) == "2-3"
    # Raid witnesses report as a decaying burst of minutes.
    delays.sort()
    assert 5 < delays[len(delays) // 2] < 30
    members = sum(r.who.channel == Channel.MEMBER for _, r in reports) / len(reports)
    spanish = sum(r.draft.type in texts.TYPE_WORD["es"].values() for _, r in reports) / len(reports)
    assert 0.1 < members < 0.2 and 0.4 < spanish < 0.6
    # Most name the event's own area, some a neighbour, a few mistype it.
    own = near_area = 0
    for world, r in reports:
        event = next(e for e in world.events if e.id == r.about)
        found = gaz.match(r.draft.area or "").id
        own += found == event.area_id
        near_area += found in gaz.nearby(event.area_id, NEAR_KM)
    assert 0.8 < own / len(reports) < 0.95
    assert near_area / len(reports) > 0.95
    # Each witness writes their own words: descriptions rarely repeat.
    written = [r.draft.description for _, r in reports if r.draft.description]
    assert len(set(written)) > 0.95 * len(written)


def test_every_simulated_text_is_one_the_node_accepts() -> None:
    drafts = [
        a.draft
        for scenario in SCENARIOS
        for a in build(scenario, 3).actions
        if isinstance(a, Report)
    ]
    rng = random.Random(5)
    for _ in range(300):
        kind = rng.choice(("raid", "checkpoint", "vehicle", "patrol"))
        lang = rng.choice(("en", "es"))
        drafts.append(ReportDraft(type="raid", description=texts.honest(rng, kind, lang)))
        drafts.append(
            ReportDraft(type="raid", description=texts.templated(rng, kind, "Chula Vista", lang, 1))
        )
        drafts.append(
            ReportDraft(
                type="raid", description=texts.light_edit(rng, texts.long_honest(rng, kind, lang))
            )
        )
    for draft in drafts:
        assert draft.type is not None and draft.type.casefold() in TYPE_WORDS
        if draft.description:
            assert not moderate(draft.description).refused, draft.description


def test_attacks_are_what_their_scenario_says() -> None:
    world = build("botnet_paced", 4)
    for fake in world.fakes:
        times = sorted(a.at for a in world.actions if isinstance(a, Report) and a.about == fake.id)
        gaps = [(b - a) / timedelta(minutes=1) for a, b in itertools.pairwise(times)]
        assert 8 <= len(times) <= 14 and all(4 <= g <= 7 for g in gaps)
        sources = {
            a.who.identity for a in world.actions if isinstance(a, Report) and a.about == fake.id
        }
        assert len(sources) == len(times)  # a fresh address each
    spam = build("spammer", 4)
    for fake in spam.fakes:
        sources = {
            a.who.identity for a in spam.actions if isinstance(a, Report) and a.about == fake.id
        }
        assert len(sources) == 1
    swept = build("gone_sweep", 4)
    assert len(swept.sweeps) == 3 and all(
        e.id in {x.id for x in swept.events} for e in swept.events
    )


# -- the adapter against the node's own facade ----------------------------------------------


async def test_the_adapter_sees_what_the_node_shows(tmp_path: Path) -> None:
    clock = SimClock(datetime(2026, 11, 17, 14, 5, tzinfo=UTC))
    chapter = await open_chapter(tmp_path / "chapter", clock)
    node = chapter.node  # type: ignore[attr-defined]
    try:
        for n in range(5):  # five people, four minutes apart, one raid
            draft = ReportDraft(
                type="raid", area="Chula Vista", description=f"agents at the {n} door"
            )
            done = await chapter.submit(draft, SourceRef(Channel.WEB, f"10.0.0.{n}".encode()))
            assert done.accepted
            clock.now += timedelta(minutes=4)
        await node.publish()  # the public list changes at publication ticks
        active = await node.active_reports()
        ids = [r.id for r in active]
        confidence = {r.id: r.confidence for r in active}
        likely = {(r.type, "chula-vista") for r in active if r.level in ("likely", "confirmed")}
        shown = {(s.type, s.area_id) for s in await chapter.shown("likely")}
        assert shown == likely
        assert set(await chapter.targets("raid", "chula-vista")) == set(ids)
        first = (await chapter.targets("raid", "chula-vista"))[0]
        assert confidence[first] == max(confidence.values())  # the most prominent first
        notices, shares, requests = await chapter.changes()
        pending = await node.pending_alerts()
        assert [(s.key, s.kind, s.level) for s in shares] == [
            (a.alert_id, a.body["kind"], a.body["level"]) for a in pending
        ]
        queued = await node.pending_notices("matrix")
        assert [(n.key, n.kind, n.level) for n in notices] == [
            (q.notice_id, q.kind, q.body["level"]) for q in queued
        ]
        assert [r.key for r in requests] == [n.key for n in notices if n.kind == "new"]
        assert await chapter.changes() == ([], [], [])  # each change is told once
        # 'gone' from strangers ends a report once their quorum, which grows with the
        # report's independent sources, is reached: as the node's decay says.
        quorum = gone_quorum(5, node.config.scoring)
        assert quorum > 2  # two strangers do not end a five-witness raid
        for n in range(1, quorum + 1):
            assert ids[0] in await chapter.targets("raid", "chula-vista")
            assert await chapter.follow_up(
                ids[0], FollowUpKind.GONE, SourceRef(Channel.WEB, f"10.9.9.{n}".encode())
            )
        assert ids[0] not in await chapter.targets("raid", "chula-vista")
        await node.publish()
        assert ids[0] not in {r.id for r in await node.active_reports() if r.still_active}
    finally:
        await chapter.close()


@pytest.mark.parametrize("answer", ["confirm", "false_alarm"])
async def test_a_verifier_answer_is_a_moderators_verdict(tmp_path: Path, answer: str) -> None:
    from bench.accuracy.observe import Answer, VerifyRequest

    clock = SimClock(datetime(2026, 11, 17, 14, 5, tzinfo=UTC))
    chapter = await open_chapter(tmp_path / "chapter", clock)
    node = chapter.node  # type: ignore[attr-defined]
    try:
        for n in range(2):
            draft = ReportDraft(type="checkpoint", area="San Ysidro")
            assert (
                await chapter.submit(draft, SourceRef(Channel.WEB, f"10.0.1.{n}".encode()))
            ).accepted
            clock.now += timedelta(minutes=6)
        await chapter.answer(VerifyRequest("k", "checkpoint", "san-ysidro"), Answer(answer))
        await node.publish()
        statuses = sorted(r.status for r in await node.active_reports())
        if answer == "confirm":
            assert "confirmed" in statuses
            assert {s.level for s in await chapter.shown("likely")} == {"confirmed"}
        else:
            assert statuses == ["debunked", "debunked"]
            assert await chapter.targets("checkpoint", "san-ysidro") == []
    finally:
        await chapter.close()


def test_false_alerts_get_a_cause() -> None:
    from bench.accuracy.world import FalseAlarm

    alarms = [FalseAlarm("A1", "patrol", "c", at(300), 1)]
    fakes = [Fake("F1", "test", "vehicle", "b", at(0), at(30))]
    cause = lambda e: metrics.false_cause(e, EVENTS, fakes, alarms, near)  # noqa: E731
    assert cause(ep("vehicle", "a", 5, 60)) == "attack"
    assert cause(ep("patrol", "c", 310, 400)) == "false_alarm"
    assert cause(ep("patrol", "a", 10, 20)) == "wrong_type"  # E1 is a raid
    assert cause(ep("raid", "a", 100, 200)) == "late"  # E1 ended at 60
    assert cause(ep("raid", "c", 1000, 1100)) == "other"
    fig = metrics.system_figures([ep("patrol", "a", 10, 20)], EVENTS, fakes, near, alarms)
    assert fig.false_causes["wrong_type"] == 1
