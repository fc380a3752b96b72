"""Reporter safety over HTTP (issue 11): logins a stranger cannot block, slow clients closed,
sources keyed right (IPv6 prefixes, X-Forwarded-For with ports), refusals that date no one,
public JSON without raw confidence or source counts."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from node.service import Node
from node.sources import proof_bits
from web.auth import LoginThrottle
from web.source import address_bytes

SESSION = "/api/v1/session"
REPORTS = "/api/v1/reports"
GUARD_S = 60  # a bound on waiting for the node's answer, never the measure


def xff(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": f"198.51.100.1, {address}"}


async def login(client: aiohttp.ClientSession, name: str, password: str, source: str) -> int:
    body = {"name": name, "password": password}
    async with client.post(SESSION, json=body, headers=xff(source)) as resp:
        await resp.read()
        return resp.status


# -- 6. login throttling per source ----------------------------------------------------------


async def test_a_stranger_cannot_keep_a_moderator_out(serve, moderator: tuple[str, str]) -> None:
    name, password = moderator
    # A smaller global lock than the default 50 a minute, to keep argon2's time down here.
    throttle = LoginThrottle(global_limit=10)
    client = await serve(trust_forwarded_for=True, login_throttle=throttle)
    # One stranger's address hammers the moderator's name: the name locks (5 failures)...
    statuses = [await login(client, name, f"guess {n}", "203.0.113.50") for n in range(8)]
    assert statuses == [401] * 5 + [429] * 3
    # ...12 other addresses try made-up names (past the global lock)...
    for n in range(12):
        assert await login(client, f"made-up-{n}", "whatever password", f"203.0.114.{n}") == 401
    # ...and fresh addresses get one guess each at the locked name, then no more.
    for n in range(5):
        assert await login(client, name, "still guessing", f"203.0.115.{n}") == 401
        assert await login(client, name, "and again", f"203.0.115.{n}") == 429
    # An address that failed stays locked, even with the right password...
    assert await login(client, name, password, "203.0.113.50") == 429
    # ...while the moderator, from her own address, gets in.
    assert await login(client, name, password, "192.0.2.7") == 200


async def test_login_throttle_answers_the_whole_window(serve, moderator: tuple[str, str]) -> None:
    client = await serve(trust_forwarded_for=True, login_throttle=LoginThrottle(per_source=2))
    for _ in range(2):
        await login(client, moderator[0], "wrong password", "203.0.113.9")
    async with client.post(
        SESSION, json={"name": "x", "password": "y"}, headers=xff("203.0.113.9")
    ) as resp:
        assert resp.status == 429 and resp.headers["Retry-After"] == "900"


# -- 7. slow clients -------------------------------------------------------------------------


async def test_slowloris_sockets_are_closed_by_the_header_timeout(serve) -> None:
    client = await serve(header_timeout_s=1.0)
    url = client._base_url
    assert url is not None and url.host is not None and url.port is not None

    async def slow(n: int) -> bytes:
        reader, writer = await asyncio.open_connection(url.host, url.port)
        if n % 2:  # half send part of a request head, half send nothing at all
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            await writer.drain()
        try:
            return await reader.read()  # b"" once the node closed it
        finally:
            writer.close()

    answers = await asyncio.wait_for(asyncio.gather(*(slow(n) for n in range(200))), GUARD_S)
    assert answers == [b""] * 200
    async with client.get("/") as resp:  # the node still serves
        assert resp.status == 200


async def test_a_body_that_does_not_arrive_gets_408_and_the_connection_closes(serve) -> None:
    client = await serve(body_timeout_s=1.0)
    url = client._base_url
    assert url is not None and url.host is not None and url.port is not None
    reader, writer = await asyncio.open_connection(url.host, url.port)
    writer.write(
        b"POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n" + b'{"type": "raid", '
    )
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), GUARD_S)  # all of it, then EOF
    writer.close()
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b'"error": "web_request_timeout"' in answer or b'"web_request_timeout"' in answer


# -- 7. sources: IPv6 prefixes and X-Forwarded-For forms --------------------------------------


def test_addresses_are_keyed_with_ports_and_ipv6_prefixes() -> None:
    v4 = address_bytes("203.0.113.9")
    assert address_bytes("203.0.113.9:5555") == v4 and address_bytes("[203.0.113.9]:1") == v4
    assert address_bytes("::ffff:203.0.113.9") == v4
    v6 = address_bytes("2001:db8:0:1::1")
    assert address_bytes("[2001:db8:0:1::1]:443") == v6 == address_bytes("[2001:db8:0:1::1]")
    assert address_bytes("2001:db8:0:ff:1:2:3:4") == v6  # the same /56
    assert address_bytes("2001:db8:0:100::1") != v6  # another /56
    assert address_bytes("2001:db8:0:ff::1", 64) != address_bytes("2001:db8:0:1::1", 64)
    assert address_bytes("unknown") is None and address_bytes("1.2.3.4:5:6") is None


async def test_forwarded_ports_share_a_bucket_and_odd_hops_never_share_the_proxys(
    serve, node: Node
) -> None:
    client = await serve(trust_forwarded_for=True)
    limit = node.config.get("intake", "rate_limit_reports")
    report = {"type": "raid", "area": "Vista"}

    async def post(headers: dict[str, str]) -> int:
        async with client.post(REPORTS, json=report, headers=headers) as resp:
            await resp.read()
            return resp.status

    statuses = [await post(xff(f"203.0.113.9:{4000 + n}")) for n in range(limit + 1)]
    assert statuses == [201] * limit + [429]  # one reporter, whatever the port
    v6 = [await post(xff(f"[2001:db8:0:{n}::1]:443")) for n in range(limit + 1)]
    assert v6 == [201] * limit + [429]  # one /56
    # Requests without the header (the proxy itself) fill the proxy's bucket...
    assert [await post({}) for _ in range(limit + 1)][-1] == 429
    # ...and a last hop the node cannot read is its own client, not the proxy's bucket.
    assert await post(xff("unknown")) == 201


# -- 4. refusals that date no one; 3. public JSON -------------------------------------------


async def test_every_429_says_the_whole_window_and_carries_a_ticket(
    serve, node: Node, clock
) -> None:
    client = await serve(trust_forwarded_for=True)
    limit = node.config.get("intake", "rate_limit_reports")
    window = node.config.get("intake", "rate_limit_window_minutes") * 60
    seen = []
    for source in ("203.0.113.1", "203.0.113.2"):
        for _ in range(limit):
            async with client.post(
                REPORTS, json={"type": "raid", "area": "Vista"}, headers=xff(source)
            ) as resp:
                assert resp.status == 201
        # Invalid reports from a full source: a 422 with the reason, never the limiter's answer.
        async with client.post(REPORTS, json={"type": "raid"}, headers=xff(source)) as resp:
            assert resp.status == 422
        clock.advance(minutes=3, seconds=17)
        async with client.post(
            REPORTS, json={"type": "raid", "area": "Vista"}, headers=xff(source)
        ) as resp:
            assert resp.status == 429
            body = await resp.json()
            seen.append(resp.headers["Retry-After"])
    assert seen == [str(window), str(window)]
    ticket = body["ticket"]
    assert ticket["bits"] > 0 and ticket["wait_s"] > 0 and ticket["message"]
    nonce = 0
    while proof_bits(ticket["token"], str(nonce)) < ticket["bits"]:
        nonce += 1
    proof = f"{ticket['token']}:{nonce}"
    report = {"type": "raid", "area": "Vista", "proof": proof}
    async with client.post(REPORTS, json=report, headers=xff("203.0.113.2")) as resp:
        assert resp.status == 201


@pytest.mark.parametrize("path", [REPORTS, "/map/data.json"])
async def test_public_json_has_levels_and_coarse_counts_only(
    client: aiohttp.ClientSession, node: Node, path: str
) -> None:
    for _ in range(3):
        async with client.post(REPORTS, json={"type": "raid", "area": "Chula Vista"}) as resp:
            assert resp.status == 201
            assert "confidence" not in await resp.json()
    await node.publish()
    async with client.get(path) as resp:
        body = await resp.json()
    if "incidents" in body:  # the map's markers: one per incident, its count in words
        assert body["incidents"]
        for shown in body["incidents"]:
            assert "confidence" not in shown and "independent_sources" not in shown
            assert shown["reports_text"] and shown["shown_level"]
        return
    reports = body["reports"]
    assert reports
    for shown in reports:
        assert "confidence" not in shown and "independent_sources" not in shown
        assert shown["reports"] in {"1", "2-3", "4-9", "10+"} and shown["level"]
