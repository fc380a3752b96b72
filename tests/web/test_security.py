"""Security headers everywhere, cross-site refusal, no 5xx leaks, logs free of addresses."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest

from node.service import Node
from web.app import CSP
from web.messages import translate

PATHS = [
    ("GET", "/", None),
    ("GET", "/?lang=es", None),
    ("GET", "/static/style.css", None),
    ("GET", "/nowhere", None),
    ("GET", "/api/v1/reports", None),
    ("GET", "/api/v1/reports/none", None),
    ("GET", "/api/v1/openapi.json", None),
    ("GET", "/api/v1/queue", None),
    ("POST", "/api/v1/reports", {"type": "raid"}),
    ("POST", "/api/v1/reports", "not json"),
    ("POST", "/api/v1/reports", {"description": "x" * 20_000}),
    ("DELETE", "/api/v1/reports", None),
    ("POST", "/report", {"type": "raid"}),
    ("GET", "/trends?days=%C2%B2", None),
    ("GET", "/trends.csv", None),
    ("GET", "/login", None),
    ("GET", "/moderation", None),
    ("POST", "/moderation/batch", {"action": "confirm"}),
    ("POST", "/logout", None),
]


@pytest.mark.parametrize(("method", "path", "body"), PATHS)
async def test_security_headers_on_every_response(
    client: aiohttp.ClientSession, method: str, path: str, body: object
) -> None:
    kwargs: dict[str, object] = {}
    if isinstance(body, dict):
        kwargs["json" if path.startswith("/api/") else "data"] = body
    elif isinstance(body, str):
        kwargs["data"] = body.encode()
        kwargs["headers"] = {"Content-Type": "application/json"}
    async with client.request(method, path, **kwargs) as resp:  # type: ignore[arg-type]
        assert resp.status < 500
        headers = resp.headers
    assert headers["Content-Security-Policy"] == CSP
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert "Strict-Transport-Security" not in headers  # plain HTTP on loopback
    assert "aiohttp" not in headers.get("Server", "")


# A node call each page makes, and the page: a bug there must give the generic 500.
BROKEN = [
    ("highways", "/", "html"),
    ("public_incidents", "/map?lang=es", "html"),
    ("public_alerts", "/map/data.json", "html"),
    ("trends", "/trends?lang=es", "html"),
    ("trends", "/trends.csv", "html"),
    ("active_reports", "/api/v1/reports", "json"),
]


@pytest.mark.parametrize(("name", "path", "shape"), BROKEN)
async def test_handler_bug_is_500_logged_by_class_only(
    client: aiohttp.ClientSession,
    node: Node,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    name: str,
    path: str,
    shape: str,
) -> None:
    secret = "secret detail 203.0.113.9"

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError(secret)

    async def broken_async(*args: object, **kwargs: object) -> object:
        raise RuntimeError(secret)

    is_async = asyncio.iscoroutinefunction(getattr(node, name))
    monkeypatch.setattr(node, name, broken_async if is_async else broken)
    caplog.set_level(logging.DEBUG)
    headers = {"User-Agent": "Fuzzer/1.0"}
    async with client.get(path, headers=headers) as resp:
        assert resp.status == 500
        assert resp.headers["Content-Security-Policy"] == CSP
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert "Set-Cookie" not in resp.headers
        body = await resp.text()
    lang = "es" if "lang=es" in path else "en"
    if shape == "json":
        assert (await resp.json())["error"] == "web_server_error"
    else:  # a page in the visitor's language, which says nothing of the bug
        assert "text/html" in resp.headers["Content-Type"]
        assert f'<html lang="{lang}">' in body
        assert translate("web_server_error", lang) in body
    assert secret not in body and "RuntimeError" not in body and "Traceback" not in body
    assert f"unhandled RuntimeError in GET {path.split('?')[0]}" in caplog.text
    for text in (secret, "203.0.113.9", "127.0.0.1", "Fuzzer", "Traceback"):
        assert text not in caplog.text
        assert all(text not in (r.exc_text or "") for r in caplog.records)


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
    ],
)
async def test_cross_site_posts_are_refused(
    client: aiohttp.ClientSession, headers: dict[str, str]
) -> None:
    report = {"type": "raid", "area": "Chula Vista"}
    async with client.post("/api/v1/reports", json=report, headers=headers) as resp:
        assert resp.status == 403
        assert (await resp.json())["error"] == "web_cross_site"
    async with client.post("/report", data=report, headers=headers) as resp:
        assert resp.status == 403
    async with client.get("/api/v1/reports") as resp:
        assert (await resp.json())["reports"] == []


async def test_same_origin_posts_pass(client: aiohttp.ClientSession) -> None:
    report = {"type": "raid", "area": "Chula Vista"}
    origin = str(client._base_url).rstrip("/")
    for headers in ({"Sec-Fetch-Site": "same-origin"}, {"Origin": origin}):
        async with client.post("/api/v1/reports", json=report, headers=headers) as resp:
            assert resp.status == 201


async def test_logs_hold_no_address_header_or_query(
    serve, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = await serve(access_log_enabled=True)
    headers = {"User-Agent": "Sekrit-Agent/9", "Accept-Language": "es"}
    async with client.get("/api/v1/reports/abc?token=hush", headers=headers) as resp:
        assert resp.status == 404
    async with client.post("/api/v1/reports", json={"type": "raid"}, headers=headers) as resp:
        assert resp.status == 422
    assert "GET /api/v1/reports/{id} 404" in caplog.text
    assert "POST /api/v1/reports 422" in caplog.text
    for secret in ("127.0.0.1", "Sekrit", "hush", "abc"):
        assert secret not in caplog.text


async def test_malformed_http_is_answered_and_not_logged_with_the_address(
    client: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = client._base_url
    assert url is not None and url.host is not None and url.port is not None
    reader, writer = await asyncio.open_connection(url.host, url.port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\x01: zz\r\n\r\n")
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    writer.close()
    await writer.wait_closed()
    assert head.split(b" ", 2)[1] == b"400"
    assert "127.0.0.1" not in caplog.text
    assert "Bad Header" not in caplog.text
