"""The no-JavaScript pages: report list, the plain form, refusals with the text kept, languages."""

from __future__ import annotations

import re

import aiohttp

from node import i18n
from web.messages import translate


async def page(client: aiohttp.ClientSession, path: str, **kwargs: object) -> tuple[int, str]:
    async with client.get(path, **kwargs) as resp:  # type: ignore[arg-type]
        return resp.status, await resp.text()


async def test_index_lists_reports_and_offers_the_form(client: aiohttp.ClientSession) -> None:
    async with client.post("/api/v1/reports", json={"type": "raid", "area": "Chula Vista"}):
        pass
    status, html = await page(client, "/")
    assert status == 200
    assert '<html lang="en">' in html
    assert "Chula Vista" in html and i18n.translate("just_reported", "en") in html
    assert '<form method="post" action="/report?lang=en"' in html
    for name in ("type", "area", "highway", "description", "still_active"):
        assert f'name="{name}"' in html
    assert 'href="/?lang=es"' in html  # the visible language switch


async def test_spanish_page(client: aiohttp.ClientSession) -> None:
    status, html = await page(client, "/?lang=es")
    assert status == 200 and '<html lang="es">' in html
    assert translate("web_submit", "es") in html
    status, html = await page(client, "/", headers={"Accept-Language": "es"})
    assert '<html lang="es">' in html


async def test_pages_load_nothing_from_elsewhere_and_run_no_inline_script(
    client: aiohttp.ClientSession,
) -> None:
    for path in ("/", "/?lang=es", "/report"):
        _, html = await page(client, path)
        assert "<script" not in html and "style=" not in html and "<style" not in html
        assert not re.search(r'(src|href|action)="(https?:)?//', html)


async def test_form_post_success_shows_a_confirmation(client: aiohttp.ClientSession) -> None:
    form = {"type": "patrol", "area": "San Ysidro", "still_active": "on"}
    async with client.post("/report?lang=es", data=form) as resp:
        assert resp.status == 200
        html = await resp.text()
    assert translate("web_sent_title", "es") in html and "San Ysidro" in html


async def test_form_refusal_keeps_the_text_and_shows_reasons(
    client: aiohttp.ClientSession,
) -> None:
    text = 'llamen al 619-555-0142 <b>"ya"</b>'
    form = {"type": "raid", "area": "", "description": text}
    async with client.post("/report?lang=es", data=form) as resp:
        assert resp.status == 422
        html = await resp.text()
    assert '<html lang="es">' in html
    assert translate("web_form_has_errors", "es") in html
    assert i18n.translate("missing_area", "es") in html
    assert i18n.translate("refused_phone", "es") in html
    # The reporter's text comes back, escaped, in the textarea; the choice stays checked.
    assert "llamen al 619-555-0142 &lt;b&gt;&quot;ya&quot;&lt;/b&gt;</textarea>" in html
    assert 'value="raid" checked' in html
    assert 'aria-invalid="true"' in html


async def test_form_wrong_still_active_is_422_and_bad_body_is_400(
    client: aiohttp.ClientSession,
) -> None:
    form = {"type": "raid", "area": "Chula Vista", "still_active": "perhaps"}
    async with client.post("/report", data=form) as resp:
        assert resp.status == 422
        assert i18n.translate("invalid_still_active", "en") in await resp.text()
    async with client.post("/report", data=b"{}", headers={"Content-Type": "text/csv"}) as resp:
        assert resp.status == 400
        assert "text/html" in resp.headers["Content-Type"]


async def test_form_rate_limit_page(client: aiohttp.ClientSession) -> None:
    form = {"type": "raid", "area": "Chula Vista"}
    for _ in range(30):
        async with client.post("/report", data=form) as resp:
            if resp.status == 429:
                assert int(resp.headers["Retry-After"]) >= 1
                assert "text/html" in resp.headers["Content-Type"]
                return
            assert resp.status == 200
    raise AssertionError("never rate limited")


async def test_stylesheet_and_unknown_page(client: aiohttp.ClientSession) -> None:
    async with client.get("/static/style.css") as resp:
        assert resp.status == 200 and resp.content_type == "text/css"
    status, html = await page(client, "/nowhere?lang=es")
    assert status == 404 and '<html lang="es">' in html
