"""Asking back "which place?": the JSON API's choices and the form's radio buttons (no JS)."""

from __future__ import annotations

import re

import aiohttp

from node import i18n


async def test_the_api_returns_the_choices(client: aiohttp.ClientSession) -> None:
    report = {"type": "raid", "area": "mission"}
    async with client.post("/api/v1/reports?lang=es", json=report) as resp:
        assert resp.status == 422
        body = await resp.json()
    assert body["codes"]["area"] == ["ambiguous_area"]
    assert "Mission Hills" in body["errors"]["area"][0]
    ids = {c["id"] for c in body["choices"]["area"]}
    assert ids == {"mission-valley", "mission-hills", "mission-beach"}
    assert {"id": "mission-hills", "name": "Mission Hills"} in body["choices"]["area"]
    report["area_id"] = "mission-hills"
    async with client.post("/api/v1/reports", json=report) as resp:
        assert resp.status == 201
        assert (await resp.json())["area"] == "Mission Hills"


async def test_the_form_offers_radio_choices_that_work_without_js(
    client: aiohttp.ClientSession,
) -> None:
    form = {"type": "vehicle", "area": "Imperial"}
    async with client.post("/report?lang=es", data=form) as resp:
        assert resp.status == 422
        html = await resp.text()
    assert i18n.translate("web_area_choose", "es") in html
    values = re.findall(r'<input type="radio" name="area_id" value="([^"]+)">', html)
    assert set(values) == {"imperial", "imperial-beach"}
    assert 'value="Imperial"' in html  # the typed text is kept
    form["area_id"] = "imperial-beach"
    async with client.post("/report?lang=es", data=form) as resp:
        assert resp.status == 200
        assert "Imperial Beach" in await resp.text()
