"""The public incident's stage is the stored one (node.incident_store): scoring.incident's."""

from __future__ import annotations

from node.outcome import Accepted, ReportDraft, SourceRef
from node.service import ModeratorAction, Node
from scoring.model import Channel


def web(n: int) -> SourceRef:
    return SourceRef(Channel.WEB, f"127.0.1.{n}".encode())


MEMBER = SourceRef(Channel.MEMBER, b"@member:example.org")


async def submit(node: Node, clock, source: SourceRef, area: str) -> str:
    outcome = await node.submit(ReportDraft(type="raid", area=area), source)
    assert isinstance(outcome, Accepted), outcome
    clock.advance(minutes=4)
    return outcome.report.id


async def stage_of(node: Node, area_id: str) -> str:
    await node.publish()  # the public list changes at publication ticks
    [incident] = await node.public_incidents(area=area_id)
    return incident.stage


async def test_anonymous_sources_or_one_member_need_verification_two_members_corroborate(
    node: Node, clock
) -> None:
    first = await submit(node, clock, web(1), "Chula Vista")
    assert await stage_of(node, "chula-vista") == "reported"
    for n in (2, 3, 4):
        await submit(node, clock, web(n), "Chula Vista")
    assert await stage_of(node, "chula-vista") == "needs_verification"
    await submit(node, clock, MEMBER, "Chula Vista")
    # one member's word with anonymous witnesses: 'likely', still below sharing
    assert await stage_of(node, "chula-vista") == "needs_verification"
    await submit(node, clock, SourceRef(Channel.MEMBER, b"@rosa:example.org"), "Chula Vista")
    assert await stage_of(node, "chula-vista") == "corroborated"
    await node.moderate(first, ModeratorAction.CONFIRM)
    assert await stage_of(node, "chula-vista") == "verified"
