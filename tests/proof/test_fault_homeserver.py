"""The homeserver killed (SIGKILL) while a chapter produces alerts: all delivered, each once.

Two real nodes (A sends, B receives) on a test-owned Synapse. A produces
SIZES.alerts alerts (one confirmed report per area and type, on a grid of
areas more than 10 km apart, so no two reports share an alert). Once B has
received a fifth of them, Synapse is killed with SIGKILL (no clean shutdown:
whatever it was persisting is cut), A produces the second half of them
during the outage, and Synapse is
started again on the same data after SIZES.outage_s (30 s in the full run;
in CI as soon as production ends). Then: B holds every alert at its latest
seq, B's `alerts_received` equals the number of outbox rows A wrote (every
seq exactly once), nothing was refused as a replay or otherwise, A's outbox
is empty and A counted at least one failed send.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest
from network import WAIT, connect, make_site, send_failure_seen
from proof_sizes import SIZES
from sqlmodel import Session, func, select

from federation.homeserver import Homeserver
from node.gazetteer import Area, Gazetteer
from node.outcome import Accepted, ReportDraft, SourceRef
from node.service import ModeratorAction
from node.store import OutboxAlert
from scoring.model import Channel, Place

pytestmark = pytest.mark.synapse

TYPES = ("checkpoint", "raid", "vehicle", "patrol")
FIRST = ("Loma", "Valle", "Cerro", "Llano", "Playa", "Monte", "Prado", "Campo",
         "Costa", "Sierra", "Bahia", "Rancho", "Arroyo", "Paraje", "Ribera", "Colina")  # fmt: skip
SECOND = ("Norte", "Sur", "Oriente", "Poniente", "Alto", "Bajo", "Verde", "Azul",
          "Rojo", "Blanco", "Nuevo", "Viejo", "Grande", "Chico", "Real", "Claro")  # fmt: skip


def grid_gazetteer() -> Gazetteer:
    """256 areas on a grid 0.1 degree apart (over 10 km): every area its own cluster."""
    areas = [
        Area(
            id=f"{a}-{b}".lower(),
            name=f"{a} {b}",
            aliases=(),
            place=Place(round(32.0 + 0.1 * i, 2), round(-117.5 + 0.12 * j, 2)),
            highways=(),
        )
        for i, a in enumerate(FIRST)
        for j, b in enumerate(SECOND)
    ]
    return Gazetteer("test grid", (), areas)


def kill_synapse(hs: Homeserver) -> None:
    """SIGKILL Synapse's process group: no shutdown handler runs, nothing is flushed."""
    proc = hs._proc  # the harness's child (it offers a clean stop only)
    assert proc is not None and proc.poll() is None
    os.killpg(proc.pid, signal.SIGKILL)


async def test_homeserver_killed_mid_stream_delivers_everything_once(tmp_path: Path, clock) -> None:
    total = SIZES.alerts
    grid = grid_gazetteer()
    assert total <= len(grid.areas) * len(TYPES)
    hs = Homeserver(tmp_path / "synapse")
    await hs.start()
    sites = []
    try:
        a = await make_site(hs, tmp_path, "a", clock)
        sites.append(a)
        b = await make_site(hs, tmp_path, "b", clock)
        sites.append(b)
        await connect(a, b)
        # A's chapter covers the grid (its node reads the gazetteer at each report).
        a.node.gazetteer = grid
        failed = send_failure_seen(a)

        async def produce(numbers: range) -> None:
            for i in numbers:
                area = grid.areas[i // len(TYPES)].name
                draft = ReportDraft(type=TYPES[i % len(TYPES)], area=area)
                outcome = await a.node.submit(draft, SourceRef(Channel.WEB, f"s{i}".encode()))
                assert isinstance(outcome, Accepted), outcome
                assert outcome.report.area == area
                await a.node.moderate(outcome.report.id, ModeratorAction.CONFIRM)

        # The first half streams while B receives; the kill lands when B holds a fifth (the
        # rest of the first half may still be produced or in flight); the second half is
        # produced during the outage, so the outbox holds unsent alerts whatever the pace.
        half = total // 2
        production = asyncio.create_task(produce(range(half)))
        await b.wait_counter("alerts_received", total // 5, timeout=WAIT + total)
        kill_synapse(hs)
        killed_at = time.monotonic()
        await hs.stop()  # reaps the dead process
        await production
        await produce(range(half, total))
        await asyncio.wait_for(failed.wait(), WAIT)  # A's sends failed during the outage
        # The outage lasts SIZES.outage_s: a duration of the scenario, not a wait for an event.
        await asyncio.sleep(max(0.0, SIZES.outage_s - (time.monotonic() - killed_at)))
        with Session(a.node.engine) as session:
            rows = session.exec(select(func.count()).select_from(OutboxAlert)).one()
        assert rows >= total
        assert len(await a.node.pending_alerts(limit=total * 4)) > 0

        await hs.start()
        try:
            counters = await b.wait_counter("alerts_received", rows, timeout=120 + total)
        except TimeoutError:
            raise AssertionError(
                f"A {await a.node.counters()} {a.fed.bot.stats}; "
                f"B {await b.node.counters()} {b.fed.bot.stats}"
            ) from None
        got = [r for r in await b.node.received_alerts() if r.chapter == a.chapter_id]
        assert len(got) == total  # every alert, at its latest seq
        assert len({r.alert_id for r in got}) == total
        assert counters["alerts_received"] == rows  # every seq exactly once...
        assert not [k for k in counters if k.startswith("rejected_")]  # ...and no copy
        assert await a.node.pending_alerts() == []
        # A's own count: each row once, even when a row settles while the loop reads.
        sent = (await a.node.counters())["alerts_sent"]
        assert sent == rows, (await a.node.counters(), await b.node.counters())
        assert b.fed.bot.stats.undecryptable == 0
        assert b.fed.bot.stats.handler_errors == 0
    finally:
        for site in sites:
            await site.close()
        await hs.stop()
