"""Fuzzing every HTTP endpoint of a real `vecinos run`: no 5xx, no hang, errors in shape.

Two generators, together at least SIZES.api_requests requests (10,000 in CI
and in the full run):

1. schemathesis reads the OpenAPI document the node serves
   (/api/v1/openapi.json) and generates requests for every operation in it,
   both valid ones (positive) and ones that break the schema (negative), half
   of them with a logged-in moderator's cookie and CSRF token.
2. hypothesis generates raw requests for every route of the app's router,
   documented or not (the HTML pages and the no-JavaScript form POSTs
   included): any method, path parameters that exist or not, query
   strings, content types, languages, cookies, CSRF tokens and bodies (JSON
   of any shape, forms, bytes).

Every answer: a status below 500 within the per-request timeout; under
/api/ every 4xx is {"error": text, "message": text}; and the node's output
has no traceback and no "unhandled" line. Each request comes from its own
address (the node trusts X-Forwarded-For here), so the rate limit does not
turn the run into a wall of 429s.
"""

from __future__ import annotations

import ast
import asyncio
import itertools
import json
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nodeproc import NodeProcess, source_address, submit
from proof_sizes import SIZES
from schemathesis import GenerationMode
from yarl import URL

from node.service import open_node
from node.setup import init_chapter
from tests.support import set_config
from web.app import make_app

MODERATOR = ("fuzzer", "a long fuzzing password 42")
TIMEOUT_S = 30.0  # per request: an answer later than this is a hang
IN_FLIGHT = 8
SCHEMATHESIS_SHARE = 0.25  # of SIZES.api_requests; the rest are raw requests
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")
_addresses = itertools.count(1000)


def next_source() -> str:
    return source_address(next(_addresses))


@dataclass
class Tally:
    """What came back, for the assertions and the failure messages."""

    sent: int = 0
    statuses: Counter = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.statuses = Counter()
        self.lock = threading.Lock()

    def record(self, where: str, status: int) -> None:
        with self.lock:
            self.sent += 1
            self.statuses[(where, status // 100 * 100)] += 1


def check_answer(method: str, path: str, status: int, ctype: str, body: bytes) -> None:
    assert status < 500, (method, path, status, body[:300])
    if path.startswith("/api/") and status >= 400 and method != "HEAD":
        assert ctype == "application/json", (method, path, status, ctype)
        error = json.loads(body)
        assert isinstance(error.get("error"), str) and isinstance(error.get("message"), str), (
            method,
            path,
            error,
        )


# -- the node -------------------------------------------------------------------------


async def app_routes(data: Path) -> list[tuple[str, str]]:
    """(method, path template) of every route the real app registers."""
    node = await open_node(data)
    try:
        app = make_app(node)
        found = {
            (route.method, route.resource.canonical)
            for route in app.router.routes()
            if route.resource is not None and route.method != "*"
        }
    finally:
        await node.close()
    return sorted(found)


def add_moderator(data: Path) -> None:
    name, password = MODERATOR
    subprocess.run(
        [sys.executable, "-m", "node.cli", "moderator", "add", name, "--data", str(data)],
        input=password + "\n",
        text=True,
        check=True,
        capture_output=True,
        timeout=60,
    )


@dataclass(frozen=True)
class Login:
    cookies: dict[str, str]
    csrf: str


async def log_in(base: str) -> Login:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        name, password = MODERATOR
        async with http.post(
            f"{base}/api/v1/session",
            json={"name": name, "password": password},
            headers={"X-Forwarded-For": next_source()},
        ) as resp:
            assert resp.status == 200
            csrf = (await resp.json())["csrf_token"]
        cookies = {c.key: c.value for c in jar}
    assert cookies
    return Login(cookies, csrf)


# -- 1. schemathesis -------------------------------------------------------------------


def schemathesis_cases(base: str, target: int, emit: Callable[[Any], None]) -> int:
    """Emit about `target` cases for every operation of the served document, in both modes."""
    schema = schemathesis.openapi.from_url(f"{base}/api/v1/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10, [op.path for op in operations]
    per_operation = max(10, target // (2 * len(operations)))
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=per_operation,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def collect(case: Any) -> None:
                emit(case)

            try:
                collect()
            except Exception as exc:  # an operation with nothing to negate (no parameters)
                if type(exc).__name__ != "Unsatisfiable":
                    raise
    return len(operations)


def call_case(base: str, case: Any, n: int, login: Login, tally: Tally) -> None:
    """Send one schemathesis case (with requests, as schemathesis does) and check the answer."""
    local = _local
    if not hasattr(local, "session"):
        local.session = requests.Session()
    headers = {"X-Forwarded-For": next_source()}
    cookies = None
    # Half as a logged-in moderator (never logging that session out).
    if n % 2 and not (case.method.upper() == "DELETE" and case.path == "/api/v1/session"):
        headers["X-CSRF-Token"] = login.csrf
        cookies = login.cookies
    response = case.call(
        base_url=base, session=local.session, headers=headers, cookies=cookies, timeout=TIMEOUT_S
    )
    ctype = {k.lower(): v for k, v in response.headers.items()}.get("content-type", "")
    if isinstance(ctype, list):  # schemathesis keeps every value of a header
        ctype = ctype[0] if ctype else ""
    check_answer(
        case.method.upper(),
        case.formatted_path,
        response.status_code,
        ctype.split(";")[0].strip(),
        response.content,
    )
    tally.record("schemathesis " + case.operation.label, response.status_code)


_local = threading.local()


# -- 2. raw requests from hypothesis -----------------------------------------------------


@dataclass(frozen=True)
class Raw:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


header_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40
) | st.sampled_from(["", "es", "en-US,en;q=0.9", "es-MX", "zz", "*", "en;q=abc"])
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=60)
    | st.sampled_from(["raid", "checkpoint", "Chula Vista", "I-5", "on", "gone", "confirm", ""])
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=6,
)
FIELDS = ("type", "area", "highway", "description", "still_active", "kind", "action", "name",
          "password", "csrf_token", "lang")  # fmt: skip
field_dicts = st.dictionaries(
    st.sampled_from(FIELDS) | st.text(max_size=8), json_values, max_size=8
)
CONTENT_TYPES = (
    "application/json", "application/x-www-form-urlencoded", "text/plain",
    "multipart/form-data", "", "application/json; charset=latin-1", "a/b+json",
)  # fmt: skip


@st.composite
def raw_requests(draw: st.DrawFn, routes: list[tuple[str, str]], ids: list[str], csrf: str) -> Raw:
    method, template = draw(st.sampled_from(routes))
    if draw(st.integers(0, 9)) == 0:
        method = draw(st.sampled_from(METHODS))
    segment = (
        st.sampled_from(ids) | st.text(max_size=30) | st.sampled_from(["", "..", "%00", "a" * 200])
    )
    path = template
    while "{" in path:
        head, _, rest = path.partition("{")
        _, _, tail = rest.partition("}")
        path = head + quote(draw(segment), safe="") + tail
    if draw(st.integers(0, 19)) == 0:
        path += quote(draw(st.text(max_size=20)), safe="/")
    query = ""
    if draw(st.booleans()):
        query = urlencode(
            draw(
                st.dictionaries(
                    st.sampled_from(["lang", "q", "page", "id"]) | st.text(max_size=6),
                    st.text(max_size=20),
                    max_size=3,
                )
            )
        )
    headers = {"X-Forwarded-For": next_source()}
    ctype = draw(st.sampled_from(CONTENT_TYPES))
    if ctype:
        headers["Content-Type"] = ctype
    if draw(st.booleans()):
        headers["Accept-Language"] = draw(header_text)
    if draw(st.integers(0, 4)) == 0:
        headers["X-CSRF-Token"] = draw(st.just(csrf) | header_text)
    if draw(st.integers(0, 9)) == 0:
        headers["Cookie"] = draw(header_text)
    if draw(st.integers(0, 9)) == 0:
        headers["Origin"] = draw(
            st.sampled_from(["http://evil.example", "null", "http://127.0.0.1"])
        )
    kind = draw(st.sampled_from(["json", "form", "bytes", "none"]))
    if kind == "json":
        body = json.dumps(draw(field_dicts | json_values)).encode()
    elif kind == "form":
        fields = draw(
            st.dictionaries(
                st.sampled_from(FIELDS) | st.text(max_size=8), st.text(max_size=80), max_size=8
            )
        )
        body = urlencode(fields).encode()
    elif kind == "bytes":
        body = draw(st.binary(max_size=400))
    else:
        body = b""
    return Raw(method, path, query, headers, body)


LOGOUT_PATHS = ("/logout", "/api/v1/session")


def generate_raw(
    routes: list[tuple[str, str]], ids: list[str], csrf: str, n: int, emit: Callable[[Any], None]
) -> None:
    @settings(max_examples=n, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(request=raw_requests(routes, ids, csrf))
    def collect(request: Raw) -> None:
        emit(request)

    collect()


async def send_raw(
    http: aiohttp.ClientSession, base: str, raw: Raw, n: int, login: Login, tally: Tally
) -> None:
    url = URL(f"{base}{raw.path}" + (f"?{raw.query}" if raw.query else ""), encoded=True)
    # Never with the shared login on a logout: that would end it for the rest of the run.
    logout = raw.path in LOGOUT_PATHS and raw.method in ("POST", "DELETE")
    cookies = login.cookies if n % 3 == 0 and "Cookie" not in raw.headers and not logout else None
    async with http.request(
        raw.method, url, data=raw.body, headers=raw.headers, cookies=cookies
    ) as resp:
        body = await resp.read()
        check_answer(raw.method, raw.path, resp.status, resp.content_type, body)
        tally.record(f"raw {raw.method}", resp.status)


async def fuzz(
    base: str, routes: list[tuple[str, str]], ids: list[str], login: Login, tally: Tally
) -> int:
    """Generate (one thread) and send (IN_FLIGHT at a time) at once; the schemathesis count."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=4 * IN_FLIGHT)
    made = {"cases": 0}

    def emit(item: Any) -> None:
        asyncio.run_coroutine_threadsafe(queue.put(item), loop).result()

    def emit_case(case: Any) -> None:
        made["cases"] += 1
        emit(case)

    def produce() -> None:
        try:
            schemathesis_cases(base, int(SIZES.api_requests * SCHEMATHESIS_SHARE), emit_case)
            generate_raw(routes, ids, login.csrf, SIZES.api_requests - made["cases"], emit)
        finally:
            for _ in range(IN_FLIGHT):
                emit(None)

    async def worker(http: aiohttp.ClientSession) -> None:
        n = 0
        while (item := await queue.get()) is not None:
            n += 1
            if isinstance(item, Raw):
                await send_raw(http, base, item, n, login, tally)
            else:
                await asyncio.to_thread(call_case, base, item, n, login, tally)

    timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
    async with aiohttp.ClientSession(
        timeout=timeout, cookie_jar=aiohttp.DummyCookieJar(), skip_auto_headers=["Content-Type"]
    ) as http:
        producer = asyncio.create_task(asyncio.to_thread(produce))
        await asyncio.gather(*(worker(http) for _ in range(IN_FLIGHT)))
        await producer
    return made["cases"]


# -- the test -------------------------------------------------------------------------


_AST_LOCK = threading.Lock()


@pytest.fixture(autouse=True)
def one_ast_parse_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """This test generates (hypothesis, schemathesis) and sends in several threads, and both
    libraries parse the source of loaded modules with `ast.parse` (to collect constants).
    CPython 3.11 keeps the AST constructor's recursion counter per interpreter, not per
    thread (python/cpython#106905), so two parses at once can fail with "SystemError: AST
    constructor recursion depth mismatch", as one CI run did. One parse at a time here; the
    node under test is another process."""
    parse = ast.parse

    def locked(*args: Any, **kwargs: Any) -> Any:
        with _AST_LOCK:
            return parse(*args, **kwargs)

    monkeypatch.setattr(ast, "parse", locked)


async def test_fuzz_every_endpoint(tmp_path: Path) -> None:
    data = tmp_path / "chapter"
    init_chapter(data, "Fuzz Test")
    set_config(data, "web", "trust_forwarded_for", "true")
    add_moderator(data)
    routes = await app_routes(data)
    assert ("POST", "/report") in routes and ("POST", "/api/v1/reports") in routes

    node = NodeProcess(data)
    await node.start()
    try:
        login = await log_in(node.base)
        ids = []
        async with aiohttp.ClientSession() as http:
            for n, area in enumerate(("Chula Vista", "San Ysidro", "Otay Mesa")):
                body = {"type": "raid", "area": area, "description": "seeded for the fuzzer"}
                status, answer = await submit(http, node.base, body, source_address(n))
                assert status == 201
                ids.append(answer["id"])
        tally = Tally()
        documented = await fuzz(node.base, routes, ids, login, tally)
        assert node.proc is not None and node.proc.returncode is None
    finally:
        code = await node.stop()
    assert code == 0
    assert tally.sent >= SIZES.api_requests, tally.statuses
    assert documented >= SIZES.api_requests * SCHEMATHESIS_SHARE / 2, tally.statuses
    routes_hit = {where for where, _ in tally.statuses}
    assert sum(1 for w in routes_hit if w.startswith("schemathesis")) >= 10, routes_hit
    assert "Traceback" not in node.text and "unhandled" not in node.text, node.text[-3000:]
    # Not only refusals: the generators reached the node's intake and moderation.
    assert any(s == 200 for (_, s) in tally.statuses), tally.statuses
    print(f"fuzzed {tally.sent} requests: {sorted(tally.statuses.items())}")
