"""The OpenAPI 3.1 document of the JSON API, written by hand as a dict.

Public reads carry a level and a coarse count ("reports": "1", "2-3", "4-9",
"10+"), never a raw confidence or source count, and change only at
publication ticks; moderators' answers (ModeratorReport) carry both.
"""

from __future__ import annotations

import copy
from typing import Any

from node.push.subscriptions import PushSubscriptionIn, PushUnsubscribeIn

_REF = "#/components/schemas/"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF + name}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str, *, retry_after: bool = False) -> dict[str, Any]:
    response = _json(_ref("Error"), description)
    if retry_after:
        response["headers"] = {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}}
    return response


def _limited(description: str) -> dict[str, Any]:
    response = _json(_ref("RateLimited"), description)
    response["headers"] = {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}}
    return response


def _body(name: str, *, form: bool = True) -> dict[str, Any]:
    content: dict[str, Any] = {"application/json": {"schema": _ref(name)}}
    if form:
        content["application/x-www-form-urlencoded"] = {"schema": _ref(name)}
    return {"required": True, "content": content}


_LANG = {
    "name": "lang",
    "in": "query",
    "required": False,
    "description": "Language of messages (else Accept-Language).",
    "schema": {"type": "string", "enum": ["en", "es"]},
}
_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 128}}
_CSRF = {
    "name": "X-CSRF-Token",
    "in": "header",
    "required": False,
    "description": "The session's CSRF token (or the body field csrf_token).",
    "schema": {"type": "string"},
}

_COMMON = {
    "400": _error("The body is not a JSON object nor a urlencoded form."),
    "403": _error("A state-changing request sent from another site."),
    "408": _error("The body did not arrive within the body timeout."),
    "413": _error("The body exceeds the size limit."),
}
_COUNT = {
    "enum": ["1", "2-3", "4-9", "10+"],
    "description": "A coarse count of independent reports.",
}
_PROOF = {
    "type": ["string", "null"],
    "maxLength": 200,
    "description": (
        "Redeems the ticket of an earlier 429: TICKET:NONCE, where SHA-256 of "
        '"TICKET:NONCE" starts with `bits` zero bits, or TICKET alone once it is wait_s old.'
    ),
}

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error", "message"],
        "properties": {
            "error": {"type": "string", "description": "A message id."},
            "message": {"type": "string", "description": "The message, translated."},
        },
    },
    "Refusal": {
        "type": "object",
        "required": ["error", "message", "errors", "codes"],
        "properties": {
            "error": {"const": "refused"},
            "message": {"type": "string"},
            "errors": {
                "type": "object",
                "description": "Translated reasons per field.",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
            },
            "codes": {
                "type": "object",
                "description": "Message ids of the reasons per field.",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
            },
            "draft": _ref("ReportInput"),
            "choices": {
                "type": "object",
                "description": "Per field, the areas to choose from (send one as area_id).",
                "additionalProperties": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["id", "name"],
                        "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
                    },
                },
            },
        },
    },
    "ReportInput": {
        "type": "object",
        "description": "Form booleans: on/true/1/yes/si/sí or off/false/0/no.",
        "properties": {
            "type": {
                "type": ["string", "null"],
                "examples": ["checkpoint", "raid", "vehicle", "patrol"],
            },
            "area": {"type": ["string", "null"]},
            "highway": {"type": ["string", "null"]},
            "description": {"type": ["string", "null"]},
            "still_active": {"type": ["boolean", "null"]},
            "area_id": {
                "type": ["string", "null"],
                "description": "An area id from a refusal's choices (ambiguous_area).",
            },
            "proof": _PROOF,
        },
    },
    "PublicReport": {
        "type": "object",
        "required": [
            "id",
            "type",
            "area",
            "area_known",
            "lat",
            "lon",
            "highway",
            "hour",
            "status",
            "status_text",
            "level",
            "reports",
            "age_label",
            "age_text",
            "opacity",
            "scale",
            "still_active",
            "active_until",
            "debunked",
        ],
        "properties": {
            "id": {"type": "string"},
            "type": {"type": "string"},
            "area": {
                "type": "string",
                "description": (
                    "The gazetteer area; for a place not on the list, the translated words "
                    '"a place not on our list (awaiting review)" (its text is never public).'
                ),
            },
            "area_known": {"type": "boolean"},
            "lat": {"type": ["number", "null"], "description": "Coarse centroid (~1 km)."},
            "lon": {"type": ["number", "null"]},
            "highway": {"type": ["string", "null"]},
            "hour": {"type": "string", "format": "date-time", "description": "UTC, hour."},
            "status": {
                "enum": ["unverified", "possible", "likely", "confirmed", "debunked", "archived"]
            },
            "status_text": {"type": "string"},
            "level": {"type": "string"},
            "reports": _COUNT,
            "age_label": {"type": "string", "description": "A message id."},
            "age_text": {"type": "string"},
            "opacity": {"type": "number"},
            "scale": {"type": "number"},
            "still_active": {"type": "boolean"},
            "active_until": {"type": "string", "format": "date-time"},
            "debunked": {"type": "boolean"},
            "description": {"type": "string", "description": "Only where the chapter allows."},
        },
    },
    "ModeratorReport": {
        "allOf": [
            _ref("PublicReport"),
            {
                "type": "object",
                "required": ["confidence", "independent_sources"],
                "properties": {
                    "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                    "independent_sources": {"type": "integer", "minimum": 0},
                },
            },
        ]
    },
    "RateLimited": {
        "type": "object",
        "required": ["error", "message"],
        "properties": {
            "error": {"type": "string"},
            "message": {"type": "string"},
            "ticket": {
                "type": "object",
                "description": "Send again with proof (see ReportInput.proof).",
                "required": ["token", "bits", "wait_s", "message"],
                "properties": {
                    "token": {"type": "string"},
                    "bits": {"type": "integer", "minimum": 0},
                    "wait_s": {"type": "integer", "minimum": 0},
                    "message": {"type": "string"},
                },
            },
        },
    },
    "AcceptedReport": {
        "allOf": [
            _ref("PublicReport"),
            {
                "type": "object",
                "required": ["review"],
                "properties": {
                    "review": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": "Why the report goes to human review (empty if not).",
                    }
                },
            },
        ]
    },
    "ReportList": {
        "type": "object",
        "required": ["reports"],
        "properties": {"reports": {"type": "array", "items": _ref("PublicReport")}},
    },
    "PublicIncident": {
        "type": "object",
        "description": (
            "An incident: the reports of one type in one area while it lasted. A level, a "
            "coarse count and whole hours; never a confidence, a source count or a minute."
        ),
        "required": [
            "id",
            "type",
            "type_text",
            "area",
            "area_known",
            "lat",
            "lon",
            "highway",
            "level",
            "level_text",
            "verification",
            "verification_text",
            "verified",
            "active",
            "ended",
            "reports",
            "first_hour",
            "last_hour",
            "age_text",
            "opacity",
        ],
        "properties": {
            "id": {"type": "string", "description": "Random: it carries no order of arrival."},
            "type": {"enum": ["checkpoint", "raid", "vehicle", "patrol"]},
            "type_text": {"type": "string"},
            "area": {
                "type": ["string", "null"],
                "description": "The gazetteer area; null for a place not on the list.",
            },
            "area_known": {"type": "boolean"},
            "lat": {"type": ["number", "null"], "description": "Coarse centroid (~1 km)."},
            "lon": {"type": ["number", "null"]},
            "highway": {"type": ["string", "null"]},
            "level": {"enum": ["unverified", "possible", "likely", "confirmed"]},
            "level_text": {"type": "string"},
            "verification": {
                "enum": ["pending", "verified", None],
                "description": (
                    "pending: 'likely' on anonymous reports or one member's word, not "
                    "verified yet; verified: a verifier or moderator confirmed it; null: "
                    "nothing to say (ended, below 'likely', or corroborated by vetted members)."
                ),
            },
            "verification_text": {"type": ["string", "null"]},
            "verified": {"type": "boolean"},
            "active": {"type": "boolean"},
            "ended": {"enum": ["gone", "expired", "debunked", "false_alarm", None]},
            "reports": _COUNT,
            "first_hour": {"type": "string", "format": "date-time", "description": "UTC, hour."},
            "last_hour": {"type": "string", "format": "date-time", "description": "UTC, hour."},
            "age_text": {"type": "string", "description": "How long ago its last hour was."},
            "opacity": {"type": "number", "description": "Fades with age, 0..1."},
        },
    },
    "IncidentList": {
        "type": "object",
        "required": ["incidents"],
        "properties": {"incidents": {"type": "array", "items": _ref("PublicIncident")}},
    },
    "FollowUpInput": {
        "type": "object",
        "required": ["kind"],
        "properties": {"kind": {"enum": ["still_there", "gone"]}, "proof": _PROOF},
    },
    "ModerateInput": {
        "type": "object",
        "required": ["action"],
        "properties": {
            "action": {"enum": ["confirm", "debunk", "archive", "still_there", "gone"]},
            "csrf_token": {"type": "string"},
        },
    },
    "Area": {
        "type": "object",
        "required": ["id", "name", "aliases", "lat", "lon"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "aliases": {"type": "array", "items": {"type": "string"}},
            "lat": {"type": "number"},
            "lon": {"type": "number"},
        },
    },
    "AreaList": {
        "type": "object",
        "required": ["areas", "highways"],
        "properties": {
            "areas": {"type": "array", "items": _ref("Area")},
            "highways": {"type": "array", "items": {"type": "string"}},
        },
    },
    "NeighbourAlert": {
        "type": "object",
        "description": "A neighbouring chapter's aggregated alert (verified; never evidence).",
        "required": [
            "chapter",
            "alert_id",
            "seq",
            "type",
            "area",
            "hour",
            "level",
            "reports",
            "still_active",
            "expires",
        ],
        "properties": {
            "chapter": {"type": "string"},
            "alert_id": {"type": "string"},
            "seq": {"type": "integer"},
            "relayed_by": {"type": ["string", "null"]},
            "type": {"type": "string", "enum": ["checkpoint", "raid", "vehicle", "patrol"]},
            "type_text": {"type": "string"},
            "area": {"type": "string"},
            "lat": {"type": ["number", "null"]},
            "lon": {"type": ["number", "null"]},
            "highway": {"type": ["string", "null"]},
            "hour": {"type": "string", "format": "date-time"},
            "level": {"type": "string"},
            "level_text": {"type": "string"},
            "reports": _COUNT,
            "still_active": {"type": "boolean"},
            "expires": {"type": "string", "format": "date-time"},
        },
    },
    "NeighbourAlertList": {
        "type": "object",
        "required": ["alerts"],
        "properties": {"alerts": {"type": "array", "items": _ref("NeighbourAlert")}},
    },
    "LoginInput": {
        "type": "object",
        "required": ["name", "password"],
        "properties": {"name": {"type": "string"}, "password": {"type": "string"}},
    },
    "Session": {
        "type": "object",
        "required": ["moderator"],
        "properties": {"moderator": {"type": "boolean"}, "csrf_token": {"type": "string"}},
    },
    "CsrfToken": {
        "type": "object",
        "required": ["csrf_token"],
        "properties": {"csrf_token": {"type": "string"}},
    },
    "QueueItem": {
        "type": "object",
        "required": ["report", "reasons", "description", "priority"],
        "properties": {
            "report": _ref("ModeratorReport"),
            "reasons": {"type": "array", "items": {"type": "string"}},
            "description": {"type": ["string", "null"]},
            "area_text": {
                "type": ["string", "null"],
                "description": "A place not on the list, as typed (moderators only).",
            },
            "priority": {"type": "number"},
            "incident": {
                "type": ["string", "null"],
                "description": "The incident the report is part of; the queue lists an "
                "incident's reports together.",
            },
            "incident_stage": {
                "type": ["string", "null"],
                "enum": [
                    "reported",
                    "corroborated",
                    "needs_verification",
                    "verified",
                    "false_alarm",
                    "unable",
                    "ended",
                    None,
                ],
            },
        },
    },
    "Queue": {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": _ref("QueueItem")}},
    },
}

_PATHS: dict[str, Any] = {
    "/api/v1/reports": {
        "get": {
            "summary": (
                "Reports shown now (active ones and recent debunks), as of the last "
                "publication tick, in no arrival order."
            ),
            "operationId": "listReports",
            "parameters": [_LANG],
            "responses": {"200": _json(_ref("ReportList"), "The reports.")},
        },
        "post": {
            "summary": "Submit an anonymous report.",
            "operationId": "submitReport",
            "parameters": [_LANG],
            "requestBody": _body("ReportInput"),
            "responses": {
                "201": _json(_ref("AcceptedReport"), "Stored and scored."),
                **_COMMON,
                "422": _json(_ref("Refusal"), "Refused fields; the draft comes back."),
                "429": _limited("Too many reports from this source; a ticket to go on."),
                "503": _error("Not stored; try again later.", retry_after=True),
            },
        },
    },
    "/api/v1/reports/{id}": {
        "get": {
            "summary": "One public report (from the publication tick after it arrived).",
            "operationId": "getReport",
            "parameters": [_ID, _LANG],
            "responses": {
                "200": _json(_ref("PublicReport"), "The report."),
                "404": _error("No such report."),
            },
        }
    },
    "/api/v1/reports/{id}/followup": {
        "post": {
            "summary": "Say that it is still there, or gone.",
            "operationId": "followUp",
            "parameters": [_ID, _LANG],
            "requestBody": _body("FollowUpInput"),
            "responses": {
                "200": _json(_ref("PublicReport"), "The report after the follow-up."),
                **_COMMON,
                "404": _error("No such report."),
                "422": _json(_ref("Refusal"), "Unknown kind."),
                "429": _limited("Too many from this source; a ticket to go on."),
            },
        }
    },
    "/api/v1/reports/{id}/moderate": {
        "post": {
            "summary": "A moderator's decision on a report.",
            "operationId": "moderate",
            "security": [{"session": []}],
            "parameters": [_ID, _LANG, _CSRF],
            "requestBody": _body("ModerateInput"),
            "responses": {
                "200": _json(_ref("ModeratorReport"), "The report after the decision."),
                **_COMMON,
                "401": _error("No moderator session."),
                "403": _error("Missing or wrong CSRF token, or a cross-site request."),
                "404": _error("No such report."),
                "422": _json(_ref("Refusal"), "Unknown action."),
            },
        }
    },
    "/api/v1/incidents": {
        "get": {
            "summary": (
                "Incidents shown now, most important first, as of the last publication tick "
                "(the public list of /map)."
            ),
            "operationId": "listIncidents",
            "parameters": [
                _LANG,
                {"name": "area", "in": "query", "required": False, "schema": {"type": "string"}},
                {
                    "name": "type",
                    "in": "query",
                    "required": False,
                    "description": "checkpoint, raid, vehicle or patrol (Spanish words too).",
                    "schema": {"type": "string"},
                },
                {
                    "name": "level",
                    "in": "query",
                    "required": False,
                    "description": "This level or higher.",
                    "schema": {"enum": ["unverified", "possible", "likely", "confirmed"]},
                },
            ],
            "responses": {
                "200": _json(_ref("IncidentList"), "The incidents."),
                "422": _json(_ref("Refusal"), "An unknown type or level."),
            },
        }
    },
    "/api/v1/incidents/{id}": {
        "get": {
            "summary": "One incident (from the publication tick after it opened).",
            "operationId": "getIncident",
            "parameters": [_ID, _LANG],
            "responses": {
                "200": _json(_ref("PublicIncident"), "The incident."),
                "404": _error("No such incident."),
            },
        }
    },
    "/api/v1/incidents/{id}/followup": {
        "post": {
            "summary": "Say that it is still there, or gone (for every report of the incident).",
            "operationId": "incidentFollowUp",
            "parameters": [_ID, _LANG],
            "requestBody": _body("FollowUpInput"),
            "responses": {
                "200": _json(_ref("PublicIncident"), "The incident, as of the last tick."),
                **_COMMON,
                "404": _error("No such incident."),
                "422": _json(_ref("Refusal"), "Unknown kind."),
                "429": _limited("Too many from this source; a ticket to go on."),
                "503": _error("Not stored; try again later.", retry_after=True),
            },
        }
    },
    "/api/v1/areas": {
        "get": {
            "summary": "The chapter's gazetteer areas and highways.",
            "operationId": "listAreas",
            "responses": {"200": _json(_ref("AreaList"), "Areas and highways.")},
        }
    },
    "/api/v1/alerts": {
        "get": {
            "summary": "Neighbouring chapters' alerts that have not expired (as of the last tick).",
            "operationId": "listAlerts",
            "parameters": [_LANG],
            "responses": {"200": _json(_ref("NeighbourAlertList"), "Neighbours' alerts.")},
        }
    },
    "/api/v1/openapi.json": {
        "get": {
            "summary": "This document.",
            "operationId": "openapi",
            "responses": {
                "200": {
                    "description": "OpenAPI 3.1.",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    },
    "/api/v1/session": {
        "get": {
            "summary": "Whether this browser has a moderator session (and its CSRF token).",
            "operationId": "sessionState",
            "responses": {"200": _json(_ref("Session"), "The session state.")},
        },
        "post": {
            "summary": "Moderator login: sets the session cookie, returns the CSRF token.",
            "operationId": "login",
            "parameters": [_LANG],
            "requestBody": _body("LoginInput"),
            "responses": {
                "200": _json(_ref("CsrfToken"), "Logged in; cookie set."),
                **_COMMON,
                "401": _error("Wrong name or password."),
                "422": _json(_ref("Refusal"), "Name or password missing."),
                "429": _error("Too many failed logins.", retry_after=True),
            },
        },
        "delete": {
            "summary": "Log out.",
            "operationId": "logout",
            "security": [{"session": []}],
            "parameters": [_CSRF],
            "responses": {
                "204": {"description": "Logged out (or was not logged in)."},
                "403": _error("Missing or wrong CSRF token, or a cross-site request."),
            },
        },
    },
    "/api/v1/queue": {
        "get": {
            "summary": "The moderators' review queue.",
            "operationId": "reviewQueue",
            "security": [{"session": []}],
            "parameters": [_LANG],
            "responses": {
                "200": _json(_ref("Queue"), "Reports awaiting review."),
                "401": _error("No moderator session."),
            },
        }
    },
}


def _push_section() -> None:
    """Web Push: its bodies documented by the same pydantic models that validate them."""
    for model in (PushSubscriptionIn, PushUnsubscribeIn):
        schema = model.model_json_schema(ref_template=_REF + "{model}")
        _SCHEMAS.update(schema.pop("$defs", {}))
        _SCHEMAS[model.__name__] = schema
    _SCHEMAS["PushKey"] = {
        "type": "object",
        "required": ["public_key"],
        "properties": {
            "public_key": {
                "type": "string",
                "description": "The VAPID applicationServerKey (base64url, uncompressed P-256).",
            }
        },
    }
    _PATHS["/api/v1/push/key"] = {
        "get": {
            "summary": "The key a browser subscribes with (applicationServerKey).",
            "responses": {
                "200": _json(_ref("PushKey"), "The key."),
                "404": _error("Web Push is off in this chapter."),
            },
        }
    }
    _PATHS["/api/v1/push/subscriptions"] = {
        "post": {
            "summary": "Subscribe a browser to alerts for some areas (no account).",
            "parameters": [_LANG],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("PushSubscriptionIn")}},
            },
            "responses": {
                "201": _json({"type": "object"}, "Subscribed (or renewed)."),
                "422": _json(_ref("Refusal"), "A reason per field."),
                "429": _error("Too many subscriptions from here.", retry_after=True),
                "503": _error("The store is unavailable.", retry_after=True),
                "400": _COMMON["400"],
                "404": _error("Web Push is off in this chapter."),
                "413": _COMMON["413"],
            },
        },
        "delete": {
            "summary": "Forget a browser's subscription (204 whether or not it existed).",
            "parameters": [_LANG],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("PushUnsubscribeIn")}},
            },
            "responses": {
                "204": {"description": "Forgotten."},
                "422": _json(_ref("Refusal"), "No endpoint given."),
                "400": _COMMON["400"],
                "404": _error("Web Push is off in this chapter."),
                "413": _COMMON["413"],
                "503": _error("The store is unavailable.", retry_after=True),
            },
        },
    }


_push_section()

_DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Vecinos chapter node API",
        "version": "1.0.0",
        "description": (
            "Anonymous reports of enforcement activity for one chapter. No account is "
            "needed to report; nothing identifying the reporter is stored. Any path may "
            "also answer 404, 405 or 413 with an Error body."
        ),
    },
    "servers": [{"url": "/"}],
    "paths": _PATHS,
    "components": {
        "schemas": _SCHEMAS,
        "headers": {
            "RetryAfter": {
                "description": (
                    "Seconds to wait before trying again: a rate limit's whole window."
                ),
                "schema": {"type": "integer", "minimum": 1},
            }
        },
        "securitySchemes": {
            "session": {"type": "apiKey", "in": "cookie", "name": "vecinos_mod"},
        },
    },
}


def openapi_document() -> dict[str, Any]:
    """A fresh copy of the document (callers may not mutate the shared one)."""
    return copy.deepcopy(_DOCUMENT)
