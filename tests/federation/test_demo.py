"""`vecinos demo` (federation/demo.py) end to end, run as a person would run it.

The demo runs as a subprocess on free loopback ports with a tmp data dir.
The test reads its output until the ready lines (bounded, never sleeps),
checks that every chapter answers, that A's alert is at B and nothing is at
C (no relay), that the printed member login works, shows A's member room
as joined and gets an answer to a report, that the printed responder login is
a moderator in A's responders room, then sends SIGINT and checks the exit status and that no
Synapse or `vecinos run` process of that data dir is left.
"""

from __future__ import annotations

import asyncio
import os
import queue
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import aiohttp
import pytest
from nio import AsyncClient, AsyncClientConfig, LoginResponse, RoomMessageNotice, SyncResponse

from federation.bot import ChapterBot
from federation.state import load_rooms
from node.config import load_config

pytestmark = pytest.mark.synapse

DEMO = [sys.executable, "-m", "federation.demo"]
READY = "Ctrl-C stops everything"
START_WAIT = 240.0  # ready in about 20-30 s on two cores when quiet; 75 s seen under load
STOP_WAIT = 30.0
CHAPTER_LINE = re.compile(r"^chapter ([ABC])  (.+?)\s+(http://127\.0\.0\.1:\d+/)$")


def free_base_port() -> int:
    """A port P with P..P+3 free on 127.0.0.1 a moment ago."""
    for _ in range(100):
        base = random.randrange(20_000, 60_000)
        sockets = []
        try:
            for port in range(base, base + 4):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError("no four consecutive free ports")


def processes_of(path: Path) -> list[str]:
    """Command lines of live processes (other than this one) that name `path`."""
    needle = str(path).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:  # gone meanwhile
            continue
        if needle in cmdline:
            found.append(cmdline.replace(b"\0", b" ").decode(errors="replace"))
    return found


class Output:
    """The demo's output lines, read by a thread; wait_for() is bounded by a deadline."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._proc = proc
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"no {text!r} within {timeout:.0f} s:\n" + "\n".join(self.lines))
            if line is None:
                pytest.fail(f"the demo ended before {text!r}:\n" + "\n".join(self.lines))
            self.lines.append(line)
            if text in line:
                return

    def value(self, label: str) -> str:
        """The value of an indented `  label value` line."""
        found = [line.split()[1] for line in self.lines if line.startswith(f"  {label} ")]
        assert len(found) == 1, self.lines
        return found[0]


async def get_json(url: str) -> dict:
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        assert resp.status == 200, url
        return dict(await resp.json())


async def check_network(urls: dict[str, str], ids: dict[str, str]) -> None:
    for url in urls.values():
        async with aiohttp.ClientSession() as http, http.get(url) as resp:
            assert resp.status == 200, url
    at_b = (await get_json(f"{urls['B']}api/v1/alerts"))["alerts"]
    assert [(a["chapter"], a["type"], a["area"]) for a in at_b] == [
        (ids["a"], "checkpoint", "San Ysidro")
    ]
    assert at_b[0]["level"] == "confirmed" and at_b[0]["reports"] == "4-9"  # coarse count
    assert (await get_json(f"{urls['C']}api/v1/alerts"))["alerts"] == []  # no relay
    assert (await get_json(f"{urls['A']}api/v1/alerts"))["alerts"] == []
    reports_c = (await get_json(f"{urls['C']}api/v1/reports"))["reports"]
    assert any(r["debunked"] for r in reports_c)  # the rumour, shown as a debunk


async def check_member(homeserver: str, user: str, password: str, room: str, tmp: Path) -> None:
    """The printed login works in a Matrix client (end-to-end encrypted, a new device), A's
    member room is already joined, and a report there gets the bot's answer at once."""
    client = ChapterBot(homeserver, user, tmp / "member-client")
    answers: asyncio.Queue[tuple[str, dict]] = asyncio.Queue()

    def on_notice(room_id: str, event: RoomMessageNotice) -> None:
        if room_id == room:
            answers.put_nowait((event.sender, event.source["content"]))

    client.add_room_handler(on_notice, (RoomMessageNotice,))
    try:
        await client.login(password)
        await client.start()
        assert client.client is not None
        assert room in client.client.rooms and client.client.rooms[room].encrypted
        sent = await client.send_alert(
            room, {"msgtype": "m.text", "body": "checkpoint on I-8 near Alpine, still there"},
            "m.room.message",
        )  # fmt: skip

        async def answer() -> dict:
            while True:
                _, content = await answers.get()
                if content["m.relates_to"]["m.in_reply_to"]["event_id"] == sent:
                    return content

        content = await asyncio.wait_for(answer(), 30)
        assert content["body"].startswith("Received: checkpoint at Alpine"), content
    finally:
        await client.close()


async def check_responder(homeserver: str, user: str, password: str, room: str) -> None:
    """The printed responder login is in A's responders room, with a moderator's power level."""
    client = AsyncClient(homeserver, user, config=AsyncClientConfig(encryption_enabled=False))
    try:
        login = await client.login(password, device_name="test")
        assert isinstance(login, LoginResponse), login
        sync = await client.sync(timeout=0, full_state=True)
        assert isinstance(sync, SyncResponse), sync
        assert room in client.rooms and client.rooms[room].encrypted
        assert client.rooms[room].power_levels.get_user_level(user) >= 50
        await client.logout()
    finally:
        await client.close()


def test_demo_network_runs_and_stops_clean(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    base = free_base_port()
    proc = subprocess.Popen(
        [*DEMO, "--data", str(data), "--base-port", str(base)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    out = Output(proc)
    try:
        out.wait_for(READY, START_WAIT)
        chapters = [m.groups() for m in map(CHAPTER_LINE.match, out.lines) if m]
        assert [(label, url) for label, _, url in chapters] == [
            (label, f"http://127.0.0.1:{base + i}/") for i, label in enumerate("ABC")
        ]
        assert [name for _, name, _ in chapters] == [
            "Sur de San Diego",
            "Centro de San Diego",
            "Norte de San Diego",
        ]
        urls = {label: url for label, _, url in chapters}
        ids = {k: load_config(data / k / "vecinos.toml").chapter_id for k in "abc"}
        asyncio.run(check_network(urls, ids))

        homeserver = out.value("homeserver")
        assert homeserver == f"http://127.0.0.1:{base + 3}"
        rooms = load_rooms(data / "a")
        asyncio.run(
            check_member(
                homeserver, out.value("user"), out.value("password"), rooms.member_room, tmp_path
            )
        )
        asyncio.run(
            check_responder(
                homeserver,
                out.value("responder"),
                out.value("responder-password"),
                rooms.responders_room,
            )
        )

        assert processes_of(data)  # the network is running...
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=STOP_WAIT) == 0, "\n".join(out.lines)
        assert processes_of(data) == []  # ...and nothing of it is left
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=STOP_WAIT)


def test_demo_refuses_a_dir_it_did_not_make_and_a_busy_port(tmp_path: Path) -> None:
    chapter = tmp_path / "real-chapter"
    chapter.mkdir()
    (chapter / "vecinos.toml").write_text("# an operator's chapter\n")
    done = subprocess.run(
        [*DEMO, "--data", str(chapter), "--base-port", str(free_base_port())],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "not made by `vecinos demo`" in done.stderr
    assert [p.name for p in chapter.iterdir()] == ["vecinos.toml"]  # untouched

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [*DEMO, "--data", str(tmp_path / "new"), "--base-port", str(port - 3)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    # It names the first busy port of its range: ours, or one another process on this
    # machine holds (the range is ephemeral ports); either way it refuses and says how.
    named = re.search(r"port (\d+) on 127\.0\.0\.1 is in use", done.stderr)
    assert done.returncode == 1 and named is not None and "--base-port" in done.stderr
    assert port - 3 <= int(named.group(1)) <= port
