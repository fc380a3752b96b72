"""The JSON API under /api/v1: reports, incidents, follow-ups, areas, moderator session, queue,
moderation.

Each handler only translates: the request into a node call, the node's
answer into a status and a JSON body. Error bodies always have the shape
{"error": code, "message": text} (plus "errors"/"codes"/"draft" on a 422, and
"ticket" on a report's 429).

Public reads (GET /reports, /reports/{id}, /incidents, /incidents/{id}, /alerts)
show the last publication tick (node.publication) with levels and coarse counts
only (web.present). A 429 always says Retry-After: the whole window; its ticket
lets a reporter on a shared address (Tor, a NAT) send a report anyway: POST
again with "proof" set to "TICKET:NONCE" (a proof of work, what /static/form.js
does) or "TICKET" once the ticket is wait_s old (node.sources).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from aiohttp import web

from node.intake import TYPE_WORDS
from node.outcome import (
    Accepted,
    FieldError,
    Outcome,
    RateLimited,
    Refused,
    ReportDraft,
    SourceRef,
    Unavailable,
)
from node.service import ModeratorAction
from scoring.model import FollowUpKind, Level
from web import auth
from web.context import NODE, THROTTLE
from web.forms import BodyNotUnderstood, choice_field, draft_from_fields, draft_json, read_fields
from web.messages import minutes, request_lang, translate
from web.openapi import openapi_document
from web.present import (
    alert_json,
    area_json,
    incident_json,
    queue_item_json,
    report_json,
)
from web.source import request_source

PREFIX = "/api/v1"
MAX_ID_CHARS = 128
REPORT_ID = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_ID_CHARS}}}")  # what node ids look like
FOLLOW_UP_KINDS = tuple(kind.value for kind in FollowUpKind)
LEVELS = tuple(level.value for level in Level)  # the incidents list's "this level or higher"
MODERATOR_ACTIONS = tuple(action.value for action in ModeratorAction)


def json_error(
    request: web.Request,
    status: int,
    code: str,
    *,
    headers: Mapping[str, str] | None = None,
    **params: str,
) -> web.Response:
    """An error response {"error": code, "message": translated}."""
    lang = request_lang(request)
    body = {"error": code, "message": translate(code, lang, **params)}
    return web.json_response(body, status=status, headers=headers)


def rate_limited(
    request: web.Request, retry_after_s: int, code: str, limited: RateLimited | None = None
) -> web.Response:
    retry = max(1, int(retry_after_s))
    lang = request_lang(request)
    body: dict[str, object] = {
        "error": code,
        "message": translate(code, lang, minutes=minutes(retry)),
    }
    if limited is not None and limited.ticket is not None:
        body["ticket"] = {
            "token": limited.ticket,
            "bits": limited.bits,
            "wait_s": limited.wait_s,
            "message": translate("rate_limited_ticket", lang, seconds=str(limited.wait_s)),
        }
    return web.json_response(body, status=429, headers={"Retry-After": str(retry)})


def proof_field(fields: Mapping[str, object]) -> str | None:
    """The "proof" a client sends to redeem a rate-limit ticket (node.sources), if any."""
    value = fields.get("proof")
    return value if isinstance(value, str) and 0 < len(value) <= 200 else None


def refusal_json(
    codes: Mapping[str, list[tuple[str, dict[str, str]]]], draft: ReportDraft | None, lang: str
) -> dict[str, object]:
    """The 422 body: translated reasons and codes per field, and the draft to fix."""
    body: dict[str, object] = {
        "error": "refused",
        "message": translate("web_form_has_errors", lang),
        "errors": {
            field: [translate(code, lang, **params) for code, params in items]
            for field, items in codes.items()
        },
        "codes": {field: [code for code, _ in items] for field, items in codes.items()},
    }
    if draft is not None:
        body["draft"] = draft_json(draft)
    return body


def field_errors(errors: tuple[FieldError, ...]) -> dict[str, list[tuple[str, dict[str, str]]]]:
    """The node's FieldErrors grouped by field, with their params as dicts."""
    grouped: dict[str, list[tuple[str, dict[str, str]]]] = {}
    for error in errors:
        grouped.setdefault(error.field, []).append((error.code, dict(error.params)))
    return grouped


def area_choices(
    errors: tuple[FieldError, ...], area_name: Callable[[str], str | None]
) -> dict[str, list[dict[str, str]]]:
    """The areas an ambiguous_area refusal offers, per field: [{"id", "name"}] (see intake)."""
    found: dict[str, list[dict[str, str]]] = {}
    for error in errors:
        if error.code == "ambiguous_area":
            for area_id in dict(error.params).get("ids", "").split():
                name = area_name(area_id)
                if name is not None:
                    found.setdefault(error.field, []).append({"id": area_id, "name": name})
    return found


def gazetteer_name(request: web.Request) -> Callable[[str], str | None]:
    """An area id's name in this node's gazetteer (None for an id it does not have)."""
    by_id = request.app[NODE].gazetteer.by_id
    return lambda area_id: by_id[area_id].name if area_id in by_id else None


def web_errors(errors: Mapping[str, list[str]]) -> dict[str, list[tuple[str, dict[str, str]]]]:
    return {field: [(code, {}) for code in codes] for field, codes in errors.items()}


def field_refusal(
    request: web.Request, errors: Mapping[str, list[str]], draft: ReportDraft | None = None
) -> web.Response:
    """A 422 for the web's own per-field codes (with the draft when there is one)."""
    body = refusal_json(web_errors(errors), draft, request_lang(request))
    return web.json_response(body, status=422)


def outcome_response(request: web.Request, outcome: Outcome) -> web.Response:
    """The HTTP answer to Node.submit's Outcome."""
    lang = request_lang(request)
    if isinstance(outcome, Accepted):
        body = report_json(outcome.report, lang)
        body["review"] = list(outcome.review_reasons)
        return web.json_response(
            body, status=201, headers={"Location": f"{PREFIX}/reports/{outcome.report.id}"}
        )
    if isinstance(outcome, Refused):
        body = refusal_json(field_errors(outcome.errors), outcome.draft, lang)
        choices = area_choices(outcome.errors, gazetteer_name(request))
        if choices:
            body["choices"] = choices
        return web.json_response(body, status=422)
    if isinstance(outcome, RateLimited):
        return rate_limited(request, outcome.retry_after_s, "rate_limited", outcome)
    if isinstance(outcome, Unavailable):
        retry = max(1, int(outcome.retry_after_s))
        return json_error(request, 503, "unavailable", headers={"Retry-After": str(retry)})
    raise TypeError(f"unknown outcome {type(outcome).__name__}")


async def _fields_or_400(request: web.Request) -> dict[str, object] | web.Response:
    try:
        return await read_fields(request)
    except BodyNotUnderstood:
        return json_error(request, 400, "bad_body")


def _report_id(request: web.Request) -> str | None:
    """The report id of the path, None when it cannot name a report."""
    report_id = request.match_info["id"]
    return report_id if REPORT_ID.fullmatch(report_id) else None


def _not_found(request: web.Request) -> web.Response:
    return json_error(request, 404, "not_found")


def _source(request: web.Request) -> SourceRef:
    return request_source(request)


# --- public ---------------------------------------------------------------


async def post_report(request: web.Request) -> web.Response:
    fields = await _fields_or_400(request)
    if isinstance(fields, web.Response):
        return fields
    draft, errors = draft_from_fields(fields)
    if errors:
        return field_refusal(request, errors, draft)
    outcome = await request.app[NODE].submit(draft, _source(request), proof_field(fields))
    return outcome_response(request, outcome)


async def list_reports(request: web.Request) -> web.Response:
    lang = request_lang(request)
    reports = await request.app[NODE].active_reports()
    return web.json_response({"reports": [report_json(r, lang) for r in reports]})


async def get_report(request: web.Request) -> web.Response:
    report_id = _report_id(request)
    if report_id is None:
        return _not_found(request)
    report = request.app[NODE].public_report(report_id)
    if report is None:
        return _not_found(request)
    return web.json_response(report_json(report, request_lang(request)))


async def _follow_up_input(
    request: web.Request,
) -> tuple[str, FollowUpKind, dict[str, object]] | web.Response:
    """A follow-up's target id (the path's), kind and fields, or the 404, 400 or 422 that
    says what is wrong with them."""
    target = _report_id(request)
    if target is None:
        return _not_found(request)
    fields = await _fields_or_400(request)
    if isinstance(fields, web.Response):
        return fields
    kind = choice_field(fields, "kind", FOLLOW_UP_KINDS)
    if kind is None:
        return field_refusal(request, {"kind": ["web_invalid_kind"]})
    return target, FollowUpKind(kind), fields


async def follow_up(request: web.Request) -> web.Response:
    given = await _follow_up_input(request)
    if isinstance(given, web.Response):
        return given
    report_id, kind, fields = given
    result = await request.app[NODE].follow_up(
        report_id, kind, _source(request), proof_field(fields)
    )
    if result is None:
        return _not_found(request)
    if isinstance(result, RateLimited | Unavailable):
        return outcome_response(request, result)
    return web.json_response(report_json(result, request_lang(request)))


async def list_incidents(request: web.Request) -> web.Response:
    """The public list of /map as JSON: filtered by area id, type, and "this level or
    higher"; an unknown type or level is a 422 that says which (an unknown area lists none)."""
    query = request.query
    errors: dict[str, list[str]] = {}
    kind, level = query.get("type"), query.get("level")
    if kind is not None:  # the words a report may use for it (Spanish too)
        named = TYPE_WORDS.get(kind.strip().casefold())
        kind = named.value if named is not None else None
        if kind is None:
            errors["type"] = ["invalid_type"]
    if level is not None and level not in LEVELS:
        errors["level"] = ["web_invalid_level"]
    if errors:
        return field_refusal(request, errors)
    node = request.app[NODE]
    found = await node.public_incidents(area=query.get("area"), type=kind, level=level)
    lang, now = request_lang(request), node.clock()
    return web.json_response({"incidents": [incident_json(i, lang, now) for i in found]})


async def get_incident(request: web.Request) -> web.Response:
    incident_id = _report_id(request)
    node = request.app[NODE]
    found = None if incident_id is None else await node.get_incident(incident_id)
    if found is None:
        return _not_found(request)
    return web.json_response(incident_json(found, request_lang(request), node.clock()))


async def incident_follow_up(request: web.Request) -> web.Response:
    """ "still there" / "gone" for every report of an incident: the map's follow-up, as JSON
    (the same intake path and rate limit as Node.incident_follow_up's form)."""
    given = await _follow_up_input(request)
    if isinstance(given, web.Response):
        return given
    incident_id, kind, _ = given
    node = request.app[NODE]
    result = await node.incident_follow_up(incident_id, kind, _source(request))
    if result is None:
        return _not_found(request)
    if isinstance(result, RateLimited | Unavailable):
        return outcome_response(request, result)
    return web.json_response(incident_json(result, request_lang(request), node.clock()))


async def list_areas(request: web.Request) -> web.Response:
    node = request.app[NODE]
    return web.json_response(
        {"areas": [area_json(a) for a in node.areas()], "highways": list(node.highways())}
    )


async def list_alerts(request: web.Request) -> web.Response:
    lang = request_lang(request)
    alerts = request.app[NODE].public_alerts()
    return web.json_response({"alerts": [alert_json(a, lang) for a in alerts]})


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document())


# --- moderators -----------------------------------------------------------


def _login_required(request: web.Request) -> web.Response:
    return json_error(request, 401, "web_login_required")


async def login(request: web.Request) -> web.Response:
    fields = await _fields_or_400(request)
    if isinstance(fields, web.Response):
        return fields
    name, password = fields.get("name"), fields.get("password")
    if not isinstance(name, str) or not name or not isinstance(password, str) or not password:
        missing = {
            field: ["web_required"]
            for field, value in (("name", name), ("password", password))
            if not isinstance(value, str) or not value
        }
        return field_refusal(request, missing)
    verify = request.app[NODE].verify_moderator
    throttle = request.app[THROTTLE]
    result = await auth.log_in(request, throttle, verify, name, password, _source(request))
    if isinstance(result, auth.Throttled):
        return rate_limited(request, result.retry_after_s, "web_login_throttled")
    if result is None:
        return json_error(request, 401, "web_login_failed")
    return web.json_response({"csrf_token": result})


async def session_state(request: web.Request) -> web.Response:
    session = await auth.moderator_session(request)
    if session is None:
        return web.json_response({"moderator": False})
    return web.json_response({"moderator": True, "csrf_token": session["csrf"]})


async def logout(request: web.Request) -> web.Response:
    session = await auth.moderator_session(request)
    if session is None:
        return web.Response(status=204)
    if not auth.csrf_ok(request, session, {}):
        return json_error(request, 403, "web_csrf_failed")
    auth.end_moderator_session(request, session)
    return web.Response(status=204)


async def review_queue(request: web.Request) -> web.Response:
    if await auth.moderator_session(request) is None:
        return _login_required(request)
    lang = request_lang(request)
    items = await request.app[NODE].review_queue()
    return web.json_response({"items": [queue_item_json(i, lang) for i in items]})


async def moderate(request: web.Request) -> web.Response:
    session = await auth.moderator_session(request)
    if session is None:
        return _login_required(request)
    report_id = _report_id(request)
    try:
        fields: dict[str, object] | None = await read_fields(request)
    except BodyNotUnderstood:
        fields = None
    if not auth.csrf_ok(request, session, fields or {}):
        return json_error(request, 403, "web_csrf_failed")
    if fields is None:
        return json_error(request, 400, "bad_body")
    action = choice_field(fields, "action", MODERATOR_ACTIONS)
    if action is None:
        return field_refusal(request, {"action": ["web_invalid_action"]})
    if report_id is None:
        return _not_found(request)
    report = await request.app[NODE].moderate(report_id, ModeratorAction(action))
    if report is None:
        return _not_found(request)
    if isinstance(report, Unavailable):
        return outcome_response(request, report)
    return web.json_response(report_json(report, request_lang(request), vetted=True))


def add_routes(app: web.Application) -> None:
    """Register the /api/v1 routes."""
    app.router.add_post(f"{PREFIX}/reports", post_report)
    app.router.add_get(f"{PREFIX}/reports", list_reports)
    app.router.add_get(f"{PREFIX}/reports/{{id}}", get_report)
    app.router.add_post(f"{PREFIX}/reports/{{id}}/followup", follow_up)
    app.router.add_post(f"{PREFIX}/reports/{{id}}/moderate", moderate)
    app.router.add_get(f"{PREFIX}/incidents", list_incidents)
    app.router.add_get(f"{PREFIX}/incidents/{{id}}", get_incident)
    app.router.add_post(f"{PREFIX}/incidents/{{id}}/followup", incident_follow_up)
    app.router.add_get(f"{PREFIX}/areas", list_areas)
    app.router.add_get(f"{PREFIX}/alerts", list_alerts)
    app.router.add_get(f"{PREFIX}/openapi.json", openapi)
    app.router.add_post(f"{PREFIX}/session", login)
    app.router.add_get(f"{PREFIX}/session", session_state)
    app.router.add_delete(f"{PREFIX}/session", logout)
    app.router.add_get(f"{PREFIX}/queue", review_queue)
