"""The reporter's pages that work without JavaScript: the report form, its answer, and /about.

The form is a plain HTML POST whose fields are named as the API's; the
static /static/form.js only enhances it (area suggestions from the
gazetteer, sending without a page load, errors shown in place). The markup
is in web/templates/report/ and about.html; every text comes from the
catalogs; no inline script or style (the CSP forbids both).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aiohttp import web

from node.outcome import Accepted, RateLimited, Refused, ReportDraft, Unavailable
from web.api import area_choices, field_errors, gazetteer_name
from web.context import NODE
from web.forms import BodyNotUnderstood, draft_from_fields, read_fields
from web.layout import message_page, render
from web.messages import minutes, request_lang, translate
from web.present import REPORT_TYPES, incident_view
from web.source import request_source

FORM_FIELDS = ("type", "area", "highway", "description", "still_active")
FORM_SCRIPT = "/static/form.js"

# field -> [(code, params)]
Errors = Mapping[str, Sequence[tuple[str, Mapping[str, str]]]]


def _form_page(
    request: web.Request,
    *,
    draft: ReportDraft | None = None,
    errors: Errors | None = None,
    status: int = 200,
    area_options: Sequence[Mapping[str, str]] = (),
    proof: str | None = None,
) -> web.Response:
    """The form; proof: a rate-limit ticket to send back (a shared address, node.sources)."""
    lang = request_lang(request)
    draft = draft or ReportDraft()
    texts = {
        field: [translate(code, lang, **dict(params)) for code, params in items]
        for field, items in (errors or {}).items()
        if items
    }
    highways = list(request.app[NODE].highways())
    if draft.highway and draft.highway not in highways:
        highways.append(draft.highway)  # the reporter's choice comes back, even if unknown
    context = {
        "title": translate("web_report_form_title", lang),
        "draft": draft,
        "errors": texts,
        "other_errors": [t for f, items in texts.items() if f not in FORM_FIELDS for t in items],
        "report_types": REPORT_TYPES,
        "highways": highways,
        "area_options": list(area_options),  # "which one do you mean?" (ambiguous_area)
        "proof": proof,
    }
    return render(
        request, "report/form.html", context, path="/", status=status, scripts=(FORM_SCRIPT,)
    )


async def index(request: web.Request) -> web.Response:
    return _form_page(request)


async def _incident_of(request: web.Request, accepted: Accepted) -> dict[str, object] | None:
    """The incident the report joined (same type and listed area), when one is shown."""
    node = request.app[NODE]
    report = accepted.report
    if not report.area_known:
        return None
    for incident in await node.public_incidents(type=report.type):
        if incident.area_name == report.area:
            return incident_view(incident, request_lang(request), node.clock())
    return None


async def post_report(request: web.Request) -> web.Response:
    """The no-JS form's target: confirmation page, or the form again with the reasons."""
    lang = request_lang(request)
    try:
        fields = await read_fields(request)
    except BodyNotUnderstood:
        return message_page(request, "bad_body", status=400)
    draft, web_errs = draft_from_fields(fields)
    if web_errs:
        errors: Errors = {f: [(c, {}) for c in codes] for f, codes in web_errs.items()}
        return _form_page(request, draft=draft, errors=errors, status=422)
    source = request_source(request)
    proof = fields.get("proof")
    outcome = await request.app[NODE].submit(
        draft, source, proof if isinstance(proof, str) and len(proof) <= 200 else None
    )
    if isinstance(outcome, Accepted):
        context = {
            "title": translate("web_sent_title", lang),
            "report": outcome.report,  # the reporter's own: type and place, read back
            "incident": await _incident_of(request, outcome),
        }
        return render(request, "report/sent.html", context, path="/")
    if isinstance(outcome, Refused):
        choices = area_choices(outcome.errors, gazetteer_name(request)).get("area", [])
        return _form_page(
            request,
            draft=outcome.draft,
            errors=field_errors(outcome.errors),
            status=422,
            area_options=choices,
        )
    if isinstance(outcome, RateLimited):  # the form again, text kept, with a ticket to wait out
        retry = max(1, int(outcome.retry_after_s))
        reasons: Errors = {"form": [("rate_limited", {"minutes": minutes(retry)})]}
        if outcome.ticket:
            reasons = {"form": [("rate_limited_ticket", {"seconds": str(outcome.wait_s)})]}
        response = _form_page(
            request, draft=draft, errors=reasons, status=429, proof=outcome.ticket
        )
        response.headers["Retry-After"] = str(retry)
        return response
    return refusal_page(request, outcome)


def refusal_page(request: web.Request, outcome: object) -> web.Response:
    """The page for a rate limit (429) or a node that cannot store now (503)."""
    if isinstance(outcome, RateLimited):
        retry = max(1, int(outcome.retry_after_s))
        response = message_page(request, "rate_limited", status=429, minutes=minutes(retry))
        response.headers["Retry-After"] = str(retry)
        return response
    if isinstance(outcome, Unavailable):
        retry = max(1, int(outcome.retry_after_s))
        response = message_page(request, "unavailable", status=503)
        response.headers["Retry-After"] = str(retry)
        return response
    raise TypeError(f"unknown outcome {type(outcome).__name__}")


async def about(request: web.Request) -> web.Response:
    """What to report, and what never to include, in plain words."""
    title = translate("web_about_title", request_lang(request))
    return render(request, "about.html", {"title": title}, path="/about")


def add_routes(app: web.Application) -> None:
    """Register the reporter's form, its POST target and /about."""
    app.router.add_get("/", index)
    app.router.add_get("/report", index)
    app.router.add_post("/report", post_report)
    app.router.add_get("/about", about)
