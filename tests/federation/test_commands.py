"""The operator's commands: `matrix setup`, `neighbors ...`, `status`, and `run` with Matrix.

The end-to-end test runs everything as an operator would, as subprocesses:
two chapters set up on the session Synapse, both `vecinos run`, tokens
exchanged with the CLI while they run (the commands SIGHUP the nodes, which
set up their room), a report confirmed by a moderator through A's JSON API,
and B's node logging the accepted alert. Waits read the nodes' output lines
(bounded), never sleep.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import signal
import stat
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from federation.homeserver import Homeserver, free_port
from federation.state import load_rooms
from node.config import load_config, set_values
from node.setup import init_chapter

pytestmark = pytest.mark.synapse

VECINOS = [sys.executable, "-m", "node.cli"]
WAIT = 60.0


def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*VECINOS, *args], input=stdin, capture_output=True, text=True, timeout=120
    )


def set_up(hs: Homeserver, data: Path, name: str) -> subprocess.CompletedProcess[str]:
    secret = data.parent / f"{name}.secret"
    secret.write_text(hs.registration_secret + "\n")
    user = hs.user_id(f"bot-{name}-{uuid.uuid4().hex[:6]}")
    return cli(
        "matrix", "setup", "--data", str(data), "--homeserver", hs.base_url,
        "--user", user, "--registration-secret-file", str(secret),
    )  # fmt: skip


def room_state(hs: Homeserver, data: Path, room_id: str) -> dict:
    creds = json.loads((data / "matrix" / "matrix-credentials.json").read_text())

    async def get() -> list:
        url = f"{hs.base_url}/_matrix/client/v3/rooms/{room_id}/state"
        headers = {"Authorization": f"Bearer {creds['access_token']}"}
        async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as resp:
            assert resp.status == 200
            return await resp.json()

    return {e["type"]: e["content"] for e in asyncio.run(get()) if e.get("state_key") == ""}


def test_matrix_setup_creates_private_rooms_and_is_idempotent(
    homeserver: Homeserver, tmp_path: Path
) -> None:
    data = tmp_path / "sur"
    init_chapter(data, "Sur de San Diego")
    done = set_up(homeserver, data, "sur")
    assert done.returncode == 0, done.stderr
    assert "override_ratelimit" in done.stdout and "retention" in done.stdout
    config = load_config(data / "vecinos.toml")
    assert config.get("matrix", "homeserver") == homeserver.base_url
    assert config.get("matrix", "user_id").startswith("@bot-sur-")
    rooms = load_rooms(data)
    assert rooms.member_room and rooms.responders_room
    for private in (data / "matrix" / "rooms.json", data / "matrix" / "matrix-credentials.json"):
        assert stat.S_IMODE(private.stat().st_mode) == 0o600
    for room in (rooms.member_room, rooms.responders_room):
        state = room_state(homeserver, data, room)
        assert state["m.room.encryption"]["algorithm"] == "m.megolm.v1.aes-sha2"
        assert state["m.room.join_rules"]["join_rule"] == "invite"
        assert state["m.room.retention"]["max_lifetime"] == 24 * 3_600_000
        name = state["m.room.name"]["name"]
        assert name.startswith("room-") and "sur" not in name.lower()
        assert state.get("m.room.topic", {}).get("topic", "") == ""

    again = set_up(homeserver, data, "sur")  # same chapter, asked again
    assert again.returncode == 1 and "another account" in again.stderr  # a different user
    user = config.get("matrix", "user_id")
    rerun = cli(
        "matrix", "setup", "--data", str(data), "--homeserver", homeserver.base_url,
        "--user", user, "--password-stdin", stdin="unused\n",
    )  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr
    assert load_rooms(data) == rooms  # the login and the rooms are reused


def test_commands_explain_what_is_missing(tmp_path: Path) -> None:
    data = tmp_path / "c"
    init_chapter(data, "C")
    invite = cli("neighbors", "invite", "--data", str(data))
    assert invite.returncode == 1 and "vecinos matrix setup" in invite.stderr
    bad = cli("neighbors", "accept", "not-a-token", "--data", str(data))
    assert bad.returncode == 1 and "token" in bad.stderr
    listed = cli("neighbors", "list", "--data", str(data))
    assert listed.returncode == 0 and "no neighbours yet" in listed.stdout
    gone = cli("neighbors", "remove", "nobody", "--data", str(data))
    assert gone.returncode == 1 and "no neighbour" in gone.stderr
    status = cli("status", "--data", str(data))
    assert status.returncode == 0 and "Matrix: off" in status.stdout
    assert "outbox backlog: 0" in status.stdout


def test_config_values_rewrite_only_their_lines(tmp_path: Path) -> None:
    data = tmp_path / "c"
    init_chapter(data, "C")
    path = data / "vecinos.toml"
    before = path.read_text().splitlines()
    set_values(path, {("matrix", "user_id"): "@bot:example.org", ("federation", "relay"): True})
    after = path.read_text().splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert changed == [
        ("# relay = false", "relay = true"),
        ('# user_id = ""', 'user_id = "@bot:example.org"'),
    ]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


class Running:
    """A `vecinos run` subprocess whose output lines are read by a thread."""

    def __init__(self, data: Path, port: int) -> None:
        self.proc = subprocess.Popen(
            [*VECINOS, "run", "--data", str(data), "--port", str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, text: str) -> str:
        for line in self.seen:
            if text in line:
                return line
        while True:
            line = self.lines.get(timeout=WAIT)
            self.seen.append(line)
            if text in line:
                return line

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=WAIT)


@pytest.fixture
def running() -> Iterator[list[Running]]:
    nodes: list[Running] = []
    try:
        yield nodes
    finally:
        for node in nodes:
            node.stop()


async def confirm_a_report(port: int, password: str) -> None:
    """A report through A's JSON API, confirmed by a moderator (confidence 1: an alert)."""
    base = f"http://127.0.0.1:{port}/api/v1"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.post(f"{base}/reports", json={"type": "raid", "area": "Santee"}) as r:
            assert r.status == 201, await r.text()
            report_id = (await r.json())["id"]
        login = {"name": "luna", "password": password}
        async with http.post(f"{base}/session", json=login) as r:
            assert r.status == 200, await r.text()
            csrf = (await r.json())["csrf_token"]
        async with http.post(
            f"{base}/reports/{report_id}/moderate",
            json={"action": "confirm"},
            headers={"X-CSRF-Token": csrf},
        ) as r:
            assert r.status == 200, await r.text()


def test_operator_flow_end_to_end(
    homeserver: Homeserver, tmp_path: Path, running: list[Running]
) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for data, name in ((a, "a"), (b, "b")):
        init_chapter(data, f"Chapter {name}")
        assert set_up(homeserver, data, name).returncode == 0
    password = "a moderator's long password"
    assert cli("moderator", "add", "luna", "--data", str(a), stdin=password + "\n").returncode == 0
    port_a = free_port()
    node_a, node_b = Running(a, port_a), Running(b, free_port())
    running += [node_a, node_b]
    for node in (node_a, node_b):
        assert "(connected)" in node.wait_for("Matrix: bot")
        node.wait_for("serving on")

    # The exchange, while both nodes run: each accept SIGHUPs its node.
    invite = cli("neighbors", "invite", "--data", str(a))
    assert invite.returncode == 0, invite.stderr
    token_a = invite.stdout.splitlines()[0]
    accepted = cli("neighbors", "accept", token_a, "--data", str(b), "--threshold", "0.6")
    assert accepted.returncode == 0, accepted.stderr
    assert "sets up the federation room now" in accepted.stdout
    token_b = next(t for t in accepted.stdout.split() if t.startswith("vecinos-neighbour-v1."))
    assert cli("neighbors", "accept", token_b, "--data", str(a)).returncode == 0
    ids = [load_config(d / "vecinos.toml").chapter_id for d in (a, b)]
    maker, joiner = (node_a, node_b) if ids[0] < ids[1] else (node_b, node_a)
    maker.wait_for("created the federation room")
    joiner.wait_for("joined the federation room")

    listed = cli("neighbors", "list", "--data", str(b)).stdout
    assert ids[0] in listed and "threshold 0.6" in listed and "no room yet" not in listed

    asyncio.run(confirm_a_report(port_a, password))
    assert f"from {ids[0]}" in node_b.wait_for("accepted alert seq 1")

    status = cli("status", "--data", str(b))
    assert status.returncode == 0, status.stderr
    text = status.stdout
    assert "reachable" in text and "login valid" in text and "published: yes" in text
    assert "1 of 1 device(s) trusted" in text
    assert f"node: running (pid {node_b.proc.pid})" in text
    assert "received 1" in text and "rejected: none" in text and "outbox backlog: 0" in text

    busy = cli("matrix", "setup", "--data", str(b), "--homeserver", homeserver.base_url,
               "--user", "@x:localhost", "--password-stdin", stdin="x\n")  # fmt: skip
    assert busy.returncode == 1 and "node is running" in busy.stderr

    removed = cli("neighbors", "remove", ids[0], "--data", str(b))
    assert removed.returncode == 0, removed.stderr
    node_b.wait_for("left room")
    for node in (node_a, node_b):
        node.stop()
        assert node.proc.returncode == 0
        assert "stopped" in node.wait_for("stopped")
    assert not os.path.exists(b / "matrix" / "bot.lock") or not load_rooms(b).to_leave
