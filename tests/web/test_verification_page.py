"""The moderation page's open verification requests: listed claimed or not (ETA, never who),
and a moderator marks them verified, false alarm, or offers them again."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from test_moderation_pages import TOKEN, log_in, page, post

from node.outcome import Accepted, ReportDraft, SourceRef
from node.service import Node, open_node
from scoring.model import Channel
from tests.support import set_config

VERIFY_FORM = re.compile(r'action="/moderation/verification/([^"?]+)')


@pytest.fixture
async def node(chapter_dir: Path, clock) -> AsyncIterator[Node]:
    """A node with a responders room configured (verifiers are dispatched there), no hold."""
    set_config(chapter_dir, "matrix", "homeserver", '"http://127.0.0.1:9"')
    set_config(chapter_dir, "matrix", "user_id", '"@bot:example.org"')
    set_config(chapter_dir, "responders", "hold_minutes", "0")
    opened = await open_node(chapter_dir, clock=clock)
    try:
        yield opened
    finally:
        await opened.close()


async def likely(node: Node, clock, kind: str, area: str) -> list[str]:
    ids = []
    for n in range(3):
        outcome = await node.submit(
            ReportDraft(type=kind, area=area), SourceRef(Channel.WEB, f"{area}-{n}".encode())
        )
        assert isinstance(outcome, Accepted)
        ids.append(outcome.report.id)
        clock.advance(minutes=4)
    return ids


async def statuses(node: Node, ids: list[str]) -> set[str]:
    found = set()
    for report_id in ids:
        report = await node.get_report(report_id)
        assert report is not None
        found.add(report.status)
    return found


async def test_requests_are_listed_and_marked(
    client: aiohttp.ClientSession, node: Node, moderator: tuple[str, str], clock
) -> None:
    raid = await likely(node, clock, "raid", "Chula Vista")
    checkpoint = await likely(node, clock, "checkpoint", "San Ysidro")
    await likely(node, clock, "vehicle", "Encanto")  # not in [responders] verify_types
    requests = {r.type: r.notice_id for r in await node.verification_requests()}
    assert sorted(requests) == ["checkpoint", "raid"]
    token = await log_in(client, moderator)
    _, html = await page(client, "/moderation")
    assert "Needs verification" in html and html.count("not claimed yet") == 2
    assert sorted(VERIFY_FORM.findall(html)) == sorted(requests.values())

    claimed = await node.claim_verification(requests["raid"], "@vera:example.org", 20)
    assert claimed is not None and not claimed.taken
    _, html = await page(client, "/moderation")
    assert "claimed, ETA 20 min" in html and "vera" not in html
    _, html = await page(client, "/moderation?lang=es")
    assert "Falta verificar" in html and "tomado, llega en 20 min" in html

    code, _, resp = await post(
        client,
        f"/moderation/verification/{requests['raid']}",
        {"action": "confirmed", "csrf_token": token},
    )
    assert code == 303 and "done=confirmed" in resp.headers["Location"]
    assert await statuses(node, raid) == {"confirmed"}

    await node.pending_notices("matrix")
    code, _, _ = await post(
        client,
        f"/moderation/verification/{requests['checkpoint']}",
        {"action": "unable", "csrf_token": token},
    )
    assert code == 303
    kinds = [n.kind for n in await node.pending_notices("matrix")]
    assert kinds[-1] == "verify"  # offered again in the room
    code, _, _ = await post(
        client,
        f"/moderation/verification/{requests['checkpoint']}",
        {"action": "false_alarm", "csrf_token": token},
    )
    assert code == 303
    assert await statuses(node, checkpoint) == {"debunked"}
    _, html = await page(client, "/moderation")
    assert "No incident waits for a verifier." in html

    code, _, _ = await post(  # answered already
        client,
        f"/moderation/verification/{requests['raid']}",
        {"action": "confirmed", "csrf_token": token},
    )
    assert code == 404
    code, _, _ = await post(  # no CSRF token: refused
        client, f"/moderation/verification/{requests['raid']}", {"action": "confirmed"}
    )
    assert code == 403
    assert TOKEN.search(html)
