"""The server-rendered pages that work without JavaScript: the report list and the report form.

Plain string templates; every value that reaches the HTML goes through
html.escape. No inline script or style (the CSP forbids both), no external
resource: the only asset is /static/style.css, served by the node.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from node.outcome import Accepted, PublicReport, RateLimited, Refused, ReportDraft, Unavailable
from scoring.model import ReportType
from web.api import field_errors
from web.context import NODE, SETTINGS
from web.forms import BodyNotUnderstood, draft_from_fields, read_fields
from web.messages import LANGUAGE_NAMES, minutes, request_lang, supported_languages, translate
from web.source import web_source

STYLE_PATH = Path(__file__).parent / "static" / "style.css"
REPORT_TYPES = tuple(t.value for t in ReportType)
FORM_FIELDS = ("type", "area", "highway", "description", "still_active")
STYLE: web.AppKey[bytes] = web.AppKey("vecinos_style", bytes)
HTML = "text/html"

# field -> [(code, params)]
Errors = Mapping[str, Sequence[tuple[str, Mapping[str, str]]]]


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def page(lang: str, title: str, body: str, *, path: str = "/") -> str:
    """A whole HTML document around `body` (already escaped HTML)."""
    switch = " · ".join(
        f'<a href="{_e(path)}?lang={quote(code)}" hreflang="{_e(code)}" lang="{_e(code)}"'
        + (' aria-current="true"' if code == lang else "")
        + f">{_e(LANGUAGE_NAMES.get(code, code))}</a>"
        for code in supported_languages()
    )
    return (
        "<!doctype html>\n"
        f'<html lang="{_e(lang)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{_e(title)}</title>\n"
        '<link rel="stylesheet" href="/static/style.css">\n</head>\n<body>\n'
        f'<header><p class="site"><a href="/?lang={quote(lang)}">'
        f"{_e(translate('web_title', lang))}</a></p>\n"
        f'<nav aria-label="{_e(translate("web_language", lang))}">{switch}</nav></header>\n'
        f"<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def html_response(
    text: str, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        text=text, status=status, content_type=HTML, charset="utf-8", headers=headers
    )


def report_item(report: PublicReport, lang: str) -> str:
    """One report as a list item."""
    type_text = translate(report.type, lang)
    where = _e(report.area) + (f" · {_e(report.highway)}" if report.highway else "")
    fade = max(0, min(4, round(report.opacity * 4)))
    if report.debunked:
        state = translate("web_debunked", lang)
    elif report.still_active:
        state = translate("web_still_active", lang)
    else:
        state = translate("web_not_active", lang)
    parts = [
        f'<li class="report status-{_e(report.status)} fade-{fade}">',
        f"<strong>{_e(type_text)}</strong> — {where}",
        f'<br><span class="age">{_e(translate(report.age_label, lang))}</span>',
        f' · <span class="status">{_e(translate(report.status, lang))}</span>',
        f" · <span>{_e(state)}</span>",
        " · <span>"
        + _e(translate("web_sources", lang, count=str(report.independent_sources)))
        + "</span>",
    ]
    if report.description:
        parts.append(f'<p class="description">{_e(report.description)}</p>')
    parts.append("</li>")
    return "".join(parts)


def report_list(reports: Sequence[PublicReport], lang: str) -> str:
    heading = f"<h1>{_e(translate('web_active_reports', lang))}</h1>"
    if not reports:
        return heading + f"<p>{_e(translate('web_no_reports', lang))}</p>"
    items = "".join(report_item(r, lang) for r in reports)
    return f'{heading}<ul class="reports">{items}</ul>'


def _field_errors(field: str, errors: Errors, lang: str) -> tuple[str, str]:
    """(the error paragraph, the input's extra attributes) for one field."""
    items = errors.get(field) or ()
    if not items:
        return "", ""
    texts = "<br>".join(_e(translate(code, lang, **dict(params))) for code, params in items)
    return (
        f'<p class="error" id="err-{_e(field)}">{texts}</p>',
        f' aria-invalid="true" aria-describedby="err-{_e(field)}"',
    )


def report_form(
    lang: str,
    *,
    draft: ReportDraft | None = None,
    errors: Errors | None = None,
    areas: Sequence[str] = (),
    highways: Sequence[str] = (),
) -> str:
    """The plain HTML form; fields named as the API's; the draft's text kept."""
    draft = draft or ReportDraft()
    errors = errors or {}
    out = [f"<h2>{_e(translate('web_report_form_title', lang))}</h2>"]
    if errors:
        alert = _e(translate("web_form_has_errors", lang))
        # Reasons about no field of this form still show, in the summary.
        for field, items in errors.items():
            if field not in FORM_FIELDS:
                alert += "".join(
                    "<br>" + _e(translate(code, lang, **dict(params))) for code, params in items
                )
        out.append(f'<p class="alert" role="alert">{alert}</p>')
    out.append(f'<form method="post" action="/report?lang={quote(lang)}" accept-charset="utf-8">')
    err, attrs = _field_errors("type", errors, lang)
    out.append(f"<fieldset{attrs}><legend>{_e(translate('web_field_type', lang))}</legend>")
    for value in REPORT_TYPES:
        checked = " checked" if draft.type == value else ""
        out.append(
            f'<label><input type="radio" name="type" value="{_e(value)}"{checked}> '
            f"{_e(translate(value, lang))}</label>"
        )
    out.append(f"{err}</fieldset>")

    for name, label, options in (
        ("area", "web_field_area", areas),
        ("highway", "web_field_highway", highways),
    ):
        err, attrs = _field_errors(name, errors, lang)
        value = getattr(draft, name) or ""
        datalist = ""
        if options:
            datalist = (
                f'<datalist id="{name}-list">'
                + "".join(f'<option value="{_e(o)}">' for o in options)
                + "</datalist>"
            )
            attrs += f' list="{name}-list"'
        out.append(
            f'<p><label for="f-{name}">{_e(translate(label, lang))}</label><br>'
            f'<input id="f-{name}" name="{name}" type="text" value="{_e(value)}"'
            f' autocomplete="off"{attrs}>{datalist}</p>{err}'
        )

    err, attrs = _field_errors("description", errors, lang)
    out.append(
        f'<p><label for="f-description">{_e(translate("web_field_description", lang))}</label>'
        f'<br><textarea id="f-description" name="description" rows="4"{attrs}>'
        f"{_e(draft.description or '')}</textarea></p>{err}"
    )
    err, attrs = _field_errors("still_active", errors, lang)
    checked = " checked" if draft.still_active else ""
    out.append(
        f'<p><label><input type="checkbox" name="still_active" value="on"{checked}{attrs}> '
        f"{_e(translate('web_field_still_active', lang))}</label></p>{err}"
    )
    out.append(f'<p><button type="submit">{_e(translate("web_submit", lang))}</button></p>')
    out.append(f'<p class="note">{_e(translate("web_privacy_note", lang))}</p></form>')
    return "".join(out)


async def _index_body(
    request: web.Request,
    lang: str,
    *,
    draft: ReportDraft | None = None,
    errors: Errors | None = None,
) -> str:
    node = request.app[NODE]
    reports = await node.active_reports()
    areas = [a.name for a in node.areas()]
    form = report_form(
        lang, draft=draft, errors=errors, areas=areas, highways=list(node.highways())
    )
    return report_list(reports, lang) + "\n" + form


async def index(request: web.Request) -> web.Response:
    lang = request_lang(request)
    body = await _index_body(request, lang)
    return html_response(page(lang, translate("web_title", lang), body))


def message_page(lang: str, code: str, *, status: int, **params: str) -> web.Response:
    """A small page carrying one message (errors, rate limit, unavailability)."""
    text = translate(code, lang, **params)
    body = (
        f'<p class="alert" role="alert">{_e(text)}</p>'
        f'<p><a href="/?lang={quote(lang)}">{_e(translate("web_back", lang))}</a></p>'
    )
    return html_response(page(lang, text, body), status=status)


async def post_report(request: web.Request) -> web.Response:
    """The no-JS form's target: confirmation page, or the form again with the reasons."""
    lang = request_lang(request)
    try:
        fields = await read_fields(request)
    except BodyNotUnderstood:
        return message_page(lang, "bad_body", status=400)
    draft, web_errs = draft_from_fields(fields)
    if web_errs:
        errors: Errors = {f: [(c, {}) for c in codes] for f, codes in web_errs.items()}
        body = await _index_body(request, lang, draft=draft, errors=errors)
        return html_response(page(lang, translate("web_title", lang), body), status=422)
    source = web_source(request, trust_forwarded_for=request.app[SETTINGS].trust_forwarded_for)
    outcome = await request.app[NODE].submit(draft, source)
    if isinstance(outcome, Accepted):
        title = translate("web_sent_title", lang)
        body = (
            f"<h1>{_e(title)}</h1><p>{_e(translate('web_sent_body', lang))}</p>"
            f'<ul class="reports">{report_item(outcome.report, lang)}</ul>'
            f'<p><a href="/?lang={quote(lang)}">{_e(translate("web_back", lang))}</a></p>'
        )
        return html_response(page(lang, title, body, path="/"))
    if isinstance(outcome, Refused):
        body = await _index_body(
            request, lang, draft=outcome.draft, errors=field_errors(outcome.errors)
        )
        return html_response(page(lang, translate("web_title", lang), body), status=422)
    if isinstance(outcome, RateLimited):
        retry = max(1, int(outcome.retry_after_s))
        response = message_page(lang, "rate_limited", status=429, minutes=minutes(retry))
        response.headers["Retry-After"] = str(retry)
        return response
    if isinstance(outcome, Unavailable):
        retry = max(1, int(outcome.retry_after_s))
        response = message_page(lang, "unavailable", status=503)
        response.headers["Retry-After"] = str(retry)
        return response
    raise TypeError(f"unknown outcome {type(outcome).__name__}")


async def stylesheet(request: web.Request) -> web.Response:
    return web.Response(
        body=request.app[STYLE],
        content_type="text/css",
        charset="utf-8",
        headers={"Cache-Control": "public, max-age=86400"},
    )


def add_routes(app: web.Application) -> None:
    """Register the pages and the stylesheet."""
    app[STYLE] = STYLE_PATH.read_bytes()
    app.router.add_get("/", index)
    app.router.add_get("/report", index)
    app.router.add_post("/report", post_report)
    app.router.add_get("/static/style.css", stylesheet)
