"""The homeserver goes away while a chapter produces 100 alerts: all arrive, each once.

A test-owned Synapse (the session one must stay up) is stopped, A's node
produces 100 alerts (a confirmed report of two types in each of 50 areas
more than 6 km apart; each second confirm also updates the first type's
alert there, so 150 outbox rows), A's delivery loop fails at least once,
and the homeserver comes back. The outage lasts as long as
producing the alerts takes (a few seconds), not the issue's 30 s: the loop's
backoff is capped (30 s), and it retries at once when the bot's sync
succeeds again, so a longer outage proves nothing more, only waits longer.
"""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import pytest
from network import WAIT, connect, make_site, send_failure_seen
from sqlmodel import Session, func, select

from federation.homeserver import Homeserver
from node.outcome import Accepted, ReportDraft, SourceRef
from node.service import ModeratorAction
from node.store import OutboxAlert
from scoring.model import Channel

pytestmark = pytest.mark.synapse

TYPES = ("checkpoint", "raid")


def far_apart(areas: list, km: float) -> list:
    """Areas whose centroids are more than `km` apart (so their alerts stay separate)."""
    chosen: list = []
    for area in areas:
        if all(
            math.hypot(
                (area.place.lat - o.place.lat) * 111,
                (area.place.lon - o.place.lon) * 111 * math.cos(math.radians(o.place.lat)),
            )
            > km
            for o in chosen
        ):
            chosen.append(area)
    return chosen


async def test_outage_loses_nothing_and_duplicates_nothing(tmp_path: Path, clock) -> None:
    hs = Homeserver(tmp_path / "synapse")
    await hs.start()
    sites = []
    try:
        a = await make_site(hs, tmp_path, "a", clock)
        sites.append(a)
        b = await make_site(hs, tmp_path, "b", clock)
        sites.append(b)
        await connect(a, b)
        failed = send_failure_seen(a)

        await hs.stop()
        areas = [area.name for area in far_apart(list(a.node.gazetteer.areas), 6.0)][:50]
        assert len(areas) == 50
        for i in range(100):
            draft = ReportDraft(type=TYPES[i % 2], area=areas[i // 2])
            outcome = await a.node.submit(draft, SourceRef(Channel.WEB, f"src-{i}".encode()))
            assert isinstance(outcome, Accepted)
            await a.node.moderate(outcome.report.id, ModeratorAction.CONFIRM)
        await asyncio.wait_for(failed.wait(), WAIT)  # A tried during the outage, and failed
        with Session(a.node.engine) as session:
            rows = session.exec(select(func.count()).select_from(OutboxAlert)).one()
        assert rows >= 100
        assert len(await a.node.pending_alerts(limit=1000)) > 0

        await hs.start()
        try:
            counters = await b.wait_counter("alerts_received", rows, timeout=120)
        except TimeoutError:
            raise AssertionError(
                f"A {await a.node.counters()} {a.fed.bot.stats}; "
                f"B {await b.node.counters()} {b.fed.bot.stats}"
            ) from None
        got = [r for r in await b.node.received_alerts() if r.chapter == a.chapter_id]
        assert len(got) == 100  # every alert, at its latest seq
        assert counters["alerts_received"] == rows  # every seq exactly once...
        assert not [k for k in counters if k.startswith("rejected_")]  # ...and no copy
        assert await a.node.pending_alerts() == []
        # A's own count: each row once, even when a row settles while the loop reads.
        sent = (await a.node.counters())["alerts_sent"]
        assert sent == rows, (await a.node.counters(), await b.node.counters())
        assert b.fed.bot.stats.undecryptable == 0
    finally:
        for site in sites:
            await site.close()
        await hs.stop()
