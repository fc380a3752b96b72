"""Federation at region scale: one chapter's alert to N pairwise neighbours, and a new neighbour.

One loopback Synapse (federation.homeserver: the project's launcher, every
rate limit raised), N+2 real chapters in this one process (init_chapter,
`vecinos matrix setup`'s code, open_node, ChapterFederation): a hub, N
neighbours linked to it pairwise (one 2-member encrypted room each, the
token exchange of `vecinos neighbors`), and one late neighbour.

- pairwise_delivery_ms_<N>: per alert, the time from the moderator's
  confirm at the hub (Node.moderate, which queues the alert) to the last of
  the N neighbours storing the verified alert (Node.receive_alert
  returning); median and max over the alerts, and the first neighbour's too.
  The first alert (megolm sessions shared with every room) is not counted.
- synapse_cpu_s_per_alert_<N>: Synapse's CPU (user + system, /proc) over the
  measured alerts, divided by their number; the bots' CPU (this process) too.
- catch_up_s: the hub holds every alert above as active; a new chapter is
  linked to it; seconds from the start of the link (room created, invite,
  join) to the newcomer holding every active alert, and from its join.
- raw_pairwise_ms_<N> and raw_sequential_ms_<N> (--region): the Matrix layer
  only (plain nio clients, no node behind them): one client sends an event
  of an alert's size into N 2-member rooms, all at once (at most
  MAX_CONCURRENT_SENDS in flight, as Delivery does) or one room after the
  other (as delivery did before); the time until all N decrypted it.
- region_delivery_ms_<N> and region_synapse_cpu_s_per_alert_<N>
  (--region): the hub and its N neighbours then form one region room
  (federation.neighbours.form_region: every chapter pins every other, one
  shared room); the same measurement, each alert sent once into that room.
  region_formation_resent_per_alert_<N>: the hub's catch-up sends while that
  room formed (alerts_caught_up), per active alert; and how many memberships
  the bots' syncs showed otherwise than their homeserver (corrected).
- raw_region_ms_<N>, raw_region_synapse_cpu_s_<N> (--region): the Matrix
  layer only: N+1 plain nio clients in ONE encrypted room, one sends an
  event of an alert's size; the time until all N decrypted it, and
  Synapse's CPU per event.

--two-homeservers: two Synapses federating over loopback TLS (as
tests/federation/test_two_homeservers.py), the hub and every other
neighbour on the first, the rest (half) and the late neighbour on the
second; Synapse CPU is both servers'. The same measurements (full nodes
only: the Matrix-layer ones are skipped), their RESULT names with "_2hs"
after the measure (pairwise_delivery_ms_2hs_<N>, catch_up_s_2hs, ...).

Run: python -m bench.federation [--neighbours N] [--alerts K] [--region]
[--two-homeservers]. Defaults 20 neighbours, 10 alerts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from nio import AsyncClient, UnknownEvent

from bench.alerts import EVENT_TYPE, WAIT, Clock, chapter, far_apart, raw_client, settled, sync_once
from federation.chapter import ChapterFederation
from federation.delivery import MAX_CONCURRENT_SENDS
from federation.homeserver import Homeserver, free_port
from federation.neighbours import form_region, link
from node.outcome import Accepted, ReceivedAlert, ReportDraft, SourceRef
from node.service import ModeratorAction
from scoring.model import Channel

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """user + system CPU seconds of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def cpu_all(pids: list[int]) -> float:
    return sum(cpu_seconds(pid) for pid in pids)


class Arrivals:
    """When each chapter stored each area's alert (perf_counter), by wrapping receive_alert."""

    def __init__(self) -> None:
        self.at: dict[str, dict[str, float]] = {}  # area -> chapter id -> time
        self.changed = asyncio.Event()

    def watch(self, fed: ChapterFederation) -> None:
        receive = fed.node.receive_alert
        me = fed.chapter_id

        async def timed(alert: ReceivedAlert) -> bool:
            ok = await receive(alert)
            if ok:
                self.at.setdefault(alert.area, {}).setdefault(me, time.perf_counter())
                self.changed.set()
            return ok

        fed.node.receive_alert = timed  # type: ignore[method-assign]

    async def until(self, check: object) -> None:
        async def wait() -> None:
            while not check():  # type: ignore[operator]
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(wait(), WAIT * 4)


async def confirm(hub: ChapterFederation, area: str, source: int) -> tuple[float, float]:
    """A web report, confirmed by a moderator: the hub's alert. The confirm's start and end."""
    draft = ReportDraft(type="checkpoint", area=area)
    outcome = await hub.node.submit(draft, SourceRef(Channel.WEB, f"bench-{source}".encode()))
    assert isinstance(outcome, Accepted), outcome
    t0 = time.perf_counter()
    await hub.node.moderate(outcome.report.id, ModeratorAction.CONFIRM)
    return t0, time.perf_counter()


STATE = [
    {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}
]
PADDING = "x" * 400  # about an alert's signed content


async def raw_pairwise(
    hs: Homeserver, base: Path, n: int, k: int
) -> tuple[list[float], list[float], float, float]:
    """Plain nio clients, n 2-member rooms: ms to all per event, concurrent and sequential,
    and Synapse CPU per event for each."""
    clients = [await raw_client(hs, base, f"pair-{i}") for i in range(n + 1)]
    sender, receivers = clients[0], clients[1:]
    arrived: dict[int, set[str]] = {}
    changed = asyncio.Event()

    def on_event_of(client: AsyncClient) -> object:
        async def on_event(_room: object, event: UnknownEvent) -> None:
            if event.type == EVENT_TYPE:
                arrived.setdefault(event.source["content"]["i"], set()).add(client.user_id)
                changed.set()

        return on_event

    loops = []
    try:
        for c in clients:
            await sync_once(c)
        rooms = []
        for c in receivers:
            room = (await sender.room_create(invite=[c.user_id], initial_state=STATE)).room_id
            await sync_once(c)
            await c.join(room)
            c.add_event_callback(on_event_of(c), UnknownEvent)  # type: ignore[arg-type]
            rooms.append(room)
        for c in clients:
            await sync_once(c)
        loops = [asyncio.create_task(c.sync_forever(timeout=30_000)) for c in clients]
        pid = hs._proc.pid  # type: ignore[union-attr]
        slots = asyncio.Semaphore(MAX_CONCURRENT_SENDS)

        async def send(room: str, i: int) -> None:
            async with slots:
                await sender.room_send(
                    room, EVENT_TYPE, {"i": i, "pad": PADDING}, ignore_unverified_devices=True
                )

        results: list[tuple[list[float], float]] = []
        i = 0
        for concurrent in (True, False):
            times: list[float] = []
            cpu = 0.0
            for j in range(k + 1):
                i += 1
                cpu0, t0 = cpu_seconds(pid), time.perf_counter()
                if concurrent:
                    await asyncio.gather(*(send(r, i) for r in rooms))
                else:
                    for r in rooms:
                        await send(r, i)

                async def everyone(i: int = i) -> None:
                    while len(arrived.get(i, ())) < n:
                        changed.clear()
                        await changed.wait()

                await asyncio.wait_for(everyone(), WAIT * 4)
                if j or not concurrent:  # the very first shares the megolm sessions
                    times.append((time.perf_counter() - t0) * 1000)
                    cpu += cpu_seconds(pid) - cpu0
            results.append((times, cpu / len(times)))
        (conc, cpu_c), (seq, cpu_s) = results
        return conc, seq, cpu_c, cpu_s
    finally:
        for task in loops:
            task.cancel()
        for c in clients:
            await c.close()


async def region_room(hs: Homeserver, base: Path, n: int, k: int) -> tuple[list[float], float]:
    """Plain nio clients, one room: ms to all n receivers per event, and Synapse CPU per event."""
    clients = [await raw_client(hs, base, f"region-{i}") for i in range(n + 1)]
    sender, receivers = clients[0], clients[1:]
    arrived: dict[int, set[str]] = {}
    changed = asyncio.Event()

    def on_event_of(client: AsyncClient) -> object:
        async def on_event(_room: object, event: UnknownEvent) -> None:
            if event.type == EVENT_TYPE:
                arrived.setdefault(event.source["content"]["i"], set()).add(client.user_id)
                changed.set()

        return on_event

    loops = []
    try:
        for c in clients:
            await sync_once(c)
        invite = [c.user_id for c in receivers]
        room = (await sender.room_create(invite=invite, initial_state=STATE)).room_id
        for c in receivers:
            await sync_once(c)
            await c.join(room)
            c.add_event_callback(on_event_of(c), UnknownEvent)  # type: ignore[arg-type]
        for c in clients:
            await sync_once(c)
        loops = [asyncio.create_task(c.sync_forever(timeout=30_000)) for c in clients]
        pid = hs._proc.pid  # type: ignore[union-attr]
        times: list[float] = []
        cpu = 0.0
        for i in range(k + 1):
            cpu0 = cpu_seconds(pid)
            t0 = time.perf_counter()
            await sender.room_send(
                room, EVENT_TYPE, {"i": i, "pad": PADDING}, ignore_unverified_devices=True
            )

            async def everyone(i: int = i) -> None:
                while len(arrived.get(i, ())) < n:
                    changed.clear()
                    await changed.wait()

            await asyncio.wait_for(everyone(), WAIT * 4)
            if i:  # the first send shares the megolm session with every device
                times.append((time.perf_counter() - t0) * 1000)
                cpu += cpu_seconds(pid) - cpu0
        return times, cpu / k
    finally:
        for task in loops:
            task.cancel()
        for c in clients:
            await c.close()


async def measure(
    feds: list[ChapterFederation],
    arrivals: Arrivals,
    areas: list[str],
    pids: list[int],
    source: int,
) -> tuple[list[float], list[float], list[float], float, float]:
    """One alert per area from feds[0], until every other of feds stored it (the first is
    not counted: it shares the megolm sessions): ms to all, ms to the first, ms of the
    confirm itself, and the CPU seconds of Synapse and of this process over the counted."""
    hub, ids = feds[0], [f.chapter_id for f in feds[1:]]
    to_all, to_first, confirming = [], [], []
    cpu_hs = cpu_bots = 0.0
    for k, area in enumerate(areas):
        await asyncio.wait_for(settled(*feds), WAIT * 4)
        hs0, bots0 = cpu_all(pids), time.process_time()
        t0, t1 = await confirm(hub, area, source + k)
        await arrivals.until(
            lambda a=area: len([c for c in arrivals.at.get(a, {}) if c in ids]) == len(ids)
        )
        await asyncio.wait_for(settled(*feds), WAIT * 4)  # notices too: all its work
        times = sorted(t for c, t in arrivals.at[area].items() if c in ids)
        if k:
            to_all.append((times[-1] - t0) * 1000)
            to_first.append((times[0] - t0) * 1000)
            confirming.append((t1 - t0) * 1000)
            cpu_hs += cpu_all(pids) - hs0
            cpu_bots += time.process_time() - bots0
    return to_all, to_first, confirming, cpu_hs, cpu_bots


def homeservers(base: Path, two: bool) -> list[Homeserver]:
    """One Synapse, or two federating over loopback TLS."""
    if not two:
        return [Homeserver(base / "synapse")]
    ports = [free_port(), free_port()]
    names = [f"127.0.0.1:{p}" for p in ports]
    return [
        Homeserver(
            base / f"synapse-{i}", federating=True, federation_port=port, federation_peers=names
        )
        for i, port in enumerate(ports)
    ]


async def main(
    neighbours: int = 20, alerts: int = 10, region: bool = False, two: bool = False
) -> dict[str, float]:
    started = time.perf_counter()
    load = os.getloadavg()[0]
    found: dict[str, float] = {}
    tag = "2hs_" if two else ""
    with tempfile.TemporaryDirectory(prefix="vecinos-bench-fed-") as tmp:
        base = Path(tmp)
        servers = homeservers(base, two)
        for server in servers:
            await server.start()
        hs = servers[0]
        feds: list[ChapterFederation] = []
        try:
            clock = Clock()
            hub = await chapter(hs, base, "hub", clock)
            feds.append(hub)
            t = time.perf_counter()
            for i in range(neighbours):
                feds.append(
                    await chapter(servers[(i + 1) % len(servers)], base, f"n{i:02d}", clock)
                )
            made = time.perf_counter() - t
            t = time.perf_counter()
            for other in feds[1:]:
                await link(hub, other, WAIT)
            linked = time.perf_counter() - t
            print(
                f"set-up: {neighbours + 1} chapters in {made:.0f} s, "
                f"{neighbours} pairwise rooms in {linked:.0f} s"
                + (
                    f" (on two federating homeservers: {len(feds) // 2} on the second)"
                    if two
                    else ""
                )
            )
            arrivals = Arrivals()
            for fed in feds[1:]:
                arrivals.watch(fed)
            areas = far_apart(hub.node, 6.0)
            if len(areas) < alerts + 1:
                raise SystemExit(f"only {len(areas)} separate areas for {alerts + 1} alerts")
            # the launchers' child processes
            pids = [server._proc.pid for server in servers]  # type: ignore[union-attr]
            to_all, to_first, confirming, cpu_hs, cpu_bots = await measure(
                feds, arrivals, areas[: alerts + 1], pids, 0
            )
            med, top = statistics.median(to_all), max(to_all)
            print(
                f"delivery to all {neighbours} neighbours, {alerts} alerts: median {med:.0f} ms, "
                f"max {top:.0f} ms; to the first: median {statistics.median(to_first):.0f} ms; "
                f"the confirm itself (moderate(), the alert queued): median "
                f"{statistics.median(confirming):.0f} ms"
            )
            print(
                f"CPU per alert: Synapse {cpu_hs / alerts:.2f} s, "
                f"bots (this process) {cpu_bots / alerts:.2f} s"
            )
            found[f"pairwise_delivery_ms_{tag}{neighbours}"] = med
            found[f"pairwise_delivery_max_ms_{tag}{neighbours}"] = top
            found[f"synapse_cpu_s_per_alert_{tag}{neighbours}"] = cpu_hs / alerts

            active = {a.alert_id for a in await hub.node.active_alerts()}
            late = await chapter(servers[-1], base, "late", clock)
            feds.append(late)
            held = asyncio.Event()
            receive = late.node.receive_alert

            async def holding(alert: ReceivedAlert) -> bool:
                ok = await receive(alert)
                got = {r.alert_id for r in await late.node.received_alerts()}
                if active <= got:
                    held.set()
                return ok

            late.node.receive_alert = holding  # type: ignore[method-assign]
            t0 = time.perf_counter()
            await link(hub, late, WAIT)
            joined = time.perf_counter()
            await asyncio.wait_for(held.wait(), WAIT * 4)
            done = time.perf_counter()
            print(
                f"catch-up: a new neighbour holds all {len(active)} active alerts "
                f"{done - t0:.2f} s after the link began ({max(0.0, done - joined):.2f} s "
                "after it was joined)"
            )
            found[f"catch_up_s{'_2hs' if two else ''}"] = done - t0
            if region and len(areas) >= 2 * alerts + 2:
                t = time.perf_counter()
                sent0 = (await hub.node.counters()).get("alerts_caught_up", 0)
                await form_region(feds[: neighbours + 1], WAIT * 4)
                formed = time.perf_counter() - t
                stale = sum(f.bot.stats.membership_corrections for f in feds)
                print(
                    f"region room formed in {formed:.1f} s; memberships the bots' syncs showed "
                    f"otherwise than the homeserver's room state (stale or not yet synced), "
                    f"corrected: {stale}"
                )
                await asyncio.wait_for(settled(*feds), WAIT * 4)
                resent = (await hub.node.counters()).get("alerts_caught_up", 0) - sent0
                print(
                    f"catch-ups while the region room formed: the hub sent {resent} alert "
                    f"events into its rooms for its {len(active)} active alerts "
                    f"({resent / max(1, len(active)):.1f} per alert)"
                )
                found[f"region_formation_resent_per_alert_{tag}{neighbours}"] = resent / max(
                    1, len(active)
                )
                r_all, r_first, _, r_hs, r_bots = await measure(
                    feds[: neighbours + 1],  # not the late one: it is not in the region
                    arrivals,
                    areas[alerts + 1 : 2 * alerts + 2],
                    pids,
                    1000,
                )
                print(
                    f"region room, full nodes ({neighbours + 1} chapters in one room, formed in "
                    f"{formed:.0f} s): to all {neighbours}, median {statistics.median(r_all):.0f} "
                    f"ms, max {max(r_all):.0f} ms; to the first: median "
                    f"{statistics.median(r_first):.0f} ms; CPU per alert: Synapse "
                    f"{r_hs / alerts:.2f} s, bots {r_bots / alerts:.2f} s"
                )
                found[f"region_delivery_ms_{tag}{neighbours}"] = statistics.median(r_all)
                found[f"region_delivery_max_ms_{tag}{neighbours}"] = max(r_all)
                found[f"region_synapse_cpu_s_per_alert_{tag}{neighbours}"] = r_hs / alerts
            if region and not two:
                for fed in feds:  # the chapters' bots stop syncing: Synapse serves the room only
                    await fed.stop()
                    await fed.node.close()
                feds.clear()
                times, cpu = await region_room(hs, base, neighbours, alerts)
                print(
                    f"region room (Matrix layer, {neighbours} receivers in one room): to all "
                    f"median {statistics.median(times):.0f} ms, max {max(times):.0f} ms; "
                    f"Synapse CPU {cpu:.2f} s per event"
                )
                found[f"raw_region_ms_{neighbours}"] = statistics.median(times)
                found[f"raw_region_synapse_cpu_s_{neighbours}"] = cpu
                conc, seq, cpu_c, cpu_s = await raw_pairwise(hs, base, neighbours, alerts)
                print(
                    f"pairwise rooms (Matrix layer, {neighbours} rooms): to all, concurrent "
                    f"median {statistics.median(conc):.0f} ms (Synapse {cpu_c:.2f} s per event), "
                    f"one room after the other median {statistics.median(seq):.0f} ms "
                    f"(Synapse {cpu_s:.2f} s)"
                )
                found[f"raw_pairwise_ms_{neighbours}"] = statistics.median(conc)
                found[f"raw_sequential_ms_{neighbours}"] = statistics.median(seq)
        finally:
            for fed in feds:
                await fed.stop()
                await fed.node.close()
            for server in servers:
                await server.stop()
    for name, value in found.items():
        print(f"RESULT {name} {value:.3g}")
    print(
        f"bench.federation: {time.perf_counter() - started:.0f} s on {os.cpu_count()} CPUs, "
        f"load average {load:.1f} at the start and {os.getloadavg()[0]:.1f} at the end"
    )
    sys.stdout.flush()
    return found


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.federation")
    parser.add_argument("--neighbours", type=int, default=20, help="pairwise neighbours (20)")
    parser.add_argument("--alerts", type=int, default=10, help="measured alerts (10)")
    parser.add_argument(
        "--region", action="store_true", help="also one shared room (Matrix layer only)"
    )
    parser.add_argument(
        "--two-homeservers",
        action="store_true",
        help="two federating Synapses, half the chapters on each (full nodes only)",
    )
    args = parser.parse_args()
    asyncio.run(main(args.neighbours, args.alerts, args.region, args.two_homeservers))
