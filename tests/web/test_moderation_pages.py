"""The moderators' HTML pages: login (CSRF, throttle, expiry), the queue, actions, batches."""

from __future__ import annotations

import re
import time

import aiohttp
import pytest
from sqlmodel import Session, select

from node.outcome import Accepted, ReportDraft, SourceRef
from node.service import Node
from node.store import Report
from scoring.model import Channel
from web.auth import COOKIE_NAME, LoginThrottle

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
ROW = re.compile(r'data-report-id="([^"]+)"')
COPY = "three white vans with agents stopping people at the corner market right now"


def web(n: int) -> SourceRef:
    return SourceRef(Channel.WEB, f"127.0.0.{n}".encode())


async def submit(node: Node, n: int, **fields: object) -> str:
    outcome = await node.submit(ReportDraft(**fields), web(n))  # type: ignore[arg-type]
    assert isinstance(outcome, Accepted), outcome
    return outcome.report.id


async def queued(node: Node, n: int = 1, **fields: object) -> str:
    """A report that goes to review (its area is not in the gazetteer: an anomaly)."""
    fields.setdefault("type", "raid")
    fields.setdefault("area", "the big swap meet")
    return await submit(node, n, **fields)


def status(node: Node, report_id: str) -> str:
    with Session(node.engine) as session:
        row = session.get(Report, report_id)
        assert row is not None
        return row.status


async def page(client: aiohttp.ClientSession, path: str, **kw: object) -> tuple[int, str]:
    async with client.get(path, **kw) as resp:  # type: ignore[arg-type]
        return resp.status, await resp.text()


async def post(
    client: aiohttp.ClientSession, path: str, data: object
) -> tuple[int, str, aiohttp.ClientResponse]:
    async with client.post(path, data=data, allow_redirects=False) as resp:
        return resp.status, await resp.text(), resp


async def login_token(client: aiohttp.ClientSession) -> str:
    _, html = await page(client, "/login")
    return TOKEN.search(html).group(1)  # type: ignore[union-attr]


async def log_in(client: aiohttp.ClientSession, moderator: tuple[str, str]) -> str:
    """Log in through the HTML form; returns the session's CSRF token (from the queue page)."""
    token = await login_token(client)
    fields = {"name": moderator[0], "password": moderator[1], "csrf_token": token}
    code, _, resp = await post(client, "/login", fields)
    assert code == 303 and resp.headers["Location"].startswith("/moderation")
    status_code, html = await page(client, "/moderation")
    assert status_code == 200
    return TOKEN.search(html).group(1)  # type: ignore[union-attr]


# --- login ------------------------------------------------------------------------


async def test_login_page_is_a_plain_form_with_a_csrf_token(client: aiohttp.ClientSession) -> None:
    code, html = await page(client, "/login")
    assert code == 200 and '<html lang="en">' in html
    assert 'name="name"' in html and 'name="password"' in html and TOKEN.search(html)
    assert 'method="post"' in html and "<script" in html and "Moderator login" in html
    assert 'href="tel:' in html and "/about" in html  # the shell: hotline, what to report
    code, html = await page(client, "/login?lang=es")
    assert '<html lang="es">' in html and "Entrada de moderadores" in html


async def test_html_login_opens_the_queue(
    client: aiohttp.ClientSession, node: Node, moderator: tuple[str, str]
) -> None:
    report_id = await queued(node, description="muchas camionetas")
    await log_in(client, moderator)
    _, html = await page(client, "/moderation")
    assert ROW.findall(html) == [report_id]
    assert "muchas camionetas" in html and "unusual place or hour" in html
    # Logged in, /login goes straight to the queue.
    async with client.get("/login", allow_redirects=False) as resp:
        assert resp.status == 303 and resp.headers["Location"].startswith("/moderation")


async def test_wrong_password_is_refused_in_the_visitors_language(
    client: aiohttp.ClientSession, moderator: tuple[str, str]
) -> None:
    token = await login_token(client)
    fields = {"name": moderator[0], "password": "not the password", "csrf_token": token}
    code, html, _ = await post(client, "/login?lang=es", fields)
    assert code == 401 and "Nombre o contraseña incorrectos." in html
    assert f'value="{moderator[0]}"' in html  # the name is kept in the form, the password not
    assert moderator[1] not in html
    async with client.get("/moderation", allow_redirects=False) as resp:
        assert resp.status == 303 and resp.headers["Location"].startswith("/login")


@pytest.mark.parametrize("given", [None, "", "wrong-token"])
async def test_html_login_needs_its_csrf_token(
    client: aiohttp.ClientSession, moderator: tuple[str, str], given: str | None
) -> None:
    await login_token(client)  # the form was shown: the session holds a token
    fields = {"name": moderator[0], "password": moderator[1]}
    if given is not None:
        fields["csrf_token"] = given
    code, html, _ = await post(client, "/login?lang=es", fields)
    assert code == 403 and "Falta el token CSRF o no es correcto." in html
    assert TOKEN.search(html)  # a fresh form to try again
    async with client.get("/moderation", allow_redirects=False) as resp:
        assert resp.status == 303  # not logged in


async def test_a_token_from_another_browser_does_not_log_in(
    serve, moderator: tuple[str, str]
) -> None:
    ours, theirs = await serve(), await serve()
    await login_token(ours)
    token = await login_token(theirs)
    fields = {"name": moderator[0], "password": moderator[1], "csrf_token": token}
    code, _, _ = await post(ours, "/login", fields)
    assert code == 403


async def test_missing_fields_are_named(client: aiohttp.ClientSession) -> None:
    token = await login_token(client)
    code, html, _ = await post(client, "/login", {"name": "lechuza", "csrf_token": token})
    assert code == 422 and 'id="err-password"' in html and "This field is required." in html


async def test_html_login_is_throttled_even_with_the_right_password(
    serve, moderator: tuple[str, str]
) -> None:
    client = await serve(login_throttle=LoginThrottle(per_name=3, global_limit=100))
    token = await login_token(client)
    for _ in range(3):
        fields = {"name": moderator[0], "password": "wrong password!", "csrf_token": token}
        assert (await post(client, "/login", fields))[0] == 401
    fields = {"name": moderator[0], "password": moderator[1], "csrf_token": token}
    code, html, resp = await post(client, "/login?lang=es", fields)
    assert code == 429 and int(resp.headers["Retry-After"]) >= 1
    assert "Demasiados intentos de inicio de sesión" in html
    assert COOKIE_NAME not in resp.cookies or not resp.cookies[COOKIE_NAME].value
    async with client.get("/moderation", allow_redirects=False) as r:
        assert r.status == 303
    # The JSON API shares the same throttle.
    async with client.post(
        "/api/v1/session", json={"name": moderator[0], "password": moderator[1]}
    ) as r:
        assert r.status == 429


# Just past the 8 h session (the session's own age check: its cookie token is still young
# enough), and long past it (the cookie token's own time limit).
@pytest.mark.parametrize("later_s", [8 * 3600 + 1, 10 * 3600])
async def test_an_expired_session_sends_back_to_the_login(
    client: aiohttp.ClientSession,
    moderator: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    later_s: int,
) -> None:
    await log_in(client, moderator)
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + later_s)
    async with client.get("/moderation", allow_redirects=False) as resp:
        assert resp.status == 303
        location = resp.headers["Location"]
    assert location.startswith("/login") and "expired=1" in location
    _, html = await page(client, location)
    assert "Your session ended. Log in again." in html
    await log_in(client, moderator)  # and logging in again works, with the clock still moved


async def test_logout_needs_csrf_and_ends_the_session(
    client: aiohttp.ClientSession, moderator: tuple[str, str]
) -> None:
    token = await log_in(client, moderator)
    code, html, _ = await post(client, "/logout", {"csrf_token": "nope"})
    assert code == 403 and "CSRF" in html
    code, _, resp = await post(client, "/logout", {"csrf_token": token})
    assert code == 303 and "bye=1" in resp.headers["Location"]
    async with client.get("/moderation", allow_redirects=False) as resp:
        assert resp.status == 303


async def test_a_copy_of_the_cookie_is_worthless_after_logout(
    client: aiohttp.ClientSession, moderator: tuple[str, str]
) -> None:
    token = await log_in(client, moderator)
    cookie = client.cookie_jar.filter_cookies(client._base_url)[COOKIE_NAME].value
    stolen = {"Cookie": f"{COOKIE_NAME}={cookie}"}
    async with client.get("/moderation", headers=stolen, allow_redirects=False) as resp:
        assert resp.status == 200  # the copy works while the session lives
    code, _, _ = await post(client, "/logout", {"csrf_token": token})
    assert code == 303
    assert COOKIE_NAME not in client.cookie_jar.filter_cookies(client._base_url)
    async with client.get("/moderation", headers=stolen, allow_redirects=False) as resp:
        assert resp.status == 303  # the cookie itself has not expired: the server refuses it
    async with client.post(
        "/moderation/batch",
        data={"csrf_token": token, "action": "confirm", "ids": "x"},
        headers=stolen,
        allow_redirects=False,
    ) as resp:
        assert resp.status == 303 and resp.headers["Location"].startswith("/login")


async def test_posting_the_login_form_when_logged_in_keeps_the_session(
    client: aiohttp.ClientSession, moderator: tuple[str, str]
) -> None:
    await log_in(client, moderator)
    code, _, resp = await post(client, "/login", {"name": "x", "password": "y"})
    assert code == 303 and resp.headers["Location"] == "/moderation?lang=en"
    code, _ = await page(client, "/moderation", allow_redirects=False)
    assert code == 200


# --- the queue and its actions ------------------------------------------------------


async def test_queue_needs_a_session(client: aiohttp.ClientSession, node: Node) -> None:
    await queued(node)
    async with client.get("/moderation", allow_redirects=False) as resp:
        assert resp.status == 303 and resp.headers["Location"] == "/login?lang=en"
    report_id = await queued(node, 2)
    code, _, resp = await post(client, f"/moderation/{report_id}", {"action": "confirm"})
    assert code == 303 and resp.headers["Location"].startswith("/login")
    assert status(node, report_id) != "confirmed"


async def test_each_report_has_one_form_with_the_actions(
    client: aiohttp.ClientSession, node: Node, moderator: tuple[str, str]
) -> None:
    report_id = await queued(node)
    await log_in(client, moderator)
    _, html = await page(client, "/moderation")
    row = html[html.index(f'data-report-id="{report_id}"') :]
    row = row[: row.index("</li>")]
    assert row.count('<form method="post"') == 1
    for action in ("confirm", "debunk", "archive", "correct"):
        assert f'name="action" value="{action}"' in row
    assert f'value="{report_id}" form="batch"' in row  # the batch checkbox
    # The shortcuts are documented on the page; the script is a static file.
    assert 'id="shortcuts"' in html and "<kbd>j</kbd>" in html
    assert '<script src="/static/moderation.js" defer></script>' in html
    async with client.get("/static/moderation.js") as resp:
        assert resp.status == 200 and "keydown" in await resp.text()


async def test_a_report_says_its_incidents_stage_and_links_to_it(
    client: aiohttp.ClientSession, node: Node, moderator: tuple[str, str]
) -> None:
    long = "vans and agents at the corner market, " * 9  # over 280 characters: to review
    listed = await submit(node, 1, type="raid", area="Downtown", description=long)
    unlisted = await queued(node, 2)
    [item] = [i for i in await node.review_queue() if i.report.id == listed]
    assert item.incident_id is not None
    await log_in(client, moderator)
    _, html = await page(client, "/moderation")
    rows = {}
    for report_id in (listed, unlisted):
        row = html[html.index(f'data-report-id="{report_id}"') :]
        rows[report_id] = row[: row.index("</li>")]
    assert f'<a href="/incident/{item.incident_id}?lang=en">Its incident</a>' in rows[listed]
    assert "reported (below the responders&#39; level)" in rows[listed]
    assert 'class="incident-of"' not in rows[unlisted]  # no public page for it yet
    await node.publish()  # the public page exists from the next publication tick
    async with client.get(f"/incident/{item.incident_id}") as resp:
        assert resp.status == 200


@pytest.mark.parametrize(
    ("action", "expected"),
    [("confirm", "confirmed"), ("debunk", "debunked"), ("archive", "archived")],
)
async def test_an_action_decides_and_comes_back_to_the_queue(
    client: aiohttp.ClientSession,
    node: Node,
    moderator: tuple[str, str],
    action: str,
    expected: str,
) -> None:
    report_id = await queued(node)
    other = await queued(node, 2, type="vehicle")
    token = await log_in(client, moderator)
    code, _, resp = await post(
        client, f"/moderation/{report_id}?lang=es", {"action": action, "csrf_token": token}
    )
    assert code == 303
    location = resp.headers["Location"]
    assert location == f"/moderation?lang=es&done={action}&n=1"
    assert status(node, report_id) == expected
    _, html = await page(client, location)
    assert ROW.findall(html) == [other]  # decided: out of the queue
    assert '<div class="notice done" role="status">' in html and ": 1." in html


@pytest.mark.parametrize("given", [None, "wrong-token"])
async def test_actions_need_the_csrf_token(
    client: aiohttp.ClientSession, node: Node, moderator: tuple[str, str], given: str | None
) -> None:
    report_id = await queued(node)
    await log_in(client, moderator)
    fields = {"action": "confirm"} | ({"csrf_token": given} if given else {})
    code, html, _ = await post(client, f"/moderation/{report_id}?lang=es", fields)
    assert code == 403 and "Falta el token CSRF o no es correcto." in html
    code, _, _ = await post(client, "/moderation/batch", {"action": "debunk", "ids": report_id})
    assert code == 403
    assert status(node, report_id) == "unverified"


async def test_bad_actions_and_unknown_reports(
    client: aiohttp.ClientSession, node: Node, moderator: tuple[str, str]
) -> None:
    report_id = await queued(node)
    token = await log_in(client, moderator)
    code, html, _ = await post(
        client, f"/moderation/{report_id}", {"action": "explode", "csrf_token": token}
    )
    assert code == 422 and "Unknown moderator action." in html
    code, _, _ = await post(client, "/moderation/nope", {"action": "confirm", "csrf_token": token})
    assert code == 404
    code, _, _ = await post(client, "/moderation/n%20o", {"action": "confirm", "csrf_token": token})
    assert code == 404


async def test_the_queue_is_ordered_by_what_matters_most(
    client: aiohttp.ClientSession, node: Node, moderator: tuple[str, str], clock
) -> None:
    old_raid = await queued(node, 1, type="raid", still_active=False)
    vehicle = await queued(node, 2, type="vehicle", area="the big swap meet west")
    checkpoint = await queued(node, 3, type="checkpoint", area="the big swap meet north")
    clock.advance(hours=1)
    raid = await queued(node, 4, type="raid", area="the big swap meet south")
    newer = await queued(node, 5, type="checkpoint", area="the big swap meet east")
    await log_in(client, moderator)
    _, html = await page(client, "/moderation")
    assert ROW.findall(html) == [raid, newer, checkpoint, vehicle, old_raid]


async def test_batch_action_on_the_selected_reports(
    client: aiohttp.ClientSession, node: Node, moderator: tuple[str, str]
) -> None:
    ids = [await queued(node, n, area=f"the big swap meet {n}") for n in range(1, 5)]
    token = await log_in(client, moderator)
    fields = [("csrf_token", token), ("action", "debunk"), ("ids", ids[0]), ("ids", ids[2])]
    code, _, resp = await post(client, "/moderation/batch", fields)
    assert code == 303 and resp.headers["Location"] == "/moderation?lang=en&done=debunk&n=2"
    assert [status(node, i) == "debunked" for i in ids] == [True, False, True, False]
    _, html = await page(client, resp.headers["Location"])
    assert "Debunked: 2." in html and sorted(ROW.findall(html)) == sorted([ids[1], ids[3]])
    # Nothing selected: nothing happens, and the page says so.
    code, _, resp = await post(
        client, "/moderation/batch", {"csrf_token": token, "action": "archive"}
    )
    assert code == 303
    _, html = await page(client, resp.headers["Location"])
    assert "No report was selected." in html
    code, _, _ = await post(
        client, "/moderation/batch", {"csrf_token": token, "action": "correct", "ids": ids[1]}
    )
    assert code == 422


async def test_select_all_shown_works_without_javascript(
    client: aiohttp.ClientSession, node: Node, moderator: tuple[str, str]
) -> None:
    ids = [await queued(node, n, area=f"the big swap meet {n}") for n in range(1, 4)]
    await log_in(client, moderator)
    _, html = await page(client, "/moderation")
    assert 'href="/moderation?lang=en&amp;all=1"' in html and " checked>" not in html
    _, html = await page(client, "/moderation?lang=en&all=1")
    ticked = r'<input type="checkbox" name="ids" value="([^"]+)" form="batch" checked>'
    boxes = re.findall(ticked, html)
    assert sorted(boxes) == sorted(ids)
    assert 'href="/moderation?lang=en" class="select-all">Clear the selection</a>' in html


async def test_debunk_a_report_and_all_its_near_copies(
    client: aiohttp.ClientSession, node: Node, moderator: tuple[str, str]
) -> None:
    copies = [
        await submit(node, n, type="raid", area="Downtown", description=text)
        for n, text in enumerate([COPY, COPY, COPY + " now", COPY.upper() + "!"], 1)
    ]
    other = await submit(
        node,
        9,
        type="raid",
        area="Downtown",
        description="one patrol car parked by the school gate",
    )
    token = await log_in(client, moderator)
    _, html = await page(client, "/moderation")
    shown = [r for r in ROW.findall(html) if r in copies]  # copies go to review
    assert shown and "Debunk this and its 3 near-copies" in html
    code, _, resp = await post(
        client, f"/moderation/{shown[0]}", {"action": "debunk_copies", "csrf_token": token}
    )
    assert code == 303 and resp.headers["Location"].endswith("done=debunk_copies&n=4")
    assert [status(node, c) for c in copies] == ["debunked"] * 4
    assert status(node, other) != "debunked"


async def test_correcting_type_and_area_from_the_queue(
    client: aiohttp.ClientSession, node: Node, moderator: tuple[str, str]
) -> None:
    report_id = await queued(node, type="raid")
    token = await log_in(client, moderator)
    _, html = await page(client, "/moderation")
    assert '<datalist id="mod-areas">' in html and '<option value="Downtown">' in html
    fields = {"action": "correct", "type": "patrol", "area": "Atlantis", "csrf_token": token}
    code, html, _ = await post(client, f"/moderation/{report_id}?lang=es", fields)
    assert code == 422 and "Elija una zona de la lista del capítulo." in html
    fields["area"] = "downtown"
    code, _, resp = await post(client, f"/moderation/{report_id}", fields)
    assert code == 303 and "done=correct" in resp.headers["Location"]
    with Session(node.engine) as session:
        row = session.get(Report, report_id)
        assert row is not None
        assert (row.type, row.area_id, row.area_name, row.area_known) == (
            "patrol",
            "downtown",
            "Downtown",
            True,
        )
        assert not row.in_review  # its only reason (unknown area) is gone


async def test_queue_in_spanish(
    client: aiohttp.ClientSession, node: Node, moderator: tuple[str, str]
) -> None:
    await queued(node)
    await log_in(client, moderator)
    _, html = await page(client, "/moderation", headers={"Accept-Language": "es"})
    assert '<html lang="es">' in html
    for text in (
        "Cola de revisión",
        "Confirmar",
        "Desmentir",
        "Archivar",
        "redada",
        "lugar u hora inusual",
        "Atajos de teclado",
    ):
        assert text in html


async def test_no_public_response_names_a_moderator(
    client: aiohttp.ClientSession, node: Node, moderator: tuple[str, str], clock
) -> None:
    confirmed = await queued(node, 1)
    debunked = await queued(node, 2, type="vehicle")
    token = await log_in(client, moderator)
    await post(client, f"/moderation/{confirmed}", {"action": "confirm", "csrf_token": token})
    await post(client, f"/moderation/{debunked}", {"action": "debunk", "csrf_token": token})
    public = aiohttp.ClientSession(base_url=str(client._base_url))  # another visitor
    try:
        for path in (
            "/",
            "/about",
            "/map",
            "/trends",
            "/trends.csv",
            "/api/v1/reports",
            f"/api/v1/reports/{confirmed}",
            f"/api/v1/reports/{debunked}",
            "/login",
        ):
            async with public.get(path) as resp:
                assert moderator[0] not in await resp.text(), path
    finally:
        await public.close()
    # Nor does the store keep it with the reports.
    with Session(node.engine) as session:
        for row in session.exec(select(Report)):
            assert moderator[0] not in repr(row.model_dump())
