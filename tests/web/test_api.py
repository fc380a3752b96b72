"""The public JSON API over HTTP on a real node: reports, refusals, limits, follow-ups, areas."""

from __future__ import annotations

import json

import aiohttp
import pytest

from node import i18n
from node.outcome import Accepted, ReportDraft, SourceRef, Unavailable
from node.service import ModeratorAction, Node
from scoring.model import Channel
from tests.support import neighbour_alert
from web.app import make_app

REPORTS = "/api/v1/reports"
INCIDENTS = "/api/v1/incidents"
JSON_TYPE = {"Content-Type": "application/json"}


def report(**extra: object) -> dict[str, object]:
    body: dict[str, object] = {"type": "raid", "area": "Chula Vista"}
    body.update(extra)
    return body


async def test_accepted_report_is_201_with_its_public_fields(
    client: aiohttp.ClientSession, node: Node
) -> None:
    async with client.post(REPORTS, json=report(description="tres camionetas")) as resp:
        assert resp.status == 201
        body = await resp.json()
        assert resp.headers["Location"] == f"{REPORTS}/{body['id']}"
    assert body["type"] == "raid" and body["area"] == "Chula Vista"
    assert body["status"] in {"unverified", "possible", "likely", "confirmed"}
    # public JSON: a level and a coarse count, never the raw confidence or source count
    assert body["reports"] == "1" and "confidence" not in body and "independent_sources" not in body
    assert body["age_label"] == "just_reported"
    assert body["age_text"] == i18n.translate("just_reported", "en")
    assert body["still_active"] is True and isinstance(body["review"], list)
    assert body["hour"].endswith(":00:00+00:00")
    for key in ("level", "active_until"):
        assert key in body

    async with client.get(f"{REPORTS}/{body['id']}") as resp:
        assert resp.status == 404  # public from the next publication tick (node.publication)
    await node.publish()
    async with client.get(f"{REPORTS}/{body['id']}") as resp:
        assert resp.status == 200
        assert (await resp.json())["id"] == body["id"]
    async with client.get(REPORTS) as resp:
        assert resp.status == 200
        assert [r["id"] for r in (await resp.json())["reports"]] == [body["id"]]


async def test_form_encoded_report_and_form_booleans(client: aiohttp.ClientSession) -> None:
    form = {"type": "checkpoint", "area": "San Ysidro", "still_active": "sí"}
    async with client.post(REPORTS, data=form) as resp:
        assert resp.status == 201
        body = await resp.json()
    assert body["type"] == "checkpoint" and body["still_active"] is True


@pytest.mark.parametrize("lang", ["en", "es"])
async def test_refusal_is_422_per_field_translated_with_the_draft(
    client: aiohttp.ClientSession, lang: str
) -> None:
    sent = {"type": "parade", "description": "algo raro", "highway": None}
    async with client.post(f"{REPORTS}?lang={lang}", json=sent) as resp:
        assert resp.status == 422
        body = await resp.json()
    assert body["codes"] == {"type": ["invalid_type"], "area": ["missing_area"]}
    assert body["errors"]["type"] == [i18n.translate("invalid_type", lang)]
    assert body["errors"]["area"] == [i18n.translate("missing_area", lang)]
    assert body["draft"]["type"] == "parade" and body["draft"]["description"] == "algo raro"


async def test_accept_language_picks_spanish(client: aiohttp.ClientSession) -> None:
    headers = {"Accept-Language": "es-MX,es;q=0.9,en;q=0.5"}
    async with client.post(REPORTS, json={"type": "raid"}, headers=headers) as resp:
        assert resp.status == 422
        body = await resp.json()
    assert body["errors"]["area"] == [i18n.translate("missing_area", "es")]


async def test_personal_information_is_refused_with_its_reason(
    client: aiohttp.ClientSession,
) -> None:
    text = "dos patrullas, llamen al 619-555-0142"
    async with client.post(f"{REPORTS}?lang=es", json=report(description=text)) as resp:
        assert resp.status == 422
        body = await resp.json()
    assert "refused_phone" in body["codes"]["description"]
    assert i18n.translate("refused_phone", "es") in body["errors"]["description"]
    assert body["draft"]["description"] == text
    async with client.get(REPORTS) as resp:
        assert (await resp.json())["reports"] == []


@pytest.mark.parametrize(
    ("content_type", "data"),
    [
        ("text/plain", b"type=raid&area=Chula+Vista"),
        ("application/json", b"{not json"),
        ("application/json", b"[1, 2, 3]"),
        ("application/json", b'"a string"'),
        ("application/json", b"\xff\xfe"),
        ("application/x-www-form-urlencoded", b"area=%ff%fe"),
        ("application/octet-stream", b""),
    ],
)
async def test_unreadable_body_is_400_with_a_reason(
    client: aiohttp.ClientSession, content_type: str, data: bytes
) -> None:
    headers = {"Content-Type": content_type}
    async with client.post(f"{REPORTS}?lang=es", data=data, headers=headers) as resp:
        assert resp.status == 400
        body = await resp.json()
    assert body["error"] == "bad_body"
    assert body["message"] == i18n.translate("bad_body", "es")


async def test_deeply_nested_json_is_400_not_500(client: aiohttp.ClientSession) -> None:
    data = b"[" * 5000 + b"]" * 5000
    headers = {"Content-Type": "application/json"}
    async with client.post(REPORTS, data=data, headers=headers) as resp:
        assert resp.status == 400


async def test_wrong_json_types_are_422_per_field(client: aiohttp.ClientSession) -> None:
    sent = {"type": 5, "area": ["x"], "description": {"a": 1}, "still_active": "maybe"}
    async with client.post(REPORTS, json=sent) as resp:
        assert resp.status == 422
        body = await resp.json()
    assert body["codes"] == {
        "type": ["not_text"],
        "area": ["not_text"],
        "description": ["not_text"],
        "still_active": ["invalid_still_active"],
    }
    assert body["draft"] == {
        "type": None,
        "area": None,
        "highway": None,
        "description": None,
        "still_active": None,
        "area_id": None,
    }


async def test_lone_surrogates_are_422_not_500(client: aiohttp.ClientSession) -> None:
    data = b'{"type": "raid", "area": "Chula Vista", "description": "\\ud800"}'
    headers = {"Content-Type": "application/json"}
    async with client.post(REPORTS, data=data, headers=headers) as resp:
        assert resp.status == 422
        assert (await resp.json())["codes"] == {"description": ["not_text"]}


async def test_oversized_body_is_413_json(client: aiohttp.ClientSession) -> None:
    big = report(description="x" * 20_000)
    async with client.post(REPORTS, json=big) as resp:
        assert resp.status == 413
        body = await resp.json()
    assert body["error"] == "body_too_large" and body["max_bytes"] == 16 * 1024
    assert body["message"]


async def test_rate_limit_is_429_with_retry_after(client: aiohttp.ClientSession) -> None:
    statuses = []
    for _ in range(30):
        async with client.post(f"{REPORTS}?lang=es", json=report()) as resp:
            statuses.append(resp.status)
            if resp.status == 429:
                retry_after = resp.headers["Retry-After"]
                body = await resp.json()
                break
    else:
        pytest.fail(f"never rate limited: {statuses}")
    assert set(statuses[:-1]) == {201}
    assert retry_after.isdigit() and int(retry_after) >= 1
    assert body["error"] == "rate_limited"
    minutes = str(max(1, -(-int(retry_after) // 60)))
    assert body["message"] == i18n.translate("rate_limited", "es", minutes=minutes)


async def test_unavailable_node_is_503_with_retry_after(
    client: aiohttp.ClientSession, node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unavailable(draft: object, source: object, proof: object = None) -> Unavailable:
        return Unavailable(30)

    monkeypatch.setattr(node, "submit", unavailable)
    async with client.post(REPORTS, json=report()) as resp:
        assert resp.status == 503
        assert resp.headers["Retry-After"] == "30"
        assert (await resp.json())["error"] == "unavailable"


async def test_unknown_report_is_404_json(client: aiohttp.ClientSession) -> None:
    for path in (f"{REPORTS}/nope", f"{REPORTS}/{'x' * 500}"):
        async with client.get(path) as resp:
            assert resp.status == 404
            assert (await resp.json())["error"] == "not_found"
    async with client.post(f"{REPORTS}/nope/followup", json={"kind": "gone"}) as resp:
        assert resp.status == 404


async def test_follow_up(client: aiohttp.ClientSession) -> None:
    async with client.post(REPORTS, json=report()) as resp:
        report_id = (await resp.json())["id"]
    url = f"{REPORTS}/{report_id}/followup"
    async with client.post(url, json={"kind": "still_there"}) as resp:
        assert resp.status == 200
        assert (await resp.json())["id"] == report_id
    async with client.post(url, data={"kind": "gone"}) as resp:
        assert resp.status == 200
    async with client.post(url, json={"kind": "maybe"}) as resp:
        assert resp.status == 422
        assert (await resp.json())["codes"] == {"kind": ["web_invalid_kind"]}


async def test_areas_and_highways(client: aiohttp.ClientSession, node: Node) -> None:
    async with client.get("/api/v1/areas") as resp:
        assert resp.status == 200
        body = await resp.json()
    assert {a["name"] for a in body["areas"]} == {a.name for a in node.areas()}
    assert body["highways"] == node.highways()
    assert set(body["areas"][0]) == {"id", "name", "aliases", "lat", "lon"}


async def test_unknown_api_path_and_method_are_json(client: aiohttp.ClientSession) -> None:
    async with client.get("/api/v1/nothing") as resp:
        assert resp.status == 404
        assert (await resp.json())["error"] == "web_not_found"
    async with client.put(REPORTS, json={}) as resp:
        assert resp.status == 405
        assert "POST" in resp.headers["Allow"]
        assert (await resp.json())["error"] == "web_method_not_allowed"


async def test_openapi_lists_every_route(client: aiohttp.ClientSession, node: Node) -> None:
    async with client.get("/api/v1/openapi.json") as resp:
        assert resp.status == 200
        doc = json.loads(await resp.text())
    assert doc["openapi"].startswith("3.1")
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    served = {
        (route.resource.canonical, route.method)
        for route in make_app(node).router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/api/")
        and route.method != "HEAD"
    }
    assert documented == served
    refs = json.dumps(doc)
    for name in doc["components"]["schemas"]:
        assert f"#/components/schemas/{name}" in refs
    for path, ops in doc["paths"].items():
        for op in ops.values():
            assert op["responses"], path
            for response in op["responses"].values():
                assert "description" in response


async def test_neighbours_alerts_are_served_until_they_expire(
    client: aiohttp.ClientSession, node: Node, clock
) -> None:
    await node.receive_alert(neighbour_alert(clock.now, hours=3))
    await node.publish()  # public from the next publication tick
    async with client.get("/api/v1/alerts", headers={"Accept-Language": "es"}) as response:
        assert response.status == 200
        [alert] = (await response.json())["alerts"]
    assert alert["area"] == "Oceanside" and alert["type_text"] == "redada"
    assert alert["level_text"] == "probable" and alert["reports"] == "4-9"
    assert "description" not in alert
    clock.advance(hours=3)
    async with client.get("/api/v1/alerts") as response:
        assert (await response.json())["alerts"] == []


async def test_inputs_that_once_broke_postgresql_get_4xx_or_201(
    client: aiohttp.ClientSession,
) -> None:
    # U+FDFA grows 18-fold under NFKD: the free-text area id must still fit its column
    async with client.post(REPORTS, json=report(area="\ufdfa" * 9)) as response:
        assert response.status == 201
    for path in ("/api/v1/reports/a%00b", "/api/v1/reports/a%00b/followup"):
        method = client.get if path.endswith("b") else client.post
        async with method(path, json={"kind": "gone"}) as response:
            assert response.status == 404, path
    async with client.post("/api/v1/session", json={"name": "a\x00b", "password": "x"}) as response:
        assert response.status == 401


async def test_a_browser_asking_for_no_language_we_have_gets_the_chapters(
    client: aiohttp.ClientSession,
) -> None:
    for header in ("", "fr-FR, de;q=0.8"):
        async with client.get("/", headers={"Accept-Language": header}) as response:
            assert '<html lang="es">' in await response.text()  # the default chapter config
    async with client.get("/", headers={"Accept-Language": "en-US,en;q=0.9"}) as response:
        assert '<html lang="en">' in await response.text()


async def test_incidents_as_json_with_their_verification_filters_and_follow_ups(
    client: aiohttp.ClientSession, node: Node
) -> None:
    """The map's public list as JSON: a level, a coarse count, whole hours and what is known
    of its verification ("not verified yet" for 'likely' on anonymous reports); the same
    "still there" / "gone" as the incident page; 4xx with a reason for what is wrong."""
    ids = []
    for n in (1, 2):  # two anonymous witnesses: 'likely', a verifier is asked
        outcome = await node.submit(
            ReportDraft(type="raid", area="Chula Vista"),
            SourceRef(Channel.WEB, f"10.3.0.{n}".encode()),
        )
        assert isinstance(outcome, Accepted)
        ids.append(outcome.report.id)
    await node.publish()
    async with client.get("/api/v1/openapi.json") as resp:
        schema = (await resp.json())["components"]["schemas"]["PublicIncident"]
    async with client.get(INCIDENTS) as resp:
        assert resp.status == 200
        [incident] = (await resp.json())["incidents"]
    assert set(incident) == set(schema["required"])  # never a confidence or source count
    assert (incident["type"], incident["area"], incident["level"]) == (
        "raid",
        "Chula Vista",
        "likely",
    )
    assert (incident["verification"], incident["reports"], incident["active"]) == (
        "pending",
        "2-3",
        True,
    )
    assert incident["verification_text"] == i18n.translate("web_check_pending", "en")
    assert incident["first_hour"].endswith(":00:00+00:00")
    async with client.get("/map") as resp:  # the page says it too
        assert i18n.translate("web_check_pending", "en") in await resp.text()
    async with client.get(f"{INCIDENTS}?lang=es") as resp:
        [spanish] = (await resp.json())["incidents"]
    assert spanish["verification_text"] == i18n.translate("web_check_pending", "es")

    for query, count in (("type=raid", 1), ("type=Redada", 1), ("type=vehicle", 0),
                         ("level=confirmed", 0), ("area=chula-vista", 1),
                         ("area=nowhere", 0)):  # fmt: skip
        async with client.get(f"{INCIDENTS}?{query}") as resp:
            assert resp.status == 200 and len((await resp.json())["incidents"]) == count, query
    async with client.get(f"{INCIDENTS}?type=boat&level=high") as resp:
        assert resp.status == 422
        assert (await resp.json())["codes"] == {
            "type": ["invalid_type"],
            "level": ["web_invalid_level"],
        }

    one = f"{INCIDENTS}/{incident['id']}"
    async with client.get(one) as resp:
        assert resp.status == 200 and (await resp.json())["id"] == incident["id"]
    for missing in (f"{INCIDENTS}/nope", f"{INCIDENTS}/{'x' * 200}"):
        async with client.get(missing) as resp:
            assert resp.status == 404
        async with client.post(f"{missing}/followup", json={"kind": "gone"}) as resp:
            assert resp.status == 404
    async with client.post(f"{one}/followup", json={"kind": "still_there"}) as resp:
        assert resp.status == 200 and (await resp.json())["id"] == incident["id"]
    async with client.post(f"{one}/followup", json={"kind": "maybe"}) as resp:
        assert resp.status == 422
        assert (await resp.json())["codes"] == {"kind": ["web_invalid_kind"]}
    async with client.post(f"{one}/followup", data=b"{", headers=JSON_TYPE) as resp:
        assert resp.status == 400

    await node.moderate(ids[0], ModeratorAction.CONFIRM)  # as a verifier's confirm
    await node.publish()
    async with client.get(one) as resp:
        confirmed = await resp.json()
    assert (confirmed["level"], confirmed["verification"], confirmed["verified"]) == (
        "confirmed",
        "verified",
        True,
    )
