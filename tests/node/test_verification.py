"""Verifier dispatch and the hold on a real store, without a homeserver: what is kept at
rest (never who claimed), claims in memory, and fail-safe restarts."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlmodel import Session, select

from node.outcome import Accepted, ReportDraft, SourceRef
from node.responders import room_text
from node.service import Node, open_node
from node.store import Incident, Report
from node.verification import Answer, Outcome
from scoring.model import Channel
from tests.support import set_config

VERIFIER = "@vera-unique-name:example.org"


def configure(chapter_dir: Path, hold: int) -> None:
    set_config(chapter_dir, "matrix", "homeserver", '"http://127.0.0.1:9"')
    set_config(chapter_dir, "matrix", "user_id", '"@bot:example.org"')
    set_config(chapter_dir, "responders", "hold_minutes", str(hold))


@pytest.fixture
async def vnode(chapter_dir: Path, clock) -> AsyncIterator[Node]:
    configure(chapter_dir, hold=0)
    node = await open_node(chapter_dir, clock=clock)
    try:
        yield node
    finally:
        await node.close()


async def likely(node: Node, clock, kind: str = "raid", channel: Channel = Channel.WEB) -> None:
    for n in range(2):  # two independent witnesses: 'likely'
        outcome = await node.submit(
            ReportDraft(type=kind, area="Chula Vista", description="vans at the plaza corner"),
            SourceRef(channel, f"s-{kind}-{n}".encode()),
        )
        assert isinstance(outcome, Accepted)
        clock.advance(minutes=4)


async def test_who_claimed_is_never_at_rest_nor_logged(
    vnode: Node, clock, chapter_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await likely(vnode, clock)
    [request] = await vnode.verification_requests()
    claimed = await vnode.claim_verification(request.notice_id, VERIFIER, 15)
    assert claimed is not None and not claimed.taken and claimed.claim.eta == 15
    second = await vnode.claim_verification(request.notice_id, "@other:example.org", 5)
    assert second is not None and second.taken and second.claim.eta == 15
    refused = await vnode.answer_verification(request.notice_id, Answer.CONFIRMED, "@other:x")
    assert refused == Outcome.NOT_YOURS
    clock.advance(minutes=17)
    done = await vnode.answer_verification(request.notice_id, Answer.CONFIRMED, VERIFIER)
    assert done == Outcome.DONE
    assert [t.total_seconds() for t in vnode.verification_times()] == [17 * 60]
    counters = await vnode.counters()
    assert counters["verification_time_0h"] == 1 and counters["verifications_confirmed"] == 1
    await vnode.close()
    for path in chapter_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"vera-unique-name" not in data, path
    assert "vera-unique-name" not in caplog.text


async def test_member_evidence_and_other_types_need_no_verifier(vnode: Node, clock) -> None:
    await likely(vnode, clock, kind="vehicle")  # not in [responders] verify_types
    assert await vnode.verification_requests() == []
    await likely(vnode, clock, kind="checkpoint", channel=Channel.MEMBER)
    assert await vnode.verification_requests() == []
    kinds = [n.body["verify"] for n in await vnode.pending_notices("matrix")]
    assert kinds and not any(kinds)


async def test_a_restart_forgets_claims_and_offers_again(
    chapter_dir: Path, clock, vnode: Node
) -> None:
    await likely(vnode, clock)
    [request] = await vnode.verification_requests()
    await vnode.claim_verification(request.notice_id, VERIFIER, 10)
    await vnode.close()
    node = await open_node(chapter_dir, clock=clock)
    try:
        [again] = await node.verification_requests()
        assert again.notice_id == request.notice_id and not again.claimed
        assert await node.check_responders() == 0  # seen now: offered after offer_minutes
        clock.advance(minutes=10)
        assert await node.check_responders() == 1
        assert [n.kind for n in await node.pending_notices("matrix")][-1] == "verify"
    finally:
        await node.close()


async def test_a_hold_starts_again_after_a_restart(chapter_dir: Path, clock) -> None:
    """The hold's minute is memory only: after a restart it starts again (later, never a
    transient page)."""
    configure(chapter_dir, hold=5)
    node = await open_node(chapter_dir, clock=clock)
    await likely(node, clock)  # the 3rd report 4 minutes ago: held
    assert await node.pending_notices("matrix") == []
    await node.close()
    node = await open_node(chapter_dir, clock=clock)
    try:
        clock.advance(minutes=1)
        await node.check_responders()  # 5 minutes since the level, but the hold restarts
        assert await node.pending_notices("matrix") == []
        clock.advance(minutes=5)
        await node.check_responders()
        assert [n.kind for n in await node.pending_notices("matrix")] == ["new"]
    finally:
        await node.close()


async def test_a_spanish_chapter_asks_in_spanish(vnode: Node, clock) -> None:
    await likely(vnode, clock)
    [new] = [n.body for n in await vnode.pending_notices("matrix")]
    text = room_text(new, "es", clock())
    assert "Falta verificar" in text and "!tomar" in text and "!nopuedo" in text
    assert "vans" not in text


def stored_incident(node: Node) -> Incident:
    with Session(node.engine) as session:
        [incident] = session.exec(select(Incident)).all()
        return incident


async def test_unable_is_the_incident_s_stage_until_new_evidence_or_an_answer(
    vnode: Node, clock
) -> None:
    await likely(vnode, clock)
    [request] = await vnode.verification_requests()
    assert stored_incident(vnode).stage == "needs_verification"
    assert await vnode.answer_verification(request.notice_id, Answer.UNABLE, VERIFIER) == (
        Outcome.DONE
    )
    incident = stored_incident(vnode)
    assert (incident.stage, incident.reason, incident.verifier_unable) == (
        "unable",
        "verifier_unable",
        True,
    )
    await vnode.publish()  # the public list reads the stored stage (node.incidents)
    [public] = await vnode.public_incidents(area="chula-vista")
    assert (public.id, public.stage) == (incident.id, "unable")
    [again] = await vnode.verification_requests()  # still open, offered again
    assert again.notice_id == request.notice_id and not again.claimed
    outcome = await vnode.submit(  # news no verifier has looked at: needs verification again
        ReportDraft(type="raid", area="Chula Vista", description="agents at the corner"),
        SourceRef(Channel.WEB, b"s-raid-new"),
    )
    assert isinstance(outcome, Accepted)
    incident = stored_incident(vnode)
    assert (incident.stage, incident.verifier_unable) == ("needs_verification", False)
    await vnode.answer_verification(request.notice_id, Answer.UNABLE, None)
    assert stored_incident(vnode).stage == "unable"
    await vnode.answer_verification(request.notice_id, Answer.CONFIRMED, None)
    incident = stored_incident(vnode)
    assert (incident.stage, incident.verifier_unable) == ("verified", False)


async def test_a_request_is_withdrawn_when_members_make_the_incident_shareable(
    vnode: Node, clock
) -> None:
    await likely(vnode, clock)  # two anonymous witnesses: a verifier is asked
    [request] = await vnode.verification_requests()
    for name in ("rosa", "ana"):  # two vetted members: trusted evidence, shared
        outcome = await vnode.submit(
            ReportDraft(type="raid", area="Chula Vista"),
            SourceRef(Channel.MEMBER, f"@{name}:example.org".encode()),
        )
        assert isinstance(outcome, Accepted)
        clock.advance(minutes=4)
    await vnode.publish()
    [incident] = await vnode.public_incidents(area="chula-vista")
    assert incident.stage == "corroborated"
    assert request.notice_id not in [r.notice_id for r in await vnode.verification_requests()]


async def test_an_answer_decides_its_own_incident_not_an_earlier_one_of_the_place(
    vnode: Node, clock
) -> None:
    """A verifier looked at this incident: a raid reported at the same place hours before,
    which ended, is not debunked (nor confirmed) by what the verifier found now."""
    earlier = await vnode.submit(
        ReportDraft(type="raid", area="Chula Vista", description="agents at the plaza"),
        SourceRef(Channel.WEB, b"s-earlier"),
    )
    assert isinstance(earlier, Accepted)
    clock.advance(hours=8)  # its active time (raid: 6 h past its hour) has run out
    await likely(vnode, clock)  # a new incident at the same place: a verifier is asked
    [request] = await vnode.verification_requests()
    with Session(vnode.engine) as session:
        incidents = session.exec(select(Incident)).all()
        # no retention pass ran in between: the new report closed the ended one first
        [(ended, why)] = [(i.stage, i.reason) for i in incidents if i.closed]
        assert (ended, why, len(incidents)) == ("ended", "expired", 2)
    done = await vnode.answer_verification(request.notice_id, Answer.FALSE_ALARM, VERIFIER)
    assert done == Outcome.DONE
    with Session(vnode.engine) as session:
        verdicts = {r.id: r.verdict for r in session.exec(select(Report)).all()}
        stages = sorted((i.stage, i.reason) for i in session.exec(select(Incident)).all())
    assert verdicts.pop(earlier.report.id) == "none"
    assert set(verdicts.values()) == {"debunked"}
    # the earlier one, left undecided, does not make this one "expired": a false alarm
    assert stages == [("ended", "expired"), ("false_alarm", "debunked")]
