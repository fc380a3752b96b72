"""Every page in every language, the moderators' and the error pages included: no text of
another language, no bare message id, and <html lang> saying which language it is.

The pages are those a visitor can reach in one language: public pages, trends,
the login (its refusals and throttle), the queue (after an action, all ticked),
the moderators' error notices, and the error pages (400, 403, 404, 405, 413,
422, 429, 500, 503).
"""

from __future__ import annotations

import re

import aiohttp
import pytest

from node import i18n
from node.outcome import Unavailable
from node.service import Node
from tests.web.test_moderation_pages import log_in, login_token, queued
from tests.web.test_pages import texts_of
from web.auth import LoginThrottle

MESSAGE_ID = re.compile(r"(web|mod|not|bad|body|rate|missing|invalid)_[a-z0-9_]+")


def foreign_texts(lang: str) -> set[str]:
    """Texts of the other catalogs that differ from `lang`'s own text for the same id."""
    own = i18n.catalog(lang)
    return {
        text
        for other in i18n.SUPPORTED
        if other != lang
        for code, text in i18n.catalog(other).items()
        if own.get(code, i18n.catalog(i18n.DEFAULT).get(code)) != text
    }


async def pages_in(
    client: aiohttp.ClientSession, node: Node, moderator: tuple[str, str], lang: str
) -> dict[str, tuple[int, str]]:
    """(status, html) of every kind of page, asked for in `lang` by Accept-Language."""
    got: dict[str, tuple[int, str]] = {}

    async def get(name: str, path: str) -> None:
        async with client.get(path, allow_redirects=False) as resp:
            got[name] = (resp.status, await resp.text())

    async def send(name: str, path: str, data: object, **kw: object) -> None:
        async with client.post(path, data=data, allow_redirects=False, **kw) as resp:  # type: ignore[arg-type]
            got[name] = (resp.status, await resp.text())

    for path in ("/", "/about", "/map", "/trends", "/nowhere"):
        await get(path, path)
    await send("405", "/about", {})
    await send("413", "/report", b"x" * 20_000, headers={"Content-Type": "text/plain"})
    await send("400", "/report", b"{}", headers={"Content-Type": "text/csv"})
    await send("422 form", "/report", {"type": "raid", "area": "", "still_active": "maybe"})

    await get("login", "/login?expired=1")
    token = await login_token(client)
    await send("login 403", "/login", {"name": "x", "password": "y", "csrf_token": "no"})
    token = await login_token(client)
    await send("login 422", "/login", {"name": moderator[0], "csrf_token": token})
    await send("login 401", "/login", {"name": "x", "password": "y", "csrf_token": token})
    await send("login 429", "/login", {"name": "x", "password": "y", "csrf_token": token})

    session_token = await log_in(client, moderator)
    report_id = await queued(node)
    await get("queue", "/moderation?done=confirm&n=2&all=1")
    await send("mod 403", f"/moderation/{report_id}", {"action": "confirm"})
    form = {"csrf_token": session_token}
    await send("mod 422", f"/moderation/{report_id}", {**form, "action": "promote"})
    await send("mod 404", "/moderation/nope", {**form, "action": "confirm"})
    await send("mod 400", f"/moderation/{report_id}", b"\xff", headers={})
    correction = {**form, "action": "correct", "area": "nowhere at all"}
    await send("mod correction", f"/moderation/{report_id}", correction)
    return got


@pytest.mark.parametrize("lang", i18n.SUPPORTED)
async def test_no_page_shows_another_language_or_a_message_id(
    serve, node: Node, moderator: tuple[str, str], monkeypatch: pytest.MonkeyPatch, lang: str
) -> None:
    client = await serve(login_throttle=LoginThrottle(per_name=1))
    client.headers["Accept-Language"] = lang
    got = await pages_in(client, node, moderator, lang)

    async def broken(days: int | None = None) -> object:
        raise RuntimeError("a bug")

    async def unavailable(draft: object, source: object, proof: object = None) -> Unavailable:
        return Unavailable(30)

    monkeypatch.setattr(node, "trends", broken)
    monkeypatch.setattr(node, "submit", unavailable)
    for name, path in (("500", "/trends"), ("503", "/report")):
        method = client.get if name == "500" else client.post
        async with method(path, data={"type": "raid", "area": "Downtown"}) as resp:
            got[name] = (resp.status, await resp.text())

    statuses = {name: status for name, (status, _) in got.items()}
    assert statuses == {
        **dict.fromkeys(("/", "/about", "/map", "/trends", "login", "queue"), 200),
        "/nowhere": 404, "405": 405, "413": 413, "400": 400, "422 form": 422,
        "login 403": 403, "login 422": 422, "login 401": 401, "login 429": 429,
        "mod 403": 403, "mod 422": 422, "mod 404": 404, "mod 400": 400, "mod correction": 422,
        "500": 500, "503": 503,
    }  # fmt: skip
    for name, code in (("mod 400", "web_bad_request"), ("500", "web_server_error")):
        assert i18n.translate(code, lang) in got[name][1], name  # the check below can fail
    foreign = foreign_texts(lang)
    assert i18n.translate("web_bad_request", "es" if lang == "en" else "en") in foreign
    for name, (_, html) in got.items():
        assert f'<html lang="{lang}">' in html, name
        texts = texts_of(html)
        assert [t for t in texts if t in foreign] == [], name
        assert [t for t in texts if MESSAGE_ID.fullmatch(t)] == [], name
