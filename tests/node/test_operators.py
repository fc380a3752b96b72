"""The operator's side (issue 15): moderator accounts and their sessions, a true
`vecinos status`, the config's one declaration, the chapter's clock, CLI conventions.

The CLI runs as a subprocess, as an operator runs it; the moderator tests log in
over HTTP to a real `vecinos run` and end the session from another process.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from federation.wire import (
    key_fingerprint,
    make_invite_token,
    parse_invite_token,
    readable_fingerprint,
)
from node.config import _BY_SECTION as BY_SECTION
from node.config import (
    SCHEMA,
    SCORING,
    ConfigError,
    ConfigModel,
    Key,
    load_config,
    render_template,
)
from node.localtime import clock_time
from node.responders import room_text, short_text
from node.service import open_node
from node.setup import init_chapter
from scoring.defaults import ScoringConfig
from tests.support import set_config

VECINOS = [sys.executable, "-m", "node.cli"]
WAIT = 60.0
PASSWORD = "correct horse battery"


def cli(*args: str, stdin: str = "", env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    environment = {k: v for k, v in os.environ.items() if k != "VECINOS_DATA"}
    return subprocess.run(
        [*VECINOS, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**environment, **(env or {})},
    )


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the config: one declaration that validates and documents ---------------------------


def uncomment_everything(text: str) -> str:
    """The template with every documented default uncommented (help lines stay comments)."""
    keys = {key.name for key in SCHEMA}
    out = []
    for line in text.splitlines():
        found = re.match(r"^# (\w+) = (.*)$", line)
        out.append(f"{found[1]} = {found[2]}" if found and found[1] in keys else line)
    return "\n".join(out) + "\n"


def test_every_documented_default_is_accepted_when_uncommented(tmp_path: Path) -> None:
    path = tmp_path / "vecinos.toml"
    text = uncomment_everything(render_template({("chapter", "id"): "sur-1a2b3c"}))
    assert "\nconfirmed_neighbour_weight = 2.0\n" in text  # refused before: "between 0 and 1"
    path.write_text(text)
    config = load_config(path)
    raw = tomllib.loads(text)
    assert sum(len(t) for t in raw.values()) == len(SCHEMA)  # every key was uncommented
    for key in SCHEMA:
        if (key.section, key.name) != ("chapter", "id"):
            assert config.get(key.section, key.name) == key.default, key
    assert config.scoring == ScoringConfig()


def test_every_key_has_real_help_and_one_section_header(tmp_path: Path) -> None:
    text = render_template({})
    for section in BY_SECTION:
        assert text.count(f"\n[{section}]\n") == 1, section
    for key in SCHEMA:
        assert key.help and key.help != key.name.replace("_", " "), key.name
        if key.low is not None or key.choices:
            assert f"# {key.help} ({key.describe()})\n# {key.name} = " in text
    # Examples that work: no other service is told to use the node's own port.
    port = str(BY_SECTION["web"]["port"].default)
    for key in SCHEMA:
        if key.name != "port":
            assert f":{port}" not in key.help, key.name
    assert ":8090" in BY_SECTION["signal"]["url"].help
    assert "hours" in BY_SECTION["scoring"]["window_hours"].describe()
    described = ConfigModel.model_json_schema()["$defs"]["IntakeSection"]["properties"]
    assert described["rate_limit_window_minutes"]["description"] == "rate-limit window (minutes)"
    assert described["rate_limit_window_minutes"]["maximum"] == 24 * 60


def test_every_scoring_field_has_its_range_unit_and_help() -> None:
    """A field added to scoring/defaults.py needs its line in node/config.py's SCORING."""
    names = [f.name for f in dataclasses.fields(ScoringConfig) if f.name != "extra"]
    missing = [name for name in names if name not in SCORING]
    assert missing == [], f"add these to SCORING in node/config.py: {missing}"
    stale = [name for name in SCORING if name not in names]
    assert stale == [], f"remove these from SCORING in node/config.py: {stale}"
    for name in names:
        tunable = SCORING[name]
        assert tunable.choices or (tunable.low is not None and tunable.high is not None), name


BAD_VALUES = [
    ("scoring", "radius_km", "-5.0", "[scoring] radius_km must be a number between 0.1 and 100"),
    ("scoring", "radius_km", "-5.0", "between 0.1 and 100, in km, got -5.0"),
    ("scoring", "confirmed_neighbour_weight", "0.5", "between 1 and 10"),
    ("scoring", "anomaly_llr", "0.5", "between -5 and 0, in log-odds"),
    ("scoring", "window_hours", "0.25", "[scoring] window_hours must be a number between 1 and 24"),
    ("scoring", "burst_window_minutes", "1.5", "an integer between 1 and 120, in minutes"),
    ("web", "port", "8080.0", "[web] port must be an integer between 1 and 65_535, got 8080.0"),
    ("web", "port", '"8080"', 'got "8080"'),
    ("web", "public_descriptions_from", '"confirmd"', "did you mean 'confirmed'?"),
    ("storage", "sqlite_synchronous", '"full"', "did you mean 'FULL'?"),
    ("chapter", "timezone", '"America/Los_Angles"', "did you mean 'America/Los_Angeles'?"),
    ("chapter", "timezone", '"PST"', "must be an IANA time zone name"),
]


@pytest.mark.parametrize(("section", "key", "value", "message"), BAD_VALUES)
def test_bad_values_say_what_is_allowed(
    tmp_path: Path, section: str, key: str, value: str, message: str
) -> None:
    init_chapter(tmp_path / "c", "A")
    set_config(tmp_path / "c", section, key, value)
    with pytest.raises(ConfigError) as refused:
        load_config(tmp_path / "c" / "vecinos.toml")
    assert message in str(refused.value) and "\n" not in str(refused.value)


def with_line(section: str, line: str) -> str:
    """The template with one more line in a section (a new section at the end)."""
    text = render_template({("chapter", "id"): "a-1"})
    if f"\n[{section}]\n" in text:
        return text.replace(f"\n[{section}]\n", f"\n[{section}]\n{line}\n", 1)
    return text + f"\n[{section}]\n{line}\n"


UNKNOWN = [
    ("intake", "rate_limt_reports = 3", "unknown key [intake] rate_limt_reports in vecinos.toml; "
     "did you mean rate_limit_reports?"),
    ("retentoin", "unverified_hours = 3", "unknown section [retentoin] in vecinos.toml; "
     "did you mean [retention]?"),
    ("web", "rate_limit_reports = 3", "unknown key [web] rate_limit_reports in vecinos.toml: "
     "it belongs in [intake]"),
    ("zzz", "x = 1", "unknown section [zzz] in vecinos.toml; sections are [chapter], [web]"),
]  # fmt: skip


@pytest.mark.parametrize(("section", "line", "message"), UNKNOWN)
def test_unknown_keys_and_sections_get_a_did_you_mean(
    tmp_path: Path, section: str, line: str, message: str
) -> None:
    path = tmp_path / "vecinos.toml"
    path.write_text(with_line(section, line))
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    assert str(refused.value).startswith(message)


def test_several_problems_name_the_first_in_the_file_and_count_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "vecinos.toml"
    text = with_line("intake", "max_neigbours = 1")
    text = text.replace("# port = 8080", "port = 0").replace("# relay = false", 'relay = "yes"')
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"^\[web\] port must be .* \(and 2 more\)$"):
        load_config(path)


def test_a_key_declaration_builds_its_own_check() -> None:
    key = Key("x", "minutes", 5, "how long", low=1, high=60, unit="minutes")
    assert key.check(7) == 7 and key.describe() == "an integer between 1 and 60, in minutes"
    for bad in (0, 61, True, 7.0, "7"):
        with pytest.raises(ConfigError, match=r"^\[x\] minutes must be an integer between"):
            key.check(bad)
    share = Key("x", "share", 0.7, "a share", low=0.0, high=1.0)
    assert share.check(1) == 1.0 and isinstance(share.check(1), float)
    every = Key("x", "every", 15, "ticks", choices=(5, 15, 60))
    assert every.check(15) == 15
    for bad in (15.0, True, "15", 7):
        with pytest.raises(ConfigError, match=r"must be one of 5, 15, 60, got"):
            every.check(bad)


# -- the chapter's clock ------------------------------------------------------------------


def body_at(hour: datetime) -> dict[str, object]:
    return {
        "kind": "new", "reason": None, "level_up": False, "notice_id": "n1", "seq": 1,
        "origin": "", "type": "raid", "area": "Chula Vista", "highway": None,
        "level": "likely", "confidence": 0.66, "reports": 3, "hour": hour.isoformat(),
        "expires": hour.isoformat(), "report_ids": ["AbCdEfGhIjK"],
    }  # fmt: skip


async def test_responder_texts_show_the_chapters_clock(tmp_path: Path) -> None:
    init_chapter(tmp_path / "c", "A")
    shipped = await open_node(tmp_path / "c")
    try:  # the shipped San Diego gazetteer names its zone: the default
        assert str(shipped.timezone) == "America/Los_Angeles"
    finally:
        await shipped.close()
    set_config(tmp_path / "c", "chapter", "timezone", '"America/New_York"')
    node = await open_node(tmp_path / "c")
    try:
        assert str(node.timezone) == "America/New_York"
        hour = datetime(2026, 7, 3, 18, tzinfo=UTC)  # 2 PM in New York (EDT), 11 AM in San Diego
        now = datetime(2026, 7, 3, 18, 40, tzinfo=UTC)
        room = room_text(body_at(hour), "en", now, zone=node.timezone)
        assert "3 independent report(s) since 2:00 PM" in room
        assert "since 14:00" not in room and "18:00" not in room
        sms = short_text(body_at(hour), "es", now, zone=node.timezone)
        assert sms.startswith("redada (probable) en Chula Vista, 3 reportes desde 14:00.")
        assert node.hour_text(hour) == "2026-07-03 14:00 EDT"
        yesterday = datetime(2026, 7, 4, 18, 40, tzinfo=UTC)  # a day later: the weekday too
        assert "since Fri 2:00 PM" in room_text(body_at(hour), "en", yesterday, zone=node.timezone)
        winter = datetime(2026, 12, 1, 19, tzinfo=UTC)
        assert node.hour_text(winter) == "2026-12-01 14:00 EST"
    finally:
        await node.close()


def test_clock_times_use_plain_spaces_only() -> None:
    """Babel writes "2:00\u202fPM": a narrow space would make an SMS UCS-2 (70 a segment)."""
    text = clock_time(datetime(2026, 7, 3, 21, tzinfo=UTC), UTC, "en", None)
    assert text.isascii() and text.endswith("9:00 PM")


async def test_the_trends_days_are_the_chapters_days(tmp_path: Path) -> None:
    from sqlmodel import Session

    from node.store import Aggregate

    init_chapter(tmp_path / "c", "A")
    now = datetime(2026, 3, 2, 3, tzinfo=UTC)  # 7 PM of March 1st in San Diego
    node = await open_node(tmp_path / "c", clock=lambda: now)
    try:
        with Session(node.engine) as session:
            session.add(Aggregate(area_id="downtown", type="raid", day="2026-03-02",
                                  hour_of_day=2, reports=4, confirmed=0, debunked=0))  # fmt: skip
            session.commit()
        found = await node.trends(7)
        assert found.today.isoformat() == "2026-03-01"
        [stored] = found.rows
        [shown] = found.local_rows
        assert (stored.day.isoformat(), stored.hour_of_day) == ("2026-03-02", 2)
        assert (shown.day.isoformat(), shown.hour_of_day) == ("2026-03-01", 18)
    finally:
        await node.close()


# -- readable neighbour fingerprints ---------------------------------------------------------


def test_the_fingerprint_reads_aloud_as_digit_groups_and_tokens_are_unchanged() -> None:
    from signedjson.key import generate_signing_key, get_verify_key

    key = get_verify_key(generate_signing_key("a1"))
    token = make_invite_token("sur-1a2b3c", "@bot:example.org", key)
    invite = parse_invite_token(token)  # the token's form is the same as before
    spoken = readable_fingerprint(invite.fingerprint)
    assert re.fullmatch(r"\d{4}( \d{4}){7}", spoken)
    assert spoken == readable_fingerprint(key_fingerprint(key))
    other = get_verify_key(generate_signing_key("a1"))
    assert readable_fingerprint(key_fingerprint(other)) != spoken


# -- the CLI: exit codes, --version, VECINOS_DATA ------------------------------------------------


def test_version_usage_and_runtime_errors_have_their_exit_codes(tmp_path: Path) -> None:
    from importlib.metadata import version

    shown = cli("--version")
    assert shown.returncode == 0 and shown.stdout.strip() == f"vecinos {version('vecinos')}"
    unknown = cli("frobnicate")
    assert unknown.returncode == 2 and "invalid choice" in unknown.stderr
    no_data = cli("status")
    assert no_data.returncode == 2 and "VECINOS_DATA" in no_data.stderr
    missing = cli("status", "--data", str(tmp_path / "nowhere"))
    assert missing.returncode == 1 and "vecinos init" in missing.stderr


def test_vecinos_data_stands_for_data_and_data_still_wins(tmp_path: Path) -> None:
    env = {"VECINOS_DATA": str(tmp_path / "c")}
    made = cli("init", "--chapter", "Sur de San Diego", env=env)
    assert made.returncode == 0, made.stderr
    added = cli("moderator", "add", "luna", stdin=PASSWORD + "\n", env=env)
    assert added.returncode == 0, added.stderr
    listed = cli("moderator", "list", env=env)
    assert listed.returncode == 0 and listed.stdout.split() == ["luna"]
    elsewhere = {"VECINOS_DATA": str(tmp_path / "nowhere")}
    chosen = cli("moderator", "list", "--data", str(tmp_path / "c"), env=elsewhere)
    assert chosen.returncode == 0 and chosen.stdout.split() == ["luna"]
    demo = cli("demo", env=env)  # the demo wipes its dir: never taken from the environment
    assert demo.returncode == 2 and "--data" in demo.stderr


def test_moderator_commands_say_what_is_wrong(tmp_path: Path) -> None:
    data = str(tmp_path / "c")
    init_chapter(tmp_path / "c", "A")
    for name in ("sol", "luna"):
        assert cli("moderator", "add", name, "--data", data, stdin=PASSWORD + "\n").returncode == 0
    assert cli("moderator", "list", "--data", data).stdout.split() == ["luna", "sol"]
    gone = cli("moderator", "remove", "mar", "--data", data)
    assert gone.returncode == 1 and "no moderator named 'mar'" in gone.stderr
    short = cli("moderator", "passwd", "sol", "--data", data, stdin="short\n")
    assert short.returncode == 1 and "at least" in short.stderr
    assert cli("moderator", "remove", "sol", "--data", data).returncode == 0
    assert cli("moderator", "remove", "luna", "--data", data).returncode == 0
    assert cli("moderator", "list", "--data", data).stdout.startswith("no moderators yet")


# -- a running node: sessions end at once, status tells the truth ----------------------------


class Running:
    """A `vecinos run` subprocess whose output lines a thread reads."""

    def __init__(self, data: Path, port: int) -> None:
        self.proc = subprocess.Popen(
            [*VECINOS, "run", "--data", str(data), "--port", str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, text: str) -> str:
        while True:
            line = self.lines.get(timeout=WAIT)
            if text in line:
                return line

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=WAIT)


@pytest.fixture
def chapter(tmp_path: Path) -> Iterator[tuple[Path, int, Running]]:
    data = tmp_path / "c"
    init_chapter(data, "Sur de San Diego")
    added = cli("moderator", "add", "luna", "--data", str(data), stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    port = free_port()
    node = Running(data, port)
    try:
        node.wait_for("serving on")
        yield data, port, node
    finally:
        node.stop()


async def queue_status(http: aiohttp.ClientSession, port: int) -> int:
    async with http.get(f"http://127.0.0.1:{port}/api/v1/queue") as resp:
        return resp.status


async def log_in(http: aiohttp.ClientSession, port: int, password: str) -> int:
    login = {"name": "luna", "password": password}
    async with http.post(f"http://127.0.0.1:{port}/api/v1/session", json=login) as resp:
        return resp.status


async def test_a_new_password_and_a_removal_end_live_sessions_at_once(chapter) -> None:  # type: ignore[no-untyped-def]
    data, port, _ = chapter
    jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1
    async with (
        aiohttp.ClientSession(cookie_jar=jar) as http,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as other,
    ):
        assert await log_in(http, port, PASSWORD) == 200
        assert await log_in(other, port, PASSWORD) == 200  # a second browser
        assert await queue_status(http, port) == 200
        stolen = {c.key: c.value for c in jar}  # a copy of the cookie, taken before

        new = "another long password"
        done = await asyncio.to_thread(
            cli, "moderator", "passwd", "luna", "--data", str(data), stdin=new + "\n"
        )
        assert done.returncode == 0 and "sessions have ended" in done.stdout
        assert await queue_status(http, port) == 401  # the next request, no restart
        assert await queue_status(other, port) == 401
        async with aiohttp.ClientSession(cookies=stolen) as thief:
            assert await queue_status(thief, port) == 401
        assert await log_in(http, port, PASSWORD) == 401  # the old password is gone
        assert await log_in(http, port, new) == 200
        assert await queue_status(http, port) == 200

        done = await asyncio.to_thread(cli, "moderator", "remove", "luna", "--data", str(data))
        assert done.returncode == 0, done.stderr
        assert await queue_status(http, port) == 401
        assert await log_in(http, port, new) == 401


async def test_status_tells_whether_the_node_runs_and_what_waits(chapter, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data, port, node = chapter
    async with aiohttp.ClientSession() as http:
        for area in ("Chula Vista", "the old swap meet"):  # the unknown place goes to review
            report = {"type": "raid", "area": area}
            async with http.post(f"http://127.0.0.1:{port}/api/v1/reports", json=report) as r:
                assert r.status == 201
    # `vecinos purge` asks the running node (its memory stays in step with the store)
    purged = await asyncio.to_thread(cli, "purge", "--data", str(data))
    assert purged.returncode == 0, purged.stderr
    assert f"asked the running node (pid {node.proc.pid}) to purge now" in purged.stdout
    assert "purged on request: " in await asyncio.to_thread(node.wait_for, "purged on request")
    status = await asyncio.to_thread(cli, "status", "--data", str(data))
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    assert f"node: running (pid {node.proc.pid}), serving http://127.0.0.1:{port}/" in lines
    assert "time zone: America/Los_Angeles" in lines
    assert "review queue: 1 report(s)" in lines
    assert "outbox backlog: 0 (alert changes for the neighbours)" in lines
    assert "Matrix: off (run `vecinos matrix setup`; see docs/federation.md)" in lines
    [purge] = [line for line in lines if line.startswith("last purge: ")]
    assert re.fullmatch(r"last purge: \d{4}-\d\d-\d\d \d\d:00 P[SD]T", purge)  # the hour only

    second = await asyncio.to_thread(cli, "run", "--data", str(data), "--port", str(free_port()))
    assert second.returncode == 1 and f"already running (pid {node.proc.pid})" in second.stderr

    assert node.stop() == 0
    status = await asyncio.to_thread(cli, "status", "--data", str(data))
    assert "node: not running (`vecinos run` would serve http://127.0.0.1:8080/)" in status.stdout
