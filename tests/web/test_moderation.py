"""Moderator login, session cookie, login throttling, CSRF, the review queue and decisions."""

from __future__ import annotations

import base64
import json
import struct

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from aiohttp_session import Session
from cryptography.fernet import Fernet

from web.auth import COOKIE_NAME, HourCookieStorage, LoginThrottle

SESSION = "/api/v1/session"
QUEUE = "/api/v1/queue"


async def login(client: aiohttp.ClientSession, name: str, password: str) -> aiohttp.ClientResponse:
    async with client.post(SESSION, json={"name": name, "password": password}) as resp:
        await resp.read()
        return resp


async def queued_report_id(client: aiohttp.ClientSession) -> str:
    # An area outside the gazetteer is an anomaly: it goes to review.
    body = {"type": "raid", "area": "the big swap meet", "description": "muchas camionetas"}
    async with client.post("/api/v1/reports", json=body) as resp:
        assert resp.status == 201
        return (await resp.json())["id"]


async def test_login_sets_a_strict_httponly_cookie_and_returns_a_token(
    client: aiohttp.ClientSession, moderator: tuple[str, str]
) -> None:
    async with client.post(SESSION, json={"name": moderator[0], "password": moderator[1]}) as resp:
        assert resp.status == 200
        token = (await resp.json())["csrf_token"]
        cookie = resp.cookies[COOKIE_NAME]
    assert len(token) >= 32
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    assert not cookie["secure"] and not cookie["expires"] and not cookie["max-age"]
    assert moderator[0] not in cookie.value
    async with client.get(SESSION) as resp:
        assert await resp.json() == {"moderator": True, "csrf_token": token}


async def test_secure_cookies_flag(serve, moderator: tuple[str, str]) -> None:
    client = await serve(secure_cookies=True)
    async with client.post(SESSION, json={"name": moderator[0], "password": moderator[1]}) as resp:
        assert resp.status == 200
        assert resp.cookies[COOKIE_NAME]["secure"]


async def test_wrong_password_and_missing_fields(
    client: aiohttp.ClientSession, moderator: tuple[str, str]
) -> None:
    resp = await login(client, moderator[0], "not the password")
    assert resp.status == 401 and COOKIE_NAME not in resp.cookies
    resp = await login(client, "nobody", "whatever password")
    assert resp.status == 401
    async with client.post(SESSION, json={"name": moderator[0]}) as resp:
        assert resp.status == 422
        assert (await resp.json())["codes"] == {"password": ["web_required"]}
    async with client.get(SESSION) as resp:
        assert await resp.json() == {"moderator": False}


async def test_login_is_throttled_after_failures_even_with_the_right_password(
    serve, moderator: tuple[str, str]
) -> None:
    client = await serve(login_throttle=LoginThrottle(per_name=3, global_limit=100))
    for _ in range(3):
        assert (await login(client, moderator[0], "wrong password!")).status == 401
    async with client.post(SESSION, json={"name": moderator[0], "password": moderator[1]}) as r:
        assert r.status == 429
        assert int(r.headers["Retry-After"]) >= 1
        assert (await r.json())["error"] == "web_login_throttled"
    # Another name is not locked by this one's failures.
    assert (await login(client, "someone-else", "wrong password!")).status == 401


async def test_global_login_throttle(serve, moderator: tuple[str, str]) -> None:
    client = await serve(login_throttle=LoginThrottle(per_name=100, global_limit=4))
    for n in range(4):
        assert (await login(client, f"guess{n}", "wrong password!")).status == 401
    assert (await login(client, moderator[0], moderator[1])).status == 429


async def test_queue_needs_a_session(
    client: aiohttp.ClientSession, moderator: tuple[str, str]
) -> None:
    report_id = await queued_report_id(client)
    async with client.get(QUEUE) as resp:
        assert resp.status == 401
        assert (await resp.json())["error"] == "web_login_required"
    assert (await login(client, *moderator)).status == 200
    async with client.get(QUEUE) as resp:
        assert resp.status == 200
        items = (await resp.json())["items"]
    [item] = [i for i in items if i["report"]["id"] == report_id]
    assert item["reasons"] and item["description"] == "muchas camionetas"


async def test_moderation_needs_the_csrf_token(
    client: aiohttp.ClientSession, moderator: tuple[str, str]
) -> None:
    report_id = await queued_report_id(client)
    url = f"/api/v1/reports/{report_id}/moderate"
    async with client.post(url, json={"action": "debunk"}) as resp:
        assert resp.status == 401
    async with client.post(SESSION, json={"name": moderator[0], "password": moderator[1]}) as resp:
        token = (await resp.json())["csrf_token"]

    async with client.post(url, json={"action": "debunk"}) as resp:
        assert resp.status == 403
        assert (await resp.json())["error"] == "web_csrf_failed"
    bad = {"X-CSRF-Token": token[:-2] + "xx"}
    async with client.post(url, json={"action": "debunk"}, headers=bad) as resp:
        assert resp.status == 403
    good = {"X-CSRF-Token": token}
    async with client.post(url, json={"action": "nonsense"}, headers=good) as resp:
        assert resp.status == 422
    async with client.post(url, json={"action": "debunk"}, headers=good) as resp:
        assert resp.status == 200
        body = await resp.json()
    assert body["status"] == "debunked" and body["debunked"] is True
    # The form field works too.
    async with client.post(url, data={"action": "archive", "csrf_token": token}) as resp:
        assert resp.status == 200
    async with client.post(
        "/api/v1/reports/nope/moderate", json={"action": "confirm"}, headers=good
    ) as resp:
        assert resp.status == 404


async def test_logout_needs_csrf_and_ends_the_session(
    client: aiohttp.ClientSession, moderator: tuple[str, str]
) -> None:
    async with client.post(SESSION, json={"name": moderator[0], "password": moderator[1]}) as resp:
        token = (await resp.json())["csrf_token"]
    async with client.delete(SESSION) as resp:
        assert resp.status == 403
    cookie = client.cookie_jar.filter_cookies(client._base_url)[COOKIE_NAME].value
    async with client.delete(SESSION, headers={"X-CSRF-Token": token}) as resp:
        assert resp.status == 204
    async with client.get(QUEUE) as resp:
        assert resp.status == 401
    # A copy of the cookie kept from before the logout opens nothing either.
    async with client.get(QUEUE, headers={"Cookie": f"{COOKIE_NAME}={cookie}"}) as resp:
        assert resp.status == 401


def test_throttle_window_passes_on_a_fake_clock() -> None:
    now = [1000.0]
    throttle = LoginThrottle(per_name=2, name_window_s=60, global_limit=10, clock=lambda: now[0])
    throttle.failed("a")
    assert throttle.retry_after("a") is None
    throttle.failed("a")
    assert throttle.retry_after("a") == 60  # the whole window: never a time that dates a try
    now[0] += 59.5
    assert throttle.retry_after("a") == 60
    now[0] += 1
    assert throttle.retry_after("a") is None


def test_throttle_memory_is_bounded() -> None:
    throttle = LoginThrottle(per_name=1, global_limit=10**9, max_names=100, clock=lambda: 5.0)
    for n in range(10_000):
        throttle.failed(f"name{n}")
    assert len(throttle._names) <= 100


async def test_cookie_times_are_truncated_to_the_hour() -> None:
    key = bytes(range(32))
    storage = HourCookieStorage(key, max_age_s=8 * 3600, secure=False)
    session = Session("x", data=None, new=True, max_age=8 * 3600)
    session["moderator"] = True
    response = web.Response()
    await storage.save_session(make_mocked_request("GET", "/"), response, session)
    token = response.cookies[COOKIE_NAME].value
    raw = base64.urlsafe_b64decode(token)
    (stamp,) = struct.unpack(">Q", raw[1:9])
    assert stamp % 3600 == 0
    data = json.loads(Fernet(base64.urlsafe_b64encode(key)).decrypt(token.encode()))
    assert data["created"] % 3600 == 0 and data["session"] == {"moderator": True}


@pytest.mark.parametrize("cookie", ["garbage", "gAAAA" + "A" * 100, "x" * 5000])
async def test_forged_cookies_are_no_session(client: aiohttp.ClientSession, cookie: str) -> None:
    async with client.get(QUEUE, headers={"Cookie": f"{COOKIE_NAME}={cookie}"}) as resp:
        assert resp.status == 401
