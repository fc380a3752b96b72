"""Intake asks back when the place is unsure: an ambiguous_area refusal with the candidates,
and the reporter's choice (area_id) taken as it is."""

from __future__ import annotations

from node import i18n
from node.outcome import Accepted, Refused, ReportDraft, SourceRef
from node.service import Node
from scoring.model import Channel


def web(n: int) -> SourceRef:
    return SourceRef(Channel.WEB, f"127.0.0.{n}".encode())


async def test_an_unsure_place_is_refused_with_its_choices(node: Node) -> None:
    outcome = await node.submit(ReportDraft(type="raid", area="Mission"), web(1))
    assert isinstance(outcome, Refused)
    [error] = outcome.errors
    assert (error.field, error.code) == ("area", "ambiguous_area")
    params = dict(error.params)
    assert set(params["ids"].split()) == {"mission-valley", "mission-hills", "mission-beach"}
    text = i18n.translate(error.code, "es", **params)
    assert "Mission Valley" in text and "Mission Beach" in text
    assert outcome.draft.area == "Mission"  # the text comes back to be fixed


async def test_the_reporters_choice_is_taken_as_it_is(node: Node) -> None:
    draft = ReportDraft(type="raid", area="Imperial", area_id="imperial-beach")
    outcome = await node.submit(draft, web(1))
    assert isinstance(outcome, Accepted)
    assert outcome.report.area == "Imperial Beach" and outcome.report.area_known


async def test_an_unknown_choice_falls_back_to_reading_the_text(node: Node) -> None:
    draft = ReportDraft(type="raid", area="San Ysidro", area_id="atlantis")
    outcome = await node.submit(draft, web(1))
    assert isinstance(outcome, Accepted) and outcome.report.area == "San Ysidro"


async def test_a_street_named_after_a_town_is_not_that_town(node: Node) -> None:
    outcome = await node.submit(ReportDraft(type="raid", area="el cajon blvd and 54th"), web(1))
    assert isinstance(outcome, Accepted)
    assert not outcome.report.area_known and outcome.report.lat is None
