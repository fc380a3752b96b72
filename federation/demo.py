"""`vecinos demo`: a three-chapter network on loopback, set up and seeded as operators would.

One job: orchestrate the demo network. It does, on one machine, what three
chapter operators and one homeserver admin would do, with the same commands:

1. a Synapse from the venv on 127.0.0.1 (federation.homeserver), under DIR/homeserver;
2. `vecinos init` for chapters A "Sur de San Diego", B "Centro de San Diego"
   and C "Norte de San Diego" (DIR/a, DIR/b, DIR/c); `vecinos moderator add`
   at A and C; `vecinos matrix setup` with the homeserver's shared secret;
3. the token exchange (`vecinos neighbors invite` / `accept`): A with B, and
   B with C (relay off, so C never sees A's alerts);
4. a demo member account, invited into A's member room by A's bot and joined
   (with a matrix-nio client), so that logging in with any Matrix client
   shows the room and a report gets an answer at once; likewise a demo
   responder in A's responders room, whom A's config makes a moderator there;
5. `vecinos run` for each chapter, as subprocesses (ports BASE, BASE+1,
   BASE+2; Synapse on BASE+3), waiting until each federation room is joined;
6. a scenario seeded through each node's real JSON API, reports coming from
   distinct loopback addresses (independent sources): at A, four reports of
   a checkpoint on I-5 at San Ysidro (a burst: "possible" and queued for
   review) that A's moderator confirms, so A's alert reaches B; at B, a
   vehicle and a patrol ("possible", unshared); at C, a rumour its moderator debunks.
   It waits (bounded) for A's alert at B's GET /api/v1/alerts, then prints
   the chapters' URLs and the member's login.

SIGINT or SIGTERM (also during start-up, also when a step fails) stops the
nodes, then Synapse: each child runs in its own process group, which gets
SIGTERM, a wait, then SIGKILL. Every start is clean: DIR is wiped (only if
an earlier demo made it, so a chapter's real data dir is never touched) and
built again, so the scenario always happens "now". Everything listens on
127.0.0.1 only. It never prints a report's description or a reporter's data.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp

from federation.bot import CREDENTIALS_FILE
from federation.homeserver import Homeserver, HomeserverError
from federation.state import MATRIX_DIR, load_rooms
from node.config import load_config, set_values

__all__ = ["DemoError", "main", "run_demo"]

VECINOS = (sys.executable, "-m", "node.cli")  # exactly the `vecinos` console script
HOST = "127.0.0.1"
MARKER = ".vecinos-demo"
LOCK = "demo.lock"
SECRET_FILE = "registration-secret"
MODERATORS_FILE = "moderators.txt"
WIPED = ("a", "b", "c", "homeserver", "logs", SECRET_FILE, MODERATORS_FILE)
MEMBER = "vecina-demo"
RESPONDER = "respondedora-demo"

STEP_TIMEOUT = 120.0  # one CLI command
NODE_START_TIMEOUT = 60.0  # `vecinos run` until it serves
ROOM_TIMEOUT = 60.0  # a federation room joined by both bots
ALERT_TIMEOUT = 30.0  # A's alert visible at B
STOP_TIMEOUT = 15.0  # SIGTERM to SIGKILL


class DemoError(RuntimeError):
    """The demo cannot start or go on (one line for the person running it)."""


@dataclass(frozen=True)
class Chapter:
    key: str  # "a": its data dir is DIR/a
    label: str  # "A"
    name: str
    bot: str  # the bot's localpart: neutral, says nothing of the place
    moderator: str | None  # a pseudonym, or None


CHAPTERS = (
    Chapter("a", "A", "Sur de San Diego", "vecinos-a", "luna"),
    Chapter("b", "B", "Centro de San Diego", "vecinos-b", None),
    Chapter("c", "C", "Norte de San Diego", "vecinos-c", "sol"),
)
LINKS = (("a", "b"), ("b", "c"))  # no relay: C never sees A's alerts


@dataclass(frozen=True)
class Seed:
    """One report of the scenario, and what the chapter's moderator does with it."""

    chapter: str
    fields: dict[str, Any]
    action: str | None = None  # "confirm" / "debunk" by the chapter's moderator


# B and C first, A last: A's confirmed checkpoint is what the demo waits for at B.
SCENARIO = (
    # B: a vehicle seen once and a patrol seen twice: "possible", under the share threshold.
    Seed("b", {"type": "vehicle", "area": "Barrio Logan", "highway": "I-5",
               "description": "Two white SUVs with tinted windows parked by the park"}),
    Seed("b", {"type": "patrol", "area": "City Heights", "highway": "I-15",
               "description": "Patrulla dando vueltas por la University Avenue"}),
    Seed("b", {"type": "patrol", "area": "City Heights",
               "description": "Same patrol car circling the neighbourhood again"}),
    # C: a rumour of a raid, debunked by the moderator; a single patrol sighting.
    Seed("c", {"type": "raid", "area": "Escondido",
               "description": "Dicen en redes que hay redada en el swap meet"}, "debunk"),
    Seed("c", {"type": "patrol", "area": "Oceanside", "highway": "I-5"}),
    # A: a checkpoint on I-5 at San Ysidro. The fourth source within minutes makes a
    # burst (corroboration capped: "possible", queued for review); the moderator
    # confirms the first report, and the cluster's alert goes to B.
    Seed("a", {"type": "checkpoint", "area": "San Ysidro", "highway": "I-5",
               "description": "Retén en la 5 hacia el norte pasando la garita, parando carros"},
         "confirm"),
    Seed("a", {"type": "checkpoint", "area": "San Ysidro", "highway": "I-5",
               "description": "Checkpoint on I-5 north, traffic backed up to the border"}),
    Seed("a", {"type": "checkpoint", "area": "san isidro", "highway": "I-5",
               "description": "Vi agentes revisando carros en la cinco"}),
    Seed("a", {"type": "retén", "area": "San Ysidro", "highway": "I-5"}),
)  # fmt: skip


# -- processes -------------------------------------------------------------------


async def _together(*steps: Any) -> list[Any]:
    """Run steps concurrently. Unlike gather, a failure or a cancellation waits for
    every step to wind down (so each ends its own child process); the first error is raised.
    """
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(step) for step in steps]
    except BaseExceptionGroup as errors:
        first = errors.exceptions[0]
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None
    return [task.result() for task in tasks]


def _kill_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


async def _end(proc: asyncio.subprocess.Process, timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM the child's process group, wait, SIGKILL it if it lingers."""
    if proc.returncode is None:
        _kill_group(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            _kill_group(proc.pid, signal.SIGKILL)
            await proc.wait()
    _kill_group(proc.pid, signal.SIGKILL)  # anything else left in its group


async def _vecinos(*args: str, stdin: str | None = None) -> str:
    """Run one `vecinos` command in its own process group; its stdout, or a DemoError."""
    proc = await asyncio.create_subprocess_exec(
        *VECINOS,
        *args,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        process_group=0,
    )
    try:
        out, err = await asyncio.wait_for(
            proc.communicate(stdin.encode() if stdin is not None else None), STEP_TIMEOUT
        )
    except BaseException:  # cancelled (Ctrl-C) or timed out: leave nothing behind
        await asyncio.shield(_end(proc, 2.0))
        raise
    command = " ".join(a for a in args if not a.startswith("vecinos-neighbour-v1."))
    if proc.returncode != 0:
        why = err.decode(errors="replace").strip().splitlines()
        raise DemoError(f"`vecinos {command}` failed: {why[-1] if why else proc.returncode}")
    return out.decode(errors="replace")


@dataclass
class NodeProcess:
    """One chapter's `vecinos run`, its output copied to DIR/logs/KEY.log and watched."""

    chapter: Chapter
    data: Path
    port: int
    log_path: Path
    proc: asyncio.subprocess.Process | None = None
    seen: deque[str] = field(default_factory=lambda: deque(maxlen=2000))
    eof: bool = False
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _reader: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            *VECINOS, "run", "--data", str(self.data), "--host", HOST, "--port", str(self.port),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            process_group=0,
            limit=1 << 20,
        )  # fmt: skip
        self._reader = asyncio.create_task(self._read(), name=f"output {self.chapter.key}")

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as log:
            while True:
                try:
                    raw = await self.proc.stdout.readline()
                except ValueError:  # an over-long line: skip it
                    continue
                if not raw:
                    break
                line = raw.decode(errors="replace").rstrip("\n")
                log.write(line + "\n")
                log.flush()
                async with self._changed:
                    self.seen.append(line)
                    self._changed.notify_all()
        async with self._changed:
            self.eof = True
            self._changed.notify_all()

    async def publish(self) -> None:
        """A publication tick now (SIGUSR1), awaited by its (new) line."""
        assert self.proc is not None
        text = "published on request"

        def count() -> int:
            return sum(text in line for line in self.seen)

        before = count()
        self.proc.send_signal(signal.SIGUSR1)
        try:
            async with self._changed:
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: count() > before or self.eof),
                    NODE_START_TIMEOUT,
                )
        except TimeoutError:
            raise DemoError(f"chapter {self.chapter.label} did not publish") from None

    async def wait_line(self, text: str, timeout: float, what: str) -> str:
        """The first output line holding `text`; a DemoError if the node exits or is slow."""

        def found() -> str | None:
            return next((line for line in self.seen if text in line), None)

        try:
            async with self._changed:
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: found() is not None or self.eof), timeout
                )
        except TimeoutError:
            raise DemoError(
                f"chapter {self.chapter.label} did not {what} within {timeout:.0f} s "
                f"(see {self.log_path})"
            ) from None
        line = found()
        if line is None:
            last = self.seen[-1] if self.seen else "no output"
            raise DemoError(
                f"chapter {self.chapter.label}'s node exited before it could {what}: {last} "
                f"(see {self.log_path})"
            )
        return line

    async def stop(self) -> None:
        if self.proc is not None:
            await _end(self.proc)
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 5.0)


# -- the data dir and ports ------------------------------------------------------


def _prepare(data: Path) -> int:
    """Check DIR is the demo's own (or new), lock it, wipe the last demo; the lock's fd."""
    if data.exists() and not data.is_dir():
        raise DemoError(f"{data} exists and is not a directory")
    data.mkdir(parents=True, exist_ok=True, mode=0o700)
    marker = data / MARKER
    if not marker.exists() and any(data.iterdir()):
        raise DemoError(
            f"{data} is not empty and was not made by `vecinos demo`: give it a new or empty "
            "dir (the demo wipes its dir at every start)"
        )
    marker.write_text("made by `vecinos demo`: wiped and built again at its next start\n")
    fd = os.open(data / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise DemoError(f"another demo is running in {data}: stop it first") from None
    for name in WIPED:
        path = data / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    (data / "logs").mkdir(mode=0o700)
    return fd


def _check_ports(base_port: int) -> None:
    if not 1024 <= base_port <= 65535 - 3:
        raise DemoError("--base-port must be between 1024 and 65532")
    for port in range(base_port, base_port + 4):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((HOST, port))
            except OSError:
                raise DemoError(
                    f"port {port} on {HOST} is in use: choose another --base-port "
                    f"(the demo uses {base_port} to {base_port + 3})"
                ) from None


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


# -- the network -----------------------------------------------------------------


class Demo:
    """The demo network: start() builds and seeds it, stop() ends every process."""

    def __init__(self, data: Path, base_port: int) -> None:
        self.data = data
        self.base_port = base_port
        self.hs = Homeserver(data / "homeserver", port=base_port + 3)
        self.nodes: dict[str, NodeProcess] = {}
        self.ids: dict[str, str] = {}  # chapter key -> chapter id
        self.member_password = secrets.token_urlsafe(12)
        self.moderator_passwords = {
            c.key: secrets.token_urlsafe(12) for c in CHAPTERS if c.moderator
        }
        self.member_user = ""
        self.responder_password = secrets.token_urlsafe(12)
        self.responder_user = ""
        self.started_at = time.monotonic()

    def step(self, text: str) -> None:
        print(f"  {time.monotonic() - self.started_at:5.1f} s  {text}", flush=True)

    def dir(self, key: str) -> Path:
        return self.data / key

    # -- start ---------------------------------------------------------------

    async def start(self) -> None:
        print(f"vecinos demo: building a fresh network in {self.data}", flush=True)
        await _together(self._start_homeserver(), self._create_chapters())
        self.member_user = self.hs.user_id(MEMBER)
        self.responder_user = self.hs.user_id(RESPONDER)
        await _together(self._set_up_bots(), self._register_member())
        await self._exchange_tokens()
        await self._seat_member()
        await self._seat_responder()
        await self._start_nodes()
        await self._wait_for_rooms()
        self.step("seeding the scenario through the nodes' JSON API")
        await self._seed()
        await self._wait_for_alert()

    async def _start_homeserver(self) -> None:
        # Homeserver.start, once cancelled, leaves its `--generate-config` child
        # running: let a cancelled start finish (seconds), and stop() ends Synapse.
        starting = asyncio.ensure_future(self.hs.start())
        try:
            await asyncio.shield(starting)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(starting, self.hs.start_timeout)
            raise
        except HomeserverError as exc:
            raise DemoError(f"the homeserver did not start: {exc}") from None
        _write_private(self.data / SECRET_FILE, self.hs.registration_secret + "\n")
        self.step(f"homeserver (Synapse) on {self.hs.base_url}")

    async def _create_chapters(self) -> None:
        """`vecinos init` each chapter, then `vecinos moderator add` (password on stdin)."""
        logins = []

        async def create(c: Chapter) -> None:
            data = self.dir(c.key)
            await _vecinos("init", "--data", str(data), "--chapter", c.name)
            self.ids[c.key] = load_config(data / "vecinos.toml").chapter_id
            if c.moderator:
                password = self.moderator_passwords[c.key]
                await _vecinos(
                    "moderator", "add", c.moderator, "--data", str(data), stdin=password + "\n"
                )
                logins.append(f"chapter {c.label}: moderator {c.moderator} password {password}")

        await _together(*(create(c) for c in CHAPTERS))
        _write_private(self.data / MODERATORS_FILE, "\n".join(sorted(logins)) + "\n")
        self.step("chapters created: " + ", ".join(self.ids[c.key] for c in CHAPTERS))

    async def _set_up_bots(self) -> None:
        async def setup(c: Chapter) -> None:
            await _vecinos(
                "matrix", "setup", "--data", str(self.dir(c.key)),
                "--homeserver", self.hs.base_url, "--user", self.hs.user_id(c.bot),
                "--registration-secret-file", str(self.data / SECRET_FILE),
            )  # fmt: skip

        await _together(*(setup(c) for c in CHAPTERS))
        self.step("bots registered; each chapter's member and responders rooms created")

    async def _register_member(self) -> None:
        try:
            await self.hs.register(MEMBER, self.member_password)
            await self.hs.register(RESPONDER, self.responder_password)
        except HomeserverError as exc:
            raise DemoError(f"cannot register the demo member: {exc}") from None

    async def _exchange_tokens(self) -> None:
        """The operators' two-token exchange (LINKS: A with B, B with C), as they would do it.

        A and C send B their tokens (`neighbors invite`); B accepts A's, which
        prints B's own token, and sends it back; B accepts C's while A and C
        accept B's.
        """

        async def invite(key: str) -> str:
            out = await _vecinos("neighbors", "invite", "--data", str(self.dir(key)))
            return out.split()[0]

        async def accept(key: str, token: str) -> str:
            out = await _vecinos("neighbors", "accept", token, "--data", str(self.dir(key)))
            mine = [t for t in out.split() if t.startswith("vecinos-neighbour-v1.")]
            if not mine:
                raise DemoError("`vecinos neighbors accept` printed no token")
            return mine[0]

        token_a, token_c = await _together(invite("a"), invite("c"))
        token_b = await accept("b", token_a)
        await _together(accept("b", token_c), accept("a", token_b), accept("c", token_b))
        self.step("neighbours pinned: A with B, B with C (relay off)")

    async def _seat_member(self) -> None:
        """A's bot invites the member into A's member room; the member joins (matrix-nio)."""
        room = load_rooms(self.dir("a")).member_room
        await self._seat(room, self.member_user, self.member_password)
        self.step("demo member joined A's member room")

    async def _seat_responder(self) -> None:
        """The same for a responder in A's responders room. A's config names her a
        responder moderator (her power level is raised when A starts) and sets A's
        public URL, so that alerts link to A's pages."""
        a = self.dir("a")
        room = load_rooms(a).responders_room
        await self._seat(room, self.responder_user, self.responder_password)
        set_values(
            a / "vecinos.toml",
            {
                ("matrix", "responder_moderators"): self.responder_user,
                ("web", "public_url"): f"http://{HOST}:{self.base_port}",
            },
        )
        self.step("demo responder joined A's responders room (moderator)")

    async def _seat(self, room: str, user: str, password: str) -> None:
        from nio import AsyncClient, AsyncClientConfig, JoinError, LoginResponse

        a = self.dir("a")
        creds = json.loads((a / MATRIX_DIR / CREDENTIALS_FILE).read_text(encoding="utf-8"))
        url = f"{self.hs.base_url}/_matrix/client/v3/rooms/{quote(room, safe='')}/invite"
        headers = {"Authorization": f"Bearer {creds['access_token']}"}
        timeout = aiohttp.ClientTimeout(total=30)
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.post(url, json={"user_id": user}, headers=headers) as resp,
        ):
            if resp.status != 200:
                raise DemoError(f"A's bot could not invite {user}: HTTP {resp.status}")
        person = AsyncClient(
            self.hs.base_url, user, config=AsyncClientConfig(encryption_enabled=False)
        )
        try:
            login = await person.login(password, device_name="vecinos demo set-up")
            if not isinstance(login, LoginResponse):
                raise DemoError(f"{user} cannot log in: {login}")
            joined = await person.join(room)
            if isinstance(joined, JoinError):
                raise DemoError(f"{user} cannot join A's room: {joined.message}")
            # Log this set-up device out: the person's own client makes its own device.
            await person.logout()
        finally:
            await person.close()

    async def _start_nodes(self) -> None:
        for i, c in enumerate(CHAPTERS):
            self.nodes[c.key] = NodeProcess(
                c, self.dir(c.key), self.base_port + i, self.data / "logs" / f"{c.key}.log"
            )
        for node in self.nodes.values():
            await node.start()
        await _together(
            *(n.wait_line("serving on", NODE_START_TIMEOUT, "serve") for n in self.nodes.values())
        )
        self.step("nodes running (`vecinos run`); logs in " + str(self.data / "logs"))

    async def _wait_for_rooms(self) -> None:
        """Each link's room is made by the chapter whose id sorts first; wait for the other."""
        waits = []
        for x, y in LINKS:
            maker, joiner = sorted((x, y), key=lambda k: self.ids[k])
            waits.append(
                self.nodes[joiner].wait_line(
                    f"joined the federation room of neighbour {self.ids[maker]}",
                    ROOM_TIMEOUT,
                    f"join its federation room with {maker.upper()}",
                )
            )
        await _together(*waits)
        self.step("federation rooms joined: A-B and B-C")

    async def _seed(self) -> None:
        """Per chapter (B, C, then A): its reports, then its moderator's decisions."""
        source = 10
        for key in dict.fromkeys(seed.chapter for seed in SCENARIO):
            node = self.nodes[key]
            decisions = []
            ids = []
            for seed in (s for s in SCENARIO if s.chapter == key):
                # Every report from its own loopback address: independent sources.
                ids.append(await self._report(node, seed.fields, f"127.0.0.{source}"))
                source += 1
                if seed.action:
                    decisions.append((ids[-1], seed.action))
            for report_id, action in decisions:
                await self._moderate(node, report_id, action)
            await node.publish()  # the public pages show reports from a publication tick on
            statuses = [await self._status(node, report_id) for report_id in ids]
            self.step(f"  {node.chapter.label}: {len(ids)} reports: {', '.join(statuses)}")

    async def _report(self, node: NodeProcess, fields: dict[str, Any], source: str) -> str:
        connector = aiohttp.TCPConnector(local_addr=(source, 0))
        async with (
            aiohttp.ClientSession(connector=connector) as http,
            http.post(f"{node.url}api/v1/reports", json=fields) as resp,
        ):
            body = await resp.json(content_type=None)
            if resp.status != 201 or not isinstance(body, dict):
                code = body.get("error") if isinstance(body, dict) else ""
                raise DemoError(
                    f"chapter {node.chapter.label} refused a seeded report: HTTP {resp.status} "
                    f"{code}"
                )
            return str(body["id"])

    async def _status(self, node: NodeProcess, report_id: str) -> str:
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{node.url}api/v1/reports/{report_id}") as resp,
        ):
            resp.raise_for_status()
            return str((await resp.json())["status"])

    async def _moderate(self, node: NodeProcess, report_id: str, action: str) -> None:
        """The chapter's moderator logs in (session and CSRF token) and decides on one report."""
        c = node.chapter
        assert c.moderator is not None
        base = f"http://{HOST}:{node.port}/api/v1"
        jar = aiohttp.CookieJar(unsafe=True)  # the session cookie of a loopback IP
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            login = {"name": c.moderator, "password": self.moderator_passwords[c.key]}
            async with http.post(f"{base}/session", json=login) as resp:
                if resp.status != 200:
                    raise DemoError(f"chapter {c.label}'s moderator cannot log in: {resp.status}")
                csrf = (await resp.json())["csrf_token"]
            async with http.post(
                f"{base}/reports/{report_id}/moderate",
                json={"action": action},
                headers={"X-CSRF-Token": csrf},
            ) as resp:
                if resp.status != 200:
                    raise DemoError(f"chapter {c.label}'s moderator cannot {action}: {resp.status}")

    async def alerts(self, key: str) -> list[dict[str, Any]]:
        url = f"{self.nodes[key].url}api/v1/alerts"
        async with aiohttp.ClientSession() as http, http.get(url) as resp:
            resp.raise_for_status()
            return list((await resp.json())["alerts"])

    async def _wait_for_alert(self) -> None:
        """Bounded: A's alert at B (polled, since it arrives in B's process)."""
        deadline = time.monotonic() + ALERT_TIMEOUT
        while True:
            await self.nodes["b"].publish()  # B's public pages show it from a tick on
            if any(a["chapter"] == self.ids["a"] for a in await self.alerts("b")):
                break
            if time.monotonic() > deadline:
                raise DemoError(
                    f"A's alert did not reach B within {ALERT_TIMEOUT:.0f} s: see "
                    f"{self.data / 'logs'} and `vecinos status --data {self.dir('a')}`"
                )
            await asyncio.sleep(0.2)
        self.step("A's checkpoint alert arrived at B")

    # -- ready, watch, stop ---------------------------------------------------

    def ready_lines(self) -> list[str]:
        width = max(len(c.name) for c in CHAPTERS)
        return [
            f"ready in {time.monotonic() - self.started_at:.1f} s",
            *(f"chapter {c.label}  {c.name:<{width}}  {self.nodes[c.key].url}" for c in CHAPTERS),
            "A and B share a federation room, B and C another (no relay: C never sees A's).",
            "A: checkpoint on I-5 at San Ysidro, 4 reports, confirmed -> alert at B's "
            "/api/v1/alerts; B: a vehicle and a patrol (unconfirmed); C: a raid rumour, debunked.",
            "Demo member of A's member room (log in with any Matrix client, e.g. Element):",
            f"  homeserver {self.hs.base_url}",
            f"  user {self.member_user}",
            f"  password {self.member_password}",
            "Demo responder (a moderator) of A's responders room: rapid-response alerts in "
            "threads; !confirm ID, !debunk ID, !archive ID:",
            f"  responder {self.responder_user}",
            f"  responder-password {self.responder_password}",
            f"Moderator logins (each chapter's /login page, or the JSON API): "
            f"{self.data / MODERATORS_FILE}. "
            "Everything listens on 127.0.0.1 only.",
            "Ctrl-C stops everything (the data dir is wiped at the next `vecinos demo`).",
        ]

    async def watch(self, stop: asyncio.Event) -> str | None:
        """Wait for a stop signal (None), or for a child to die (what died)."""
        stopping = asyncio.create_task(stop.wait())
        exits = {
            asyncio.create_task(n.proc.wait()): n.chapter.label
            for n in self.nodes.values()
            if n.proc is not None
        }
        homeserver = asyncio.create_task(self._homeserver_exit())
        try:
            done, _ = await asyncio.wait(
                {stopping, homeserver, *exits}, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for task in (stopping, homeserver, *exits):
                task.cancel()
        if stopping in done:
            return None
        if homeserver in done:
            return f"the homeserver exited (see {self.hs.log_path})"
        label = exits[next(t for t in done if t in exits)]
        return f"chapter {label}'s node exited (see {self.data / 'logs'})"

    async def _homeserver_exit(self) -> None:
        while self.hs.running:
            await asyncio.sleep(1.0)  # Homeserver does not expose its process: poll

    async def stop(self) -> None:
        """Nodes first (their bots leave while Synapse is up), then Synapse. Idempotent."""
        await asyncio.gather(*(n.stop() for n in self.nodes.values()), return_exceptions=True)
        await self.hs.stop()


# -- entry points ----------------------------------------------------------------


async def run_demo(data: Path, base_port: int) -> int:
    """The whole demo: start, print, run until SIGINT/SIGTERM, stop. The exit status."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    lock_fd: int | None = None
    demo: Demo | None = None
    try:
        lock_fd = _prepare(data)
        _check_ports(base_port)
        demo = Demo(data, base_port)
        starting = asyncio.create_task(demo.start())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not starting.done():
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await starting
            print("vecinos demo: interrupted during start-up; stopping", file=sys.stderr)
            return 130
        starting.result()
        print("\n".join(demo.ready_lines()), flush=True)
        died = await demo.watch(stop)
        if died is not None:
            print(f"vecinos demo: {died}; stopping everything", file=sys.stderr)
            return 1
        return 0
    except DemoError as exc:
        print(f"vecinos demo: {exc}", file=sys.stderr)
        return 1  # as every `vecinos` error at run time (2: a command line argparse refused)
    except (aiohttp.ClientError, OSError, HomeserverError) as exc:  # e.g. a node died mid-way
        print(f"vecinos demo: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        if demo is not None:
            print("stopping the nodes and the homeserver...", flush=True)
            await demo.stop()
            print("demo stopped", flush=True)
        if lock_fd is not None:
            os.close(lock_fd)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def main(args: argparse.Namespace) -> int:
    """`vecinos demo --data DIR [--base-port 8081]` (args.data, args.base_port)."""
    data = Path(args.data).expanduser().resolve()
    try:
        return asyncio.run(run_demo(data, int(args.base_port)))
    except KeyboardInterrupt:  # before the signal handlers were in place: nothing started
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m federation.demo", description="A three-chapter Vecinos demo on loopback."
    )
    parser.add_argument("--data", required=True, help="the demo's dir (wiped at every start)")
    parser.add_argument(
        "--base-port",
        type=int,
        default=8081,
        help="chapters A, B, C on this port and the next two; Synapse on the one after",
    )
    return parser


if __name__ == "__main__":
    sys.exit(main(build_parser().parse_args()))
