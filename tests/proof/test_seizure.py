"""Seizure scan: a scripted day on two chapters, then every file they and the homeserver wrote.

The day (chapters A and B, real nodes and bots on a test-owned Synapse, the
tests' Clock from 14:37:12 UTC):
- web reports through the real HTTP app (JSON API and the no-JavaScript
  form), each from its own loopback address (127.0.0.x) with a distinctive
  User-Agent;
- reports from a member, a matrix-nio client in A's member room;
- A's corroborated raid becomes an alert that reaches B;
- A's moderator logs in over HTTP, confirms one report and debunks another;
- the node's log output goes to a file in A's data dir (DEBUG for our loggers).

Then every file under both data dirs and the homeserver's dir (databases,
WAL/SHM, logs, keys, crypto stores) is searched for:
- the reporters' addresses and User-Agent (nowhere);
- the member's Matrix ID (nowhere in the nodes' files but the bot's crypto
  store, which must know the member room's devices to encrypt to them; the
  homeserver hosts the member's account and is not searched for it);
- report times finer than the hour: "HH:MM" and ISO forms of each report's
  minute, every epoch second and epoch minute of the reports' hours but the
  hour itself (decimal, which also covers milliseconds, and packed as SQLite
  stores integers and reals), and the wall clock's seconds during the test
  (nowhere in node files; in the homeserver's files, the fake clock's forms,
  which would mean a plaintext alert or report);
- plaintext: the descriptions' marker words and the text of a place not in the
  gazetteer (nowhere), and the area names in the homeserver (nowhere: alerts
  travel encrypted);
- file metadata: the modification and access times of every file and
  directory of both data dirs after the day (nodes stopped), and the
  modification times of the copy taken mid-day, are whole hours (node.filetimes;
  the bot's matrix-nio store and the test's log file are left out of the
  mid-day copy: they are written between ticks and set back at each tick). The
  change time (ctime) cannot be set by a program: it is the time of a file's
  latest write or set-back (docs/deploy.md says what that leaves and how to
  mount the volume), so it is not asserted.

Retention, with the clock moved forward: a copy of both data dirs is taken at
the end of the day, before any purge. After the purges, every description in
the copy's database is unreadable with the keys dir the node has left, while
the copy's own keys dir (the control) still reads them. The day keys are
shredded when their whole day has passed retention, so a description stays
readable from a pre-purge copy for at most 24 h after its report is purged
(asserted as that bound).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import sqlite3
import struct
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from network import WAIT, Site, connect, make_site
from nodeproc import free_port
from sqlmodel import Session
from test_members import seat_member

from federation.homeserver import Homeserver
from federation.state import MATRIX_DIR
from node.keys import KeyId, KeyRing
from node.moderators import add_moderator
from node.setup import DESCRIPTION_KEYS_DIR, KEYS_DIR
from node.store import DB_NAME, from_hour
from web.app import make_app

pytestmark = pytest.mark.synapse

USER_AGENT = "Mozilla/5.0 (Linux; Android 14) SeizureScan-UA-7Q2X"
MODERATOR = ("garza", "a moderator password for the seizure day")
MARK = "quetzalmarca"  # every description carries MARK + a number: plaintext if found
PLACE = "lugarmarca"  # a place not in the gazetteer: plaintext if found
LOG_FILE = "node-output.log"


class WebSite:
    """A chapter's real web app on a loopback port (as `vecinos run` serves it)."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.port = free_port()
        self.runner = web.AppRunner(make_app(site.node), access_log=None)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def close(self) -> None:
        await self.runner.cleanup()

    async def post(self, path: str, address: str, **kw) -> tuple[int, dict | str]:
        """A request from `address` (its own TCP source) with the reporter's User-Agent."""
        connector = aiohttp.TCPConnector(local_addr=(address, 0))
        headers = {"User-Agent": USER_AGENT, "Accept-Language": "es-MX,es;q=0.9"}
        async with (
            aiohttp.ClientSession(connector=connector, headers=headers) as http,
            http.post(f"{self.base}{path}", **kw) as resp,
        ):
            if resp.content_type == "application/json":
                return resp.status, await resp.json()
            return resp.status, await resp.text()


def files(root: Path, skip: str | None = None) -> list[Path]:
    return [
        p
        for p in root.rglob("*")
        if p.is_file() and (skip is None or skip not in p.relative_to(root).parts)
    ]


def tree(root: Path) -> list[Path]:
    """Every path under `root`, listed without touching a directory's access time."""
    found = [root]
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOATIME)
    try:
        with os.scandir(fd) as entries:
            names = [(entry.name, entry.is_dir(follow_symlinks=False)) for entry in entries]
    finally:
        os.close(fd)
    for name, is_dir in names:
        found += tree(root / name) if is_dir else [root / name]
    return found


def finer_than_the_hour(
    root: Path, fields: tuple[str, ...], skip: tuple[str, ...] = ()
) -> list[str]:
    """Paths under `root` (but those under a `skip` part) with a time finer than the hour."""
    found = []
    for path in tree(root):
        if set(path.relative_to(root).parts) & set(skip):
            continue
        st = os.stat(path, follow_symlinks=False)
        for name in fields:
            value = getattr(st, name)
            if value != int(value) or int(value) % 3600:
                found.append(f"{path.relative_to(root)} {name}")
    return found


def found_in(paths: list[Path], needles: list[bytes] | re.Pattern[bytes]) -> list[str]:
    hits = []
    for path in paths:
        data = path.read_bytes()
        if isinstance(needles, re.Pattern):
            match = needles.search(data)
            if match:
                hits.append(f"{path}: {match.group()!r}")
        else:
            hits += [f"{path}: {n!r}" for n in needles if n in data]
    return hits


def time_patterns(moments: list[datetime], wall: tuple[float, float] | None) -> re.Pattern[bytes]:
    """Every form of a time finer than the hour that the scan looks for.

    A bare "HH:MM" is not counted where it is the minutes and seconds of a real
    clock time ("18:14:49" holds "14:49"): the homeserver's log has real times.
    """
    forms: set[bytes] = set()
    bare: set[bytes] = set()
    for moment in moments:
        bare.add(moment.strftime("%H:%M").encode())
        forms.add(moment.strftime("%Y-%m-%dT%H:%M").encode())
        forms.add(moment.strftime("%Y-%m-%d %H:%M").encode())
        hour = int(moment.replace(minute=0, second=0).timestamp())
        for second in range(hour + 1, hour + 3600):
            forms.add(str(second).encode())  # also the prefix of milliseconds and microseconds
            forms.add(struct.pack(">d", float(second)))  # an SQLite REAL
        for minute in range(hour // 60 + 1, hour // 60 + 60):
            forms.add(str(minute).encode())
        exact = int(moment.timestamp())
        forms.add(struct.pack(">I", exact))  # an SQLite 4-byte INTEGER
    if wall is not None:
        for second in range(int(wall[0]), int(wall[1]) + 2):
            forms.add(str(second).encode())
    alternatives = [re.escape(f) for f in sorted(forms, key=len, reverse=True)]
    alternatives += [rb"(?<![0-9]:)" + re.escape(f) for f in sorted(bare)]
    return re.compile(b"|".join(alternatives))


def node_dirs_of(*sites: Site) -> list[Path]:
    return [site.data for site in sites]


def copied_descriptions(copy: Path, keys: KeyRing) -> list[tuple[str, str | None, int, str]]:
    """(id, plaintext or None, purge_after_hour, key label) of every described report in a copy."""
    with contextlib.closing(sqlite3.connect(f"file:{copy / DB_NAME}?mode=ro", uri=True)) as db:
        rows = db.execute(
            "SELECT id, description_ct, description_key, purge_after_hour FROM report "
            "WHERE description_ct IS NOT NULL"
        ).fetchall()
    return [
        (rid, keys.decrypt(KeyId.parse(label), blob, rid), purge, label)
        for rid, blob, label, purge in rows
    ]


async def test_a_seized_day_yields_nothing_identifying(tmp_path: Path, clock) -> None:
    started = time.time()
    hs = Homeserver(tmp_path / "synapse")
    await hs.start()
    sites: list[Site] = []
    webs: list[WebSite] = []
    members = []
    handler: logging.Handler | None = None
    root = logging.getLogger()
    old_level = root.level
    try:
        a = await make_site(hs, tmp_path, "a", clock)
        sites.append(a)
        b = await make_site(hs, tmp_path, "b", clock)
        sites.append(b)
        handler = logging.FileHandler(a.data / LOG_FILE, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        await a.node.set_back_file_times()  # as if the log file had been there before the node
        root.setLevel(logging.DEBUG)
        for quiet in ("nio", "peewee", "aiohttp.access", "apscheduler", "asyncio"):
            logging.getLogger(quiet).setLevel(logging.WARNING)  # as `vecinos run` sets them
        await connect(a, b)
        with Session(a.node.engine) as session:  # what `vecinos moderator add` does
            add_moderator(session, *MODERATOR)
            session.commit()
        web_a, web_b = WebSite(a), WebSite(b)
        for w in (web_a, web_b):
            webs.append(w)
            await w.start()

        addresses: list[str] = []
        moments: list[datetime] = []
        ids: list[str] = []

        async def web_report(w: WebSite, body: dict, form: bool = False) -> str:
            address = f"127.0.0.{11 + len(addresses)}"
            addresses.append(address)
            moments.append(clock())
            if form:
                status, _ = await w.post("/report", address, data=body)
                assert status in (200, 201, 303), status
                return ""
            status, answer = await w.post("/api/v1/reports", address, json=body)
            assert status == 201, answer
            assert isinstance(answer, dict)
            ids.append(answer["id"])
            return answer["id"]

        # Morning at A: four independent web reports of one raid (the 4th makes an alert).
        for n in range(4):
            await web_report(
                web_a,
                {"type": "raid", "area": "Chula Vista", "description": f"camionetas {MARK}{n}"},
            )
            clock.advance(minutes=4)
        got = await b.wait_received(lambda found: any(r.area == "Chula Vista" for r in found))
        assert [r.chapter for r in got] == [a.chapter_id]
        # The no-JavaScript form, and a report at B.
        await web_report(
            web_a,
            {"type": "vehicle", "area": "National City", "description": f"sedan {MARK}4"},
            form=True,
        )
        clock.advance(minutes=7)
        await web_report(
            web_b, {"type": "patrol", "area": "Escondido", "description": f"patrulla {MARK}5"}
        )
        # A place not in the gazetteer: kept encrypted, for A's moderators only.
        await web_report(web_a, {"type": "raid", "area": f"el tianguis del {PLACE} viejo"})
        # A member reports in A's member room.
        member = await seat_member(hs, tmp_path / "members", a, f"vecina-{uuid.uuid4().hex[:6]}")
        members.append(member)
        moments.append(clock())
        _, answer = await member.report(f"redada en Otay Mesa, siguen ahí, {MARK}6 camionetas")
        assert answer["body"].startswith("Recibido"), answer["body"]
        clock.advance(minutes=9)
        # A's moderator confirms one report and debunks another, over HTTP.
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            name, password = MODERATOR
            async with http.post(
                f"{web_a.base}/api/v1/session", json={"name": name, "password": password}
            ) as resp:
                assert resp.status == 200
                csrf = (await resp.json())["csrf_token"]
            for report_id, action in ((ids[0], "confirm"), (ids[1], "debunk")):
                async with http.post(
                    f"{web_a.base}/api/v1/reports/{report_id}/moderate",
                    json={"action": action},
                    headers={"X-CSRF-Token": csrf},
                ) as resp:
                    assert resp.status == 200, await resp.text()
        # Wait for B to see the confirmed alert's update (seq 2 or later).
        await b.wait_received(lambda found: any(r.seq > 1 for r in found), WAIT)
        member_id = member.user_id

        # End of the day: the copy a seizure (or a backup) would take, before any purge.
        clock.now = clock.now.replace(hour=23, minute=50)
        copies = {}
        for site in (a, b):
            copies[site.name] = tmp_path / f"copy-{site.name}"
            shutil.copytree(site.data, copies[site.name])

        # Retention: past the unverified keys' day, then past the verified ones'.
        day = moments[0].date()
        for when in (
            datetime.combine(day + timedelta(days=2), datetime.min.time(), UTC)
            + timedelta(hours=1),
            datetime.combine(day + timedelta(days=8), datetime.min.time(), UTC)
            + timedelta(hours=1),
        ):
            clock.now = when
            for site in (a, b):
                await site.node.purge()
        assert await a.node.active_reports() == [] and await b.node.active_reports() == []
    finally:
        root.setLevel(old_level)
        if handler is not None:
            root.removeHandler(handler)
            handler.close()
        for w in webs:
            await w.close()
        for m in members:
            await m.chapter.bot.close()
        for site in sites:
            await site.close()
        await hs.stop()
    ended = time.time()

    # File metadata, read first (reading contents would set access times): whole hours.
    for d in node_dirs_of(a, b):
        assert finer_than_the_hour(d, ("st_mtime", "st_atime")) == [], d
    for d in copies.values():  # a copy taken while the nodes ran (copying set its atimes)
        assert finer_than_the_hour(d, ("st_mtime",), skip=(MATRIX_DIR, LOG_FILE)) == [], d

    node_dirs = [a.data, b.data]
    node_files = [f for d in node_dirs for f in files(d)]
    hs_files = files(hs.data_dir)
    assert len(node_files) >= 10 and len(hs_files) >= 3
    assert any(f.name == LOG_FILE and f.stat().st_size > 0 for f in node_files)
    assert any(f.name == "homeserver.db" for f in hs_files)
    seized = [f for d in copies.values() for f in files(d)]

    # Reporters' addresses and User-Agent: nowhere.
    who = [x.encode() for x in (*addresses, USER_AGENT, "SeizureScan-UA-7Q2X")]
    assert found_in(node_files + seized + hs_files, who) == []
    # The member's Matrix ID: nowhere in the nodes' files outside the bot's crypto store.
    local = member_id.split(":")[0].lstrip("@")
    outside_store = [f for d in [*node_dirs, *copies.values()] for f in files(d, skip=MATRIX_DIR)]
    assert found_in(outside_store, [member_id.encode(), local.encode()]) == []
    # Plaintext descriptions: nowhere at all; area names: not at the homeserver.
    marks = [f"{MARK}{n}".encode() for n in range(7)] + [MARK.encode(), PLACE.encode()]
    assert found_in(node_files + seized + hs_files, marks) == []
    areas = [b"Chula Vista", b"National City", b"Escondido", b"Otay Mesa", b"org.vecinos"]
    assert found_in(hs_files, areas) == []
    # Times finer than the hour: nowhere in the node's files (but the bot's own
    # crypto store, which keeps nio's timestamps of its sessions)...
    node_times = time_patterns(moments, (started, ended))
    assert found_in([*outside_store], node_times) == []
    # ...and the homeserver holds no report time either (its own event times are real ones).
    assert found_in(hs_files, time_patterns(moments, None)) == []

    # Controls, so that a scan that reads nothing cannot pass: the member's own client
    # store holds its ID, the copies hold the area names, and the homeserver keeps the
    # real times of its events (a Matrix property: see the README).
    assert found_in(files(tmp_path / "members"), [member_id.encode()])
    assert found_in(seized, [b"Chula Vista"])
    assert found_in(hs_files, time_patterns([], (started, ended)))

    # The copy taken before the purge: unreadable with the keys the node kept.
    for name, copy in copies.items():
        live = a if name == a.name else b
        live_keys = KeyRing(live.data / KEYS_DIR / DESCRIPTION_KEYS_DIR)
        control = KeyRing(copy / KEYS_DIR / DESCRIPTION_KEYS_DIR)
        described = copied_descriptions(copy, control)
        assert described, name
        assert all(text is not None and MARK in text for _, text, _, _ in described)  # control
        after = copied_descriptions(copy, live_keys)
        assert [(rid, text) for rid, text, _, _ in after if text is not None] == []
        # The bound on the day-key slack: a key is gone at most 24 h after its last report.
        for _, _, purge_hour, label in described:
            key = KeyId.parse(label)
            retention = live.node.retention[key.retention_class]
            shred_at = datetime.combine(key.day + timedelta(days=1), datetime.min.time(), UTC)
            shred_at += retention
            assert shred_at - from_hour(purge_hour) <= timedelta(hours=24), (label, purge_hour)
