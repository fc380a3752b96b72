"""Moderators' tools on a real store (SQLite and PostgreSQL): corrections, batches, near-copies,
queue order, and the aggregates the trends are drawn from."""

from __future__ import annotations

from sqlmodel import Session, select

from node.moderation import near_copies, near_copy_counts, sketch_of
from node.outcome import Accepted, FieldError, ReportDraft, SourceRef
from node.service import ModeratorAction, Node
from node.store import AreaHour, Report
from node.trends import hour_of_week, per_day_by_type
from scoring.model import Channel

COPY = "three white vans with agents stopping people at the corner market right now"


def web(n: int) -> SourceRef:
    return SourceRef(Channel.WEB, f"127.0.0.{n}".encode())


async def submit(node: Node, n: int, **fields: object) -> str:
    outcome = await node.submit(ReportDraft(**fields), web(n))  # type: ignore[arg-type]
    assert isinstance(outcome, Accepted), outcome
    return outcome.report.id


def row(node: Node, report_id: str) -> Report:
    with Session(node.engine) as session:
        found = session.get(Report, report_id)
        assert found is not None
        return found


def area_reports(node: Node, area_id: str) -> int:
    with Session(node.engine) as session:
        return sum(
            r.reports for r in session.exec(select(AreaHour).where(AreaHour.area_id == area_id))
        )


async def test_correcting_the_area_rescores_both_places_and_moves_history(node: Node) -> None:
    first = await submit(node, 1, type="raid", area="Downtown")
    second = await submit(node, 2, type="raid", area="Downtown")
    corroborated = row(node, first).confidence
    assert row(node, second).independent_sources == 2
    assert area_reports(node, "downtown") == 2

    # The second reporter meant Rancho Bernardo, 30 km away.
    view = await node.correct_report(second, area="rancho bernardo")
    assert view is not None and not isinstance(view, tuple)
    assert view.area == "Rancho Bernardo" and view.area_known
    moved, stayed = row(node, second), row(node, first)
    assert moved.area_id == "rancho-bernardo" and moved.independent_sources == 1
    assert stayed.independent_sources == 1 and stayed.confidence < corroborated
    assert area_reports(node, "downtown") == 1 and area_reports(node, "rancho-bernardo") == 1


async def test_correcting_the_type_rescores_and_moves_it_to_its_cluster(node: Node) -> None:
    raid = await submit(node, 1, type="raid", area="Downtown")
    patrol = await submit(node, 2, type="patrol", area="Downtown")
    alone = row(node, raid).confidence
    view = await node.correct_report(patrol, report_type="raid")
    assert view is not None and not isinstance(view, tuple) and view.type == "raid"
    assert row(node, raid).confidence > alone  # now a same-type neighbour
    assert row(node, raid).independent_sources == 2


async def test_a_correction_of_an_unknown_area_leaves_the_queue_when_no_reason_remains(
    node: Node,
) -> None:
    report_id = await submit(node, 1, type="checkpoint", area="the big swap meet")
    assert row(node, report_id).in_review  # unknown area: an anomaly
    await node.correct_report(report_id, area="Downtown")
    fixed = row(node, report_id)
    assert fixed.area_known and not fixed.in_review and fixed.review_reasons == ""
    assert report_id not in [item.report.id for item in await node.review_queue()]


async def test_bad_corrections_are_refused_per_field(node: Node) -> None:
    report_id = await submit(node, 1, type="raid", area="Downtown")
    found = await node.correct_report(report_id, report_type="parade", area="Atlantis")
    assert found == (
        FieldError("type", "invalid_type"),
        FieldError("area", "correction_unknown_area"),
    )
    assert row(node, report_id).type == "raid"
    assert await node.correct_report("no-such-report", report_type="raid") is None


async def test_a_verdict_survives_a_correction(node: Node) -> None:
    report_id = await submit(node, 1, type="raid", area="Downtown")
    await node.moderate(report_id, ModeratorAction.CONFIRM)
    await node.correct_report(report_id, report_type="checkpoint")
    fixed = row(node, report_id)
    assert fixed.status == "confirmed" and fixed.confidence == 1.0 and not fixed.in_review


async def test_batch_verdicts_in_one_call(node: Node) -> None:
    ids = [await submit(node, n, type="vehicle", area="the big swap meet") for n in range(1, 4)]
    done = await node.moderate_many(
        [ids[0], ids[1], ids[0], "no-such-report"], ModeratorAction.DEBUNK
    )
    assert done == 2
    assert [row(node, i).status for i in ids] == ["debunked", "debunked", row(node, ids[2]).status]
    assert row(node, ids[2]).status != "debunked"
    queued = [item.report.id for item in await node.review_queue()]
    assert ids[0] not in queued and ids[2] in queued


async def test_near_copies_follow_the_intake_rule(node: Node) -> None:
    copies = [
        await submit(node, n, type="raid", area="Downtown", description=text)
        for n, text in enumerate([COPY, COPY, COPY.upper() + "!", COPY + " hurry"], start=1)
    ]
    other = await submit(
        node, 9, type="raid", area="Downtown", description="a patrol car parked by the school gate"
    )
    short = await submit(node, 10, type="raid", area="Downtown", description="vans at the market")
    found = await node.near_copies(copies[0])
    assert sorted(found) == sorted(copies[1:])
    assert await node.near_copies(other) == [] and await node.near_copies(short) == []
    counts = await node.near_copy_counts([*copies, other, short, "gone"])
    assert counts == {**{c: 3 for c in copies}, other: 0, short: 0, "gone": 0}
    # Decided reports are no longer candidates.
    await node.moderate_many(copies[1:3], ModeratorAction.DEBUNK)
    assert await node.near_copies(copies[0]) == [copies[3]]
    # Sketches are kept for the undecided candidates only.
    everything = [*copies, other, short]
    assert set(node.sketches.known(everything)) == {copies[0], copies[3], other, short}


def test_near_copy_counts_match_near_copies_pairwise() -> None:
    texts = {
        "a": COPY,
        "b": COPY,
        "c": COPY.upper() + "!",
        "d": "completely different words about a patrol car near the park this morning",
        "e": "completely different words about a patrol car near the park this evening",
    }
    sketches = {k: s for k, v in texts.items() if (s := sketch_of(v)) is not None}
    counts = near_copy_counts(list(sketches), sketches, 0.8)
    for key in sketches:
        assert counts[key] == len(near_copies(key, sketches, 0.8))
    assert counts["a"] == 2 and counts["d"] == 1


async def test_queue_is_ordered_active_then_impact_then_newest(node: Node, clock) -> None:
    unknown = "the big swap meet"  # every one of these goes to review (unknown area)
    old_raid = await submit(node, 1, type="raid", area=unknown, still_active=False)
    vehicle = await submit(node, 2, type="vehicle", area=unknown)
    checkpoint = await submit(node, 3, type="checkpoint", area=unknown + " north")
    clock.advance(hours=1)
    raid = await submit(node, 4, type="raid", area=unknown + " south")
    newer_checkpoint = await submit(node, 5, type="checkpoint", area=unknown + " east")
    order = [item.report.id for item in await node.review_queue()]
    assert order == [raid, newer_checkpoint, checkpoint, vehicle, old_raid]


async def test_trends_read_the_aggregates_after_a_purge(node: Node, clock) -> None:
    await submit(node, 1, type="raid", area="Downtown")
    await submit(node, 2, type="raid", area="Downtown")
    await submit(node, 3, type="patrol", area="the big swap meet")
    confirmed = await submit(node, 4, type="checkpoint", area="San Ysidro")
    await node.moderate(confirmed, ModeratorAction.CONFIRM)
    day, hour = clock.now.date(), clock.now.hour
    assert (await node.trends(7)).rows == ()  # nothing counted before retention
    clock.advance(days=8)  # past the verified reports' 7 days too
    counts = await node.purge()
    assert counts.reports == 4
    trends = await node.trends(30)
    assert trends.today == clock.now.date()
    got = {(r.area_id, r.type, r.day, r.hour_of_day, r.reports, r.confirmed) for r in trends.rows}
    assert got == {
        ("downtown", "raid", day, hour, 2, 0),
        ("unknown", "patrol", day, hour, 1, 0),
        ("san-ysidro", "checkpoint", day, hour, 1, 1),
    }
    assert (await node.trends(7)).rows == ()  # eight days ago is outside the last seven
    series = dict(per_day_by_type(trends.rows, trends.first, trends.today))
    assert series[day] == {"raid": 2, "patrol": 1, "checkpoint": 1, "vehicle": 0}
    grid = hour_of_week(trends.rows)
    assert grid[day.weekday()][hour] == 4 and sum(map(sum, grid)) == 4
    assert hour_of_week(trends.rows, "downtown")[day.weekday()][hour] == 2


async def test_an_incidents_reports_are_queued_together_with_its_stage(node: Node, clock) -> None:
    long = "vans and agents at the corner market, " * 9  # over 280 characters: to review
    first = await submit(node, 1, type="raid", area="Downtown", description=long + "one")
    between = await submit(node, 2, type="checkpoint", area="San Ysidro", description=long)
    clock.advance(minutes=5)
    second = await submit(
        node, 3, type="raid", area="Downtown", description=long + "two", still_active=False
    )
    queue = await node.review_queue()
    order = [item.report.id for item in queue]
    # alone, the inactive raid report would come last (active first); its incident leads
    assert order == [first, second, between]
    by_id = {item.report.id: item for item in queue}
    assert by_id[first].incident_id is not None
    assert by_id[first].incident_id == by_id[second].incident_id != by_id[between].incident_id
    await node.publish()
    [raid] = await node.public_incidents(area="downtown")
    assert raid.id == by_id[first].incident_id
    assert by_id[first].incident_stage == raid.stage
