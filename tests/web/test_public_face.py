"""The public face without a browser: the list by importance and its filters, an incident's page
with "still there" / "gone", honest words, compression, no cookie before a login, and the undo
of a moderator's debunk. Browsers (JavaScript on and off, axe, sizes) are in tests/browser."""

from __future__ import annotations

import gzip
import re
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlmodel import Session

from node import i18n
from node.outcome import Accepted, ReportDraft, SourceRef
from node.service import ModeratorAction, Node
from node.store import Report
from scoring.model import Channel
from tests.conftest import Clock
from tests.web.test_moderation_pages import log_in, queued
from web import moderation_pages
from web.app import make_app
from web.present import age_words
from web.undo import UNDO_WINDOW_S

TEMPLATES = Path(__file__).resolve().parents[2] / "web" / "templates"
ITEM = re.compile(r'data-incident-id="([^"]+)" data-level="(\w+)"')


async def submit(node: Node, n: int, **fields: object) -> str:
    source = SourceRef(Channel.WEB, f"10.1.0.{n}".encode())
    outcome = await node.submit(ReportDraft(**fields), source)  # type: ignore[arg-type]
    assert isinstance(outcome, Accepted), outcome
    return outcome.report.id


async def text(client: aiohttp.ClientSession, path: str, **kw: object) -> tuple[int, str]:
    async with client.get(path, **kw) as resp:  # type: ignore[arg-type]
        return resp.status, await resp.text()


def incident_of(node: Node, report_id: str) -> str:
    """The stored incident a report belongs to (node.incident_store): the public id."""
    with Session(node.engine) as session:
        row = session.get(Report, report_id)
        assert row is not None and row.incident_id
        return row.incident_id


def status(node: Node, report_id: str) -> str:
    with Session(node.engine) as session:
        row = session.get(Report, report_id)
        assert row is not None
        return row.status


# --- the list by importance ----------------------------------------------------------


async def test_one_entry_per_incident_most_important_first(
    client: aiohttp.ClientSession, node: Node
) -> None:
    vehicle = await submit(node, 1, type="vehicle", area="Chula Vista", still_active=True)
    await submit(node, 2, type="raid", area="San Ysidro", still_active=True)
    await submit(node, 3, type="raid", area="San Ysidro", still_active=True)  # same incident
    checkpoint = await submit(node, 4, type="checkpoint", area="Downtown", still_active=True)
    await node.moderate(checkpoint, ModeratorAction.CONFIRM)
    await node.publish()
    _, html = await text(client, "/map?lang=en")
    shown = ITEM.findall(html)
    # two independent witnesses make 'likely' (needs verification: anonymous only)
    assert [level for _, level in shown] == ["confirmed", "likely", "possible"]
    await node.publish()
    incidents = await node.public_incidents()
    assert [i.type for i in incidents] == ["checkpoint", "raid", "vehicle"]
    assert [i.id for i in incidents] == [i for i, _ in shown]
    assert incidents[1].reports == "2-3" and "2–3 independent reports" in html
    assert "1 report" in html and "Independent reports" not in html
    with Session(node.engine) as session:  # an incident is known by its stored random id
        report = session.get(Report, vehicle)
        assert report is not None and incidents[2].id == report.incident_id != vehicle
    # Public pages show no raw confidence and no exact source count.
    assert "%" not in html.split("<main>")[1] and "confidence" not in html.lower()


async def test_filters_work_without_javascript(client: aiohttp.ClientSession, node: Node) -> None:
    await submit(node, 1, type="vehicle", area="Chula Vista")
    await submit(node, 2, type="raid", area="San Ysidro")
    confirmed = await submit(node, 3, type="patrol", area="Downtown")
    await node.moderate(confirmed, ModeratorAction.CONFIRM)
    await node.publish()
    _, html = await text(client, "/map?lang=es")
    assert '<form method="get" action="/map" class="filters"' in html
    for name in ("area", "type", "level"):
        assert f'name="{name}"' in html
    await node.publish()
    _, html = await text(client, "/map?lang=es&type=raid")
    assert len(ITEM.findall(html)) == 1 and "San Ysidro" in html
    assert '<option value="raid" selected>' in html
    await node.publish()
    _, html = await text(client, "/map?area=chula-vista")
    assert [level for _, level in ITEM.findall(html)] == ["possible"]
    await node.publish()
    _, html = await text(client, "/map?level=likely")
    assert [level for _, level in ITEM.findall(html)] == ["confirmed"]
    await node.publish()
    _, html = await text(client, "/map?type=raid&area=downtown")
    assert ITEM.findall(html) == [] and i18n.translate("web_no_incidents_filtered", "en") in html
    # Nonsense is ignored, never an error.
    await node.publish()
    status_code, html = await text(client, "/map?type=%3Cb%3E&level=9&area=nowhere")
    assert status_code == 200 and len(ITEM.findall(html)) == 3 and "<b>" not in html


# --- an incident's page ----------------------------------------------------------------


async def test_incident_page_and_its_forms(
    client: aiohttp.ClientSession, node: Node, clock: Clock
) -> None:
    report_id = await submit(node, 1, type="checkpoint", area="Chula Vista", highway="I-5")
    await node.publish()
    [incident] = await node.public_incidents()
    first = incident_of(node, report_id)
    assert incident.id == first
    await node.publish()
    code, html = await text(client, f"/incident/{incident.id}?lang=es")
    assert code == 200 and '<html lang="es">' in html
    assert "retén en Chula Vista" in html and "I-5" in html
    forms = re.findall(r'<form method="post" action="([^"]+)"[^>]*>\s*(.*?)</form>', html, re.S)
    assert [action for action, _ in forms] == [f"/incident/{first}/followup?lang=es"] * 2
    assert ['value="still_there"' in f for _, f in forms] == [True, False]
    assert all("csrf" not in f for _, f in forms)  # anonymous, like the report form
    assert "<script" not in html.split("</head>")[1]

    async def follow(n: int, kind: str) -> tuple[int, str]:
        headers = {"X-Forwarded-For": f"10.9.0.{n}"}
        await node.publish()
        async with client.post(
            f"/incident/{first}/followup?lang=es", data={"kind": kind}, headers=headers
        ) as resp:
            return resp.status, await resp.text()

    code, html = await follow(1, "still_there")
    assert code == 200 and i18n.translate("web_followup_still_there", "es") in html
    code, html = await follow(1, "gone")
    assert code == 200 and i18n.translate("web_followup_gone", "es") in html
    # Unknown kinds and incidents.
    await node.publish()
    async with client.post(f"/incident/{first}/followup", data={"kind": "maybe"}) as resp:
        assert resp.status == 422
    await node.publish()
    async with client.post("/incident/nope/followup", data={"kind": "gone"}) as resp:
        assert resp.status == 404
    await node.publish()
    code, html = await text(client, "/incident/nope?lang=es")
    assert code == 404 and i18n.translate("web_incident_not_found", "es") in html


async def test_gone_from_two_people_ends_the_incident(serve, node: Node, chapter_dir: Path) -> None:
    client = await serve(trust_forwarded_for=True)
    incident_id = incident_of(
        node, await submit(node, 1, type="raid", area="Chula Vista", still_active=True)
    )
    for n in (2, 3):
        await node.publish()
        async with client.post(
            f"/incident/{incident_id}/followup",
            data={"kind": "gone"},
            headers={"X-Forwarded-For": f"10.7.0.{n}"},
        ) as resp:
            assert resp.status == 200
    await node.publish()
    found = await node.get_incident(incident_id)
    assert found is not None and not found.active and found.ended == "gone"
    await node.publish()
    _, html = await text(client, f"/incident/{incident_id}")
    assert i18n.translate("web_incident_gone", "en") in html


async def test_follow_ups_are_rate_limited_like_reports(
    client: aiohttp.ClientSession, node: Node
) -> None:
    incident_id = incident_of(node, await submit(node, 1, type="raid", area="Chula Vista"))
    for _ in range(40):
        await node.publish()
        async with client.post(
            f"/incident/{incident_id}/followup", data={"kind": "still_there"}
        ) as resp:
            if resp.status == 429:
                assert int(resp.headers["Retry-After"]) >= 1
                assert "text/html" in resp.headers["Content-Type"]
                return
            assert resp.status == 200
    raise AssertionError("never rate limited")


# --- honest words ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reported", "read", "code"),
    [
        ("10:59", "10:59", "web_age_this_hour"),
        ("10:59", "11:01", "web_age_last_hour"),  # minutes old: never "1-2 hours ago"
        ("10:00", "11:59", "web_age_last_hour"),
        ("10:30", "12:05", "web_age_2_3_hours"),
        ("10:30", "13:59", "web_age_2_3_hours"),
        ("10:30", "14:00", "web_age_4_23_hours"),
        ("10:30", "09:10+1", "web_age_4_23_hours"),
        ("10:30", "10:00+1", "web_age_a_day_or_more"),
    ],
)
def test_age_words_are_true_for_hour_precision(reported: str, read: str, code: str) -> None:
    def at(value: str) -> datetime:
        hhmm, _, days = value.partition("+")
        h, m = (int(x) for x in hhmm.split(":"))
        return datetime(2026, 11, 17 + int(days or 0), h, m, tzinfo=UTC)

    hour = at(reported).replace(minute=0)  # stored: the hour only
    assert age_words(hour, at(read)) == code


async def test_a_report_minutes_old_reads_last_hour_after_the_hour_turns(
    client: aiohttp.ClientSession, node: Node, clock: Clock
) -> None:
    clock.now = clock.now.replace(minute=58)
    await submit(node, 1, type="patrol", area="Chula Vista", still_active=True)
    await node.publish()
    _, html = await text(client, "/map")
    assert "last report: this hour" in html
    clock.advance(minutes=3)
    await node.publish()
    _, html = await text(client, "/map")
    assert "last report: last hour" in html and "1-2 hours" not in html


# --- light pages: compression, no data twice ---------------------------------------------


async def test_pages_and_json_are_compressed_but_not_the_moderators(
    client: aiohttp.ClientSession, node: Node, moderator: tuple[str, str]
) -> None:
    for n in range(1, 8):
        await submit(node, n, type="raid", area=f"the swap meet {n}")
    gz = {"Accept-Encoding": "gzip, deflate"}
    for path in ("/", "/map", "/about", "/trends", "/map/list", "/api/v1/areas"):
        await node.publish()
        async with client.get(path, headers=gz) as resp:
            assert resp.status == 200
            assert resp.headers.get("Content-Encoding") in ("gzip", "deflate"), path
            assert "Accept-Encoding" in resp.headers.get("Vary", ""), path
            await resp.read()
    await node.publish()
    async with client.get("/map/data.json", headers=gz) as resp:  # small: not worth it
        assert "Content-Encoding" not in resp.headers
    # BREACH: a CSRF token next to reflected text is never compressed.
    await node.publish()
    async with client.get("/login?lang=es", headers=gz) as resp:
        assert "Content-Encoding" not in resp.headers and "csrf_token" in await resp.text()
    await log_in(client, moderator)
    for path in ("/moderation", "/map"):  # with the session cookie: nothing is compressed
        await node.publish()
        async with client.get(path, headers=gz) as resp:
            assert resp.status == 200 and "Content-Encoding" not in resp.headers, path


async def test_compressed_map_is_small_with_55_reports(
    client: aiohttp.ClientSession, node: Node
) -> None:
    areas = [a.name for a in node.areas()][:30]
    for n in range(55):
        await submit(node, n, type=("raid", "checkpoint", "vehicle", "patrol")[n % 4],
                     area=areas[n % len(areas)], still_active=True)  # fmt: skip
    await node.publish()
    async with client.get("/map", headers={"Accept-Encoding": "gzip"}, auto_decompress=False) as r:
        raw = await r.read()
        assert r.headers["Content-Encoding"] == "gzip"
    html = gzip.decompress(raw).decode()
    assert len(ITEM.findall(html)) >= 30
    assert len(raw) <= 12_000, len(raw)  # the HTML of the page, compressed


# --- no cookie before a login --------------------------------------------------------------


async def test_no_cookie_before_a_login(
    client: aiohttp.ClientSession, moderator: tuple[str, str]
) -> None:
    for path in ("/login", "/login?lang=es", "/login?expired=1"):
        async with client.get(path) as resp:
            assert resp.status == 200 and "Set-Cookie" not in resp.headers
    token = re.search(r'name="csrf_token" value="([^"]+)"', (await text(client, "/login"))[1])
    assert token is not None
    for fields in (
        {"name": "x", "password": "wrong", "csrf_token": token.group(1)},
        {"name": "x", "password": "y", "csrf_token": "forged"},
        {"name": moderator[0], "csrf_token": token.group(1)},
    ):
        async with client.post("/login", data=fields, allow_redirects=False) as resp:
            assert resp.status in (401, 403, 422) and "Set-Cookie" not in resp.headers
    assert len(client.cookie_jar) == 0
    fields = {"name": moderator[0], "password": moderator[1], "csrf_token": token.group(1)}
    async with client.post("/login", data=fields, allow_redirects=False) as resp:
        assert resp.status == 303 and "Set-Cookie" in resp.headers  # the first cookie
    assert len(client.cookie_jar) == 1


async def test_a_login_posted_from_another_site_is_refused(
    client: aiohttp.ClientSession, moderator: tuple[str, str]
) -> None:
    _, html = await text(client, "/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token is not None
    fields = {"name": moderator[0], "password": moderator[1], "csrf_token": token.group(1)}
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        async with client.post("/login", data=fields, headers=headers) as resp:
            assert resp.status == 403
    assert len(client.cookie_jar) == 0


# --- moderators: held debunks and their undo ---------------------------------------------------


@pytest.fixture
async def held_app(node: Node):
    """The app with a real undo window, served; (client, app)."""
    app = make_app(node, undo_window_s=UNDO_WINDOW_S)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    client = aiohttp.ClientSession(
        base_url=str(server.make_url("/")),
        cookie_jar=aiohttp.CookieJar(unsafe=True),
        headers={"Accept-Language": "en"},
    )
    yield client, app
    await client.close()
    await server.close()


async def test_a_batch_debunk_waits_and_can_be_undone(
    held_app, node: Node, moderator: tuple[str, str]
) -> None:
    client, app = held_app
    ids = [await queued(node, n, area=f"the big swap meet {n}") for n in range(1, 6)]
    token = await log_in(client, moderator)
    fields = [("csrf_token", token), ("action", "debunk"), *(("ids", i) for i in ids)]
    async with client.post("/moderation/batch?lang=es", data=fields, allow_redirects=False) as r:
        assert r.status == 303
        location = r.headers["Location"]
    assert "done=debunk&n=5&undo=" in location
    assert {status(node, i) for i in ids} == {"unverified"}  # held, not applied
    _, html = await text(client, location)
    assert "Desmentidos: 5." in html and "Deshacer" in html
    assert not set(re.findall(r'data-report-id="([^"]+)"', html)) & set(ids)  # out of the queue
    undo = re.search(r'name="undo" value="([^"]+)"', html)
    assert undo is not None
    async with client.post(
        "/moderation/undo?lang=es", data={"csrf_token": token, "undo": undo.group(1)}
    ) as r:
        html = await r.text()
    assert "Deshecho: 5 reportes volvieron a la cola." in html
    assert sorted(re.findall(r'data-report-id="([^"]+)"', html)) == sorted(ids)
    assert {status(node, i) for i in ids} == {"unverified"}
    # Undoing twice: too late, said plainly.
    async with client.post(
        "/moderation/undo", data={"csrf_token": token, "undo": undo.group(1)}
    ) as r:
        assert i18n.translate("web_mod_undo_too_late", "en") in await r.text()
    held = app[moderation_pages.HELD]
    assert held.held_ids() == set()


async def test_a_held_debunk_is_applied_when_its_window_ends(
    held_app, node: Node, moderator: tuple[str, str]
) -> None:
    client, app = held_app
    held = app[moderation_pages.HELD]
    held.window_s = 0.05
    report_id = await queued(node)
    token = await log_in(client, moderator)
    async with client.post(
        f"/moderation/{report_id}", data={"csrf_token": token, "action": "archive"},
        allow_redirects=False,
    ) as r:  # fmt: skip
        undo = re.search(r"undo=([\w-]+)", r.headers["Location"])
    assert undo is not None and held.is_held(undo.group(1))
    await held.wait_applied(undo.group(1))
    assert status(node, report_id) == "archived"


async def test_copies_debunk_offers_an_undo_and_plurals_are_right(
    held_app, node: Node, moderator: tuple[str, str]
) -> None:
    client, _ = held_app
    text_ = "three white vans with agents stopping people at the corner market right now"
    first = await submit(node, 1, type="raid", area="Downtown", description=text_)
    await submit(node, 2, type="raid", area="Downtown", description=text_ + " now")
    token = await log_in(client, moderator)
    _, html = await text(client, "/moderation")
    assert "Debunk this and its 1 near-copy<" in html  # never "its 1 near-copies"
    assert "1 report shown, most important first." in html or "2 reports shown" in html
    async with client.post(
        f"/moderation/{first}", data={"csrf_token": token, "action": "debunk_copies"}
    ) as r:
        html = await r.text()
    assert "Debunked: 2." in html and 'class="act act-undo"' in html


async def test_actions_are_distinct_and_labelled(
    client: aiohttp.ClientSession, node: Node, moderator: tuple[str, str]
) -> None:
    await queued(node)
    await log_in(client, moderator)
    _, html = await text(client, "/moderation")
    buttons = re.findall(r'<button type="submit" name="action" value="(\w+)" class="([^"]+)"', html)
    classes = {value: cls for value, cls in buttons}
    assert len({classes["confirm"], classes["debunk"], classes["archive"]}) == 3
    for action in ("confirm", "debunk", "archive"):
        assert i18n.translate(f"web_mod_{action}_label", "en") in html
        assert i18n.translate(f"web_mod_{action}_help", "en") in html


# --- templates ------------------------------------------------------------------------------


def test_every_message_id_in_the_templates_is_in_every_catalog() -> None:
    used: set[str] = set()
    for path in TEMPLATES.rglob("*"):
        if path.is_file():
            source = re.sub(r"\{#.*?#\}", "", path.read_text(), flags=re.S)
            found = re.findall(r"""\b(?:t|tn)\(\s*["'](\w+)["']\s*[,)]""", source)
            used |= set(found)
    assert len(used) > 100
    for lang in i18n.SUPPORTED:
        assert sorted(used - set(i18n.catalog(lang))) == [], lang


def test_templates_hold_no_text_of_their_own() -> None:
    """Words come from the catalogs: outside tags and {{ }}/{% %}, a template has none."""
    for path in TEMPLATES.rglob("*"):
        if not path.is_file():
            continue
        source = re.sub(r"\{#.*?#\}", "", path.read_text(), flags=re.S)
        source = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", " ", source, flags=re.S)
        source = re.sub(r"<[^>]*>", " ", source, flags=re.S)
        source = re.sub(r'[\w-]+="[^"]*"', " ", source)  # attributes a macro adds to a tag
        words = re.findall(r"[A-Za-zÁÉÍÓÚáéíóúñ]{2,}", source)
        assert words == [], (path.name, words[:5])
