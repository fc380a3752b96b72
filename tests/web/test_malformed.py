"""Malformed input to the pages' routes (query strings, headers, moderator forms): never a 5xx.

A table of inputs that once broke a route or easily could, then Hypothesis over
every GET route's query and headers, and over the moderators' POST forms with
and without the session's CSRF token. Every answer carries the CSP; a reporter's
route never sets a cookie.
"""

from __future__ import annotations

import itertools
import logging
from urllib.parse import quote_from_bytes

import aiohttp
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from yarl import URL

from node.service import Node
from tests.web.test_moderation_pages import TOKEN, log_in, page, post, queued, status
from web.app import CSP

PUBLIC_GETS = ("/", "/report", "/about", "/map", "/map/data.json", "/trends", "/trends.csv")
GETS = (*PUBLIC_GETS, "/login", "/moderation", "/static/style.css", "/static/map.js")
QUERY_NAMES = ("days", "area", "lang", "done", "n", "all", "expired", "bye", "id")

TABLE = [
    "/trends?days=%C2%B2",  # "²".isdigit() is True, int("²") raises
    "/trends.csv?days=%C2%B2",
    "/trends?days=%D9%A3%D9%A0",  # Arabic-Indic "30"
    "/trends?days=99999999999999999999999999",
    "/trends?days=-7&days=7&area=%00",
    "/trends?area=%3Cscript%3E",
    "/map/data.json?lang=%FF%FE",
    "/map?lang=" + "x" * 4000,
    "/?lang=%00",
    "/about?lang=es%0D%0ASet-Cookie:%20a=b",
    "/login?expired=%C2%B2&bye=1",
    "/moderation?done=confirm&n=%C2%B2",
    "/static/..%2F..%2Fpyproject.toml",
    "/static/%2e%2e/%2e%2e/etc/passwd",
    "/static/vendor/leaflet/../../style.css",
]
HEADERS = [
    {"Accept-Language": "*"},
    {"Accept-Language": "es;q=nan, en;q=inf"},
    {"Accept-Language": "es;q=1e999,en"},
    {"Accept-Language": "zh-Hant-TW-x-private;q=0.5, i-klingon, ,;;q=,"},
    {"Accept-Language": "es-" + "x" * 2000},
    {"If-None-Match": '"' + "0" * 24 + '", W/"x", *'},
    {"Accept-Encoding": "gzip;q=0, br, zstd, ;;"},
]


def check(resp: aiohttp.ClientResponse, path: str) -> None:
    assert resp.status < 500, path
    assert resp.headers["Content-Security-Policy"].startswith(CSP[:40]), path
    if path.split("?")[0] in PUBLIC_GETS:
        assert "Set-Cookie" not in resp.headers, path


@pytest.mark.parametrize("path", TABLE)
async def test_malformed_queries_are_answered(client: aiohttp.ClientSession, path: str) -> None:
    async with client.get(URL(path, encoded=True), allow_redirects=False) as resp:
        check(resp, path)
        assert "pyproject" not in await resp.text()


@pytest.mark.parametrize("headers", HEADERS)
async def test_malformed_headers_are_answered(
    client: aiohttp.ClientSession, headers: dict[str, str]
) -> None:
    for path in GETS:
        async with client.get(path, headers=headers, allow_redirects=False) as resp:
            check(resp, path)


queries = st.lists(
    st.tuples(
        st.sampled_from(QUERY_NAMES) | st.text(max_size=6),
        st.binary(max_size=24) | st.sampled_from([b"7", b"30", b"es", b"1", b"confirm"]),
    ),
    max_size=4,
)
header_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=60
)


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(path=st.sampled_from(GETS), query=queries, accept=header_text, etag=header_text)
async def test_random_queries_and_headers_never_5xx(
    client: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
    path: str,
    query: list[tuple[str, bytes]],
    accept: str,
    etag: str,
) -> None:
    caplog.set_level(logging.ERROR)
    raw = "&".join(
        quote_from_bytes(name.encode("utf-8")) + "=" + quote_from_bytes(value)
        for name, value in query
    )
    url = URL(path + ("?" + raw if raw else ""), encoded=True)
    headers = {"Accept-Language": accept, "If-None-Match": etag}
    async with client.get(url, headers=headers, allow_redirects=False) as resp:
        event(f"{path} -> {resp.status}")
        check(resp, path)
        await resp.read()
    assert "unhandled" not in caplog.text


_counter = itertools.count(1)
form_values = st.text(max_size=30) | st.sampled_from(
    ["confirm", "debunk", "archive", "correct", "debunk_copies", "raid", "Downtown", ""]
)
form_names = st.sampled_from(["action", "ids", "type", "area", "csrf_token"]) | st.text(max_size=6)


@st.composite
def moderator_bodies(draw: st.DrawFn) -> tuple[str, bytes, bool]:
    """(content type, body, whether the session's token is in it) of a moderator's POST."""
    kind = draw(st.sampled_from(["form", "form", "bytes", "json"]))
    with_token = draw(st.booleans())
    if kind == "json":
        return "application/json", b'{"action": "confirm", "csrf_token": "TOKEN"}', with_token
    if kind == "bytes":
        body = draw(st.binary(max_size=200))
        return "application/x-www-form-urlencoded", body + b"&csrf_token=TOKEN", with_token
    pairs = draw(st.lists(st.tuples(form_names, form_values), max_size=12))
    encoded = "&".join(
        quote_from_bytes(n.encode("utf-8", "surrogatepass"))
        + "="
        + quote_from_bytes(v.encode("utf-8", "surrogatepass"))
        for n, v in pairs
    )
    return "application/x-www-form-urlencoded", (encoded + "&csrf_token=TOKEN").encode(), with_token


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(target=st.sampled_from(["batch", "row", "unknown", "login"]), body=moderator_bodies())
async def test_random_moderator_forms_never_5xx_and_need_the_token(
    client: aiohttp.ClientSession,
    node: Node,
    moderator: tuple[str, str],
    caplog: pytest.LogCaptureFixture,
    target: str,
    body: tuple[str, bytes, bool],
) -> None:
    caplog.set_level(logging.ERROR)
    _, html = await page(client, "/moderation")
    found = TOKEN.search(html) if 'action="/logout' in html else None
    token = found.group(1) if found else await log_in(client, moderator)
    report_id = await queued(node, next(_counter))
    path = {
        "batch": "/moderation/batch",
        "row": f"/moderation/{report_id}",
        "unknown": "/moderation/no-such-report",
        "login": "/login",
    }[target]
    content_type, data, with_token = body
    before = status(node, report_id)
    data = data.replace(b"TOKEN", token.encode() if with_token else b"wrong")
    async with client.post(
        path, data=data, headers={"Content-Type": content_type}, allow_redirects=False
    ) as resp:
        event(f"{target} -> {resp.status}")
        assert resp.status < 500
        await resp.read()
        if not with_token and target != "login":
            assert resp.status in (400, 403)
            assert status(node, report_id) == before
    assert "unhandled" not in caplog.text


async def test_an_unreadable_moderator_form_is_400_not_a_csrf_failure(
    client: aiohttp.ClientSession, node: Node, moderator: tuple[str, str]
) -> None:
    token = await log_in(client, moderator)
    report_id = await queued(node)
    too_many = "&".join(["ids=x"] * 300) + f"&action=confirm&csrf_token={token}"
    for path, data in [
        ("/moderation/batch", too_many.encode()),
        (f"/moderation/{report_id}", b"action=correct&area=%ff&csrf_token=" + token.encode()),
        (f"/moderation/{report_id}", b"\xff\xfe"),
    ]:
        code, html, _ = await post(client, path, data)
        assert code == 400, path
        assert "Bad request" in html or "bad request" in html.lower()
    assert status(node, report_id) == "unverified"
