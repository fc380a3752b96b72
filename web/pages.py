"""The reporter's pages that work without JavaScript: the report form, its answer, and /about.

The form is a plain HTML POST whose fields are named as the API's; the
static /static/form.js only enhances it (area suggestions from the
gazetteer, sending without a page load, errors shown in place). Every text
comes from the catalogs, every value through layout.e (html.escape); no
inline script or style (the CSP forbids both).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aiohttp import web

from node.outcome import Accepted, PublicReport, RateLimited, Refused, ReportDraft, Unavailable
from web.api import field_errors
from web.context import NODE
from web.forms import BodyNotUnderstood, draft_from_fields, read_fields
from web.layout import e, href, html_response, message_page, page
from web.messages import minutes, request_lang, translate
from web.present import REPORT_TYPES, area_label, sources_label, state_code
from web.source import request_source

FORM_FIELDS = ("type", "area", "highway", "description", "still_active")
FORM_SCRIPT = "/static/form.js"
ABOUT_WHAT = ("web_about_what_1", "web_about_what_2", "web_about_what_3")
ABOUT_NEVER = ("web_about_never_1", "web_about_never_2", "web_about_never_3", "web_about_never_4")

# field -> [(code, params)]
Errors = Mapping[str, Sequence[tuple[str, Mapping[str, str]]]]


def report_item(report: PublicReport, lang: str) -> str:
    """One report as a list item (the list view of the map page uses it too)."""
    type_text = translate(report.type, lang)
    where = e(area_label(report, lang)) + (f" · {e(report.highway)}" if report.highway else "")
    fade = max(0, min(4, round(report.opacity * 4)))
    state = translate(state_code(report), lang)
    parts = [
        f'<li id="r-{e(report.id)}" class="report status-{e(report.status)} fade-{fade}"'
        f' data-report-id="{e(report.id)}"'
        f' data-status="{e(report.status)}">',
        f'<span class="swatch swatch-{e(report.status)}" aria-hidden="true"></span> ',
        f"<strong>{e(type_text)}</strong> — {where}",
        f'<br><span class="age">{e(translate(report.age_label, lang))}</span>',
        f' · <span class="status">{e(translate(report.status, lang))}</span>',
        f" · <span>{e(state)}</span>",
        " · <span>" + e(translate("web_sources", lang, count=sources_label(report))) + "</span>",
    ]
    if report.lat is None or report.lon is None:
        parts.append(f' · <span class="off-map">{e(translate("web_not_on_map", lang))}</span>')
    if report.description:
        parts.append(f'<p class="description">{e(report.description)}</p>')
    parts.append("</li>")
    return "".join(parts)


def _field_errors(field: str, errors: Errors, lang: str) -> tuple[str, str]:
    """(the error paragraph, the input's extra attributes) for one field."""
    items = errors.get(field) or ()
    if not items:
        return "", ""
    texts = "<br>".join(e(translate(code, lang, **dict(params))) for code, params in items)
    return (
        f'<p class="error" id="err-{e(field)}">{texts}</p>',
        f' aria-invalid="true" aria-describedby="err-{e(field)}"',
    )


def _summary(errors: Errors, lang: str) -> str:
    """The alert above the form; reasons about no field of the form show here too."""
    if not errors:
        return '<p class="alert" id="form-alert" role="alert" hidden></p>'
    alert = e(translate("web_form_has_errors", lang))
    for field, items in errors.items():
        if field not in FORM_FIELDS:
            alert += "".join(
                "<br>" + e(translate(code, lang, **dict(params))) for code, params in items
            )
    return f'<p class="alert" id="form-alert" role="alert">{alert}</p>'


def _highway_field(draft: ReportDraft, errors: Errors, lang: str, highways: Sequence[str]) -> str:
    err, attrs = _field_errors("highway", errors, lang)
    label = f'<label for="f-highway">{e(translate("web_field_highway", lang))}</label><br>'
    value = draft.highway or ""
    if not highways:
        return (
            f'<div class="field" data-field="highway">{label}<input id="f-highway" name="highway"'
            f' type="text" value="{e(value)}" autocomplete="off"{attrs}>{err}</div>'
        )
    options = [f'<option value="">{e(translate("web_highway_none", lang))}</option>']
    known = set(highways)
    choices = list(highways) + ([value] if value and value not in known else [])
    for name in choices:
        selected = " selected" if name == value else ""
        options.append(f'<option value="{e(name)}"{selected}>{e(name)}</option>')
    return (
        f'<div class="field" data-field="highway">{label}<select id="f-highway" name="highway"'
        f"{attrs}>{''.join(options)}</select>{err}</div>"
    )


def report_form(
    lang: str,
    *,
    draft: ReportDraft | None = None,
    errors: Errors | None = None,
    highways: Sequence[str] = (),
    proof: str | None = None,
) -> str:
    """The plain HTML form; fields named as the API's; the draft's text kept.

    proof: a rate-limit ticket to send back (a shared address, node.sources).
    """
    draft = draft or ReportDraft()
    errors = errors or {}
    strings = {
        "sending": "web_sending",
        "failed": "web_send_failed",
        "sent-title": "web_sent_title",
        "sent-body": "web_sent_body",
        "see-map": "web_see_map",
        "has-errors": "web_form_has_errors",
        "proof": "web_proof_working",
    }
    data = "".join(f' data-msg-{k}="{e(translate(v, lang))}"' for k, v in strings.items())
    out = [
        f"<h1>{e(translate('web_report_form_title', lang))}</h1>",
        f'<form id="report-form" method="post" action="{href("/report", lang)}"'
        f' accept-charset="utf-8" data-lang="{e(lang)}" data-map="{href("/map", lang)}"{data}>',
        _summary(errors, lang),
    ]
    err, attrs = _field_errors("type", errors, lang)
    out.append(
        f'<fieldset class="field" data-field="type"{attrs}>'
        f"<legend>{e(translate('web_field_type', lang))}</legend>"
    )
    for value in REPORT_TYPES:
        checked = " checked" if draft.type == value else ""
        out.append(
            f'<label><input type="radio" name="type" value="{e(value)}"{checked}> '
            f"{e(translate(value, lang))}</label>"
        )
    out.append(f"{err}</fieldset>")

    err, attrs = _field_errors("area", errors, lang)
    out.append(
        f'<div class="field" data-field="area"><label for="f-area">'
        f"{e(translate('web_field_area', lang))}</label><br>"
        f'<input id="f-area" name="area" type="text" value="{e(draft.area or "")}"'
        f' autocomplete="off"{attrs}>'
        f'<span class="hint js-only" hidden>{e(translate("web_area_hint", lang))}</span>{err}</div>'
    )
    out.append(_highway_field(draft, errors, lang, highways))

    err, attrs = _field_errors("description", errors, lang)
    out.append(
        f'<div class="field" data-field="description"><label for="f-description">'
        f"{e(translate('web_field_description', lang))}</label><br>"
        f'<textarea id="f-description" name="description" rows="3"{attrs}>'
        f"{e(draft.description or '')}</textarea>{err}</div>"
    )
    err, attrs = _field_errors("still_active", errors, lang)
    checked = " checked" if draft.still_active else ""
    out.append(
        f'<div class="field" data-field="still_active"><label><input type="checkbox"'
        f' name="still_active" value="on"{checked}{attrs}> '
        f"{e(translate('web_field_still_active', lang))}</label>{err}</div>"
    )
    out.append(
        '<section class="before-send" aria-labelledby="before-send">'
        f'<h2 id="before-send">{e(translate("web_before_send_title", lang))}</h2><ul>'
        f"<li>{e(translate('web_never_include', lang))}</li>"
        f"<li>{e(translate('web_info_only', lang))}</li></ul>"
        f'<p><a href="{href("/about", lang)}">{e(translate("web_read_more", lang))}</a></p>'
        "</section>"
    )
    if proof:
        out.append(f'<input type="hidden" name="proof" value="{e(proof)}">')
    out.append(
        f'<p><button type="submit">{e(translate("web_submit", lang))}</button></p>'
        f'<p class="note">{e(translate("web_privacy_note", lang))}</p></form>'
    )
    out.append(f'<p><a href="{href("/map", lang)}">{e(translate("web_see_map", lang))}</a></p>')
    return "".join(out)


def _form_page(
    request: web.Request,
    *,
    draft: ReportDraft | None = None,
    errors: Errors | None = None,
    status: int = 200,
    proof: str | None = None,
) -> web.Response:
    lang = request_lang(request)
    node = request.app[NODE]
    body = report_form(lang, draft=draft, errors=errors, highways=node.highways(), proof=proof)
    title = translate("web_report_form_title", lang)
    html = page(request, title, body, path="/", scripts=(FORM_SCRIPT,))
    return html_response(html, status=status)


async def index(request: web.Request) -> web.Response:
    return _form_page(request)


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
        title = translate("web_sent_title", lang)
        body = (
            f'<h1 id="sent">{e(title)}</h1><p>{e(translate("web_sent_body", lang))}</p>'
            f'<ul class="reports">{report_item(outcome.report, lang)}</ul>'
            f'<p><a href="{href("/map", lang)}">{e(translate("web_see_map", lang))}</a></p>'
            f'<p><a href="{href("/", lang)}">{e(translate("web_nav_report", lang))}</a></p>'
        )
        return html_response(page(request, title, body, path="/"))
    if isinstance(outcome, Refused):
        return _form_page(
            request, draft=outcome.draft, errors=field_errors(outcome.errors), status=422
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
    if isinstance(outcome, Unavailable):
        retry = max(1, int(outcome.retry_after_s))
        response = message_page(request, "unavailable", status=503)
        response.headers["Retry-After"] = str(retry)
        return response
    raise TypeError(f"unknown outcome {type(outcome).__name__}")


async def about(request: web.Request) -> web.Response:
    """What to report, and what never to include, in plain words."""
    lang = request_lang(request)

    def items(codes: Sequence[str]) -> str:
        return "".join(f"<li>{e(translate(code, lang))}</li>" for code in codes)

    title = translate("web_about_title", lang)
    body = (
        f"<h1>{e(title)}</h1><p>{e(translate('web_about_intro', lang))}</p>"
        f"<h2>{e(translate('web_about_what_title', lang))}</h2>"
        f"<ul>{items(ABOUT_WHAT)}</ul>"
        f"<h2>{e(translate('web_about_never_title', lang))}</h2>"
        f'<ul class="never">{items(ABOUT_NEVER)}</ul>'
        f"<h2>{e(translate('web_about_after_title', lang))}</h2>"
        f"<p>{e(translate('web_about_after', lang))}</p>"
        f'<p class="alert">{e(translate("web_about_info_only", lang))}</p>'
        f'<p><a href="{href("/", lang)}">{e(translate("web_nav_report", lang))}</a></p>'
    )
    return html_response(page(request, title, body, path="/about"))


def add_routes(app: web.Application) -> None:
    """Register the reporter's form, its POST target and /about."""
    app.router.add_get("/", index)
    app.router.add_get("/report", index)
    app.router.add_post("/report", post_report)
    app.router.add_get("/about", about)
