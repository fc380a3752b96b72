"""The public pages without a browser: form, refusals, /about, /map and its data, assets, languages.

What a real browser does with them (JavaScript on and off) is in tests/browser.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from node import i18n
from node.service import Node, open_node
from tests.conftest import Clock
from tests.support import neighbour_alert, set_config
from web import assets
from web.app import CSP, make_app
from web.layout import DEFAULT_HOTLINE
from web.messages import translate

PUBLIC_PAGES = ("/", "/report", "/about", "/map", "/nowhere")


async def page(client: aiohttp.ClientSession, path: str, **kwargs: object) -> tuple[int, str]:
    async with client.get(path, **kwargs) as resp:  # type: ignore[arg-type]
        return resp.status, await resp.text()


async def post_report(client: aiohttp.ClientSession, **fields: object) -> dict[str, object]:
    async with client.post("/api/v1/reports", json=fields) as resp:
        assert resp.status == 201
        return await resp.json()


class Texts(HTMLParser):
    """The text nodes and the human-facing attributes of a page."""

    ATTRS = ("aria-label", "title", "alt", "placeholder")

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value and (name in self.ATTRS or name.startswith("data-msg-")):
                self.texts.append(value.strip())

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.texts.append(data.strip())


def texts_of(html: str) -> list[str]:
    parser = Texts()
    parser.feed(html)
    return parser.texts


async def test_index_is_the_form_with_the_api_field_names(client: aiohttp.ClientSession) -> None:
    status, html = await page(client, "/")
    assert status == 200
    assert '<html lang="en">' in html
    assert '<form id="report-form" method="post" action="/report?lang=en"' in html
    for name in ("type", "area", "highway", "description", "still_active"):
        assert f'name="{name}"' in html
    # The highway is chosen from the chapter's list (and may be left empty).
    assert '<select id="f-highway" name="highway"' in html and 'value="I-8"' in html
    # Before sending: what never to include, and that reports are for information only.
    assert translate("web_never_include", "en") in html
    assert translate("web_info_only", "en") in html
    assert 'href="/about?lang=en"' in html
    assert 'href="/?lang=es"' in html  # the visible language switch
    assert '<script src="/static/form.js" defer></script>' in html


async def test_spanish_by_parameter_and_by_accept_language(client: aiohttp.ClientSession) -> None:
    status, html = await page(client, "/?lang=es")
    assert status == 200 and '<html lang="es">' in html
    assert translate("web_submit", "es") in html
    assert 'action="/report?lang=es"' in html and 'href="/map?lang=es"' in html
    _, html = await page(client, "/map", headers={"Accept-Language": "es-MX,es;q=0.9"})
    assert '<html lang="es">' in html and translate("web_map_title", "es") in html


@pytest.mark.parametrize("path", PUBLIC_PAGES)
async def test_every_page_shows_the_hotline_and_links_to_what_to_report(
    client: aiohttp.ClientSession, path: str
) -> None:
    for lang in i18n.SUPPORTED:
        _, html = await page(client, f"{path}?lang={lang}")
        assert f'<html lang="{lang}">' in html
        assert DEFAULT_HOTLINE == "1-844-363-1423"
        assert f'<a href="tel:18443631423" class="hotline-number">{DEFAULT_HOTLINE}</a>' in html
        assert f'href="/about?lang={lang}"' in html
        assert translate("web_hotline", lang) in html


async def test_the_chapters_own_hotline(chapter_dir: Path, clock: Clock) -> None:
    set_config(chapter_dir, "chapter", "hotline", '"+1 (619) 555-0100"')
    node = await open_node(chapter_dir, clock=clock)
    server = TestServer(make_app(node), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(server.make_url("/about")) as resp,
        ):
            html = await resp.text()
        assert 'href="tel:+16195550100"' in html and "+1 (619) 555-0100" in html
        assert DEFAULT_HOTLINE not in html
    finally:
        await server.close()
        await node.close()


@pytest.mark.parametrize("lang", [lang for lang in i18n.SUPPORTED if lang != i18n.DEFAULT])
async def test_no_untranslated_message_on_any_page(
    client: aiohttp.ClientSession, node: Node, lang: str
) -> None:
    await post_report(client, type="raid", area="Chula Vista", still_active=True)
    await post_report(client, type="patrol", area="somewhere unknown")
    await node.receive_alert(neighbour_alert(node.clock()))
    english = i18n.catalog(i18n.DEFAULT)
    theirs = i18n.catalog(lang)
    untranslated = {text for code, text in english.items() if theirs.get(code) != text}
    await node.publish()
    incident = (await node.public_incidents())[0]
    pages = [*PUBLIC_PAGES, "/map/list", f"/incident/{incident.id}"]
    for path in pages:
        _, html = await page(client, f"{path}?lang={lang}")
        found = [t for t in texts_of(html) if t in untranslated or re.fullmatch(r"web_\w+", t)]
        assert found == [], (path, found)


async def test_no_page_runs_inline_code_or_loads_from_elsewhere(
    client: aiohttp.ClientSession,
) -> None:
    await post_report(client, type="raid", area="Chula Vista")
    for path in (*PUBLIC_PAGES, "/?lang=es"):
        _, html = await page(client, path)
        assert "style=" not in html and "<style" not in html
        assert not re.search(r"<[^>]+\son\w+=", html)  # no inline event handlers
        assert not re.search(r"<script(?![^>]*\bsrc=\"/static/)", html)  # only /static/ files
        assert not re.search(r'(src|href|action)="(https?:)?//', html)


async def test_reporters_never_get_a_cookie(client: aiohttp.ClientSession) -> None:
    public = (*PUBLIC_PAGES, "/map/data.json", "/?lang=es", "/trends?lang=es", "/trends.csv")
    requests = [("GET", p, None) for p in (*public, "/moderation")]
    requests += [
        ("GET", "/static/style.css", None),
        ("POST", "/report?lang=es", {"type": "raid", "area": "Chula Vista"}),
        ("POST", "/report", {"type": "raid", "area": ""}),
    ]
    for method, path, form in requests:
        async with client.request(method, path, data=form, allow_redirects=False) as resp:
            assert resp.status < 500
            assert "Set-Cookie" not in resp.headers, path
    assert len(client.cookie_jar) == 0


async def test_form_post_success_shows_a_confirmation(client: aiohttp.ClientSession) -> None:
    form = {"type": "patrol", "area": "San Ysidro", "highway": "I-5", "still_active": "on"}
    async with client.post("/report?lang=es", data=form) as resp:
        assert resp.status == 200
        html = await resp.text()
    assert translate("web_sent_title", "es") in html and "San Ysidro" in html
    assert 'href="/map?lang=es"' in html


async def test_form_refusal_keeps_the_text_and_shows_reasons(
    client: aiohttp.ClientSession,
) -> None:
    text = 'llamen al 619-555-0142 <b>"ya"</b>'
    form = {"type": "raid", "area": "", "highway": "I-8", "description": text}
    async with client.post("/report?lang=es", data=form) as resp:
        assert resp.status == 422
        html = await resp.text()
    assert '<html lang="es">' in html
    assert translate("web_form_has_errors", "es") in html
    # Each reason next to its field, in Spanish.
    assert re.search(
        r'data-field="area">.*?<p class="error" id="err-area">'
        + re.escape(i18n.translate("missing_area", "es")),
        html,
    )
    assert re.search(
        r'data-field="description">.*?<p class="error" id="err-description">'
        + re.escape(i18n.translate("refused_phone", "es")),
        html,
    )
    # The reporter's text comes back, escaped, in the textarea; the choices stay made.
    assert "llamen al 619-555-0142 &lt;b&gt;&#34;ya&#34;&lt;/b&gt;</textarea>" in html
    assert 'value="raid" checked' in html and '<option value="I-8" selected>' in html
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


async def test_about_says_what_never_to_include(client: aiohttp.ClientSession) -> None:
    status, html = await page(client, "/about?lang=es")
    assert status == 200
    for code in ("web_about_never_1", "web_about_never_2", "web_about_never_4", "web_about_after"):
        assert translate(code, "es") in html


async def test_map_page_lists_incidents_and_alerts_with_their_levels(
    client: aiohttp.ClientSession, node: Node
) -> None:
    known = await post_report(client, type="raid", area="Chula Vista", still_active=True)
    await post_report(client, type="vehicle", area="the swap meet")
    await node.receive_alert(neighbour_alert(node.clock()))
    await node.publish()  # the public map changes at publication ticks
    status, html = await page(client, "/map?lang=es")
    assert status == 200
    assert known["status"] == "possible"  # one anonymous web report: the web prior
    [raid] = await node.public_incidents(type="raid")
    assert f'data-incident-id="{raid.id}" data-level="possible"' in html
    assert f'<li id="i-{raid.id}" ' in html and f'href="/incident/{raid.id}?lang=es"' in html
    # The free-text place is never public: the list says "a place not on our list".
    assert translate("web_place_not_listed", "es") in html and "swap meet" not in html
    assert "1 reporte" in html  # a lone report says so (Babel's plural form)
    assert 'data-alert-id="a1"' in html and "Oceanside" in html
    assert translate("web_legend_alert", "es") in html
    # No tiles configured: the node's SVG area map is the map; the page names no Leaflet file.
    # map.js only refreshes the list and the area map (conditional GETs of their HTML).
    assert 'class="area-map-svg"' in html
    assert "leaflet" not in html.lower() and "data-map-tiles" not in html
    assert '<script src="/static/map.js" defer></script>' in html
    assert 'data-map-list="/map/list?lang=es"' in html
    assert 'data-map-area="/map/area?lang=es&amp;view=all"' in html
    assert translate("web_map_needs_js", "es") not in html  # no live map to need it


async def test_map_without_its_static_files_still_lists(
    serve, node: Node, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare = tmp_path / "static"
    bare.mkdir()
    (bare / "style.css").write_text("body {}")
    monkeypatch.setattr(assets, "STATIC_DIR", bare)
    client = await serve()
    await post_report(client, type="raid", area="Chula Vista")
    await node.publish()
    status, html = await page(client, "/map")
    assert status == 200
    assert 'class="area-map-svg"' in html and "Chula Vista" in html
    assert "leaflet" not in html and "<script" not in html  # no map.js: nothing to refresh
    assert translate("web_map_unavailable", "en") not in html  # no tiles: nothing is missing
    async with client.get("/static/vendor/leaflet/leaflet.js") as resp:
        assert resp.status == 404


async def test_map_area_is_the_area_map_alone_as_a_conditional_get(
    client: aiohttp.ClientSession, node: Node
) -> None:
    async with client.get("/map?lang=es") as resp:
        html = await resp.text()
    etag = html.split('data-map-area-etag="')[1].split('"')[0].replace("&#34;", '"')
    async with client.get("/map/area?lang=es&view=all") as resp:
        assert resp.status == 200 and resp.content_type == "text/html"
        part = await resp.text()
        assert resp.headers["ETag"] == etag  # the page's own copy: no first download
    assert part.startswith('<section class="area-map" id="area-map"') and part in html
    assert 'href="/map?lang=es&amp;view=' in part or "am-zoom" not in part
    async with client.get("/map/area?lang=es", headers={"If-None-Match": etag}) as resp:
        assert resp.status == 304
    await post_report(client, type="raid", area="Chula Vista", still_active=True)
    await node.publish()
    async with client.get("/map/area?lang=es", headers={"If-None-Match": etag}) as resp:
        assert resp.status == 200
        assert 'data-area="chula-vista"' in await resp.text()


async def test_map_data_is_a_conditional_get(client: aiohttp.ClientSession, node: Node) -> None:
    async with client.get("/map/data.json?lang=es") as resp:
        assert resp.status == 200 and resp.headers["Cache-Control"] == "no-cache"
        etag = resp.headers["ETag"]
        body = await resp.json()
    assert body == {"incidents": [], "alerts": []}
    async with client.get("/map/data.json?lang=es", headers={"If-None-Match": etag}) as resp:
        assert resp.status == 304
    await post_report(client, type="checkpoint", area="Chula Vista", highway="I-5")
    async with client.get("/map/data.json?lang=es", headers={"If-None-Match": etag}) as resp:
        assert resp.status == 304  # not before the next publication tick
    await node.publish()
    async with client.get("/map/data.json?lang=es", headers={"If-None-Match": etag}) as resp:
        assert resp.status == 200 and resp.headers["ETag"] != etag
        body = await resp.json()
    [shown] = body["incidents"]
    assert shown["type_text"] == translate("checkpoint", "es")
    assert shown["shown_level"] == "possible" and shown["area_text"] == "Chula Vista"
    assert isinstance(shown["lat"], float) and 0 < shown["opacity"] <= 1
    # Public fields only: no raw confidence, no source count, no description, no list HTML.
    assert not {"confidence", "independent_sources", "description", "list_html"} & set(shown)
    assert "list_html" not in body
    # The list alone, for map.js: the same conditional GET.
    async with client.get("/map/list?lang=es") as resp:
        assert resp.status == 200 and resp.content_type == "text/html"
        assert "Chula Vista" in await resp.text()
        list_etag = resp.headers["ETag"]
    async with client.get("/map/list?lang=es", headers={"If-None-Match": list_etag}) as resp:
        assert resp.status == 304


async def test_static_files_gzip_etag_and_nothing_else(client: aiohttp.ClientSession) -> None:
    async with client.get("/static/map.js", headers={"Accept-Encoding": "gzip"}) as resp:
        assert resp.status == 200 and resp.headers["Content-Encoding"] == "gzip"
        assert resp.content_type == "text/javascript"
        etag = resp.headers["ETag"]
        assert "L.map" in await resp.text()
    async with client.get("/static/map.js", headers={"If-None-Match": etag}) as resp:
        assert resp.status == 304
    for path in ("/static/../app.py", "/static/%2e%2e/app.py", "/static/nothing.js", "/static/"):
        async with client.get(path) as resp:
            assert resp.status == 404, path


async def test_hsts_only_over_tls(node: Node, tmp_path: Path) -> None:
    ssl_context, cafile = self_signed(tmp_path)
    server = TestServer(make_app(node), host="127.0.0.1", port=0)
    await server.start_server(ssl=ssl_context)
    try:
        import ssl

        trust = ssl.create_default_context(cafile=str(cafile))
        async with (
            aiohttp.ClientSession() as session,
            session.get(server.make_url("/"), ssl=trust) as resp,
        ):
            assert resp.status == 200
            assert resp.headers["Strict-Transport-Security"] == "max-age=31536000"
            assert resp.headers["Content-Security-Policy"] == CSP
    finally:
        await server.close()


async def test_hsts_behind_a_tls_proxy_when_the_operator_says_https(serve) -> None:
    client = await serve(secure_cookies=True)  # [web] secure_cookies: served over HTTPS
    async with client.get("/about") as resp:
        assert resp.headers["Strict-Transport-Security"] == "max-age=31536000"


@pytest.fixture
async def tiled(chapter_dir: Path, clock: Clock) -> AsyncIterator[aiohttp.ClientSession]:
    set_config(chapter_dir, "web", "tile_url", '"https://tiles.chapter.example/{z}/{x}/{y}.png"')
    set_config(chapter_dir, "web", "tile_attribution", '"© the map makers"')
    node = await open_node(chapter_dir, clock=clock)
    server = TestServer(make_app(node), host="127.0.0.1", port=0)
    await server.start_server()
    session = aiohttp.ClientSession(base_url=str(server.make_url("/")))
    yield session
    await session.close()
    await server.close()
    await node.close()


async def test_configured_tiles_are_the_only_other_image_source(
    tiled: aiohttp.ClientSession,
) -> None:
    async with tiled.get("/map") as resp:
        html = await resp.text()
        csp = resp.headers["Content-Security-Policy"]
    assert 'data-map-tiles="https://tiles.chapter.example/{z}/{x}/{y}.png"' in html
    assert "img-src 'self' data: https://tiles.chapter.example;" in csp
    assert "script-src 'self';" in csp and "default-src 'self';" in csp
    # With the chapter's tiles, map.js loads Leaflet (served by this node) and draws on them.
    assert 'data-map-leaflet-js="/static/vendor/leaflet/leaflet.js"' in html
    assert 'data-map-data="/map/data.json?lang=es"' in html and 'id="map"' in html


def self_signed(tmp_path: Path) -> tuple[object, Path]:
    """A TLS server context for 127.0.0.1 with a fresh self-signed certificate."""
    import datetime
    import ipaddress
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context, cert_path


@pytest.mark.parametrize(
    "path",
    ["/about", "/map", "/map/data.json", "/map/list", "/static/map.js", "/static/form.js", "/nope"],
)
async def test_the_new_paths_carry_the_security_headers(
    client: aiohttp.ClientSession, path: str
) -> None:
    async with client.get(path) as resp:
        first = resp.headers
        etag = resp.headers.get("ETag")
    answers = [first]
    if etag:  # a 304 is a response too
        async with client.get(path, headers={"If-None-Match": etag}) as resp:
            assert resp.status == 304
            answers.append(resp.headers)
    for headers in answers:
        assert headers["Content-Security-Policy"] == CSP
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert "Set-Cookie" not in headers
