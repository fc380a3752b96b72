"""Fuzzing: random JSON and form bodies to every POST route never yield a 5xx."""

from __future__ import annotations

import itertools
import json
import logging
from urllib.parse import urlencode

import aiohttp
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

REPORT_FIELDS = ("type", "area", "highway", "description", "still_active", "kind", "action")
PATHS = (
    "/api/v1/reports",
    "/report",
    "/api/v1/reports/abc/followup",
    "/api/v1/reports/abc/moderate",
    "/api/v1/session",
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=60)
    | st.sampled_from(["raid", "checkpoint", "Chula Vista", "I-5", "on", "sí", "gone", ""])
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
report_like = st.dictionaries(st.sampled_from(REPORT_FIELDS), json_values, max_size=7)
near_valid = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["raid", "patrol", "Redada", "retén"]) | st.text(max_size=12),
        "area": st.sampled_from(["Chula Vista", "san ysidro"]) | st.text(max_size=40),
    },
    optional={
        "highway": st.sampled_from(["I-5", "I-805", ""]) | st.text(max_size=12),
        "description": st.text(max_size=300),
        "still_active": st.sampled_from(["on", "sí", "no", "maybe", ""]),
    },
)
form_like = st.dictionaries(
    st.sampled_from(REPORT_FIELDS) | st.text(max_size=8), st.text(max_size=80), max_size=8
)


@st.composite
def bodies(draw: st.DrawFn) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(["json_report", "json_any", "form", "near_valid", "raw"]))
    if kind == "near_valid":
        fields = draw(near_valid)
        if draw(st.booleans()):
            return "application/json", json.dumps(fields).encode()
        return "application/x-www-form-urlencoded", urlencode(fields).encode()
    if kind == "json_report":
        return "application/json", json.dumps(draw(report_like)).encode()
    if kind == "json_any":
        return "application/json", json.dumps(draw(json_values)).encode()
    if kind == "form":
        return "application/x-www-form-urlencoded", urlencode(draw(form_like)).encode()
    ctype = draw(
        st.sampled_from(
            ["application/json", "application/x-www-form-urlencoded", "text/plain", "", "a/b+json"]
        )
    )
    return ctype, draw(st.binary(max_size=300))


_addresses = itertools.count(1)


@pytest.fixture
async def fuzz_client(serve) -> aiohttp.ClientSession:
    # Behind a "proxy", each example comes from its own address, so the
    # node's rate limit does not turn every later example into a 429.
    return await serve(trust_forwarded_for=True)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(path=st.sampled_from(PATHS), body=bodies(), lang=st.sampled_from(["", "en", "es", "zz"]))
async def test_random_bodies_never_5xx(
    fuzz_client: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
    path: str,
    body: tuple[str, bytes],
    lang: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    content_type, data = body
    n = next(_addresses)
    address = f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"
    headers = {"X-Forwarded-For": address}
    if content_type:
        headers["Content-Type"] = content_type
    url = f"{path}?lang={lang}" if lang else path
    async with fuzz_client.post(url, data=data, headers=headers) as resp:
        assert resp.status < 500, (path, body)
        event(f"{path} -> {resp.status}")
        if path.startswith("/api/") and resp.status >= 400:
            error = await resp.json()
            assert isinstance(error["error"], str) and isinstance(error["message"], str)
        else:
            await resp.read()
    assert address not in caplog.text
