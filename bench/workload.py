"""What the benchmarks send: report bodies with their reporters, and the server they hit.

- realistic_mix(): a surge week of a large chapter, replayed. Reports spread
  over every gazetteer area (a few busy ones, a long tail), all four types
  (vehicles and patrols most), a fifth of them in corroborating clusters (3 to
  6 reporters, same area and type, within the next twenty minutes), a fifth
  with a highway, most with a short EN/ES description, one reporter per report
  except a few who send a second. The node's clock advances MIX_STEP per
  report: 60 reports an hour over the two counties, 1,440 a day, about the
  peak one large rapid-response network saw in a day of raids.
- one_area_flood(): the worst case. Every report in one area, the same hour
  (the real clock), distinct reporters: each is scored against the full
  [intake] max_neighbours pool and re-scores max_rescored of them.

A reporter is an address sent as X-Forwarded-For (the bench chapter trusts it,
as a node behind its reverse proxy does), so keep-alive connections carry
many reporters. The bare server gets the same requests.

Run `python -m bench.workload serve KIND PORT DATA [STEP_S]` to start a server
(KIND bare or node); it prints "ready" once it listens.
"""

from __future__ import annotations

import asyncio
import random
import socket
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from node.gazetteer import DEFAULT_PATH, Gazetteer
from node.setup import init_chapter

TYPES = ("vehicle", "patrol", "checkpoint", "raid")
TYPE_WEIGHTS = (40, 30, 15, 15)
WORDS = (
    "dos camionetas blancas sin placas visibles",
    "three unmarked vans by the bus stop",
    "agentes en la esquina pidiendo papeles",
    "patrol car parked near the school",
    "retén en la salida de la autopista",
    "people detained near the store",
    "varias patrullas con luces apagadas",
    "checkpoint with cones and two agents",
    None,
)
MIX_STEP = timedelta(seconds=60)  # virtual time per report in the realistic mix
CLUSTER_SHARE = 0.2
HIGHWAY_SHARE = 0.2


@dataclass(frozen=True)
class Request:
    body: dict[str, object]
    reporter: str  # an address for X-Forwarded-For


def _address(n: int) -> str:
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def _body(rng: random.Random, report_type: str, area: str, highways: tuple[str, ...]) -> dict:
    body: dict[str, object] = {"type": report_type, "area": area}
    if highways and rng.random() < HIGHWAY_SHARE:
        body["highway"] = rng.choice(highways)
    words = rng.choice(WORDS)
    if words is not None:
        body["description"] = words
    return body


def realistic_mix(n: int, seed: int = 7) -> list[Request]:
    gazetteer = Gazetteer.load(DEFAULT_PATH)
    rng = random.Random(seed)
    areas = list(gazetteer.areas)
    rng.shuffle(areas)
    area_weights = [1 / (rank + 1) ** 0.8 for rank in range(len(areas))]  # a few busy areas
    slots: list[Request | None] = [None] * n
    reporter = 0
    i = 0
    while i < n:
        if slots[i] is not None:
            i += 1
            continue
        area = rng.choices(areas, area_weights)[0]
        report_type = rng.choices(TYPES, TYPE_WEIGHTS)[0]
        if rng.random() < CLUSTER_SHARE / 4:  # a cluster of 3-6 (about a fifth of reports)
            at = i
            for _ in range(rng.randint(3, 6)):
                while at < n and slots[at] is not None:
                    at += 1
                if at >= n:
                    break
                reporter += 1
                body = _body(rng, report_type, area.name, area.highways)
                slots[at] = Request(body, _address(reporter))
                at += rng.randint(1, 12)
            continue
        reporter += 1
        if rng.random() < 0.05 and reporter > 10:  # someone sends a second report
            who = _address(reporter - rng.randint(1, 10))
        else:
            who = _address(reporter)
        slots[i] = Request(_body(rng, report_type, area.name, area.highways), who)
        i += 1
    return [s for s in slots if s is not None]


def one_area_flood(n: int, seed: int = 11) -> list[Request]:
    gazetteer = Gazetteer.load(DEFAULT_PATH)
    rng = random.Random(seed)
    area = gazetteer.areas[0]
    return [
        Request(_body(rng, rng.choice(TYPES), area.name, area.highways), _address(i + 1))
        for i in range(n)
    ]


# -- the servers ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def set_key(data: Path, section: str, key: str, value: str) -> None:
    """Uncomment-and-set one key of a chapter's vecinos.toml (value as TOML text)."""
    config = data / "vecinos.toml"
    head, _, tail = config.read_text().partition(f"[{section}]\n")
    lines = tail.split("\n")
    for index, line in enumerate(lines):
        if line.startswith((f"# {key} = ", f"{key} = ")):
            lines[index] = f"{key} = {value}"
            break
    else:
        raise SystemExit(f"bench: no {key} in [{section}]")
    config.write_text(f"{head}[{section}]\n" + "\n".join(lines))


def bench_chapter(data: Path) -> Path:
    """A fresh chapter with the shipped defaults, behind a (pretend) reverse proxy."""
    init_chapter(data, "Bench")
    set_key(data, "web", "trust_forwarded_for", "true")
    return data


async def serve(
    kind: str, data: Path, step: timedelta | None = None
) -> tuple[asyncio.subprocess.Process, int]:
    """Start a bench server in its own process; returns it and its port once ready."""
    port = free_port()
    args = [kind, str(port), str(data)]
    if step is not None:
        args.append(str(step.total_seconds()))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.workload", "serve", *args, stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), timeout=120)
    if line.strip() != b"ready":
        raise SystemExit(f"bench: the {kind} server did not start")
    return process, port


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        await process.wait()


async def _serve_main(kind: str, port: int, data: Path, step_s: float | None) -> None:
    from aiohttp import web

    if kind == "bare":

        async def handle(request: web.Request) -> web.Response:
            await request.json()
            return web.json_response({"id": "x", "status": "unverified"}, status=201)

        app = web.Application()
        app.router.add_post("/api/v1/reports", handle)
    else:
        from node.service import open_node
        from web.app import make_app

        node = await open_node(data)
        if step_s is not None:  # the realistic mix: each report moves the node's clock
            start = datetime.now(UTC)
            step = timedelta(seconds=step_s)
            reports = [0]
            node.clock = lambda: start + reports[0] * step
            submit = node.submit

            async def counted(draft, source, proof=None):  # type: ignore[no-untyped-def]
                reports[0] += 1
                return await submit(draft, source, proof)

            node.submit = counted  # type: ignore[method-assign]
        app = make_app(
            node,
            trust_forwarded_for=node.config.get("web", "trust_forwarded_for"),
            client_max_size=node.config.get("web", "max_body_bytes"),
        )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    if len(sys.argv) >= 5 and sys.argv[1] == "serve":
        step_arg = float(sys.argv[5]) if len(sys.argv) > 5 else None
        asyncio.run(_serve_main(sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]), step_arg))
    else:
        raise SystemExit(__doc__)
