"""Alert latency between chapters, as a ratio measured in one run on this machine.

alert_latency_ratio: the median time from the Node.submit() whose report
makes a cluster cross the share threshold at chapter A, to the verified
alert stored by chapter B's node (B's Node.receive_alert returning), divided
by the median time of a raw matrix-nio encrypted message between two plain
nio clients (room_send start to the decrypted event's callback), both on the
same loopback Synapse in the same run, all clients in this one process.
Goal <= 1.3.

Each measured alert is a fresh cluster (its own area, more than 6 km from
the others, so no earlier alert is re-sent meanwhile): three independent web
reports minutes apart, then the timed one. As reports minutes apart would,
each report finds both chapters idle: the bench waits until the previous
report's work (alerts, responders-room posts at A and B) is sent. What the
crossing report itself causes (A's responders post, B's) runs during the
measurement, as it would in a real node.

Run: python -m bench.alerts [--quick]. The last line is the summary.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from nio import AsyncClient, AsyncClientConfig, SyncResponse, UnknownEvent
from sqlmodel import Session, func, select

from federation.chapter import ChapterFederation
from federation.homeserver import Homeserver
from federation.neighbours import link
from federation.setup import setup_matrix
from node.outcome import ReceivedAlert, ReportDraft, SourceRef
from node.responders import MATRIX
from node.service import Node, open_node
from node.setup import init_chapter
from node.store import OutboxAlert
from scoring.model import Channel

WAIT = 30.0
EVENT_TYPE = "org.example.bench"


class Clock:
    """The chapters' shared clock: real time, moved forward between reports."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


# -- the baseline: two raw nio clients --------------------------------------------


async def raw_client(hs: Homeserver, base: Path, name: str) -> AsyncClient:
    reg = await hs.register(f"{name}-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex)
    store = base / name
    store.mkdir()
    config = AsyncClientConfig(encryption_enabled=True, store_sync_tokens=True)
    client = AsyncClient(hs.base_url, reg.user_id, store_path=str(store), config=config)
    client.restore_login(reg.user_id, reg.device_id, reg.access_token)
    return client


async def sync_once(client: AsyncClient) -> None:
    resp = await client.sync(timeout=0, full_state=True)
    assert isinstance(resp, SyncResponse), resp
    if client.should_upload_keys:
        await client.keys_upload()
    if client.should_query_keys:
        await client.keys_query()


async def raw_latencies(hs: Homeserver, base: Path, n: int) -> list[float]:
    sender, receiver = await raw_client(hs, base, "raw-a"), await raw_client(hs, base, "raw-b")
    arrived: asyncio.Queue[float] = asyncio.Queue()

    async def on_event(_room: Any, event: UnknownEvent) -> None:
        if event.type == EVENT_TYPE:
            arrived.put_nowait(time.perf_counter())

    receiver.add_event_callback(on_event, UnknownEvent)
    try:
        for c in (sender, receiver):
            await sync_once(c)
        state = [
            {
                "type": "m.room.encryption",
                "state_key": "",
                "content": {"algorithm": "m.megolm.v1.aes-sha2"},
            }
        ]
        room = (await sender.room_create(invite=[receiver.user_id], initial_state=state)).room_id
        await sync_once(receiver)
        await receiver.join(room)
        for c in (sender, receiver):
            await sync_once(c)
        loop = asyncio.create_task(receiver.sync_forever(timeout=30_000))
        try:
            times = []
            for i in range(n + 1):
                t0 = time.perf_counter()
                await sender.room_send(room, EVENT_TYPE, {"i": i}, ignore_unverified_devices=True)
                got = await asyncio.wait_for(arrived.get(), WAIT)
                if i:  # the first send shares the megolm session: not counted
                    times.append((got - t0) * 1000)
            return times
        finally:
            loop.cancel()
    finally:
        await sender.close()
        await receiver.close()


# -- the chapters --------------------------------------------------------------------


async def chapter(hs: Homeserver, base: Path, name: str, clock: Clock) -> ChapterFederation:
    data = base / name
    init_chapter(data, f"Bench {name}")
    user = hs.user_id(f"bench-{name}-{uuid.uuid4().hex[:6]}")
    await setup_matrix(data, hs.base_url, user, registration_secret=hs.registration_secret)
    fed = ChapterFederation(await open_node(data, clock=clock))
    await fed.start()
    return fed


def far_apart(node: Node, km: float) -> list[str]:
    chosen: list[Any] = []
    for area in node.gazetteer.areas:
        lat = math.radians(area.place.lat)
        if all(
            math.hypot(
                (area.place.lat - o.place.lat) * 111,
                (area.place.lon - o.place.lon) * 111 * math.cos(lat),
            )
            > km
            for o in chosen
        ):
            chosen.append(area)
    return [a.name for a in chosen]


async def settled(*chapters: ChapterFederation) -> None:
    """Until no chapter has an alert or a responders-room post waiting to be sent."""
    while True:
        busy = [
            c
            for c in chapters
            if await c.node.pending_alerts(1) or await c.node.pending_notices(MATRIX, 1)
        ]
        if not busy:
            return
        await asyncio.sleep(0.01)


def outbox_rows(node: Node) -> int:
    with Session(node.engine) as session:
        return int(session.exec(select(func.count()).select_from(OutboxAlert)).one())


async def alert_latencies(a: ChapterFederation, b: ChapterFederation, clock: Clock, n: int):
    stored: dict[str, asyncio.Future[float]] = {}
    receive = b.node.receive_alert

    async def timed_receive(alert: ReceivedAlert) -> bool:  # B's store, timed
        ok = await receive(alert)
        done = time.perf_counter()
        waiter = stored.get(alert.area)
        if ok and waiter is not None and not waiter.done():
            waiter.set_result(done)
        return ok

    b.node.receive_alert = timed_receive  # type: ignore[method-assign]
    areas = far_apart(a.node, 6.0)
    if len(areas) < n:
        raise SystemExit(f"only {len(areas)} separate areas for {n} alerts")
    times = []
    source = 0
    for area in areas[: n + 1]:
        stored[area] = asyncio.get_running_loop().create_future()
        before = outbox_rows(a.node)
        for _ in range(10):  # until the cluster crosses the threshold (the 4th, normally)
            source += 1
            draft = ReportDraft(type="raid", area=area)
            await asyncio.wait_for(settled(a, b), WAIT)
            t0 = time.perf_counter()
            await a.node.submit(draft, SourceRef(Channel.WEB, f"bench-{source}".encode()))
            clock.advance(minutes=4)
            if outbox_rows(a.node) > before:
                break
        else:
            raise SystemExit(f"{area}: 10 reports never crossed the share threshold")
        got = await asyncio.wait_for(stored[area], WAIT)
        if area != areas[0]:  # the first alert shares the megolm session: not counted
            times.append((got - t0) * 1000)
    return times


async def main(quick: bool = False) -> float:
    n = 10 if quick else 30
    with tempfile.TemporaryDirectory(prefix="vecinos-bench-") as tmp:
        base = Path(tmp)
        hs = Homeserver(base / "synapse")
        await hs.start()
        try:
            clock = Clock()
            a = await chapter(hs, base, "a", clock)
            b = await chapter(hs, base, "b", clock)
            try:
                await link(a, b, WAIT)
                alert = await alert_latencies(a, b, clock, n)
            finally:
                await a.stop()
                await b.stop()
                await a.node.close()
                await b.node.close()
            raw = await raw_latencies(hs, base, n)
        finally:
            await hs.stop()
    alert_median, raw_median = statistics.median(alert), statistics.median(raw)
    ratio = alert_median / raw_median
    print(
        f"alert: submit -> verified alert stored at the neighbour, {n} alerts: "
        f"median {alert_median:.1f} ms, max {max(alert):.1f} ms"
    )
    print(
        f"raw nio encrypted message, {n} messages: "
        f"median {raw_median:.1f} ms, max {max(raw):.1f} ms"
    )
    print(f"RESULT alert_latency_ratio {ratio:.2f}")
    sys.stdout.flush()
    return ratio


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.alerts")
    parser.add_argument("--quick", action="store_true", help="10 alerts instead of 30")
    asyncio.run(main(quick=parser.parse_args().quick))
