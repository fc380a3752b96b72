"""An incident's own page (/incident/<id>): shareable, no JavaScript, with "still there" and
"gone" as plain POST forms.

The forms post to /incident/<id>/followup with kind=still_there|gone, like the
report form: no account, no cookie, no CSRF token (an anonymous reporter has no
session to steal; cross-site posts are refused by web.app's origin check) and
rate limited with the reports (Node.incident_follow_up, the one intake path).
The answer is a page that says what was noted and shows the incident again.
Public fields only: a level and a coarse count, never a raw confidence.
"""

from __future__ import annotations

from aiohttp import web

from node.outcome import PublicIncident
from scoring.model import FollowUpKind
from web.api import REPORT_ID
from web.context import NODE
from web.forms import BodyNotUnderstood, choice_field, read_fields
from web.layout import message_page, render
from web.messages import request_lang, translate
from web.pages import refusal_page
from web.present import incident_view
from web.source import request_source

KINDS = tuple(kind.value for kind in FollowUpKind)  # still_there, gone
THANKS = {"still_there": "web_followup_still_there", "gone": "web_followup_gone"}


def _page(
    request: web.Request, incident: PublicIncident, *, noted: str | None = None
) -> web.Response:
    lang = request_lang(request)
    node = request.app[NODE]
    view = incident_view(incident, lang, node.clock())
    title = translate("web_incident_title", lang, type=view["type_text"], area=view["area_text"])
    context = {
        "title": title,
        "incident": view,
        "noted": translate(THANKS[noted], lang) if noted else None,
        "kinds": KINDS,
        "share": (node.public_url or "").rstrip("/") + f"/incident/{incident.id}",
    }
    return render(request, "incident/incident.html", context, path=f"/incident/{incident.id}")


async def incident(request: web.Request) -> web.Response:
    incident_id = request.match_info["id"]
    found = None
    if REPORT_ID.fullmatch(incident_id):
        found = await request.app[NODE].get_incident(incident_id)
    if found is None:
        return message_page(request, "web_incident_not_found", status=404)
    return _page(request, found)


async def follow_up(request: web.Request) -> web.Response:
    """A "still there" / "gone" from anyone: noted through the one intake path."""
    incident_id = request.match_info["id"]
    try:
        fields = await read_fields(request)
    except BodyNotUnderstood:
        return message_page(request, "bad_body", status=400)
    kind = choice_field(fields, "kind", KINDS)
    if kind is None:
        return message_page(request, "web_invalid_kind", status=422)
    if not REPORT_ID.fullmatch(incident_id):
        return message_page(request, "web_incident_not_found", status=404)
    source = request_source(request)
    found = await request.app[NODE].incident_follow_up(incident_id, FollowUpKind(kind), source)
    if found is None:
        return message_page(request, "web_incident_not_found", status=404)
    if not isinstance(found, PublicIncident):
        return refusal_page(request, found)
    return _page(request, found, noted=kind)


def add_routes(app: web.Application) -> None:
    """Register /incident/{id} and its follow-up form's target."""
    app.router.add_get("/incident/{id}", incident)
    app.router.add_post("/incident/{id}/followup", follow_up)
