"""The node's side of alerts between chapters, on a real store: the outbox
federation reads, neighbours, received alerts with replay protection and
expiry, and the counters `vecinos status` shows."""

from __future__ import annotations

import asyncio

from sqlmodel import Session, select

from node.outcome import Accepted, Neighbour, ReceivedAlert, ReportDraft, SourceRef
from node.service import ModeratorAction, Node
from node.store import Alert
from scoring.model import Channel
from tests.support import neighbour_alert


def web(n: int) -> SourceRef:
    return SourceRef(Channel.WEB, f"127.0.0.{n}".encode())


async def cross_threshold(node: Node, clock, area: str = "Vista") -> str:
    first = None
    # two vetted members and an anonymous witness: anonymous sources, or one member's word
    # with them, are never shared
    for n in range(1, 4):
        source = SourceRef(Channel.MEMBER, f"@member{n}:example.org".encode()) if n < 3 else web(n)
        outcome = await node.submit(ReportDraft(type="checkpoint", area=area), source)
        assert isinstance(outcome, Accepted)
        first = first or outcome.report.id
        clock.advance(minutes=4)
    assert first is not None
    return first


def received(clock, seq: int = 1, still_active: bool = True, hours: int = 4) -> ReceivedAlert:
    return neighbour_alert(clock.now, seq, still_active, hours)


async def test_an_alert_wakes_federation_and_waits_in_the_outbox(node: Node, clock) -> None:
    assert not node.outbox_ready.is_set()
    await cross_threshold(node, clock)
    await asyncio.wait_for(node.outbox_ready.wait(), timeout=10)
    [pending] = await node.pending_alerts()
    assert pending.seq == 1 and pending.body["kind"] == "alert"
    assert pending.body["area"] == "Vista" and pending.body["level"] == "likely"
    assert set(pending.body) >= {"type", "hour", "expires", "confidence", "reports", "chapter"}
    assert "description" not in pending.body
    await node.alert_delivered(pending.outbox_id)
    assert await node.pending_alerts() == []


async def test_a_debunk_withdraws_with_the_same_id_and_area(node: Node, clock) -> None:
    await cross_threshold(node, clock)
    for report in await node.live_reports():
        await node.moderate(report.id, ModeratorAction.DEBUNK)
    bodies = [p.body for p in await node.pending_alerts()]
    assert bodies[0]["kind"] == "alert" and bodies[-1]["kind"] == "withdrawal"
    assert {b["alert_id"] for b in bodies} == {bodies[0]["alert_id"]}
    assert bodies[-1]["area"] == "Vista" and bodies[-1]["still_active"] is False
    assert [b["seq"] for b in bodies] == sorted(b["seq"] for b in bodies)


async def test_an_expired_alert_closes_without_a_withdrawal_and_goes(node: Node, clock) -> None:
    await cross_threshold(node, clock)
    sent = len(await node.pending_alerts())
    assert sent >= 1
    clock.advance(hours=8)
    counts = await node.purge()
    assert counts.alerts_withdrawn == 1 and counts.alerts_deleted == 1
    assert counts.outbox_expired == sent  # never sent, now useless: receivers would refuse it
    assert await node.pending_alerts() == []
    with Session(node.engine) as session:
        assert session.exec(select(Alert)).all() == []


async def test_alert_rooms_remember_where_an_alert_went(node: Node) -> None:
    assert await node.alert_rooms("x") == frozenset()
    await node.add_alert_room("x", "!a:hs")
    await node.add_alert_room("x", "!a:hs")
    await node.add_alert_room("x", "!b:hs")
    assert await node.alert_rooms("x") == {"!a:hs", "!b:hs"}


async def test_neighbours_are_saved_replaced_and_removed(node: Node) -> None:
    neighbour = Neighbour("norte-1a2b", "@bot:hs", "ed25519:k1", "AAAA", "fp", "!r:hs", 0.7)
    await node.save_neighbour(neighbour)
    await node.save_neighbour(neighbour.__class__(**{**neighbour.__dict__, "share_threshold": 0.8}))
    assert [n.share_threshold for n in await node.neighbours()] == [0.8]
    assert await node.remove_neighbour("norte-1a2b")
    assert not await node.remove_neighbour("norte-1a2b")
    assert await node.neighbours() == []


async def test_received_alerts_keep_the_newest_seq_only(node: Node, clock) -> None:
    assert await node.receive_alert(received(clock, seq=2))
    assert not await node.receive_alert(received(clock, seq=2))
    assert not await node.receive_alert(received(clock, seq=1, still_active=False))
    assert await node.receive_alert(received(clock, seq=3, still_active=False))
    [shown] = await node.received_alerts()
    assert shown.seq == 3 and not shown.still_active
    assert await node.latest_seqs() == {("norte-1a2b", "a1"): 3}


async def test_received_alerts_go_at_expiry(node: Node, clock) -> None:
    await node.receive_alert(received(clock, hours=2))
    assert len(await node.received_alerts()) == 1
    clock.advance(hours=2)
    assert await node.received_alerts() == []
    counts = await node.purge()
    assert counts.received_alerts == 1 and await node.latest_seqs() == {}


async def test_counters_add_up(node: Node) -> None:
    await node.count("alerts_sent")
    await node.count("alerts_sent", 2)
    await node.count("rejected_bad_signature")
    assert await node.counters() == {"alerts_sent": 3, "rejected_bad_signature": 1}
